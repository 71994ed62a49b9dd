"""The generator's pieces that need no stack: histogram, plan, STOMP codec vs the edge's adapter."""

from __future__ import annotations

import random

import pytest

from local.loadtest import codec, scenario, wsclient
from local.loadtest.stats import LogHistogram


def test_histogram_percentiles_within_bucket_precision():
    rng = random.Random(7)
    samples = [rng.lognormvariate(-4, 1.2) for _ in range(20000)]
    hist = LogHistogram()
    for s in samples:
        hist.record(s)
    merged = LogHistogram().merge(LogHistogram.from_dict(hist.to_dict()))
    ordered = sorted(samples)
    for q in (50, 90, 99, 99.9):
        true = ordered[max(0, int(len(ordered) * q / 100) - 1)]
        assert merged.percentile(q) == pytest.approx(true, rel=0.02)
    assert merged.n == len(samples) and merged.max == max(samples)


def test_plan_rooms_span_edges_and_processes():
    opts = scenario.Options(users=11, room_size=2, procs=2, ramp=10, edges=("ws://a:1/ws", "ws://b:2/ws"))
    plan = scenario.plan(opts)
    rooms = [r for proc in plan for r in proc]
    assert len(plan) == 2 and len(rooms) == 6
    users = [u for r in rooms for u in r.members]
    assert sorted(u.idx for u in users) == list(range(11))
    for room in rooms:
        if len(room.members) == 2:
            a, b = room.members
            assert a.edge != b.edge and (a.role, b.role) == ("customer", "groomer")


def test_mask_roundtrip():
    key = b"\x01\x02\x03\x04"
    data = bytes(range(256)) * 3
    assert wsclient.mask(wsclient.mask(data, key), key) == data
    assert wsclient.mask(b"", key) == b""


def test_stomp_codec_speaks_the_edges_adapter():
    from functions import contracts
    from functions.tokens import Identity
    from websocket_edge.protocol import ServerEvent
    from websocket_edge.stomp_protocol import StompProtocol

    c = codec.StompCodec
    edge = StompProtocol(Identity("u1", "customer", 9e9), None, "v12.stomp")
    assert c.parse(edge.decode(c.connect("127.0.0.1"))[0].frames[0]) == [{"type": "connected"}]
    sub = edge.decode(c.subscribe("room-1"))[0]
    assert c.parse(edge.render_subscribed(sub, None)[0]) == [{"type": "subscribed"}]
    send = edge.decode(c.send("room-1", "u1.1", "u1.1|1.5|x"))[0]
    assert (send.room, send.client_msg_id, send.body) == ("room-1", "u1.1", "u1.1|1.5|x")
    assert c.parse(edge.render_ack(send, 0, 5)[0]) == [{"type": "ack", "clientMsgId": "u1.1"}]
    event = {"type": "message", "room": "room-1", "seq": 3, "messageId": "room-1:3", "clientMsgId": "u1.1",
             "senderId": "u1", "senderRole": "customer", "body": "u1.1|1.5|x", "sentAt": 1}
    (msg,) = c.parse(edge.render_event(ServerEvent(event))[0])
    assert (msg["type"], msg["room"], msg["seq"], msg["clientMsgId"], msg["body"]) == \
        ("message", "room-1", 3, "u1.1", "u1.1|1.5|x")
    err = edge.render_event(ServerEvent(contracts.error_event("forbidden", "no", "u1.2", room="room-1")))
    assert c.parse(err[0])[0] == {"type": "error", "code": "forbidden", "ref": "u1.2", "message": "no"}
