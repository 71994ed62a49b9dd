"""A room's state as its partition's worker needs it: the last committed seq and the dedup
window, rebuilt from the room's newest committed messages (there is no head item to write).

`recent` holds (digest, seq, offset) of the room's last DEDUP_WINDOW stored messages, oldest
first. A digest (functions.message_items.dedup_digest) identifies senderId|clientMsgId, so a resend
is found by digest; a replayed record is found by its Kafka offset.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from functions import tables
from functions.message_items import dedup_digest


@dataclass
class RoomState:
    last_seq: int = 0
    recent: deque = field(default_factory=lambda: deque(maxlen=tables.DEDUP_WINDOW))
    # the window indexed (every send looks itself up, a scan of 256 was 7 % of the worker's CPU)
    _by_digest: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    _by_offset: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        entries, self.recent = list(self.recent), deque(maxlen=tables.DEDUP_WINDOW)
        for digest, seq, offset in entries:
            self._push(digest, seq, offset)

    @classmethod
    def from_items(cls, newest_first: Iterable[Mapping[str, Any]]) -> "RoomState":
        """From the room's committed message items, newest first (a Query in descending seq)."""
        items = list(newest_first)[:tables.DEDUP_WINDOW]
        state = cls(last_seq=int(items[0]["seq"]) if items else 0)
        for item in reversed(items):
            state._push(dedup_digest(item["senderId"], item["clientMsgId"]), int(item["seq"]),
                        int(item.get("offset", -1)))
        return state

    def seq_of(self, digest: str) -> int | None:
        """The seq stored under this dedup digest, if it is still in the window (the newest)."""
        return self._by_digest.get(digest)

    def seq_at(self, offset: int) -> int | None:
        """The seq of the message the record at this offset became, if it is in the window."""
        return self._by_offset.get(offset)

    def append(self, seq: int, digest: str, offset: int) -> None:
        self.last_seq = seq
        self._push(digest, seq, offset)

    def _push(self, digest: str, seq: int, offset: int) -> None:
        if len(self.recent) == self.recent.maxlen:
            old_digest, old_seq, old_offset = self.recent.popleft()
            if self._by_digest.get(old_digest) == old_seq:   # not a newer entry's
                del self._by_digest[old_digest]
            if self._by_offset.get(old_offset) == old_seq:
                del self._by_offset[old_offset]
        self.recent.append((digest, seq, offset))
        self._by_digest[digest] = seq
        self._by_offset[offset] = seq
