"""Class: path normalisation.

Finding: `POST http://edge:8001//@connections/<id>` (double slash) on the PUBLIC port, with no
secret, delivered a forged message to that connection; GET told its identity, DELETE closed
it. A prefix check (`path.startswith("/@connections")`) guarded it while the router routed
the double-slash path. Now the delivery API is an app mounted on the internal listener only,
and every listener refuses non-canonical paths (400) before routing.
"""

from __future__ import annotations

import time

import orjson
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from functions import contracts
from functions.connections import Connections
from functions.http.api import ROUTES
from local.demo.client import ChatClient
from security_harness import edge_routes, raw_http, variants

FORGED = {"type": "message", "room": "r", "seq": 99, "messageId": "r:99", "clientMsgId": "forged",
          "senderId": "admin", "senderRole": "admin", "body": "FORGED", "sentAt": 1}


def _connection_id(settings, user_id: str) -> str:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        rows = Connections(settings).of_user(user_id)
        if rows:
            return rows[0]["connectionId"]
        time.sleep(0.05)
    raise AssertionError(f"no connection row for {user_id}")


def test_forged_delivery_through_the_public_port_is_refused(settings, ports, ws_url, new_user, new_room):
    victim = new_user()
    room = new_room(victim)
    client = ChatClient(ws_url("edge-a"), victim.token)
    try:
        assert client.subscribe(room)["type"] == "subscribed"
        cid = _connection_id(settings, victim.id)
        single = orjson.dumps({**FORGED, "room": room})
        batch = contracts.delivery_batch([([cid], {**FORGED, "room": room})])
        attempts = [(method, target, body) for target in variants(f"/@connections/{cid}") + [f"/%40connections/{cid}"]
                    for method, body in (("POST", single), ("GET", b""), ("DELETE", b""))]
        attempts += [("POST", target, batch) for target in variants("/@connections") + ["/%40connections"]]
        for edge in ("edge-a", "edge-b"):
            for method, target, body in attempts:
                reply = raw_http(ports[edge], method, target, body=body,
                                 headers={"Content-Type": "application/json"})
                assert reply.status in (400, 404), (edge, method, target, reply)
                assert b"connectedAt" not in reply.body and b"results" not in reply.body
        client.drain(1.0)
        assert not [f for f in client.frames if f.get("body") == "FORGED"]
        assert client.closed is None   # no DELETE got through
        assert client.send_and_ack(room, "still here")["type"] == "ack"
    finally:
        client.close()


@pytest.mark.parametrize("listener", ["public", "internal"])
def test_every_edge_route_refuses_every_odd_spelling(ports, listener):
    port = ports["edge-a" if listener == "public" else "edge-a-internal"]
    public_routes, internal_routes = edge_routes()
    for template in public_routes + internal_routes:
        path = template.replace("{connection_id}", "abc")
        for target in variants(path):
            for method in ("GET", "POST", "DELETE"):
                reply = raw_http(port, method, target)
                assert reply.status == 400, (listener, method, target, reply.status)


def test_the_internal_api_does_not_exist_on_the_public_port(ports, settings):
    """Canonical spellings too: on the public listener only /ws and /healthz exist."""
    secret = {contracts.DELIVERY_SECRET_HEADER: settings.delivery_secret}
    _, internal_routes = edge_routes()
    for template in internal_routes:
        path = template.replace("{connection_id}", "abc")
        if path == "/healthz":
            continue
        for method in ("GET", "POST", "DELETE"):
            assert raw_http(ports["edge-a"], method, path, headers=secret).status == 404, (method, path)
    assert raw_http(ports["edge-a"], "GET", "/healthz").status == 200
    assert raw_http(ports["edge-a-internal"], "GET", "/metrics").status == 200


def test_every_gateway_route_refuses_every_odd_spelling(ports):
    paths = ["/healthz", "/config.json", "/dev/login", "/index.html", "/js/app.js"]
    paths += ["/api" + r.path.replace("{roomId}", "room-1").replace("{userId}", "u-1") for r in ROUTES]
    for path in paths:
        for target in variants(path):
            reply = raw_http(ports["gateway"], "GET", target)
            assert reply.status == 400, (target, reply.status)
            assert b"Traceback" not in reply.body


def test_nul_and_control_characters_in_the_path_are_a_clean_400(ports):
    for port in (ports["gateway"], ports["edge-a"], ports["edge-a-internal"]):
        for target in ("/%00", "/x%00y", "/%0a", "/%7f", "/%c2%85", "/%ff", "/%zz", "/%4"):
            reply = raw_http(port, "GET", target)
            assert reply.status == 400, (port, target, reply.status)


@pytest.mark.parametrize("raw,expected", [
    ("/", "/"), ("/ws", "/ws"), ("/api/rooms/r-1/members/u%40x", "/api/rooms/r-1/members/u@x"),
    ("//ws", None), ("/ws/", None), ("/./ws", None), ("/x/../ws", None), ("/%2e%2E/ws", None),
    ("/%2Fws", None), ("/a%2fb", None), ("/a%5Cb", None), ("/a\\b", None), ("ws", None),
    ("http://h/ws", None), ("*", None), ("/%00", None), ("/a b", None), ("/%ff", None), ("/é", None),
])
def test_canonical_path(raw, expected):
    from functions.request_paths import canonical_path

    assert canonical_path(raw) == expected


@hsettings(max_examples=300, deadline=None)
@given(st.lists(st.text(min_size=0, max_size=12), min_size=1, max_size=5))
def test_a_canonical_path_has_one_spelling(segments):
    """Whatever is accepted decodes to segments that are never empty, dots, slashes or controls."""
    from urllib.parse import quote

    from functions.request_paths import canonical_path

    raw = "/" + "/".join(quote(s, safe="") for s in segments)
    decoded = canonical_path(raw)
    if decoded is None or raw == "/":   # refused, or the root (the one path with an empty segment)
        return
    parts = decoded[1:].split("/")
    assert parts == segments
    assert all(p not in ("", ".", "..") and not contracts.has_control_chars(p) for p in parts)
