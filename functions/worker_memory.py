"""What a warm chat worker remembers between invocations, and why each is safe to trust.

Every key this saves is a store read on the hot path (one per room and one per sender a
batch), and the store is what bounds the pipeline's throughput.

- Memberships, positive only, for `member_cache_s`: members are added far more often than
  removed, and a removal reaches a warm worker within that time (0 turns this off).
- Room heads, per partition, only while that partition's offsets continue exactly where this
  process last wrote them. A room belongs to one partition, and one invocation at a time
  handles a partition, so nobody can have moved those heads since: another invocation that
  handled later offsets breaks the continuity, and one that handled the same offsets and failed
  is retried from the same head, which decides the same seqs (writes are idempotent). Any
  failure forgets the partitions of the batch, so the retry reads the store.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Mapping

MAX_MEMBERS = 200_000
MAX_ROOMS_PER_PARTITION = 50_000


class WorkerMemory:
    def __init__(self, member_ttl_s: float, clock=time.monotonic):
        self.member_ttl_s = member_ttl_s
        self.clock = clock
        self._lock = threading.Lock()   # the local runner invokes partitions from several threads
        self._members: OrderedDict[tuple[str, str], float] = OrderedDict()
        self._heads: dict[str, tuple[int, OrderedDict[str, dict | None]]] = {}

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

    # --- room heads -------------------------------------------------------------------------
    def heads(self, partition: str, first_offset: int, rooms: Iterable[str]) -> dict[str, dict | None]:
        """The heads (None: no head yet) of those rooms this process knows to be current for a
        batch of `partition` starting at `first_offset`; {} when the offsets do not continue."""
        with self._lock:
            entry = self._heads.get(partition)
            if entry is None or entry[0] != first_offset:
                self._heads.pop(partition, None)
                return {}
            known = entry[1]
            return {room: known[room] for room in rooms if room in known}

    def remember_heads(self, partition: str, next_offset: int, heads: Mapping[str, dict | None]) -> None:
        """After a batch of `partition` is stored: its rooms' heads, valid from `next_offset`."""
        with self._lock:
            entry = self._heads.get(partition)
            known = entry[1] if entry is not None else OrderedDict()
            for room, head in heads.items():
                known[room] = head
                known.move_to_end(room)
            while len(known) > MAX_ROOMS_PER_PARTITION:
                known.popitem(last=False)
            self._heads[partition] = (next_offset, known)

    def forget(self, partitions: Iterable[str]) -> None:
        with self._lock:
            for partition in partitions:
                self._heads.pop(partition, None)
