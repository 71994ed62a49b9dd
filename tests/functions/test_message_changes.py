"""Edit, delete, reactions and replies through the chat worker: a real dynalite, real HTTP edges.

Every change is a Kafka record of the room's partition, so these run the worker the way the
event source mapping does: batches, replays, failed attempts, resends.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from botocore.exceptions import ClientError

from functions import chat_worker, contracts
from worker_world import broken_worker, world  # noqa: F401 (world: the fixture)

EDIT, DELETE, REACT = contracts.RECORD_EDIT, contracts.RECORD_DELETE, contracts.RECORD_REACT


def change(world, conn, kind, seq, *, user="alice", role="customer", cmid=None, room=None, **extra):
    extra.setdefault("messageId", f"{room or world.room}:{seq}")
    body = extra.pop("body", None)
    value = world.value(conn, user=user, role=role, kind=kind, room=room, **extra)
    if body is not None:
        value["body"] = body
    value["clientMsgId"] = cmid or f"c{world.seq}"
    return value


def send(world, conn="a1", **kw):
    """Store one message from alice (or whoever) and return its seq."""
    world.run(world.kafka.record(world.value(getattr(world, conn), **kw)))
    return world.stored()[-1]["seq"]


def errors(world, conn):
    return [(e["code"], e.get("ref")) for e in world.got(conn, "error")]


def test_edit_stores_the_new_version_and_tells_every_member(world):
    seq = send(world, body="helo")
    world.clear()
    value = change(world, world.a1, EDIT, seq, body="hello", cmid="e1")
    assert world.run(world.kafka.record(value)) == {"batchItemFailures": []}
    [stored] = world.stored()
    assert stored["body"] == "hello" and stored["editedAt"] == value["sentAt"] and stored["version"] == 2
    for conn in (world.a1, world.b1, world.b2):
        assert world.got(conn) == [{"type": "edited", "room": world.room, "seq": seq,
                                    "messageId": f"{world.room}:{seq}", "clientMsgId": "e1", "body": "hello",
                                    "editedAt": value["sentAt"], "version": 2}]
    assert world.head()["lastMessage"]["body"] == "hello"


def test_edit_refusals_change_nothing(world, settings, ddb):
    seq = send(world, body="original")
    world.clear()
    k = world.kafka
    late = change(world, world.a1, EDIT, seq, body="late", cmid="late")
    late["sentAt"] = world.stored()[0]["sentAt"] + settings.edit_window_s * 1000 + 1
    world.run(k.record(change(world, world.b1, EDIT, seq, user="bob", role="groomer", body="bob's", cmid="bob")),
              k.record(late),
              k.record(change(world, world.a1, EDIT, seq + 5, body="nothing there", cmid="unknown")),
              k.record(change(world, world.a1, EDIT, seq, body="   ", cmid="blank")),
              k.record(change(world, world.c1, EDIT, seq, user="carol", body="carol's", cmid="stranger")))
    assert errors(world, world.b1) == [("forbidden", "bob")]
    assert errors(world, world.a1) == [("too_late", "late"), ("not_found", "unknown"), ("bad_request", "blank")]
    assert errors(world, world.c1) == [("forbidden", "stranger")]
    [stored] = world.stored()
    assert stored["body"] == "original" and "editedAt" not in stored
    assert [e["type"] for e in world.got(world.b2)] == []


def test_an_edit_just_inside_the_window_is_taken(world, settings):
    seq = send(world, body="original")
    value = change(world, world.a1, EDIT, seq, body="fixed")
    value["sentAt"] = world.stored()[0]["sentAt"] + settings.edit_window_s * 1000
    world.run(world.kafka.record(value))
    assert world.stored()[0]["body"] == "fixed"


def test_delete_leaves_a_tombstone_without_the_body(world):
    seq = send(world, body="secret")
    world.run(world.kafka.record(change(world, world.a1, REACT, seq, user="alice", emoji="👍")))
    world.clear()
    value = change(world, world.a1, DELETE, seq, cmid="d1")
    world.run(world.kafka.record(value))
    [item] = world.all_items()
    assert item["deleted"] is True and "body" not in item and "reactions" not in item
    assert "secret" not in repr(item)
    assert item["deletedBy"] == "alice" and item["deletedAt"] == value["sentAt"]
    for conn in (world.a1, world.b1):
        assert world.got(conn) == [{"type": "deleted", "room": world.room, "seq": seq,
                                    "messageId": f"{world.room}:{seq}", "clientMsgId": "d1",
                                    "deletedAt": value["sentAt"], "deletedBy": "alice"}]
    # history and the room list show the tombstone, never the body
    [shown] = world.stored()
    assert "body" not in shown and world.head()["lastMessage"]["body"] == ""
    assert world.head()["lastMessage"]["deleted"] is True
    # nothing more can happen to it
    world.clear()
    k = world.kafka
    world.run(k.record(change(world, world.a1, EDIT, seq, body="back", cmid="e")),
              k.record(change(world, world.a1, REACT, seq, emoji="👍", cmid="r")),
              k.record(change(world, world.a1, DELETE, seq, cmid="d2")),
              k.record(world.value(world.a1, cmid="reply", replyTo=f"{world.room}:{seq}")))
    assert errors(world, world.a1) == [("not_found", "e"), ("not_found", "r"), ("not_found", "d2"),
                                       ("not_found", "reply")]
    assert len(world.stored()) == 1


def test_only_the_sender_or_the_room_creator_may_delete(world):
    """alice created the room; bob may delete only his own messages, alice anyone's."""
    alices = send(world, body="alice's")
    bobs = send(world, conn="b1", user="bob", role="groomer", body="bob's")
    bobs_2 = send(world, conn="b1", user="bob", role="groomer", body="bob's second")
    world.clear()
    k = world.kafka
    world.run(k.record(change(world, world.b1, DELETE, alices, user="bob", role="groomer", cmid="nope")),
              k.record(change(world, world.a1, DELETE, bobs, cmid="creator")),
              k.record(change(world, world.b1, DELETE, bobs_2, user="bob", role="groomer", cmid="own")))
    assert errors(world, world.b1) == [("forbidden", "nope")]
    assert [(m["seq"], m.get("deleted", False)) for m in world.stored()] == [(alices, False), (bobs, True),
                                                                            (bobs_2, True)]
    assert [(e["seq"], e["deletedBy"]) for e in world.got(world.b2, "deleted")] == [(bobs, "alice"), (bobs_2, "bob")]


