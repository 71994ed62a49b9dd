"""Fixtures for the HTTP API tests. `settings` and `ddb` (a real dynalite with the tables)
come from tests/conftest.py; helpers are in http_harness.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from functions.http_api import HttpApi  # noqa: E402
from http_harness import Client, Sender, new_id  # noqa: E402


@pytest.fixture
def uid():
    return new_id


@pytest.fixture
def api(settings, ddb):
    return HttpApi(settings, ddb)


@pytest.fixture
def client(api):
    return Client(api)


@pytest.fixture
def sender(settings, ddb):
    return Sender(settings, ddb)
