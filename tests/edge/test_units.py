"""Pure parts of the edge: handshake policy, JSON protocol, sequencing, token bucket, framing
helpers, hub, and the delivery API through falcon's TestClient (no sockets)."""

from __future__ import annotations

import os
import struct
import time
from types import SimpleNamespace

import falcon.testing
import orjson
import pytest

from functions import contracts
from functions.settings import Settings
from functions.tokens import Identity, TokenError
from websocket_edge import handshake as hs
from websocket_edge.bounded import close_payload, unmask
from websocket_edge.app import create_app
from websocket_edge.deps import EdgeDeps
from websocket_edge.hub import FULL, GONE, OK, Hub
from websocket_edge.json_protocol import JsonProtocol
from websocket_edge.metrics import EdgeMetrics
from websocket_edge.protocol import Invalid, Ping, Send, ServerEvent, Subscribe, Typing, Unsubscribe
from websocket_edge.ratelimit import TokenBucket
from websocket_edge.sequencing import RoomStream

SETTINGS = Settings(allowed_origins=("https://app.example",))


# --- handshake ---------------------------------------------------------------------------------
@pytest.mark.parametrize("header,expected", [
    (None, ("tidings.json", None)),
    ("", ("tidings.json", None)),
    ("tidings.json", ("tidings.json", "tidings.json")),
    ("v10.stomp, v11.stomp, v12.stomp", ("v12.stomp", "v12.stomp")),
    ("tidings.json, v11.stomp", ("v11.stomp", "v11.stomp")),
    ("v12.stomp.evil", (None, None)),
    ("mqtt", (None, None)),
])
def test_choose_subprotocol(header, expected):
    assert hs.choose_subprotocol(header) == expected


def test_choose_subprotocol_among_supported_only():
    assert hs.choose_subprotocol("v12.stomp, tidings.json", ["tidings.json"]) == ("tidings.json", "tidings.json")
    assert hs.choose_subprotocol("v12.stomp", ["tidings.json"]) == (None, None)


def test_origin_allowed():
    allowed = ("https://app.example",)
    assert hs.origin_allowed("https://app.example", allowed)
    assert hs.origin_allowed("HTTPS://APP.EXAMPLE/", allowed)
    assert not hs.origin_allowed("https://app.example.evil", allowed)
    assert not hs.origin_allowed(None, allowed)
    assert hs.origin_allowed(None, allowed, allow_missing=True)
    assert not hs.origin_allowed("https://evil.example", allowed, allow_missing=True)
    assert hs.origin_allowed(None, ("*",)) and hs.origin_allowed("https://x", ("*",))


def test_extract_token_and_redact():
    assert hs.extract_token({"HTTP_AUTHORIZATION": "Bearer abc"}) == "abc"
    assert hs.extract_token({"HTTP_AUTHORIZATION": "Basic abc", "QUERY_STRING": "access_token=q"}) == "q"
    assert hs.extract_token({"QUERY_STRING": "x=1&access_token=t.k.n"}) == "t.k.n"
    assert hs.extract_token({}) is None
    assert hs.redact_query("x=1&access_token=secret&y=2") == "x=1&access_token=***&y=2"


def _environ(**extra):
    env = {"PATH_INFO": "/ws", "SERVER_PORT": "8001", "HTTP_ORIGIN": "https://app.example",
           "HTTP_AUTHORIZATION": "Bearer good"}
    env.update(extra)
    return env


def _verify(settings, token):
    if token != "good":
        raise TokenError("invalid token")
    return Identity("alice", "customer", time.time() + 60)


@pytest.mark.parametrize("changes,status", [
    ({"PATH_INFO": "/other"}, 404),
    ({"SERVER_PORT": str(SETTINGS.edge_internal_port)}, 404),
    ({"HTTP_ORIGIN": "https://evil"}, 403),
    ({"HTTP_SEC_WEBSOCKET_PROTOCOL": "mqtt"}, 400),
    ({"HTTP_AUTHORIZATION": "Bearer bad"}, 401),
])
def test_handshake_refusals(changes, status):
    decision = hs.Handshake(SETTINGS, verify=_verify).evaluate(_environ(**changes))
    assert isinstance(decision, hs.Reject) and decision.status_code == status


def test_handshake_accepts_and_limits():
    decision = hs.Handshake(SETTINGS, verify=_verify).evaluate(_environ())
    assert isinstance(decision, hs.Accept) and decision.identity.user_id == "alice"
    full = hs.Handshake(SETTINGS, verify=_verify, connections_of=lambda u: SETTINGS.max_connections_per_user)
    assert full.evaluate(_environ()).status_code == 429
    closing = hs.Handshake(SETTINGS, verify=_verify, shutting_down=lambda: True)
    assert closing.evaluate(_environ()).status_code == 503


def test_delivery_secret_compare():
    assert hs.delivery_secret_ok(SETTINGS, SETTINGS.delivery_secret)
    assert not hs.delivery_secret_ok(SETTINGS, None)
    assert not hs.delivery_secret_ok(SETTINGS, SETTINGS.delivery_secret + "x")
    assert not hs.delivery_secret_ok(SETTINGS, "ünïcode")