def test_reactions_toggle_per_user_and_emoji(world):
    seq = send(world)
    world.clear()
    k = world.kafka
    bob = dict(user="bob", role="groomer")
    world.run(k.record(change(world, world.a1, REACT, seq, emoji="👍")),
              k.record(change(world, world.b1, REACT, seq, emoji="👍", **bob)),
              k.record(change(world, world.b1, REACT, seq, emoji="❤️", **bob)),
              k.record(change(world, world.a1, REACT, seq, emoji="👍")))   # alice takes hers back
    events = world.got(world.b2, "reaction")
    assert [(e["userId"], e["emoji"], e["added"], e["counts"]) for e in events] == [
        ("alice", "👍", True, {"👍": 1}),
        ("bob", "👍", True, {"👍": 2}),
        ("bob", "❤️", True, {"👍": 2, "❤️": 1}),
        ("alice", "👍", False, {"👍": 1, "❤️": 1})]
    assert world.stored()[0]["reactions"] == {"👍": ["bob"], "❤️": ["bob"]}
    world.clear()
    world.run(k.record(change(world, world.b1, REACT, seq, emoji="👍", **bob)),
              k.record(change(world, world.b1, REACT, seq, emoji="❤️", **bob)))
    assert "reactions" not in world.stored()[0]
    assert world.got(world.a1, "reaction")[-1]["counts"] == {}


@pytest.mark.parametrize("emoji", ["👍👍", "a", "", ":thumbsup:", "👍 ", None, 7])
def test_a_reaction_must_be_one_emoji(world, emoji):
    seq = send(world)
    world.clear()
    world.run(world.kafka.record(change(world, world.a1, REACT, seq, emoji=emoji, cmid="bad")))
    assert errors(world, world.a1) == [("bad_request", "bad")]
    assert "reactions" not in world.stored()[0] and world.got(world.b1) == []


def test_a_reply_carries_a_short_quote(world):
    long_body = "x" * 150
    seq = send(world, body=long_body)
    world.clear()
    world.run(world.kafka.record(world.value(world.b1, user="bob", role="groomer", body="sure",
                                             replyTo=f"{world.room}:{seq}")))
    reply = world.stored()[-1]
    quote = {"messageId": f"{world.room}:{seq}", "seq": seq, "senderId": "alice", "quote": "x" * 100}
    assert reply["replyTo"] == quote
    [event] = world.got(world.a1, "message")
    assert event["replyTo"] == quote and event["body"] == "sure"


