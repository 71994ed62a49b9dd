"""The chat path on the real stack: edge -> Kafka -> ESM -> worker -> DynamoDB -> edges.

Two edges, real broker, real store, the ESM runner: nothing here is faked.
"""

from __future__ import annotations

import time
import uuid

import jwt
import pytest
import websocket
from confluent_kafka import Consumer, TopicPartition

from functions import contracts
from functions.connections import Connections
from functions.history import Messages
from functions.tables import CONNECTIONS, ROOMS


def stored(settings, room):
    return list(Messages(settings).messages_after(room, 0))


def test_message_reaches_members_on_both_edges_in_room_order(new_user, new_room, connect):
    customer, groomer = new_user("customer"), new_user("groomer")
    room = new_room(customer, groomer)
    a, b = connect("edge-a", customer), connect("edge-b", groomer)
    assert a.subscribe(room)["type"] == "subscribed"
    assert b.subscribe(room)["type"] == "subscribed"
    sent = [f"message {i}" for i in range(20)]
    for i, body in enumerate(sent):
        (a if i % 2 == 0 else b).send(room, body)
    for client in (a, b):
        got = client.wait_messages(room, len(sent), timeout=20)
        assert [m["seq"] for m in got] == list(range(1, len(sent) + 1))
        # each sender's own messages keep their order; the room order is one order for all
        assert [m["body"] for m in got if m["senderId"] == customer.id] == sent[0::2]
        assert [m["body"] for m in got if m["senderId"] == groomer.id] == sent[1::2]
        assert {m["senderRole"] for m in got} == {"customer", "groomer"}
        assert all(m["messageId"] == contracts.message_id(room, m["seq"]) for m in got)
    assert [m["body"] for m in a.messages(room)] == [m["body"] for m in b.messages(room)]


def test_ack_comes_after_the_record_is_in_kafka_with_the_stamped_sender(settings, new_user, new_room, connect):
    alice = new_user("customer")
    room = new_room(alice)
    client = connect("edge-a", alice)
    cid = uuid.uuid4().hex
    client.send_json({"type": "send", "room": room, "clientMsgId": cid, "body": "hello",
                      "senderId": "mallory", "senderRole": "admin"})   # forged: must be ignored
    ack = client.wait_for(lambda f: f.get("clientMsgId") == cid and f["type"] == "ack")
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap, "group.id": f"t-{cid}",
                         "enable.auto.commit": False})
    try:
        consumer.assign([TopicPartition(settings.chat_topic, ack["partition"], ack["offset"])])
        msg = consumer.poll(10)
        assert msg is not None and not msg.error()
        record = contracts.decode(msg.value())
        assert msg.key() == room.encode()
        assert record["clientMsgId"] == cid
        assert (record["senderId"], record["senderRole"]) == (alice.id, "customer")
    finally:
        consumer.close()


def test_forged_sender_in_payload_is_ignored_end_to_end(settings, chat):
    room, alice, bob, a, b = chat.room, chat.customer, chat.groomer, chat.c, chat.g
    a.send(room, "it's me", senderId=bob.id, senderRole="groomer")
    got = b.wait_messages(room, 1)[0]
    assert (got["senderId"], got["senderRole"]) == (alice.id, "customer")
    assert stored(settings, room)[0]["senderId"] == alice.id


def test_non_member_can_neither_subscribe_nor_send(settings, new_user, new_room, connect):
    alice, mallory = new_user("customer"), new_user("groomer")
    room = new_room(alice)
    m = connect("edge-b", mallory)
    reply = m.subscribe(room)
    assert reply["type"] == "error" and reply["code"] == contracts.ERR_FORBIDDEN
    cid = m.send(room, "let me in")
    # accepted into Kafka (the edge doesn't decide membership), then refused by the worker
    refusal = m.wait_for(lambda f: f["type"] == "error" and f.get("ref") == cid, timeout=15)
    assert refusal["code"] == contracts.ERR_FORBIDDEN
    assert stored(settings, room) == []
    assert m.messages(room) == []


def test_unknown_room_is_an_error_for_subscribe_and_send(new_user, connect):
    alice = new_user()
    client = connect("edge-a", alice)
    room = f"nowhere-{uuid.uuid4().hex[:8]}"
    assert client.subscribe(room)["code"] == contracts.ERR_UNKNOWN_ROOM
    cid = client.send(room, "hello?")
    refusal = client.wait_for(lambda f: f["type"] == "error" and f.get("ref") == cid, timeout=15)
    assert refusal["code"] == contracts.ERR_UNKNOWN_ROOM


