"""chat_worker end to end at the function level: a real dynalite, real HTTP edges."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from botocore.exceptions import ClientError

from functions import chat_worker, contracts, tables
from functions.connections import Connections
from worker_world import broken_worker, world  # noqa: F401 (world: the fixture)


def test_stores_once_in_order_and_fans_out_one_post_per_edge(world):
    records = [world.kafka.record(world.value(world.a1, body=f"m{n}")) for n in range(5)]
    assert world.run(*records) == {"batchItemFailures": []}
    stored = world.stored()
    assert [(m["seq"], m["body"]) for m in stored] == [(n + 1, f"m{n}") for n in range(5)]
    assert [m["offset"] for m in stored] == [r["offset"] for r in records]
    head = world.head()
    assert head["lastSeq"] == 5 and world.commit() == (records[-1]["offset"], None)
    assert head["lastMessage"] == {"seq": 5, "senderId": "alice", "senderRole": "customer", "body": "m4",
                                   "sentAt": stored[-1]["sentAt"]}
    for conn in (world.a1, world.b1, world.b2):
        events = world.got(conn)
        assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
        assert events[0] == {"type": "message", "room": world.room, "seq": 1, "messageId": f"{world.room}:1",
                             "clientMsgId": stored[0]["clientMsgId"], "senderId": "alice", "senderRole": "customer",
                             "body": "m0", "sentAt": stored[0]["sentAt"]}
    assert len(world.a.posts) == 1 and len(world.b.posts) == 1
    assert world.got(world.c1) == []


def test_msk_event_shape_and_per_room_seq_across_partitions(world, settings, uid):
    other = uid("room")
    world.rooms.create(other, "Other", "alice")
    k = world.kafka
    records = [k.record(world.value(world.a1), partition=0), k.record(world.value(world.a1, room=other), partition=1),
               k.record(world.value(world.a1), partition=0), k.record(world.value(world.a1, room=other), partition=1),
               k.record(world.value(world.a1), partition=0)]
    event = {**k.event(*records), "eventSource": "aws:kafka", "eventSourceArn": "arn:aws:kafka:us-east-1:1:cluster/x/y"}
    assert world.run(event=event) == {"batchItemFailures": []}
    assert [m["seq"] for m in world.stored()] == [1, 2, 3]
    assert [m["seq"] for m in world.stored(other)] == [1, 2]
    assert {m["partition"] for m in world.stored(other)} == {f"{k.topic}-1"}
    assert world.commit(1)[0] == records[3]["offset"] and world.commit(0)[0] == records[4]["offset"]
    # a later batch continues each room's sequence
    world.run(k.record(world.value(world.a1, room=other), partition=1))
    assert [m["seq"] for m in world.stored(other)] == [1, 2, 3]


def test_replay_stores_nothing_twice_and_redelivers_the_same_ids(world):
    event = world.kafka.event(*[world.kafka.record(world.value(world.a1)) for _ in range(3)])
    world.run(event=event)
    first = world.got(world.b1)
    world.clear()
    assert world.run(event=event) == {"batchItemFailures": []}
    assert [m["seq"] for m in world.stored()] == [1, 2, 3]
    again = world.got(world.b1)
    assert [e["messageId"] for e in again] == [e["messageId"] for e in first]
    assert again == first
    assert world.head()["lastSeq"] == 3


def test_client_resend_is_stored_once(world):
    k = world.kafka
    original = world.value(world.a1, cmid="same-id", body="hi")
    resend = {**original, "sentAt": original["sentAt"] + 5, "body": "hi (edited)"}
    world.run(k.record(original), k.record(resend))  # a resend within the batch
    # the room hears the message once; the sender hears it again, as stored
    assert [(e["seq"], e["body"]) for e in world.got(world.a1)] == [(1, "hi"), (1, "hi")]
    assert [(e["seq"], e["body"]) for e in world.got(world.b1)] == [(1, "hi")]
    world.clear()
    world.run(k.record(dict(resend, body="hi again")))  # and in a later batch
    stored = world.stored()
    assert [(m["seq"], m["clientMsgId"], m["body"]) for m in stored] == [(1, "same-id", "hi")]
    # the sender alone hears the stored message again, so it can match clientMsgId -> messageId
    assert [(e["seq"], e["body"]) for e in world.got(world.a1)] == [(1, "hi")]
    assert world.got(world.b1) == [] and world.got(world.b2) == []
    assert world.head()["lastSeq"] == 1



def test_a_resend_beyond_the_dedup_window_is_stored_again(world, monkeypatch):
    monkeypatch.setattr(tables, "DEDUP_WINDOW", 2)
    k = world.kafka
    first = world.value(world.a1, cmid="early", body="early")
    world.run(k.record(first), *[k.record(world.value(world.a1)) for _ in range(2)])
    world.run(k.record(dict(first, sentAt=first["sentAt"] + 1)))
    assert [m["clientMsgId"] for m in world.stored()].count("early") == 2
    # a worker that reads the room fresh keeps the same window: the resend of the newest is caught
    fresh = chat_worker.make_handler(world.settings, client=world.ddb, deliverer=world.deliverer)
    fresh(k.event(k.record(dict(first, sentAt=first["sentAt"] + 2))), None)
    assert [m["clientMsgId"] for m in world.stored()].count("early") == 2


@pytest.mark.parametrize("ttl", [0.0, 30.0])
def test_membership_is_remembered_for_member_cache_s(world, settings, ddb, ttl):
    worker = chat_worker.make_handler(replace(settings, member_cache_s=ttl), client=ddb, deliverer=world.deliverer)
    k = world.kafka
    worker(k.event(k.record(world.value(world.b1, user="bob", role="groomer", body="before"))), None)
    world.rooms.remove_member(world.room, "bob")
    world.clear()
    worker(k.event(k.record(world.value(world.b1, user="bob", role="groomer", body="after", cmid="late"))), None)
    bodies = [m["body"] for m in world.stored()]
    if ttl:
        assert bodies == ["before", "after"]  # still trusted: removal takes up to member_cache_s
    else:
        assert bodies == ["before"]
        assert [e["code"] for e in world.got(world.b1, "error")] == [contracts.ERR_FORBIDDEN]


def test_non_member_and_unknown_room_get_errors_and_nothing_is_stored(world, uid):
    k = world.kafka
    forbidden = world.value(world.c1, user="carol", cmid="c-1")
    unknown_room = uid("room")
    unknown = world.value(world.a1, room=unknown_room, cmid="u-1")
    assert world.run(k.record(forbidden), k.record(unknown)) == {"batchItemFailures": []}
    assert world.stored() == [] and world.stored(unknown_room) == []
    assert world.got(world.c1) == [{"type": "error", "code": contracts.ERR_FORBIDDEN, "ref": "c-1",
                                    "room": world.room, "message": f"not a member of room {world.room}"}]
    (error,) = world.got(world.a1)
    assert (error["code"], error["ref"], error["room"]) == (contracts.ERR_UNKNOWN_ROOM, "u-1", unknown_room)
    assert world.got(world.b1) == []
    assert world.head(unknown_room) is None


def test_the_sender_is_the_records_sender_only(world):
    k = world.kafka
    # carol (not a member) on the connection of alice (a member): refused, as carol
    spoof = world.value(world.a1, user="carol", cmid="x-1")
    # alice's record whose payload claims another sender: stored as alice
    claims = world.value(world.a1, user="alice", cmid="x-2", body='{"senderId": "bob"}', sender="bob", userId="bob")
    world.run(k.record(spoof), k.record(claims))
    (stored,) = world.stored()
    assert (stored["senderId"], stored["senderRole"], stored["clientMsgId"]) == ("alice", "customer", "x-2")
    errors = world.got(world.a1, "error")
    assert [(e["code"], e["ref"]) for e in errors] == [(contracts.ERR_FORBIDDEN, "x-1")]
    assert [e["senderId"] for e in world.got(world.b1)] == ["alice"]


def test_malformed_records_are_reported_and_invalid_ones_answered(world):
    k = world.kafka
    good1 = k.record(world.value(world.a1, body="one"))
    not_json = k.record(None, raw_value=b"{not json", key=world.room)
    not_object = k.record(None, raw_value=b"[1, 2]", key=world.room)
    bad_base64 = dict(k.record(world.value(world.a1)), value="%%% not base64 %%%")
    too_long = k.record(world.value(world.a1, cmid="long", body="x" * (contracts.MAX_BODY_CHARS + 1)))
    bad_id = k.record(world.value(world.a1, cmid="has space"))
    no_sent_at = k.record({key: v for key, v in world.value(world.a1, cmid="nsa").items() if key != "sentAt"})
    wrong_key = k.record(world.value(world.a1, cmid="wk"), key="another-room")
    no_sender = k.record({"v": 1, "type": "chat.send", "roomId": world.room})
    good2 = k.record(world.value(world.a1, body="two"))
    response = world.run(good1, not_json, not_object, bad_base64, too_long, bad_id, no_sent_at, wrong_key,
                         no_sender, good2)
    assert response == {"batchItemFailures": [
        {"itemIdentifier": {"partition": f"{k.topic}-0", "offset": r["offset"]}}
        for r in (not_json, not_object, bad_base64)]}
    assert [m["body"] for m in world.stored()] == ["one", "two"]
    errors = world.got(world.a1, "error")
    assert [(e["code"], e.get("ref")) for e in errors] == [
        (contracts.ERR_BAD_REQUEST, "long"), (contracts.ERR_BAD_REQUEST, "has space"),
        (contracts.ERR_BAD_REQUEST, "nsa"), (contracts.ERR_BAD_REQUEST, "wk")]


def test_gone_connections_are_forgotten(world):
    world.a.gone.add(world.b2)
    world.run(world.kafka.record(world.value(world.a1)))
    assert world.b2 not in world.conns.subscribers(world.room)
    assert world.conns.get(world.b2) is None
    assert world.conns.get(world.b1) is not None
    world.clear()
    world.run(world.kafka.record(world.value(world.a1)))
    assert world.got(world.b2) == [] and [e["seq"] for e in world.got(world.b1)] == [2]


def test_typing_is_fanned_out_not_stored(world):
    k = world.kafka
    typing = world.value(world.b1, user="bob", role="groomer", kind=contracts.RECORD_TYPING)
    intruder = world.value(world.c1, user="carol", kind=contracts.RECORD_TYPING)
    world.run(k.record(typing), k.record(intruder))
    assert world.stored() == [] and world.head() is None and world.commit() == (-1, None)
    assert world.got(world.a1) == [{"type": "typing", "room": world.room, "userId": "bob", "role": "groomer",
                                    "at": typing["sentAt"]}]
    assert world.got(world.b1) == [] and world.got(world.b2) == []  # not to the typist's own connections
    assert [e["code"] for e in world.got(world.c1)] == [contracts.ERR_FORBIDDEN]


def test_presence_is_fanned_out_to_the_others(world):
    join = world.value(world.b2, user="bob", role="groomer", kind=contracts.RECORD_PRESENCE, state="join")
    stranger = world.value(world.c1, user="carol", kind=contracts.RECORD_PRESENCE, state="join")
    world.run(world.kafka.record(join), world.kafka.record(stranger))
    expected = [{"type": "presence", "room": world.room, "userId": "bob", "state": "join", "at": join["sentAt"]}]
    assert world.got(world.a1) == expected and world.got(world.b1) == expected
    assert world.got(world.b2) == [] and world.got(world.c1) == []  # a non-member's join is dropped quietly
    world.clear()
    world.rooms.remove_member(world.room, "bob")
    leave = world.value(world.b1, user="bob", role="groomer", kind=contracts.RECORD_PRESENCE, state="leave")
    world.run(world.kafka.record(leave))  # a leave needs no membership
    assert [e["state"] for e in world.got(world.a1)] == ["leave"]


def test_expired_subscriptions_are_not_delivered_to(world, settings, ddb, uid):
    stale = uid("stale")
    world.edge_of[stale] = world.b
    past = Connections(settings, ddb, clock=lambda: time.time() - settings.connection_ttl_s - 5)
    past.subscribe(world.room, stale, "bob", "groomer", world.b.url)
    world.run(world.kafka.record(world.value(world.a1)))
    assert world.got(stale) == [] and [e["seq"] for e in world.got(world.b1)] == [1]


def test_an_unreachable_edge_does_not_fail_the_batch(world, edge_factory):
    dead = edge_factory()
    dead_url = dead.url
    dead.close()
    world.conns.subscribe(world.room, "on-dead-edge", "bob", "groomer", dead_url)
    assert world.run(world.kafka.record(world.value(world.a1))) == {"batchItemFailures": []}
    assert [m["seq"] for m in world.stored()] == [1] and [e["seq"] for e in world.got(world.b1)] == [1]


def test_store_errors_raise(world, settings, ddb):
    with pytest.raises(ClientError):
        broken_worker(settings, ddb, world, "write")(world.kafka.event(world.kafka.record(world.value(world.a1))), None)
    # nothing delivered and nothing stored: the retry decides (and rewrites) the same seq
    assert world.got(world.b1) == [] and world.head() is None and world.commit()[0] == -1


def test_not_a_kafka_event_raises(world):
    with pytest.raises(ValueError):
        world.run(event={"Records": [], "eventSource": "aws:sqs"})


def test_module_handler_builds_itself_from_the_environment(world, settings, monkeypatch):
    for name, value in settings.to_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(chat_worker.handler, "built", None)
    event = world.kafka.event(world.kafka.record(world.value(world.a1, cmid="env-1")))
    assert chat_worker.handler(event, None) == {"batchItemFailures": []}
    first = chat_worker.handler.built
    assert isinstance(first, chat_worker.ChatWorker)
    chat_worker.handler(event, None)
    assert chat_worker.handler.built is first  # reused while warm
    assert [m["clientMsgId"] for m in world.stored()] == ["env-1"]   # the second call was a replay
    first.deliverer.close()


def test_a_replayed_batch_never_moves_the_commit_back(world):
    k = world.kafka
    old = [k.record(world.value(world.a1, body=f"old {n}")) for n in range(3)]
    world.run(*old)
    later = k.record(world.value(world.a1, body="later"))
    world.run(later)
    committed = world.commit()[0]
    fresh = chat_worker.make_handler(world.settings, client=world.ddb, deliverer=world.deliverer)
    fresh(k.event(*old), None)          # the group rewound: the first batch again
    assert world.commit()[0] == committed
    fresh(k.event(later), None)         # and the next: still a replay, not a resend
    assert [m["body"] for m in world.stored()] == ["old 0", "old 1", "old 2", "later"]


def test_a_join_makes_the_worker_read_the_subscribers_again(world, uid):
    """Subscribers are remembered for a moment, but not past a presence record of the room:
    a member who subscribes (its edge reports the join) gets the next message live at once."""
    k = world.kafka
    world.run(k.record(world.value(world.a1, body="one")))          # subscribers read and remembered
    late = uid("late")
    world.edge_of[late] = world.b
    world.conns.subscribe(world.room, late, "bob", "groomer", world.b.url)
    join = world.value(late, user="bob", role="groomer", kind=contracts.RECORD_PRESENCE, state="join")
    world.run(k.record(join), k.record(world.value(world.a1, body="two")))
    assert [e["body"] for e in world.got(late, "message")] == ["two"]
