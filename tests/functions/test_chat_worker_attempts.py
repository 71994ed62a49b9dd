"""The chat worker's attempts that fail half way: what they wrote stays invisible, their retry
decides afresh and cleans up; a worker whose partition moved on is fenced."""

from __future__ import annotations

from dataclasses import replace

import pytest
from botocore.exceptions import ClientError

from functions import chat_worker
from functions.partition_commit import Fenced, PartitionCommits
from functions.store import Store
from worker_world import FailingStore, broken_worker, world  # noqa: F401 (world: the fixture)


@pytest.mark.parametrize("how", ["write", "commit"])
def test_half_finished_attempt_gives_the_same_seqs(world, settings, ddb, how):
    k = world.kafka
    world.run(k.record(world.value(world.a1)))  # seq 1, committed
    committed = world.commit()
    records = [k.record(world.value(world.a1, body=f"b{n}")) for n in range(3)]
    with pytest.raises(ClientError):
        broken_worker(settings, ddb, world, how)(k.event(*records), None)
    assert world.head()["lastSeq"] == 1 and world.commit()[0] == committed[0]   # nothing more is stored
    assert len(world.all_items()) > 1   # ... though the attempt wrote some
    world.clear()
    late = k.record(world.value(world.a1, body="late"))  # the retried batch may be longer
    assert world.run(*records, late) == {"batchItemFailures": []}
    assert [(m["seq"], m["body"]) for m in world.stored()][1:] == [(2, "b0"), (3, "b1"), (4, "b2"), (5, "late")]
    assert [e["seq"] for e in world.got(world.b1)] == [2, 3, 4, 5]
    assert world.head()["lastSeq"] == 5 and world.commit() == (late["offset"], None)


def test_an_uncommitted_attempt_is_invisible_and_its_retry_decides_afresh(world, settings, ddb):
    k = world.kafka
    refused = k.record(world.value(world.c1, user="carol", body="carol's"))
    accepted = k.record(world.value(world.a1, body="alice's"))
    with pytest.raises(ClientError):
        broken_worker(settings, ddb, world, "commit")(k.event(refused, accepted), None)  # alice's at seq 1
    assert world.stored() == [] and world.messages.get(world.room, 1) is None
    assert [m["body"] for m in world.all_items()] == ["alice's"]
    assert [e["type"] for e in world.got(world.b1)] == []
    world.rooms.add_member(world.room, "carol", "customer")  # membership changed in between
    world.run(refused, accepted)
    assert [(m["seq"], m["body"]) for m in world.stored()] == [(1, "carol's"), (2, "alice's")]
    assert [(e["seq"], e["body"]) for e in world.got(world.b1)] == [(1, "carol's"), (2, "alice's")]
    assert world.head()["lastSeq"] == 2


def test_what_a_failed_attempt_wrote_beyond_its_retry_is_deleted_before_the_commit(world, settings, ddb):
    """The failed attempt stored bob's two messages and alice's; bob is removed before the
    retry, which stores alice's alone at seq 1. Seqs 2 and 3 must not become visible."""
    k = world.kafka
    batch = [k.record(world.value(world.b1, user="bob", role="groomer", body=f"bob {n}")) for n in range(2)]
    batch.append(k.record(world.value(world.a1, body="alice")))
    with pytest.raises(ClientError):
        broken_worker(settings, ddb, world, "commit")(k.event(*batch), None)
    assert [m["seq"] for m in world.all_items()] == [1, 2, 3]
    offset, pending = world.commit()
    assert offset == -1 and pending.rooms == {world.room: (0, 3)}
    world.rooms.remove_member(world.room, "bob")
    worker = chat_worker.make_handler(replace(settings, member_cache_s=0), client=ddb, deliverer=world.deliverer)
    worker(k.event(*batch), None)
    assert [(m["seq"], m["body"]) for m in world.all_items()] == [(1, "alice")]
    assert world.commit() == (batch[-1]["offset"], None)


def test_a_dead_lettered_record_leaves_no_phantom(world, settings, ddb):
    """A batch [r1, r2] fails after writing seqs 1, 2; r1 is then dead-lettered (bisect) and
    [r2] succeeds as seq 1: the failed attempt's seq 2 (r2 as it was) must go."""
    k = world.kafka
    r1, r2 = (k.record(world.value(world.a1, body=b)) for b in ("r1", "r2"))
    with pytest.raises(ClientError):
        broken_worker(settings, ddb, world, "commit")(k.event(r1, r2), None)
    world.run(r2)
    assert [(m["seq"], m["body"]) for m in world.all_items()] == [(1, "r2")]
    assert [(m["seq"], m["body"]) for m in world.stored()] == [(1, "r2")]


