"""Through the whole stack: edge → Kafka → worker → store → delivery API → edge; rate limits."""

from __future__ import annotations

import time

import orjson

from edge_harness import read_until_close, recv_until, uid


def _subscribe(ws, room, after_seq=None):
    frame = {"type": "subscribe", "room": room}
    if after_seq is not None:
        frame["afterSeq"] = after_seq
    ws.send(orjson.dumps(frame).decode())
    subscribed, before = recv_until(ws, lambda f: f["type"] in ("subscribed", "error"), timeout=20)
    assert subscribed["type"] == "subscribed", subscribed
    return subscribed, before


def _send(ws, room, client_msg_id, body):
    ws.send(orjson.dumps({"type": "send", "room": room, "clientMsgId": client_msg_id, "body": body}).decode())
    ack = recv_until(ws, lambda f: f["type"] in ("ack", "error") and
                     client_msg_id in (f.get("clientMsgId"), f.get("ref")), timeout=30)[0]
    assert ack["type"] == "ack", ack


def _messages(ws, count, timeout=30.0):
    out = []
    deadline = time.monotonic() + timeout
    while len(out) < count:
        frame, _ = recv_until(ws, lambda f: f["type"] == "message", timeout=max(0.1, deadline - time.monotonic()))
        out.append(frame)
    return out


def test_live_delivery_and_catch_up(make_edge, room_with):
    edge = make_edge()
    alice, bob = uid("alice"), uid("bob")
    room = room_with(alice, bob)
    a = edge.connect(alice)
    b = edge.connect(bob)
    try:
        _subscribe(a, room)
        _, _ = _subscribe(b, room)
        for n in range(1, 4):
            _send(a, room, f"a{n}", f"hello {n}")
        live = _messages(b, 3)
        assert [m["seq"] for m in live] == [1, 2, 3]
        assert {m["senderId"] for m in live} == {alice}
        assert [m["body"] for m in live] == ["hello 1", "hello 2", "hello 3"]
        b.close()
        for n in range(4, 7):
            _send(a, room, f"a{n}", f"while away {n}")
        # Bob comes back: everything after seq 3, then "subscribed", then live again.
        b = edge.connect(bob)
        deadline = time.monotonic() + 30
        while True:
            subscribed, before = _subscribe(b, room, after_seq=3)
            caught = [f["seq"] for f in before if f["type"] == "message"]
            if caught == [4, 5, 6] or time.monotonic() > deadline:
                break
            # the worker may not have stored all three yet: unsubscribe and ask again
            b.send(orjson.dumps({"type": "unsubscribe", "room": room}).decode())
            recv_until(b, lambda f: f["type"] == "unsubscribed")
            time.sleep(0.3)
        assert caught == [4, 5, 6]
        assert subscribed == {"type": "subscribed", "room": room, "lastSeq": 6}
        _send(a, room, "a7", "live again")
        assert [m["seq"] for m in _messages(b, 1)] == [7]
    finally:
        a.close()
        b.close()


def test_subscribe_refusals(edge, room_with):
    me, other = uid("me"), uid("other")
    room = room_with(other)
    ws = edge.connect(me)
    try:
        ws.send(orjson.dumps({"type": "subscribe", "room": room}).decode())
        frame = recv_until(ws, lambda f: f["type"] == "error")[0]
        assert (frame["code"], frame["ref"]) == ("forbidden", room)
        ws.send(orjson.dumps({"type": "subscribe", "room": uid("nowhere")}).decode())
        assert recv_until(ws, lambda f: f["type"] == "error")[0]["code"] == "unknown_room"
        ws.send('{"type":"ping"}')
        recv_until(ws, lambda f: f["type"] == "pong")
    finally:
        ws.close()


def test_non_member_send_gets_the_workers_error(edge, room_with):
    me = uid("me")
    room = room_with(uid("other"))
    ws = edge.connect(me)
    try:
        ws.send(orjson.dumps({"type": "send", "room": room, "clientMsgId": "sneaky", "body": "hi"}).decode())
        ack = recv_until(ws, lambda f: f["type"] == "ack")[0]   # Kafka took it...
        assert ack["clientMsgId"] == "sneaky"
        error = recv_until(ws, lambda f: f["type"] == "error", timeout=30)[0]   # ...the worker refused it
        assert (error["code"], error["ref"]) == ("forbidden", "sneaky")
    finally:
        ws.close()


def test_rate_limit_errors_then_1008(make_edge):
    edge = make_edge(rate_per_second=1.0, rate_burst=5)
    ws = edge.connect(uid("u"))
    for _ in range(60):
        ws.send('{"type":"ping"}')
    frames, code, _ = read_until_close(ws, timeout=15)
    pongs = [f for f in frames if f["type"] == "pong"]
    limited = [f for f in frames if f.get("code") == "rate_limited"]
    assert 5 <= len(pongs) <= 7
    assert limited, frames
    assert frames.index(limited[0]) >= 5   # errors first, only after the burst is spent
    assert code == 1008


def test_rate_limit_recovers(make_edge):
    edge = make_edge(rate_per_second=20.0, rate_burst=3)
    ws = edge.connect(uid("u"))
    try:
        for _ in range(6):
            ws.send('{"type":"ping"}')
        frames = [recv_until(ws, lambda f: True)[0] for _ in range(6)]
        assert any(f.get("code") == "rate_limited" for f in frames)
        # The bucket refills at 20/s: ping (every 50 ms, far from the 20 refusals in a row that
        # close) until a ping is no longer refused; what answers it is a pong.
        deadline = time.monotonic() + 5
        while True:
            ws.send('{"type":"ping"}')
            answer = recv_until(ws, lambda f: True)[0]
            if answer.get("code") != "rate_limited" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert answer == {"type": "pong"}
    finally:
        ws.close()


def test_a_users_connections_share_one_rate_limit(make_edge):
    # Each connection alone is within its own limit; together they exceed the user's.
    edge = make_edge(rate_per_second=100.0, rate_burst=100, user_rate_per_second=1.0, user_rate_burst=6)
    user = uid("u")
    sockets = [edge.connect(user) for _ in range(3)]
    try:
        for ws in sockets:
            for _ in range(4):
                ws.send('{"type":"ping"}')
        frames = [recv_until(ws, lambda f: True)[0] for ws in sockets for _ in range(4)]
        assert sum(f["type"] == "pong" for f in frames) in (6, 7)   # the shared burst (+ refill)
        assert sum(f.get("code") == "rate_limited" for f in frames) >= 5
        # another user is not affected
        other = edge.connect(uid("v"))
        other.send('{"type":"ping"}')
        assert recv_until(other, lambda f: True)[0] == {"type": "pong"}
        other.close()
    finally:
        for ws in sockets:
            ws.close()
