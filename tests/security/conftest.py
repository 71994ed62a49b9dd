"""Fixtures for the security regression tests: the session's real stack (two edges, the
gateway, the ESM), users and rooms (helpers in security_harness.py).

One module per class of finding: path normalisation, revocation, id validation, token
transport, headers (and secrets and modes).
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest
import requests

from functions.rooms import Rooms
from functions.tokens import mint

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "websocket_edge"))

from edge_harness import EdgeProcess  # noqa: E402
from security_harness import User  # noqa: E402


@pytest.fixture
def ports(local_stack) -> dict[str, int]:
    return {"edge-a": local_stack.port("edge-a", "public"), "edge-a-internal": local_stack.port("edge-a", "internal"),
            "edge-b": local_stack.port("edge-b", "public"), "edge-b-internal": local_stack.port("edge-b", "internal"),
            "gateway": local_stack.port("gateway")}


@pytest.fixture
def ws_url(ports):
    return lambda edge="edge-a": f"ws://127.0.0.1:{ports[edge]}/ws"


@pytest.fixture
def new_user(settings):
    def make(role: str = "customer") -> User:
        user_id = f"{role}-{uuid.uuid4().hex[:10]}"
        return User(user_id, role, mint(settings, user_id, role))
    return make


@pytest.fixture
def new_room(settings):
    rooms = Rooms(settings)

    def make(*members: User) -> str:
        room = f"room-{uuid.uuid4().hex[:12]}"
        rooms.create(room, "security test", members[0].id, {m.id: m.role for m in members})
        return room
    return make


@pytest.fixture
def api(ports):
    """api(user, method, path, **kw): a call of the HTTP API through the gateway."""
    def call(user: User, method: str, path: str, **kwargs) -> requests.Response:
        return requests.request(method, f"http://127.0.0.1:{ports['gateway']}/api{path}",
                                headers={"authorization": f"Bearer {user.token}"}, timeout=15, **kwargs)
    return call


@pytest.fixture
def make_edge(settings, tmp_path):
    """An extra edge on the session's broker and store, with other settings."""
    started = []

    def make(**changes) -> EdgeProcess:
        changes.setdefault("allowed_origins", ("*",))
        process = EdgeProcess(settings, tmp_path, **changes).start()
        started.append(process)
        return process

    yield make
    for process in started:
        process.stop()


@pytest.fixture
def run_node_test():
    """run_node_test(name): `node --test` on a .test.mjs file of this folder; fails with its output."""
    import shutil
    import subprocess

    def run(name: str) -> None:
        node = shutil.which("node")
        assert node, "node is not on PATH (the web client's tests run on Node 20+)"
        path = Path(__file__).resolve().parent / name
        proc = subprocess.run([node, "--test", "--test-reporter=spec", str(path)], capture_output=True, text=True,
                              timeout=120, cwd=path.parents[2])
        assert proc.returncode == 0, f"node --test {name} failed:\n{proc.stdout[-6000:]}\n{proc.stderr[-2000:]}"

    return run
