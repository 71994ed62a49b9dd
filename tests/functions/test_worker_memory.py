"""What a warm worker may reuse: memberships and subscribers for a while, a partition's rooms
only while its offsets continue."""

from functions import worker_memory
from functions.partition_commit import CommitState
from functions.room_state import RoomState
from functions.worker_memory import PartitionMemory, WorkerMemory


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_memberships_are_trusted_for_the_ttl_only():
    clock = Clock()
    memory = WorkerMemory(30, clock=clock)
    memory.remember_members({("r1", "alice")})
    assert memory.known_members({("r1", "alice"), ("r1", "bob")}) == {("r1", "alice")}
    clock.now += 29
    assert memory.known_members({("r1", "alice")}) == {("r1", "alice")}
    clock.now += 2
    assert memory.known_members({("r1", "alice")}) == set()


def test_a_ttl_of_zero_remembers_nothing():
    memory = WorkerMemory(0)
    memory.remember_members({("r1", "alice")})
    assert memory.known_members({("r1", "alice")}) == set()


def _partition(handled: int, *rooms: str) -> PartitionMemory:
    memory = PartitionMemory(CommitState(handled), handled)
    memory.rooms.update({room: RoomState(last_seq=4) for room in rooms})
    return memory


def test_a_partition_is_reused_only_where_its_offsets_continue():
    memory = WorkerMemory(30)
    assert memory.partition("p0", 0) is None
    memory.keep("p0", _partition(9, "r1", "r2"))
    kept = memory.partition("p0", 10)
    assert kept is not None and kept.room("r1").last_seq == 4 and kept.room("r3") is None
    assert memory.partition("p1", 10) is None          # another partition: nothing known
    assert memory.partition("p0", 12) is None          # someone else handled 10 and 11
    assert memory.partition("p0", 10) is None          # ...and that forgot the partition
    memory.keep("p0", _partition(24, "r1"))
    memory.forget(["p0"])
    assert memory.partition("p0", 25) is None


def test_subscribers_are_reused_for_their_ttl_from_the_read():
    clock = Clock()
    memory = WorkerMemory(30, subs_ttl_s=2, clock=clock)
    read_at = clock.now
    clock.now += 0.5   # the read took a while: the TTL counts from before it
    memory.subscribers.remember({"r1": {"roomId": "r1", "subs": {"c1": {"e": "http://e"}, "c2": {"e": "http://e"}}}},
                                read_at)
    assert set(memory.subscribers.get({"r1", "r2"})) == {"r1"}
    memory.subscribers.drop_connections({"c2"})
    assert set(memory.subscribers.get({"r1"})["r1"]["subs"]) == {"c1"}
    clock.now += 1.6
    assert memory.subscribers.get({"r1"}) == {}
    off = WorkerMemory(30, subs_ttl_s=0)
    off.subscribers.remember({"r1": {"roomId": "r1"}}, 0)
    assert off.subscribers.get({"r1"}) == {}


def test_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(worker_memory, "MAX_MEMBERS", 2)
    monkeypatch.setattr(worker_memory, "MAX_ROOMS_PER_PARTITION", 2)
    memory = WorkerMemory(30)
    memory.remember_members([("r1", "a"), ("r2", "a"), ("r3", "a")])
    assert memory.known_members({("r1", "a"), ("r2", "a"), ("r3", "a")}) == {("r2", "a"), ("r3", "a")}
    memory.keep("p0", _partition(4, "r1", "r2", "r3"))
    assert set(memory.partition("p0", 5).rooms) == {"r2", "r3"}
