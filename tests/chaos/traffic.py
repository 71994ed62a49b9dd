"""A steady chat load for chaos tests: every member of every room sends and receives.

- ``Participant`` (participant.py): one member of one room on one WebSocket (a thread),
  sending one message at a time and resending the same clientMsgId until it is acked.
- ``Traffic``: rooms of 2-3 members spread over both edges; start, stop sending (the
  message in flight gets a grace period to be acked), wait for the pipeline to drain.
- ``check(traffic, messages)`` (in checks.py) holds the store and the receivers to the
  guarantees.

The load is modest by default (each sender pauses ``interval`` between acked messages):
these tests are about correctness, not throughput.
"""

from __future__ import annotations

import threading
import time
import uuid

from functions.rooms import Rooms
from functions.tokens import mint
from participant import ROLES, Participant


class Traffic:
    """Rooms of 2-3 members over both edges, every member sending and receiving."""

    def __init__(self, settings, edges: dict[str, str], *, rooms: int = 4, interval: float = 0.5,
                 steady: bool = False, clock=time.monotonic) -> None:
        self.settings = settings
        self.edges = dict(edges)
        self.clock = clock
        self.t0 = clock()
        self.rooms: list[str] = []
        self.participants: list[Participant] = []
        self.timeline: list[tuple[float, str]] = []
        names = sorted(self.edges)
        directory = Rooms(settings)
        tag = uuid.uuid4().hex[:8]
        for r in range(rooms):
            size = 2 + r % 2
            room = f"chaos-{tag}-r{r}"
            users = [(f"{ROLES[i]}-{tag}-{r}{i}", ROLES[i]) for i in range(size)]
            directory.create(room, f"chaos room {r}", users[0][0], dict(users))
            self.rooms.append(room)
            for i, (user_id, role) in enumerate(users):
                self.participants.append(Participant(
                    room, user_id, role, mint(settings, user_id, role, ttl_s=3600), self.edges,
                    edge=names[(r + i) % len(names)], interval=interval, steady=steady, clock=clock))

    def mark(self, what: str) -> None:
        self.timeline.append((self.clock() - self.t0, what))

    def in_room(self, room: str) -> list[Participant]:
        return [p for p in self.participants if p.room == room]

    def start(self, timeout: float = 30.0) -> None:
        self.t0 = self.clock()
        for p in self.participants:
            p.thread.start()
        self.wait(lambda: all(p.subscribed for p in self.participants), timeout, "every member subscribed")
        self.mark("traffic started")

    def acked(self) -> int:
        return sum(len(p.acked) for p in self.participants)

    def wait_acked(self, count: int, timeout: float, tick=None) -> None:
        start = self.acked()
        self.wait(lambda: self.acked() - start >= count, timeout, f"{count} more acks", tick)

    def arm(self, action) -> threading.Event:
        """Run `action` once, in the thread of the first member that receives a message from
        now on: the worker is then in the middle of a batch (fan-out done, offsets not
        committed yet), the moment a crash hurts most. The event is set once it ran."""
        fired, lock = threading.Event(), threading.Lock()

        def once() -> None:
            with lock:
                if fired.is_set():
                    return
                for p in self.participants:
                    p.on_message = None
                try:
                    action()
                finally:
                    fired.set()

        for p in self.participants:
            p.on_message = once
        return fired

    def stop_sending(self, grace: float) -> None:
        """No new messages; the ones in flight get `grace` seconds to be acked, then are abandoned."""
        for p in self.participants:
            p.sending = False
        self.mark("sending stopped")
        deadline = self.clock() + grace
        while self.clock() < deadline and not all(p.idle for p in self.participants):
            time.sleep(0.1)
        for p in self.participants:
            p.abandon()
        self.mark("in-flight settled")

    def wait(self, predicate, timeout: float, what: str, tick=None) -> None:
        """Poll `predicate` (calling `tick` between polls) until true, or fail after `timeout`."""
        deadline = self.clock() + timeout
        while not predicate():
            if self.clock() > deadline:
                raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
            if tick is not None:
                tick()
            time.sleep(0.1)

    def close(self) -> None:
        for p in self.participants:
            p.stopped.set()
        for p in self.participants:
            if p.thread.is_alive():
                p.thread.join(timeout=5)
