"""Records made through the HTTP API (functions/http/changes.py) carry no connectionId and no
edgeUrl: the contract takes both or neither, and the worker applies such a change like any
other, tells the room, and posts nothing to any connection of the sender."""

from __future__ import annotations

import pytest

from functions import contracts
from functions.chat_records import invalid_reason
from test_message_changes import change, send
from worker_world import world  # noqa: F401 (world: the fixture)

EDIT, DELETE, REACT = contracts.RECORD_EDIT, contracts.RECORD_DELETE, contracts.RECORD_REACT


def connectionless(value: dict) -> dict:
    return {k: v for k, v in value.items() if k not in ("connectionId", "edgeUrl")}


def base(kind: str, **fields) -> dict:
    value = {"v": 1, "type": kind, "roomId": "r1", "senderId": "alice", "senderRole": "customer", "sentAt": 1,
             "clientMsgId": "m1", **fields}
    return value


@pytest.mark.parametrize("value, reason", [
    (base(EDIT, messageId="r1:1", body="x"), None),
    (base(DELETE, messageId="r1:1"), None),
    (base(REACT, messageId="r1:1", emoji="👍"), None),
    (base(contracts.RECORD_SEND, body="x"), None),
    (base(EDIT, messageId="r1:1", body="x", connectionId="c1"), "invalid edgeUrl"),
    (base(EDIT, messageId="r1:1", body="x", edgeUrl="http://edge"), "invalid connectionId"),
    (base(EDIT, messageId="r1:1", body="x", connectionId="", edgeUrl="http://edge"), "invalid connectionId"),
    (base(EDIT, messageId="r1:1", body="x", connectionId="c1", edgeUrl="ftp://edge"), "invalid edgeUrl"),
    (base(EDIT, messageId="r1:1", body="x", connectionId="c1", edgeUrl="http://edge"), None),
    (base(contracts.RECORD_TYPING), "typing and presence come from a connection (connectionId, edgeUrl)"),
    (base(contracts.RECORD_PRESENCE, state="join"), "typing and presence come from a connection (connectionId, edgeUrl)"),
    # the rest of the contract still holds without a connection
    (base(EDIT, messageId="r2:1", body="x"), "messageId is not a message of this room"),
    (base(REACT, messageId="r1:1", emoji="no"), "a reaction is exactly one emoji"),
])
def test_a_record_has_both_connection_fields_or_neither(value, reason):
    assert invalid_reason(value, b"r1") == reason


def test_a_connectionless_change_reaches_the_room_and_no_connection_is_answered(world):
    seq = send(world, body="helo")
    world.clear()
    edit = connectionless(change(world, world.a1, EDIT, seq, body="hello", cmid="h1"))
    assert world.run(world.kafka.record(edit)) == {"batchItemFailures": []}
    [stored] = world.stored()
    assert (stored["body"], stored["version"]) == ("hello", 2)
    # every subscriber hears it, the sender's own connection (a1) too: it was not the sender's
    for conn in (world.a1, world.b1, world.b2):
        assert [(e["type"], e["clientMsgId"]) for e in world.got(conn)] == [("edited", "h1")]
    world.clear()
    # a resend (same senderId|clientMsgId): not applied again, and no state answer to anyone
    world.run(world.kafka.record(dict(edit, body="hello again", sentAt=edit["sentAt"] + 1)))
    assert world.stored()[0]["version"] == 2
    assert all(world.got(conn) == [] for conn in (world.a1, world.b1, world.b2, world.c1))


def test_a_refused_connectionless_change_posts_nothing(world):
    seq = send(world, body="alice's")
    world.clear()
    k = world.kafka
    world.run(k.record(connectionless(change(world, world.b1, EDIT, seq, user="bob", role="groomer", body="mine"))),
              k.record(connectionless(change(world, world.c1, DELETE, seq, user="carol"))),
              k.record(connectionless(change(world, world.a1, DELETE, seq + 5))))
    assert world.stored()[0]["body"] == "alice's" and world.stored()[0].get("deleted") is None
    assert all(world.got(conn) == [] for conn in (world.a1, world.b1, world.b2, world.c1))
