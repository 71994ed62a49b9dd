"""What a warm chat worker remembers between invocations, and why each is safe to trust.

Every entry saves store reads on the hot path, and the store bounds the pipeline.

- Partitions: the commit this process last made, the last offset it handled and its rooms'
  states (last seq, dedup window), trusted only while the partition's offsets continue exactly
  where this process left them. Even then the next claim checks that the commit item is as it
  was (functions/partition_commit.py): if another invocation moved it, the claim fails and the
  partition is forgotten. Any failure forgets the batch's partitions.
- Memberships, positive only, for `member_ttl_s`: members are added far more often than
  removed, and a removal reaches a warm worker within that time (0 turns this off).
- Subscribers (the rooms' items), for `subs_ttl_s` and not past a presence record of the
  room: functions/remembered_rooms.py says why that is safe.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from functions.partition_commit import CommitState
from functions.remembered_rooms import RememberedRooms
from functions.room_state import RoomState

MAX_MEMBERS = 200_000
MAX_ROOMS_PER_PARTITION = 50_000


@dataclass
class PartitionMemory:
    commit: CommitState                # as this process last left the commit item
    handled: int                       # the last offset this process handled (>= commit.offset)
    rooms: OrderedDict = field(default_factory=OrderedDict)   # roomId -> RoomState

    def room(self, room_id: str) -> RoomState | None:
        state = self.rooms.get(room_id)
        if state is not None:
            self.rooms.move_to_end(room_id)
        return state


class WorkerMemory:
    def __init__(self, member_ttl_s: float, subs_ttl_s: float = 0.0, clock=time.monotonic):
        self.member_ttl_s = member_ttl_s
        self.clock = clock
        self._lock = threading.Lock()   # the local runner invokes partitions from several threads
        self._members: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._partitions: dict[str, PartitionMemory] = {}
        self.subscribers = RememberedRooms(subs_ttl_s, clock)   # rooms' items for the fan-out

    # --- partitions -------------------------------------------------------------------------
    def partition(self, partition: str, first_offset: int) -> PartitionMemory | None:
        """What this process knows of `partition`, if a batch starting at `first_offset`
        continues where it left off; else None (and it is forgotten)."""
        with self._lock:
            memory = self._partitions.get(partition)
            if memory is None or memory.handled + 1 != first_offset:
                self._partitions.pop(partition, None)
                return None
            return memory

    def keep(self, partition: str, memory: PartitionMemory) -> None:
        with self._lock:
            while len(memory.rooms) > MAX_ROOMS_PER_PARTITION:
                memory.rooms.popitem(last=False)
            self._partitions[partition] = memory

    def forget(self, partitions: Iterable[str]) -> None:
        with self._lock:
            for partition in partitions:
                self._partitions.pop(partition, None)

    # --- memberships ------------------------------------------------------------------------
    def known_members(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (roomId, userId) pairs were members less than member_ttl_s ago."""
        now = self.clock()
        with self._lock:
            return {pair for pair in pairs if self._members.get(pair, now) > now}

    def remember_members(self, pairs: Iterable[tuple[str, str]]) -> None:
        if self.member_ttl_s <= 0:
            return
        until = self.clock() + self.member_ttl_s
        with self._lock:
            for pair in pairs:
                self._members[pair] = until
                self._members.move_to_end(pair)
            while len(self._members) > MAX_MEMBERS:
                self._members.popitem(last=False)