# --- framing helpers ---------------------------------------------------------------------------
def test_unmask_matches_per_byte_xor():
    for n in (0, 1, 3, 4, 5, 125, 4096 + 3):
        payload, mask = os.urandom(n), os.urandom(4)
        assert unmask(payload, mask) == bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def test_close_payload_carries_the_code():
    assert close_payload(1009, "too big") == struct.pack("!H", 1009) + b"too big"
    long_reason = "é" * 100   # 200 bytes: cut to <= 123 without splitting a character
    payload = close_payload(1000, long_reason)
    assert len(payload) <= 125
    payload[2:].decode("utf-8")


# --- JSON protocol ---------------------------------------------------------------------------------
def test_json_decode_actions():
    p = JsonProtocol()
    assert p.decode('{"type":"send","room":"r","clientMsgId":"c","body":"b","senderId":"x"}') == [Send("r", "c", "b")]
    assert p.decode('{"type":"subscribe","room":"r","afterSeq":5}') == [Subscribe("r", 5)]
    assert p.decode('{"type":"subscribe","room":"r"}') == [Subscribe("r", None)]
    assert p.decode('{"type":"unsubscribe","room":"r"}') == [Unsubscribe("r")]
    assert p.decode('{"type":"typing","room":"r"}') == [Typing("r")]
    assert p.decode(b'{"type":"ping"}') == [Ping()]
    (bad,) = p.decode('{"type":"subscribe","room":"r","afterSeq":true}')
    assert isinstance(bad, Invalid) and bad.code == contracts.ERR_BAD_REQUEST


def test_json_render():
    p = JsonProtocol()
    assert orjson.loads(p.render_ack(Send("r", "c", "b"), 1, 7)[0]) == {
        "type": "ack", "clientMsgId": "c", "room": "r", "partition": 1, "offset": 7}
    assert orjson.loads(p.render_error("forbidden", "no", "r")[0]) == {
        "type": "error", "code": "forbidden", "message": "no", "ref": "r"}
    assert orjson.loads(p.render_subscribed(Subscribe("r", 3), 9)[0]) == {"type": "subscribed", "room": "r", "lastSeq": 9}
    assert orjson.loads(p.render_subscribed(Subscribe("r"), None)[0]) == {"type": "subscribed", "room": "r"}
    event = ServerEvent({"type": "typing", "room": "r"})
    assert p.render_event(event) == [event.json_bytes] and p.render_event(event)[0] is event.json_bytes
    assert p.heartbeat() is None


# --- sequencing ------------------------------------------------------------------------------------
def ev(seq):
    return ServerEvent({"type": "message", "room": "r", "seq": seq})


def test_room_stream_drops_duplicates_and_buffers():
    s = RoomStream()
    assert [e.seq for e in s.live(ev(5))] == [5]
    assert s.live(ev(5)) == [] and s.live(ev(4)) == []
    s.begin_catch_up(2)
    assert s.live(ev(6)) == []                    # buffered
    assert [s.stored(ev(n)) for n in (3, 4, 3)] == [True, True, False]
    out, gap = s.finish_catch_up()
    assert gap and out == []                      # 5 is missing between 4 and 6
    assert s.stored(ev(5))
    out, gap = s.finish_catch_up()
    assert not gap and [e.seq for e in out] == [6] and not s.catching_up


def test_room_stream_forced_and_abandoned():
    s = RoomStream()
    s.begin_catch_up(0)
    s.live(ev(3))
    out, gap = s.finish_catch_up(force=True)
    assert not gap and [e.seq for e in out] == [3]
    s.begin_catch_up(3)
    s.live(ev(5))
    s.live(ev(4))
    assert [e.seq for e in s.abandon_catch_up()] == [4, 5]


# --- token bucket ----------------------------------------------------------------------------------
def test_token_bucket():
    now = [0.0]
    bucket = TokenBucket(rate=2, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    assert bucket.refused_in_a_row == 1
    now[0] += 0.5
    assert bucket.take() and not bucket.take()
    now[0] += 100
    assert sum(bucket.take() for _ in range(10)) == 3


# --- hub and delivery API --------------------------------------------------------------------------
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


def test_room_stream_turns_a_seq_jump_into_a_fill_from_the_store():
    from websocket_edge.protocol import ServerEvent
    from websocket_edge.sequencing import RoomStream

    def ev(seq):
        return ServerEvent({"type": "message", "room": "r", "seq": seq})

    stream = RoomStream()
    assert [e.seq for e in stream.live(ev(1))] == [1]
    assert stream.live(ev(4)) == [] and stream.take_fill() and not stream.take_fill()
    assert stream.live(ev(5)) == []                      # buffered while the fill reads the store
    assert [e.seq for e in (ev(2), ev(3)) if stream.stored(e)] == [2, 3]
    out, gap = stream.finish_catch_up()
    assert [e.seq for e in out] == [4, 5] and not gap
    assert [e.seq for e in stream.live(ev(6))] == [6]    # contiguous again: no fill
    assert not stream.take_fill()
