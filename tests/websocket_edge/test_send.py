"""Sends: the record in Kafka is stamped from the token, and the ack comes from the delivery report."""

from __future__ import annotations

import time

import orjson

from edge_harness import read_until_close, recv_until, uid
from functions import contracts
from harness import consumer


def _find_record(settings, topic, client_msg_id, timeout=30.0):
    c = consumer(settings, [topic])
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = c.poll(0.5)
            if msg is None or msg.error():
                continue
            try:   # the shared topic holds other tests' records, poison ones too
                value = orjson.loads(msg.value())
            except orjson.JSONDecodeError:
                continue
            if value.get("clientMsgId") == client_msg_id:
                return msg, value
    finally:
        c.close()
    raise AssertionError(f"record {client_msg_id} not in {topic}")


def _send(ws, room, client_msg_id, body="x", **extra):
    ws.send(orjson.dumps({"type": "send", "room": room, "clientMsgId": client_msg_id, "body": body,
                          **extra}).decode())


def _answer(ws, client_msg_id, timeout=30.0):
    """The ack or error about one send (the worker may post other events meanwhile)."""
    return recv_until(ws, lambda f: f["type"] in ("ack", "error") and
                      client_msg_id in (f.get("clientMsgId"), f.get("ref")), timeout)[0]


def test_ack_after_kafka_with_stamped_sender(edge, stack_settings, connection_id_of, room_with):
    user = uid("alice")
    room = room_with(user)
    ws = edge.connect(user)
    try:
        client_msg_id = uid("m")
        _send(ws, room, client_msg_id, "hello", senderId="mallory", senderRole="admin")
        ack = _answer(ws, client_msg_id)
        assert ack["type"] == "ack", ack
        assert (ack["clientMsgId"], ack["room"]) == (client_msg_id, room)
        msg, value = _find_record(stack_settings, stack_settings.chat_topic, client_msg_id)
        # The ack names exactly where Kafka stored it: it came from the delivery report.
        assert (msg.partition(), msg.offset()) == (ack["partition"], ack["offset"])
        assert msg.key() == room.encode()
        assert value["senderId"] == user and value["senderRole"] == "customer"
        assert value["type"] == contracts.RECORD_SEND and value["body"] == "hello"
        assert value["connectionId"] == connection_id_of(user)
        assert value["edgeUrl"] == edge.settings.edge_delivery_url
        assert set(contracts.RECORD_FIELDS) <= set(value)
        headers = dict(msg.headers())
        assert headers[contracts.HEADER_SCHEMA] == b"1"
        assert headers[contracts.HEADER_EDGE] == edge.settings.edge_id.encode()
    finally:
        ws.close()


def test_acks_for_pipelined_sends(edge, room_with):
    user = uid("u")
    room = room_with(user)
    ws = edge.connect(user)
    try:
        ids = [uid("m") for _ in range(20)]
        for client_msg_id in ids:
            _send(ws, room, client_msg_id)
        acks = [recv_until(ws, lambda f: f["type"] == "ack")[0] for _ in ids]
        assert [a["clientMsgId"] for a in acks] == ids   # one partition, in order
        offsets = [a["offset"] for a in acks]
        assert offsets == sorted(offsets) and len(set(offsets)) == len(ids)
    finally:
        ws.close()


def test_broker_down_errors_then_recovers(make_edge, local_stack, room_with):
    edge = make_edge(produce_timeout_s=3.0)
    user = uid("u")
    room = room_with(user)
    ws = edge.connect(user)
    try:
        _send(ws, room, "warm")
        assert _answer(ws, "warm")["type"] == "ack"
        local_stack.stop("kafka")
        _send(ws, room, "lost-1")
        error = _answer(ws, "lost-1")
        assert (error["type"], error["code"], error["ref"]) == ("error", "unavailable", "lost-1"), error
        # The connection is kept while the broker is down.
        ws.send('{"type":"ping"}')
        assert recv_until(ws, lambda f: f["type"] == "pong")
        local_stack.start("kafka")
        deadline = time.monotonic() + 90
        n = 0
        while True:
            n += 1
            client_msg_id = f"again-{n}"
            _send(ws, room, client_msg_id)
            frame = _answer(ws, client_msg_id)
            if frame["type"] == "ack":
                assert frame["clientMsgId"] == client_msg_id
                break
            assert frame["code"] == "unavailable", frame
            assert time.monotonic() < deadline, "the edge never recovered"
            time.sleep(1)
    finally:
        ws.close()


