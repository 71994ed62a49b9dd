"""Frame-level limits (1009, 1007, 1002) and bad JSON input that leaves the connection usable."""

from __future__ import annotations

import os
import struct
import time

import pytest
import websocket
from websocket import ABNF

from edge_harness import read_until_close, recv_json, uid
from functions.contracts import MAX_BODY_CHARS


@pytest.fixture
def ws(edge):
    sock = edge.connect(uid("u"))
    yield sock
    sock.close()


def _still_usable(ws):
    ws.send('{"type":"ping"}')
    assert recv_json(ws) == {"type": "pong"}


def test_oversized_frame_closes_1009(edge, ws):
    ws.send("x" * (edge.settings.max_message_bytes + 1))
    _, code, _ = read_until_close(ws)
    assert code == 1009


def test_message_at_the_limit_passes(edge, ws):
    # A valid JSON message of exactly the cap is read (and refused by the protocol, not the frame layer).
    padding = edge.settings.max_message_bytes - len('{"type":"ping","pad":""}')
    ws.send('{"type":"ping","pad":"' + "p" * padding + '"}')
    assert recv_json(ws) == {"type": "pong"}


def test_fragmented_message_over_cap_closes_1009(edge, ws):
    part = "y" * (edge.settings.max_message_bytes // 3 + 10)
    ws.send_frame(ABNF.create_frame(part, ABNF.OPCODE_TEXT, fin=0))
    ws.send_frame(ABNF.create_frame(part, ABNF.OPCODE_CONT, fin=0))
    ws.send_frame(ABNF.create_frame(part, ABNF.OPCODE_CONT, fin=1))
    _, code, _ = read_until_close(ws)
    assert code == 1009


def test_huge_length_claim_refused_from_the_header(edge, ws):
    """A header announcing 10 MB is refused before any payload is read."""
    mask = os.urandom(4)
    header = struct.pack("!BBQ", 0x81, 0x80 | 127, 10 * 1024 * 1024) + mask
    started = time.monotonic()
    ws.sock.sendall(header)
    _, code, _ = read_until_close(ws, timeout=5)
    assert code == 1009
    assert time.monotonic() - started < 2


def test_invalid_utf8_closes_1007(ws):
    ws.send_frame(ABNF.create_frame(b'{"type":"ping","x":"\xc3\x28"}', ABNF.OPCODE_TEXT))
    _, code, _ = read_until_close(ws)
    assert code == 1007


def test_unmasked_frame_closes_1002(ws):
    ws.sock.sendall(b"\x81\x02hi")   # RFC 6455 5.1: client frames must be masked
    _, code, _ = read_until_close(ws)
    assert code == 1002


def test_fragmented_valid_message_is_reassembled(ws):
    ws.send_frame(ABNF.create_frame('{"type":', ABNF.OPCODE_TEXT, fin=0))
    ws.ping(b"in-between")   # control frames may interleave
    ws.send_frame(ABNF.create_frame('"ping"}', ABNF.OPCODE_CONT, fin=1))
    assert recv_json(ws) == {"type": "pong"}


def test_client_close_code_is_echoed(ws):
    ws.send_close(4321, b"bye")
    frame = ws.recv_frame()
    assert frame.opcode == ABNF.OPCODE_CLOSE
    assert struct.unpack("!H", frame.data[:2])[0] == 4321


def test_websocket_ping_answered(ws):
    ws.ping(b"abc")
    ws.settimeout(5)
    frame = ws.recv_frame()
    assert (frame.opcode, frame.data) == (ABNF.OPCODE_PONG, b"abc")


@pytest.mark.parametrize("message,code", [
    ("this is not json", "bad_frame"),
    ("[1, 2, 3]", "bad_frame"),
    ('{"room": "r1"}', "bad_request"),
    ('{"type": "teleport"}', "unknown_type"),
    ('{"type": 7}', "unknown_type"),
    ('{"type": "send", "room": "r1", "body": "hi"}', "bad_request"),
    ('{"type": "send", "room": "r1", "clientMsgId": "c1"}', "bad_request"),
    ('{"type": "send", "room": "bad room!", "clientMsgId": "c1", "body": "hi"}', "bad_request"),
    ('{"type": "send", "room": "r1", "clientMsgId": "c1", "body": "   "}', "bad_request"),
    ('{"type": "send", "room": "r1", "clientMsgId": "c1", "body": "' + "z" * (MAX_BODY_CHARS + 1) + '"}',
     "too_large"),
    ('{"type": "subscribe"}', "bad_request"),
    ('{"type": "subscribe", "room": "r1", "afterSeq": -1}', "bad_request"),
    ('{"type": "subscribe", "room": "r1", "afterSeq": "3"}', "bad_request"),
    ('{"type": "unsubscribe", "room": 12}', "bad_request"),
    ('{"type": "typing"}', "bad_request"),
])
def test_bad_input_is_an_error_and_the_connection_stays(ws, message, code):
    ws.send(message)
    frame = recv_json(ws)
    assert frame["type"] == "error" and frame["code"] == code, frame
    assert frame["message"]
    _still_usable(ws)


def test_send_error_names_the_client_msg_id(ws):
    ws.send('{"type":"send","room":"r1","clientMsgId":"m-42","body":"' + "z" * (MAX_BODY_CHARS + 1) + '"}')
    frame = recv_json(ws)
    assert (frame["code"], frame["ref"]) == ("too_large", "m-42")


def test_binary_json_is_accepted(ws):
    ws.send(b'{"type":"ping"}', opcode=ABNF.OPCODE_BINARY)
    assert recv_json(ws) == {"type": "pong"}


def test_typing_needs_a_subscription(ws):
    ws.send('{"type":"typing","room":"r1"}')
    frame = recv_json(ws)
    assert (frame["code"], frame["ref"]) == ("forbidden", "r1")


def test_plain_http_on_ws_path_is_426(edge):
    import requests
    response = requests.get(f"{edge.public_url}/ws", timeout=5)
    assert response.status_code == 426


def test_server_sends_pings(make_edge):
    edge = make_edge(heartbeat_ms=200)
    ws = edge.connect(uid("u"))
    try:
        ws.settimeout(5)
        frame = ws.recv_frame()
        assert frame.opcode == ABNF.OPCODE_PING
    finally:
        ws.close()


def test_idle_peer_is_closed(make_edge):
    edge = make_edge(heartbeat_ms=200, idle_timeout_s=1)
    ws = edge.connect(uid("u"))
    # read raw frames and never answer the pings: the edge gives up after the idle timeout
    started = time.monotonic()
    ws.settimeout(10)
    while True:
        frame = ws.recv_frame()
        if frame.opcode == ABNF.OPCODE_CLOSE:
            break
    assert struct.unpack("!H", frame.data[:2])[0] == 1001
    assert 0.9 < time.monotonic() - started < 5
    ws.close()


def test_token_expiry_closes_4001(make_edge):
    edge = make_edge()
    ws = edge.connect(token=edge.token(uid("u"), ttl_s=2))
    frames, code, reason = read_until_close(ws, timeout=15)
    assert code == 4001, (frames, code, reason)
    assert any(f.get("code") == "unauthorized" for f in frames)


def test_websocket_client_connection_closed_after_1009(edge, ws):
    ws.send("x" * (edge.settings.max_message_bytes * 2))
    read_until_close(ws)
    with pytest.raises((websocket.WebSocketConnectionClosedException, ConnectionError, OSError)):
        ws.settimeout(3)
        ws.send('{"type":"ping"}')
        ws.recv()
