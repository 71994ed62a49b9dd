"""Fixtures for the HTTP API tests. `settings` and `ddb` (a real dynalite with the tables)
come from tests/conftest.py; helpers are in http_harness.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_harness import Sender, api, client, uid  # noqa: E402,F401 (fixtures)


@pytest.fixture
def sender(settings, ddb):
    return Sender(settings, ddb)
