"""What the edge needs from its collaborators, as typed ports.

Only `app.get_app()` names the concrete classes (the Kafka producer of producer.py and the
stores of functions/); sessions, rules and tests see these protocols, so a fake in a test
has to offer exactly this much.
"""

from __future__ import annotations

from typing import Iterable, Protocol

from gevent.event import AsyncResult


class Producer(Protocol):
    """Records to Kafka (websocket_edge.producer.Producer)."""

    def publish(self, record: dict, key: str | None = None) -> AsyncResult:
        """Queue `record`; the result becomes (partition, offset) once Kafka has it."""

    def drain(self, deadline: float) -> bool:
        """Wait until every queued record has its report (True) or `deadline` passes."""

    def close(self, deadline: float | None = None) -> None: ...


class Subscriptions(Protocol):
    """The connection table (functions.connections.Connections)."""

    def register(self, connection_id: str, user_id: str, role: str, edge_url: str, source_ip: str | None,
                 user_agent: str | None, connected_at_ms: int) -> object: ...

    def unregister(self, connection_id: str, rooms: Iterable[str]) -> None: ...

    def refresh(self, connection_id: str, rooms: Iterable[str]) -> set[str]:
        """Extend the entries' TTL; the rooms whose entry was gone."""

    def subscribe(self, room_id: str, connection_id: str, user_id: str, role: str, edge_url: str) -> object:
        """Add (or replace) the entry; raises functions.rooms.UnknownRoom."""

    def unsubscribe(self, room_id: str, connection_id: str) -> None: ...


class Membership(Protocol):
    """Who belongs to a room (functions.rooms.Rooms)."""

    def is_member(self, room_id: str, user_id: str) -> bool:
        """Raises functions.rooms.UnknownRoom for a room that does not exist."""


class History(Protocol):
    """A room's stored messages (functions.history.Messages)."""

    def committed_seq(self, room_id: str) -> int: ...

    def committed_seq_if_member(self, room_id: str, user_id: str) -> int | None:
        """The room's last stored seq, read before membership; None: not a member."""

    def messages_after(self, room_id: str, after_seq: int, upto: int | None = None) -> Iterable[dict]: ...

    def changed_up_to(self, room_id: str, seq: int) -> Iterable[dict]:
        """Messages up to `seq` that were edited, deleted or reacted to (their stored items)."""
