"""The connections this edge worker holds: connection id → session, and local delivery.

Delivery never blocks: a session queues the frame (200) or, when its queue is full, closes
itself with 1013 so its client reconnects and catches up, and the hub answers 429. An id the hub does not hold answers 410 (Gone), as API
Gateway does, so the worker forgets it.
"""

from __future__ import annotations

from collections import Counter
from typing import Callable, Iterator, Protocol as TypingProtocol

from websocket_edge.protocol import ServerEvent

OK = 200
GONE = 410
FULL = 429


class Deliverable(TypingProtocol):
    id: str
    user_id: str

    def deliver(self, event: ServerEvent) -> int: ...       # OK | GONE | FULL

    def deliver_raw(self, data: bytes) -> int: ...

    @property
    def open(self) -> bool: ...


class Hub:
    def __init__(self) -> None:
        self._sessions: dict[str, Deliverable] = {}
        self._per_user: Counter[str] = Counter()
        self._user_buckets: dict[str, object] = {}   # shared rate limit of a user's connections

    def add(self, session: Deliverable) -> None:
        if session.id in self._sessions:
            raise ValueError(f"duplicate connection id {session.id}")
        self._sessions[session.id] = session
        self._per_user[session.user_id] += 1

    def remove(self, session: Deliverable) -> None:
        if self._sessions.get(session.id) is session:
            del self._sessions[session.id]
            self._per_user[session.user_id] -= 1
            if self._per_user[session.user_id] <= 0:
                del self._per_user[session.user_id]
                self._user_buckets.pop(session.user_id, None)

    def user_bucket(self, user_id: str, make: Callable[[], object]):
        """The rate-limit bucket all of this user's connections here draw from."""
        bucket = self._user_buckets.get(user_id)
        if bucket is None:
            bucket = self._user_buckets[user_id] = make()
        return bucket

    def get(self, connection_id: str) -> Deliverable | None:
        session = self._sessions.get(connection_id)
        return session if session is not None and session.open else None

    def connections_of(self, user_id: str) -> int:
        return self._per_user.get(user_id, 0)

    def sessions(self) -> list[Deliverable]:
        return list(self._sessions.values())

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[Deliverable]:
        return iter(self.sessions())

    def deliver(self, connection_id: str, event: ServerEvent | bytes) -> int:
        session = self.get(connection_id)
        if session is None:
            return GONE
        return session.deliver_raw(event) if isinstance(event, bytes) else session.deliver(event)


class PendingAuth:
    """Sockets that are open but have not shown a valid token yet (it comes in their first
    frame). They cost a greenlet and buffers each, so they are capped per remote address and
    in total, and each gets a short deadline (session.py) before it is closed."""

    def __init__(self, per_address: int, total: int):
        self.per_address = per_address
        self.total = total
        self._sessions: dict[object, str] = {}   # session -> remote address
        self._per_address: Counter[str] = Counter()

    def refusal(self, address: str) -> str | None:
        """Why one more unauthenticated socket from `address` is refused, or None."""
        if len(self._sessions) >= self.total:
            return "too many connections waiting to authenticate: try again"
        if self._per_address[address] >= self.per_address:
            return "too many unauthenticated connections from this address"
        return None

    def add(self, session, address: str) -> bool:
        """Count `session` in; False (not counted) when over a cap."""
        if self.refusal(address) is not None:
            return False
        self._sessions[session] = address
        self._per_address[address] += 1
        return True

    def remove(self, session) -> None:
        address = self._sessions.pop(session, None)
        if address is not None:
            self._per_address[address] -= 1
            if self._per_address[address] <= 0:
                del self._per_address[address]

    def sessions(self) -> list:
        return list(self._sessions)

    def __len__(self) -> int:
        return len(self._sessions)