def test_reply_refusals_store_nothing(world, uid):
    seq = send(world)
    other = uid("room")
    world.rooms.create(other, "Other", "alice")
    world.run(world.kafka.record(world.value(world.a1, room=other, body="there")))
    world.clear()
    k = world.kafka
    world.run(k.record(world.value(world.a1, cmid="elsewhere", replyTo=f"{other}:1")),
              k.record(world.value(world.a1, cmid="unknown", replyTo=f"{world.room}:{seq + 9}")),
              k.record(world.value(world.a1, cmid="garbage", replyTo="nope")),
              k.record(world.value(world.a1, cmid="newline", replyTo=f"{world.room}:{seq}\n")))
    assert errors(world, world.a1) == [("bad_request", "elsewhere"), ("not_found", "unknown"),
                                       ("bad_request", "garbage"), ("bad_request", "newline")]
    assert [m["seq"] for m in world.stored()] == [seq]


def test_deleting_a_message_removes_its_quote_from_the_replies(world):
    seq = send(world, body="my address is 1 Dog Lane")
    k = world.kafka
    world.run(k.record(world.value(world.b1, user="bob", role="groomer", body="got it",
                                   replyTo=f"{world.room}:{seq}")))
    # a reply and the delete in one batch, too
    world.run(k.record(world.value(world.b1, user="bob", role="groomer", body="thanks",
                                   replyTo=f"{world.room}:{seq}")),
              k.record(change(world, world.a1, DELETE, seq)))
    items = world.all_items()
    assert "Dog Lane" not in repr(items)
    assert [m.get("replyTo") for m in world.stored()[1:]] == [
        {"messageId": f"{world.room}:{seq}", "seq": seq, "senderId": "alice", "deleted": True}] * 2


def test_changes_in_the_batch_that_stores_the_message(world):
    k = world.kafka
    first = world.value(world.a1, body="typo")
    world.run(k.record(first),
              k.record(change(world, world.a1, EDIT, 1, body="fixed")),
              k.record(change(world, world.b1, REACT, 1, user="bob", role="groomer", emoji="🐶")))
    [stored] = world.stored()
    assert (stored["body"], stored["version"], stored["reactions"]) == ("fixed", 2, {"🐶": ["bob"]})
    assert [e["type"] for e in world.got(world.b1)] == ["message", "edited", "reaction"]


def test_a_replayed_change_is_not_applied_twice(world):
    """The same batch again (the runner died before committing its Kafka offset): the toggle
    must not flip back; members get the message's state again."""
    seq = send(world)
    event = world.kafka.event(world.kafka.record(change(world, world.a1, REACT, seq, emoji="👍")),
                              world.kafka.record(change(world, world.a1, EDIT, seq, body="again")))
    world.run(event=event)
    world.clear()
    world.run(event=event)
    stored = world.stored()[0]
    assert stored["reactions"] == {"👍": ["alice"]} and stored["version"] == 2
    got = world.got(world.b1)
    assert [(e["type"], e.get("added"), e.get("body")) for e in got] == [("reaction", True, None),
                                                                       ("edited", None, "again")]


def test_a_resent_change_is_applied_once_and_the_sender_hears_the_state(world):
    seq = send(world)
    world.clear()
    first = change(world, world.a1, REACT, seq, emoji="👍", cmid="toggle-1")
    world.run(world.kafka.record(first))
    world.clear()
    world.run(world.kafka.record(dict(first, sentAt=first["sentAt"] + 10)))   # same clientMsgId, new offset
    assert world.stored()[0]["reactions"] == {"👍": ["alice"]}
    assert [(e["type"], e["added"]) for e in world.got(world.a1)] == [("reaction", True)]
    assert world.got(world.b1) == []


@pytest.mark.parametrize("how", ["write", "commit"])
def test_a_failed_attempt_does_not_apply_a_change_twice(world, settings, ddb, how):
    seq = send(world)
    world.clear()
    k = world.kafka
    batch = [k.record(change(world, world.a1, REACT, seq, emoji="👍")),
             k.record(world.value(world.a1, body="new")),
             k.record(change(world, world.b1, REACT, seq, user="bob", role="groomer", emoji="👍"))]
    with pytest.raises(ClientError):
        broken_worker(settings, ddb, world, how)(k.event(*batch), None)
    assert world.got(world.b1) == []
    world.run(*batch)
    stored = world.stored()
    assert [m["seq"] for m in stored] == [seq, seq + 1]
    assert stored[0]["reactions"] == {"👍": ["alice", "bob"]}
    # the members hear every change once the batch is stored
    assert [e["type"] for e in world.got(world.b1)] == ["reaction", "message", "reaction"]
    assert world.got(world.b1, "reaction")[-1]["counts"] == {"👍": 2}