@pytest.mark.parametrize("raw,code", [
    ("{not json", contracts.ERR_BAD_FRAME),
    ("[1, 2]", contracts.ERR_BAD_FRAME),
    ('{"type": "dance"}', contracts.ERR_UNKNOWN_TYPE),
    ('{"type": "send", "room": "r1", "body": "x"}', contracts.ERR_BAD_REQUEST),
    ('{"type": "send", "room": "bad room id!", "clientMsgId": "c1", "body": "x"}', contracts.ERR_BAD_REQUEST),
    ('{"type": "send", "room": "r1", "clientMsgId": "c1", "body": ""}', contracts.ERR_BAD_REQUEST),
    ('{"type": "subscribe"}', contracts.ERR_BAD_REQUEST),
])
def test_bad_frames_get_an_error_and_the_connection_stays_usable(raw, code, new_user, new_room, connect):
    alice = new_user()
    room = new_room(alice)
    client = connect("edge-a", alice)
    client.send_raw(raw)
    assert client.wait_for(lambda f: f["type"] == "error")["code"] == code
    assert client.subscribe(room)["type"] == "subscribed"
    assert client.send_and_ack(room, "still here")["type"] == "ack"


def test_oversized_body_is_refused_with_an_error(new_user, new_room, connect):
    alice = new_user()
    room = new_room(alice)
    client = connect("edge-a", alice)
    cid = client.send(room, "x" * (contracts.MAX_BODY_CHARS + 1))
    assert client.wait_for(lambda f: f.get("ref") == cid)["code"] == contracts.ERR_TOO_LARGE
    assert client.send_and_ack(room, "short")["type"] == "ack"


def _handshake_status(url: str, token: str | None) -> int:
    try:
        websocket.create_connection(f"{url}?access_token={token}" if token else url, timeout=5).close()
    except websocket.WebSocketBadStatusException as exc:
        return exc.status_code
    return 101


def test_bad_tokens_are_refused_before_the_upgrade(settings, edges):
    now = int(time.time())
    claims = {"sub": "u1", "role": "customer", "iss": settings.jwt_issuer, "aud": settings.jwt_audience,
              "iat": now, "exp": now + 600}
    expired = jwt.encode({**claims, "iat": now - 7200, "exp": now - 3600}, settings.jwt_secret, "HS256")
    wrong_key = jwt.encode(claims, "not-the-secret-" * 4, "HS256")
    alg_none = jwt.encode(claims, None, algorithm="none")
    wrong_aud = jwt.encode({**claims, "aud": "someone-else"}, settings.jwt_secret, "HS256")
    for token in ("garbage", expired, wrong_key, alg_none, wrong_aud):
        assert _handshake_status(edges["edge-a"], token) == 401, token
    assert _handshake_status(edges["edge-a"], jwt.encode(claims, settings.jwt_secret, "HS256")) == 101
    # no token at all: the socket opens and its first frame must carry one (tests/security)
    assert _handshake_status(edges["edge-a"], None) == 101


def test_a_connection_gone_without_close_answers_410_and_is_swept(settings, ddb, new_user, new_room,
                                                                   connect, delivery_urls):
    alice, ghost = new_user(), new_user("groomer")
    room = new_room(alice, ghost)
    # A connection whose edge lost it without cleaning up (a crash): its rows are still there.
    ghost_id = f"ghost{uuid.uuid4().hex}"
    conns = Connections(settings)
    conns.register(ghost_id, ghost.id, ghost.role, delivery_urls["edge-b"], "127.0.0.1", "test",
                   int(time.time() * 1000))
    conns.subscribe(room, ghost_id, ghost.id, ghost.role, delivery_urls["edge-b"])
    client = connect("edge-a", alice)
    client.subscribe(room)
    client.send(room, "anyone there?")
    client.wait_messages(room, 1)
    deadline = time.time() + 10
    while time.time() < deadline:
        subs = ddb.get_item(TableName=settings.table_name(ROOMS.logical),
                            Key={"roomId": {"S": room}})["Item"].get("subs", {}).get("M", {})
        row = ddb.get_item(TableName=settings.table_name(CONNECTIONS.logical),
                           Key={"connectionId": {"S": ghost_id}}).get("Item")
        if ghost_id not in subs and row is None:
            break
        time.sleep(0.2)
    assert ghost_id not in subs, "the 410'd subscription is still in the room"
    assert row is None, "the 410'd connection row is still there"


def test_resend_with_the_same_client_msg_id_is_stored_once(settings, new_user, new_room, connect):
    alice, bob = new_user(), new_user("groomer")
    room = new_room(alice, bob)
    b = connect("edge-b", bob)
    b.subscribe(room)
    a = connect("edge-a", alice)
    cid = uuid.uuid4().hex
    assert a.send_and_ack(room, "once", cid)["type"] == "ack"
    assert a.send_and_ack(room, "once", cid)["type"] == "ack"     # a retry after a lost ack
    a.send_and_ack(room, "twice")
    got = b.wait_messages(room, 2)
    b.drain(1.0)
    assert [m["body"] for m in stored(settings, room)] == ["once", "twice"]
    assert len({m["messageId"] for m in b.messages(room)}) == 2
