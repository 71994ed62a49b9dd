"""The hub (this edge's connections) and the delivery API through falcon's TestClient (no sockets)."""

from __future__ import annotations

from types import SimpleNamespace

import falcon.testing
import pytest

from functions import contracts
from functions.settings import Settings
from websocket_edge.app import create_app
from websocket_edge.deps import EdgeDeps
from websocket_edge.hub import FULL, GONE, OK, Hub

SETTINGS = Settings(allowed_origins=("https://app.example",))


class StubSession:
    def __init__(self, cid, status=OK):
        self.id, self.user_id, self.status, self.open = cid, "u", status, True
        self.got = []
        self.closed_with = None

    def deliver(self, event):
        self.got.append(event.data)
        return self.status

    def deliver_raw(self, data):
        self.got.append(data)
        return self.status

    def info(self):
        return {"connectedAt": "x", "identity": {"sourceIp": "1", "userAgent": "a"}, "lastActiveAt": "y"}

    def close(self, code, reason="", flush=True):
        self.closed_with = code
        self.open = False


@pytest.fixture
def api():
    """The whole edge app (both listeners) through falcon's TestClient; `port` picks the listener."""
    deps = EdgeDeps(settings=SETTINGS, producer=None, connections=None, rooms=None, messages=None)
    client = falcon.testing.TestClient(create_app(deps))
    secret = {contracts.DELIVERY_SECRET_HEADER: SETTINGS.delivery_secret}
    port = SETTINGS.edge_internal_port

    def call(method, path="", headers=secret, port=port, **kw):
        return client.simulate_request(method, contracts.DELIVERY_PATH + path, headers=headers, port=port, **kw)

    return SimpleNamespace(hub=deps.hub, call=call)


def test_api_guard(api):
    assert api.call("GET", "/x", headers={}).status_code == 403
    assert api.call("GET", "/x", port=8001).status_code == 404


def test_api_batch_precedence_and_order(api):
    ok, busy = StubSession("ok"), StubSession("busy", FULL)
    api.hub.add(ok)
    api.hub.add(busy)
    body = contracts.delivery_batch([(["ok", "busy", "nope"], {"type": "message", "room": "r", "seq": 1}),
                                     (["ok"], {"type": "message", "room": "r", "seq": 2})])
    result = api.call("POST", body=body)
    assert result.json == {"results": {"ok": 200, "busy": 429, "nope": 410}}
    assert [e["seq"] for e in ok.got] == [1, 2]


def test_api_single_and_delete(api):
    s = StubSession("c1")
    api.hub.add(s)
    assert api.call("POST", "/c1", body=b'{"type":"error","code":"x"}').status_code == 200
    assert api.call("POST", "/c1", body=b"raw words").status_code == 200
    assert s.got == [{"type": "error", "code": "x"}, b"raw words"]
    assert api.call("GET", "/c1").json["identity"] == {"sourceIp": "1", "userAgent": "a"}
    assert api.call("DELETE", "/c1").status_code == 204 and s.closed_with == 1000
    assert api.call("GET", "/c1").status_code == 410
    assert api.call("POST", "/c1", body=b"x" * (contracts.MAX_DELIVERY_DATA_BYTES + 1)).status_code == 413


def test_hub_counts_per_user():
    hub = Hub()
    a, b = StubSession("a"), StubSession("b")
    hub.add(a)
    hub.add(b)
    assert hub.connections_of("u") == 2 and len(hub) == 2
    with pytest.raises(ValueError):
        hub.add(a)
    hub.remove(a)
    assert hub.connections_of("u") == 1 and hub.deliver("a", b"x") == GONE
