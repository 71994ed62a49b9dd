"""Per-room delivery order for one connection: drop duplicates, buffer live during catch-up.

Pure (no I/O). Every message event carries the room's `seq`; a connection delivers each seq
at most once, in ascending order:
- live events with `seq <= last_seq` are duplicates (the worker delivers at least once);
- while a catch-up reads the store, live events are buffered, not lost; when it ends the
  buffer is merged after the stored messages with no duplicate, and a hole between the last
  stored seq and the first buffered one is reported so the caller can read the store again;
- a live event that skips seqs (a delivery lost on the way, or one that raced a subscribe)
  starts a catch-up by itself: `needs_fill` tells the caller to read the store after
  `last_seq`. The worker stores before it delivers, so the missing seqs are there.
"""

from __future__ import annotations

from websocket_edge.protocol import ServerEvent


class RoomStream:
    __slots__ = ("last_seq", "catching_up", "buffer", "needs_fill", "floor")

    def __init__(self, last_seq: int | None = None):
        self.last_seq = last_seq
        self.floor = 0   # the room's stored seq when a subscription without afterSeq began
        self.catching_up = False
        self.buffer: list[ServerEvent] = []
        self.needs_fill = False

    def live(self, event: ServerEvent) -> list[ServerEvent]:
        """A live message event: what to send now (nothing while catching up or if a duplicate).
        A seq jump buffers the event and sets `needs_fill` (the caller reads the store)."""
        if self.catching_up:
            self.buffer.append(event)
            return []
        seq = event.seq
        if seq is not None and self.last_seq is not None and seq > self.last_seq + 1:
            self.catching_up, self.buffer, self.needs_fill = True, [event], True
            return []
        return [event] if self._advance(event) else []

    def _advance(self, event: ServerEvent) -> bool:
        seq = event.seq
        if seq is None:
            return True
        if self.last_seq is not None and seq <= self.last_seq:
            return False
        self.last_seq = seq
        return True

    def hold(self) -> None:
        """Buffer live events until `finish_catch_up` (a subscription not yet confirmed)."""
        self.catching_up = True
        self.buffer = []

    def stored_up_to(self) -> int:
        """What this stream has, as far as the store is concerned: the last seq delivered, or
        for a subscription that has seen nothing yet, the stored seq when it began (`floor`)."""
        return self.last_seq if self.last_seq is not None else self.floor

    def begin_catch_up(self, after_seq: int) -> None:
        self.catching_up = True
        self.last_seq = after_seq
        self.buffer = []

    def take_fill(self) -> bool:
        """True once after a seq jump: the caller now reads the store after `last_seq`."""
        wanted, self.needs_fill = self.needs_fill, False
        return wanted

    def stored(self, event: ServerEvent) -> bool:
        """A message read from the store during catch-up: True if it is to be sent."""
        return event.seq is not None and self._advance(event)

    def finish_catch_up(self, force: bool = False) -> tuple[list[ServerEvent], bool]:
        """(events to send now, gap). With a gap (and not `force`) the rest stays buffered and
        the stream keeps catching up: read the store after `last_seq` again, then call again."""
        ordered = sorted(self.buffer, key=lambda e: (e.seq is None, e.seq or 0))
        out: list[ServerEvent] = []
        for index, event in enumerate(ordered):
            seq = event.seq
            if (not force and seq is not None and self.last_seq is not None
                    and seq > self.last_seq + 1):
                self.buffer = ordered[index:]
                return out, True
            if self._advance(event):
                out.append(event)
        self.buffer = []
        self.catching_up = False
        return out, False

    def abandon_catch_up(self) -> list[ServerEvent]:
        """The catch-up failed: stop buffering; the buffered events go out as live ones."""
        pending, self.buffer, self.catching_up = self.buffer, [], False
        out: list[ServerEvent] = []
        for event in sorted(pending, key=lambda e: (e.seq is None, e.seq or 0)):
            if self._advance(event):
                out.append(event)
        return out