def test_failed_attempts_accumulate_until_a_commit_cleans_up_after_all(world, settings, ddb, uid):
    k = world.kafka
    other = uid("room")
    world.rooms.create(other, "Other", "alice")
    first = [k.record(world.value(world.a1, body="a")), k.record(world.value(world.a1, room=other, body="b"))]
    with pytest.raises(ClientError):
        broken_worker(settings, ddb, world, "commit")(k.event(*first), None)
    with pytest.raises(ClientError):   # the retry, bisected: only the first record
        broken_worker(settings, ddb, world, "commit")(k.event(first[0]), None)
    assert world.commit()[1].rooms == {world.room: (0, 1), other: (0, 1)}
    world.run(first[0])   # succeeds with the first record only
    assert world.all_items(other) == [] and world.commit() == (first[0]["offset"], None)
    world.run(first[1])
    assert [m["body"] for m in world.stored(other)] == ["b"]


def test_a_worker_whose_partition_moved_on_is_fenced_and_reads_the_store(world, settings, ddb):
    """Memory says the partition continues, but another worker committed meanwhile: the claim
    fails, and the worker decides the batch again from the store (here: a replay)."""
    k = world.kafka
    world.run(k.record(world.value(world.a1, body="one")))
    nxt = next(world.kafka.offsets)
    two = k.record(world.value(world.a1, body="two"), offset=nxt)
    other = chat_worker.make_handler(settings, client=ddb, deliverer=world.deliverer)
    other(k.event(two), None)            # another worker handles the offset this one expects next
    world.clear()
    world.run(two)                       # this worker: fenced, then from the store: a replay
    assert [(e["seq"], e["body"]) for e in world.got(world.b1)] == [(2, "two")]
    world.run(k.record(world.value(world.a1, body="three")))
    assert [(m["seq"], m["body"]) for m in world.stored()] == [(1, "one"), (2, "two"), (3, "three")]


def test_a_stale_claim_is_refused(world, settings, ddb):
    from functions.partition_commit import CommitState, Pending

    commits = PartitionCommits(Store(settings, ddb))
    key = f"{world.kafka.topic}-5"
    commits.claim(key, CommitState(), Pending("a1", {"r": (0, 1)}))
    with pytest.raises(Fenced):
        commits.claim(key, CommitState(), Pending("a2"))            # not as seen: a1 is pending
    commits.claim(key, CommitState(-1, Pending("a1")), Pending("a2", {"r": (0, 2)}))
    with pytest.raises(Fenced):
        commits.commit(key, CommitState(), 7, Pending("a1"))        # a1's claim was taken over
    commits.commit(key, CommitState(), 7, Pending("a2"))
    assert commits.read(key).offset == 7 and commits.read(key).pending is None


def test_a_warm_worker_reads_rooms_again_when_another_handled_the_partition(world, settings, ddb):
    """Rooms are remembered per partition only while its offsets continue where this worker
    left them: after another worker handled later offsets, they are read from the store."""
    k = world.kafka
    other = chat_worker.make_handler(settings, client=ddb, deliverer=world.deliverer)
    world.run(k.record(world.value(world.a1, body="one")))               # this worker: seq 1
    other(k.event(k.record(world.value(world.a1, body="two"))), None)    # another worker: seq 2
    world.run(k.record(world.value(world.a1, body="three")))             # this worker again
    assert [(m["seq"], m["body"]) for m in world.stored()] == [(1, "one"), (2, "two"), (3, "three")]
    world.run(k.record(world.value(world.a1, body="four")))             # continuing: from memory
    assert [m["seq"] for m in world.stored()] == [1, 2, 3, 4] and world.head()["lastSeq"] == 4


def test_a_failed_batch_makes_the_worker_forget_its_rooms(world, settings, ddb):
    k = world.kafka
    world.run(k.record(world.value(world.a1, body="one")))
    healthy = world.worker.store
    world.worker.store = FailingStore(settings, ddb)
    batch = [k.record(world.value(world.a1, body="two"))]
    with pytest.raises(ClientError):
        world.run(*batch)
    world.worker.store = healthy
    # meanwhile another worker handled the batch, and a later one
    other = chat_worker.make_handler(settings, client=ddb, deliverer=world.deliverer)
    other(k.event(*batch), None)
    later = [k.record(world.value(world.a1, body="three"))]
    other(k.event(*later), None)
    world.run(k.record(world.value(world.a1, body="four")))
    assert [(m["seq"], m["body"]) for m in world.stored()] == [(1, "one"), (2, "two"), (3, "three"), (4, "four")]
