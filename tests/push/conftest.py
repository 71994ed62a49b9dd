"""Fixtures for the push tests: the HTTP API handler over the stack's store (as tests/http),
the local push gateway (installs, faults, its log), and waiting for the notifier."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "http"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_harness import api, client, uid  # noqa: E402,F401 (fixtures, as in tests/http)
from push_harness import PushGateway  # noqa: E402


@pytest.fixture
def push_gateway(local_stack):
    return PushGateway(local_stack.endpoints()["push-gateway"]["log"].rsplit("/", 1)[0],
                       local_stack.settings.push_vapid_public_key)
