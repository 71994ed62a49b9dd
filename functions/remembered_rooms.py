"""Room items (with their `subs`) a warm consumer reuses for a while instead of reading them
for every batch: the chat worker's fan-out and the notifier's who-is-online both read them,
once per room per batch, about as often as they store a message.

A copy is trusted for `ttl_s` after it was read, and not past a presence record of the room:
an edge produces one right after it adds or removes a subscription, so the records behind it
in the partition are handled with a fresh read. What a copy read just before an edge added a
subscription misses is filled by that edge, which reads the room's stored seq again once
`ttl_s` has passed (websocket_edge/chat_rules.py), or at once when the next message's seq
jumps. Connections an edge answered 410 for are dropped from every copy.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping

MAX_ROOMS = 100_000


class RememberedRooms:
    def __init__(self, ttl_s: float, clock=time.monotonic):
        self.ttl_s = ttl_s
        self.clock = clock
        self._lock = threading.Lock()   # the local runner invokes partitions from several threads
        self._items: OrderedDict[str, tuple[float, Mapping]] = OrderedDict()

    def get(self, rooms: Iterable[str]) -> dict[str, Mapping]:
        """The room items read less than ttl_s ago."""
        now = self.clock()
        with self._lock:
            out = {}
            for room in rooms:
                entry = self._items.get(room)
                if entry is not None and now - entry[0] < self.ttl_s:
                    out[room] = entry[1]
            return out

    def read_through(self, rooms: set[str], read: Callable[[set[str]], Mapping[str, Mapping]]) -> dict[str, Mapping]:
        """The rooms' items: remembered ones, the others by `read` (one call, for those only),
        which are remembered from the time before the read."""
        items = dict(self.get(rooms))
        unread = rooms - set(items)
        if unread:
            read_at = self.clock()
            fresh = read(unread)
            self.remember(fresh, read_at)
            items.update(fresh)
        return items

    def remember(self, items: Mapping[str, Mapping], read_at: float) -> None:
        """Room items read at `read_at` (this memory's clock, taken before the read)."""
        if self.ttl_s <= 0:
            return
        with self._lock:
            for room, item in items.items():
                self._items[room] = (read_at, item)
                self._items.move_to_end(room)
            while len(self._items) > MAX_ROOMS:
                self._items.popitem(last=False)

    def forget(self, rooms: Iterable[str]) -> None:
        with self._lock:
            for room in rooms:
                self._items.pop(room, None)

    def drop_connections(self, gone: set[str]) -> None:
        """Connections an edge answered 410 for: out of every remembered room."""
        if not gone:
            return
        with self._lock:
            for room, (read_at, item) in list(self._items.items()):
                subs = item.get("subs") or {}
                if any(c in subs for c in gone):
                    self._items[room] = (read_at, {**item, "subs": {c: e for c, e in subs.items() if c not in gone}})