def test_bad_change_records_are_refused_with_their_reason(world, uid):
    seq = send(world)
    world.clear()
    k = world.kafka
    other = uid("room")
    no_id = change(world, world.a1, EDIT, seq, body="x")
    del no_id["messageId"]
    world.run(k.record(no_id),
              k.record(change(world, world.a1, EDIT, seq, body="x", cmid="bad id\n")),
              k.record(change(world, world.a1, DELETE, seq, cmid="other", messageId=f"{other}:1")),
              k.record(change(world, world.a1, DELETE, 0, cmid="zero")))
    got = world.got(world.a1, "error")
    assert [e["message"] for e in got] == ["invalid messageId", "invalid clientMsgId",
                                           "messageId is not a message of this room", "invalid messageId"]
    assert world.stored()[0].get("deleted") is None


def test_a_removed_member_can_change_nothing(world, settings, ddb):
    seq = send(world, conn="b1", user="bob", role="groomer")
    world.rooms.remove_member(world.room, "bob")
    worker = chat_worker.make_handler(replace(settings, member_cache_s=0), client=ddb, deliverer=world.deliverer)
    worker(world.kafka.event(world.kafka.record(change(world, world.b1, DELETE, seq, user="bob", role="groomer",
                                                       cmid="gone"))), None)
    assert world.stored()[0].get("deleted") is None


# --- changes count once their batch commits (the change overlay) ----------------------------------

def raw_item(world, seq):
    [item] = [i for i in world.all_items() if i["seq"] == seq]
    return item


def test_a_change_is_invisible_until_its_batch_commits(world, settings, ddb):
    seq = send(world, body="original")
    k = world.kafka
    batch = [k.record(change(world, world.a1, EDIT, seq, body="changed")),
             k.record(change(world, world.b1, REACT, seq, user="bob", role="groomer", emoji="👍"))]
    with pytest.raises(ClientError):
        broken_worker(settings, ddb, world, "commit")(k.event(*batch), None)
    assert raw_item(world, seq)["next"]["state"]["body"] == "changed"   # written, but not committed
    [shown] = world.stored()
    assert shown["body"] == "original" and "reactions" not in shown and "editedAt" not in shown
    assert world.messages.get(world.room, seq)["body"] == "original"
    assert world.head()["lastMessage"]["body"] == "original"
    world.run(*batch)
    [shown] = world.stored()
    assert (shown["body"], shown["reactions"]) == ("changed", {"👍": ["bob"]})
    assert "next" not in raw_item(world, seq)   # folded in after the commit


def test_a_change_whose_attempt_never_commits_never_shows(world, settings, ddb):
    """The edit's batch fails and is dead-lettered; later batches commit offsets past it: its
    overlay must not come to count, and is cleared."""
    seq = send(world, body="original")
    k = world.kafka
    doomed = k.record(change(world, world.a1, DELETE, seq))
    with pytest.raises(ClientError):
        broken_worker(settings, ddb, world, "commit")(k.event(doomed), None)
    assert "next" in raw_item(world, seq)
    world.run(k.record(world.value(world.a1, body="later")))   # a later offset commits
    stored = world.stored()
    assert [(m["seq"], m.get("body"), m.get("deleted")) for m in stored] == [(seq, "original", None),
                                                                            (seq + 1, "later", None)]
    assert "next" not in raw_item(world, seq)
    assert world.commit()[1] is None


class FoldFails(chat_worker.Store):
    """Everything up to the commit works; the write after it (the fold) fails."""

    def batch_write(self, puts=None, deletes=None):
        if deletes is None and puts:
            raise ClientError({"Error": {"Code": "InternalServerError", "Message": "boom"}}, "BatchWriteItem")
        return super().batch_write(puts, deletes)


def test_a_committed_change_counts_before_its_fold_and_a_replay_folds_it(world, settings, ddb):
    seq = send(world, body="secret")
    event = world.kafka.event(world.kafka.record(change(world, world.a1, DELETE, seq)))
    worker = chat_worker.ChatWorker(settings, store=FoldFails(settings, ddb), deliverer=world.deliverer)
    with pytest.raises(ClientError):
        worker(event, None)
    assert "next" in raw_item(world, seq) and raw_item(world, seq)["body"] == "secret"
    assert world.stored()[0]["deleted"] is True and "body" not in world.stored()[0]   # committed: it counts
    world.clear()
    world.run(event=event)   # the runner retries the batch: a replay
    assert "secret" not in repr(world.all_items())
    assert [e["type"] for e in world.got(world.b1)] == ["deleted"]