def test_graceful_sigterm_acks_then_closes_1012(make_edge, stack_settings, connection_id_of, room_with):
    from functions.connections import Connections

    edge = make_edge()
    user = uid("u")
    room = room_with(user)
    ws = edge.connect(user)
    connection_id = connection_id_of(user)
    ids = [uid("m") for _ in range(10)]
    for client_msg_id in ids:
        _send(ws, room, client_msg_id)
    edge.terminate()
    frames, code, reason = read_until_close(ws, timeout=30)
    assert code == 1012, (code, reason, frames)
    # Every accepted message got its answer before the close: an ack or an error, never silence.
    answered = {f.get("clientMsgId") or f.get("ref") for f in frames if f["type"] in ("ack", "error")}
    answered &= set(ids)
    assert answered == set(ids), frames
    assert edge.wait(30) == 0
    assert Connections(stack_settings).get(connection_id) is None   # unregistered on the way out


def test_upgrades_refused_while_shutting_down(make_edge):
    from edge_harness import APP_ORIGIN, raw_upgrade

    edge = make_edge(graceful_timeout=8)
    ws = edge.connect(uid("u"))
    try:
        edge.terminate()
        # Between SIGTERM and the listener closing, an upgrade gets 503 (or no listener at all).
        # The signal reaches the worker a moment after terminate() returns, so an upgrade may
        # still be taken before it; once one is refused, none may be taken again.
        deadline = time.monotonic() + 5
        seen = []
        while time.monotonic() < deadline:
            try:
                status, _, _, _ = raw_upgrade(edge.public_port, headers={
                    "Origin": APP_ORIGIN, "Authorization": f"Bearer {edge.token(uid('u'))}"}, timeout=2)
                seen.append(status)
            except OSError:
                seen.append("refused")
                break
        refused_from = next((i for i, s in enumerate(seen) if s != 101), None)
        assert refused_from is not None, f"upgrades still taken 5 s after SIGTERM: {seen}"
        assert 101 not in seen[refused_from:], seen
        _, code, _ = read_until_close(ws, timeout=20)
        assert code == 1012
    finally:
        ws.close()


def test_typing_and_presence_records(edge, stack_settings, room_with):
    user = uid("u")
    room = room_with(user)
    ws = edge.connect(user)
    try:
        ws.send(orjson.dumps({"type": "subscribe", "room": room}).decode())
        assert recv_until(ws, lambda f: f["type"] == "subscribed")[0] == {"type": "subscribed", "room": room}
        ws.send(orjson.dumps({"type": "typing", "room": room}).decode())
        ws.send(orjson.dumps({"type": "unsubscribe", "room": room}).decode())
        assert recv_until(ws, lambda f: f["type"] == "unsubscribed")[0]["room"] == room
    finally:
        ws.close()
    c = consumer(stack_settings, [stack_settings.chat_topic])
    kinds = []
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len(kinds) < 3:
            msg = c.poll(0.5)
            if msg is None or msg.error():
                continue
            if msg.key() != room.encode():   # the shared topic holds other tests' records (even poison)
                continue
            value = orjson.loads(msg.value())
            if value.get("roomId") == room:
                assert value["senderId"] == user
                kinds.append((value["type"], value.get("state")))
    finally:
        c.close()
    assert kinds == [(contracts.RECORD_PRESENCE, "join"), (contracts.RECORD_TYPING, None),
                     (contracts.RECORD_PRESENCE, "leave")]
