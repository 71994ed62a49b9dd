"""What a warm worker may reuse: memberships for a while, heads only while offsets continue."""

from functions import worker_memory
from functions.worker_memory import WorkerMemory


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


def test_heads_are_reused_only_where_the_partitions_offsets_continue():
    memory = WorkerMemory(30)
    assert memory.heads("p0", 0, {"r1"}) == {}
    memory.remember_heads("p0", 10, {"r1": {"lastSeq": 4}, "r2": None})
    assert memory.heads("p0", 10, {"r1", "r2", "r3"}) == {"r1": {"lastSeq": 4}, "r2": None}
    assert memory.heads("p1", 10, {"r1"}) == {}          # another partition: nothing known
    assert memory.heads("p0", 12, {"r1"}) == {}          # someone else handled 10 and 11
    assert memory.heads("p0", 10, {"r1"}) == {}          # ...and that forgot the partition
    memory.remember_heads("p0", 20, {"r1": {"lastSeq": 5}})
    memory.remember_heads("p0", 25, {"r2": {"lastSeq": 1}})   # continuing keeps the others
    assert memory.heads("p0", 25, {"r1", "r2"}) == {"r1": {"lastSeq": 5}, "r2": {"lastSeq": 1}}
    memory.forget(["p0"])
    assert memory.heads("p0", 25, {"r1"}) == {}


def test_memory_is_bounded(monkeypatch):
    monkeypatch.setattr(worker_memory, "MAX_MEMBERS", 2)
    monkeypatch.setattr(worker_memory, "MAX_ROOMS_PER_PARTITION", 2)
    memory = WorkerMemory(30)
    memory.remember_members([("r1", "a"), ("r2", "a"), ("r3", "a")])
    assert memory.known_members({("r1", "a"), ("r2", "a"), ("r3", "a")}) == {("r2", "a"), ("r3", "a")}
    memory.remember_heads("p0", 5, {"r1": None, "r2": None, "r3": None})
    assert set(memory.heads("p0", 5, {"r1", "r2", "r3"})) == {"r2", "r3"}
