"""A room's state as its partition's worker needs it: the last committed seq and the dedup
window, rebuilt from the room's newest committed messages (there is no head item to write).

`recent` holds (digest, seq, offset) of the room's last DEDUP_WINDOW stored messages, oldest
first. A digest (functions.store.dedup_digest) identifies senderId|clientMsgId, so a resend
is found by digest; a replayed record is found by its Kafka offset.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from functions import tables
from functions.store import dedup_digest


@dataclass
class RoomState:
    last_seq: int = 0
    recent: deque = field(default_factory=lambda: deque(maxlen=tables.DEDUP_WINDOW))

    @classmethod
    def from_items(cls, newest_first: Iterable[Mapping[str, Any]]) -> "RoomState":
        """From the room's committed message items, newest first (a Query in descending seq)."""
        items = list(newest_first)[:tables.DEDUP_WINDOW]
        state = cls(last_seq=int(items[0]["seq"]) if items else 0)
        for item in reversed(items):
            state.recent.append((dedup_digest(item["senderId"], item["clientMsgId"]), int(item["seq"]),
                                 int(item.get("offset", -1))))
        return state

    def seq_of(self, digest: str) -> int | None:
        """The seq stored under this dedup digest, if it is still in the window."""
        for known, seq, _offset in reversed(self.recent):
            if known == digest:
                return seq
        return None

    def seq_at(self, offset: int) -> int | None:
        """The seq of the message the record at this offset became, if it is in the window."""
        for _digest, seq, known in reversed(self.recent):
            if known == offset:
                return seq
        return None

    def append(self, seq: int, digest: str, offset: int) -> None:
        self.last_seq = seq
        self.recent.append((digest, seq, offset))
