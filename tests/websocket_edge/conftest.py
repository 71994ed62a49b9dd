"""Fixtures for the edge tests: real gunicorn edges on free ports, next to the shared stack.

`edge` is one edge for a whole module (most tests only open sockets on it); `make_edge(**changes)`
starts an edge with other settings for one test (rate limits, small queues, SIGTERM...).
Both use the session's real Kafka + dynalite (tests/conftest.py), so every test here is
marked `stack`.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from edge_harness import APP_ORIGIN, EdgeProcess, uid  # noqa: E402


_STACK_FIXTURES = {"edge", "make_edge", "stack_settings"}


def pytest_itemcollected(item):
    if _STACK_FIXTURES & set(getattr(item, "fixturenames", ())):
        item.add_marker(pytest.mark.stack)


@pytest.fixture(scope="module")
def stack_settings(_session_stack):
    return _session_stack.settings


@pytest.fixture(scope="module")
def edge(stack_settings, tmp_path_factory):
    process = EdgeProcess(stack_settings, tmp_path_factory.mktemp("edge"),
                          allowed_origins=(APP_ORIGIN,)).start()
    yield process
    process.stop()


@pytest.fixture
def make_edge(stack_settings, tmp_path):
    started = []

    def make(**changes) -> EdgeProcess:
        changes.setdefault("allowed_origins", (APP_ORIGIN,))
        process = EdgeProcess(stack_settings, tmp_path, **changes).start()
        started.append(process)
        return process

    yield make
    for process in started:
        process.stop()


@pytest.fixture
def room_with(stack_settings):
    """room_with(*user_ids) -> a new room id whose members are those users."""
    from functions.rooms import Rooms

    rooms = Rooms(stack_settings)

    def make(*user_ids: str, role: str = "customer") -> str:
        room_id = uid("room")
        rooms.create(room_id, "test room", created_by=user_ids[0],
                     members={u: role for u in user_ids})
        return room_id

    return make


@pytest.fixture
def connection_id_of(stack_settings):
    """connection_id_of(user_id) -> the one connection id the user has (from the table)."""
    import time

    from functions.connections import Connections

    connections = Connections(stack_settings)

    def find(user_id: str, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = connections.of_user(user_id)
            if rows:
                assert len(rows) == 1, rows
                return rows[0]["connectionId"]
            time.sleep(0.05)
        raise AssertionError(f"no connection registered for {user_id}")

    return find
