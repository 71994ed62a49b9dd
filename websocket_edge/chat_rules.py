"""The chat rules of one connection: sending, typing, presence, subscriptions, catch-up, gap
fill and revocation. The transport (greenlets, queue, heart-beats, rate limits) is
session.py's; the rules reach it only through the small `Outbox` below, and the store and
Kafka only through the typed ports of ports.py, so they are tested with fakes of both
(tests/websocket_edge/test_chat_rules.py).

Membership is read AFTER what it guards (docs/guarantees.md, "Security model"): the
subscription entry is written, the room's committed seq read, and only then is membership
checked; live events wait meanwhile. A member removed later has their entries deleted
and is told through the delivery API (`unsubscribed`, reason `removed`), which drops the
room here; a refresh that finds an entry gone checks membership before putting it back.

Sender and role of every record come from the token, never from the payload. Acks are sent
only from the Kafka delivery report, and always before the worker's answer to the same send:
the worker can refuse a record before the edge has polled its delivery report, and a STOMP
ERROR sent first would close the connection with the RECEIPT never sent.
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, Protocol

from functions import contracts
from functions import message_changes as changes
from functions.rooms import UnknownRoom
from functions.message_items import message_event
from websocket_edge.deps import EdgeDeps
from websocket_edge.hub import OK
from websocket_edge.protocol import Send, ServerEvent, Subscribe, Typing, Unsubscribe
from websocket_edge.sequencing import RoomStream

log = logging.getLogger("tidings.edge.session")

CATCH_UP_ROUNDS = 3      # store reads to close a gap between stored and buffered live messages
RECHECK_MARGIN_S = 1.0   # after TIDINGS_SUBS_CACHE_S, how much later a new subscription re-reads


class Outbox(Protocol):
    """What the rules need of the connection they serve (session.Session offers it)."""

    connection_id: str
    protocol: Any   # the wire protocol's renderers (websocket_edge.protocol)

    @property
    def user_id(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def closing(self) -> bool: ...

    def enqueue(self, frames: list, wait: bool = False) -> int:
        """Queue frames for the client (OK, FULL or GONE); `wait`: for room, as a catch-up does."""

    def enqueue_events(self, events: Iterable[ServerEvent], wait: bool = False) -> int: ...

    def error(self, code: str, message: str, ref: str | None = None, action: Any = None) -> None: ...

    def close_if_failed(self) -> None:
        """A protocol whose errors end the connection (STOMP's ERROR) gets its close now."""

    def spawn(self, fn: Callable[[], None]) -> None:
        """Run `fn` in a greenlet of the connection (killed when it ends)."""

    def spawn_later(self, seconds: float, fn: Callable, *args) -> None: ...


class Revoked(Exception):
    """The user is no longer a member of the room (found while reading it)."""


class ChatRules:
    def __init__(self, outbox: Outbox, deps: EdgeDeps):
        self.out = outbox
        self.deps = deps
        self.rooms: dict[str, RoomStream] = {}
        # client message id of a send with no delivery report yet -> the worker's answers to it
        self._unreported: dict[str, list[ServerEvent]] = {}

    @property
    def settings(self):
        return self.deps.settings

    # --- what the delivery API brings ---------------------------------------------------------
    def deliver(self, event: ServerEvent) -> int | None:
        """A room's message, the end of a membership, or the worker's answer to a send whose
        ack is not out yet (held until it is); None: not the rules' to show."""
        kind, room = event.type, event.room
        if kind == contracts.EVENT_ERROR:
            held = self._unreported.get(event.data.get("ref"))
            if held is not None:   # answered before Kafka's report reached us: after the ack
                held.append(event)
                return OK
            return None
        if kind == contracts.EVENT_MESSAGE or kind in contracts.EVENT_CHANGES:
            # a change keeps its place after the messages of the room (held during a catch-up)
            stream = self.rooms.get(room)
            if stream is None:
                return OK    # not (or no longer) subscribed here: nothing to show
            result = self.out.enqueue_events(stream.live(event))
            if stream.take_fill():   # seqs skipped: fetch them from the store, in order
                self.out.spawn(lambda: self._fill_gap(room, stream))
            return result
        if kind == contracts.EVENT_UNSUBSCRIBED:   # removed from the room (functions/membership.py)
            if room is not None:
                self._revoke(room, str(event.data.get("reason") or contracts.REASON_REMOVED))
            return OK
        if kind in (contracts.EVENT_TYPING, contracts.EVENT_PRESENCE) and room not in self.rooms:
            return OK
        return None

    # --- the connection's own life --------------------------------------------------------------
    def restore_missing(self, missing: Iterable[str]) -> None:
        """A refresh found these entries gone: swept as gone, or the user was removed.
        Membership decides."""
        for room in missing or ():
            if room in self.rooms:
                self.restore(room)

    def leave_all(self) -> list[str]:
        """The connection ended: every room is left (the caller unregisters them)."""
        rooms, self.rooms = list(self.rooms), {}
        return rooms

    # --- actions ---------------------------------------------------------------------------------
    def _record(self, kind: str, room: str, **fields) -> dict:
        return {"v": contracts.SCHEMA_VERSION, "type": kind, "roomId": room,
                "senderId": self.out.user_id, "senderRole": self.out.role,
                "sentAt": int(self.deps.clock() * 1000), "connectionId": self.out.connection_id,
                "edgeUrl": self.settings.edge_delivery_url, **fields}

    def send(self, send: Send) -> None:
        if not self.deps.state.accepting_sends:
            self.out.error(contracts.ERR_UNAVAILABLE, "edge restarting: send again", send.client_msg_id, send)
            return
        admission = self.deps.admission
        if admission is not None:   # backpressure: wait here while the worker lags
            held = admission.admit()
            if held:
                self.deps.metrics.send_hold.observe(held)
            if not self.deps.state.accepting_sends:   # the edge began to stop meanwhile
                self.out.error(contracts.ERR_UNAVAILABLE, "edge restarting: send again", send.client_msg_id, send)
                return
        record = self._record(send.kind, send.room, **send.record_fields())
        self._unreported.setdefault(send.client_msg_id, [])
        result = self.deps.producer.publish(record, send.room)
        result.rawlink(lambda r: self._reported(send, r))   # runs in the hub: only enqueues

    def _reported(self, send: Send, result) -> None:
        held = self._unreported.pop(send.client_msg_id, None)
        if result.successful():
            partition, offset = result.value
            self.out.enqueue(self.out.protocol.render_ack(send, partition, offset))
        else:
            self.out.error(contracts.ERR_UNAVAILABLE, f"not accepted, send again: {result.exception}",
                           send.client_msg_id, send)
        if held:
            self.out.enqueue_events(held)

    def typing(self, typing: Typing) -> None:
        if typing.room not in self.rooms:
            self.out.error(contracts.ERR_FORBIDDEN, "subscribe to the room first", typing.room, typing)
            return
        self.deps.producer.publish(self._record(contracts.RECORD_TYPING, typing.room), typing.room)

    def presence(self, room: str, state: str) -> None:
        try:
            self.deps.producer.publish(self._record(contracts.RECORD_PRESENCE, room, state=state), room)
        except Exception:
            log.warning("presence %s for %s not produced", state, room, exc_info=True)

    def subscribe(self, sub: Subscribe) -> None:
        d, room = self.deps, sub.room
        if room not in self.rooms and len(self.rooms) >= self.settings.max_subscriptions_per_connection:
            self.out.error(contracts.ERR_BAD_REQUEST, "too many subscriptions on this connection", room, sub)
            return
        stream = self.rooms.get(room)
        fresh = stream is None
        if fresh:
            stream = self.rooms[room] = RoomStream()
            stream.hold()   # live events wait until membership is confirmed
        if sub.after_seq is not None:
            stream.begin_catch_up(sub.after_seq)   # live events are buffered from now on
        try:
            d.connections.subscribe(room, self.out.connection_id, self.out.user_id, self.out.role,
                                    self.settings.edge_delivery_url)
            high = self._verified_high(room)
        except Revoked:
            self._revoke(room, contracts.REASON_REMOVED, quiet=fresh)
            self.out.error(contracts.ERR_FORBIDDEN, "not a member of this room", room, sub)
            return
        except Exception as exc:
            unknown = isinstance(exc, UnknownRoom)
            if not unknown:
                log.warning("subscribe to %s failed", room, exc_info=True)
            if fresh:
                self.rooms.pop(room, None)
                self._quietly(d.connections.unsubscribe, room, self.out.connection_id)
            else:
                self.out.enqueue_events(stream.abandon_catch_up())
            if unknown:
                self.out.error(contracts.ERR_UNKNOWN_ROOM, "no such room", room, sub)
            else:
                self.out.error(contracts.ERR_UNAVAILABLE, "cannot subscribe now: try again", room, sub)
            return
        if self.rooms.get(room) is not stream:
            return   # removed while we were reading: the client was told
        if sub.after_seq is not None:
            self._changes_since(room, stream, min(sub.after_seq, high))
            self._fill(room, stream, high)
        elif stream.catching_up:   # without afterSeq: live from now on (older live ones pass too)
            stream.floor = high
            self.out.enqueue_events(stream.finish_catch_up(force=True)[0])   # release the hold
        self.out.enqueue(self.out.protocol.render_subscribed(sub, stream.last_seq if sub.after_seq is not None else None))
        if fresh:
            self.presence(room, "join")
            self._recheck_later(room, stream)

    def _verified_high(self, room: str) -> int:
        """The room's committed seq, read BEFORE membership is checked: when the user is still a
        member after this read, every message up to it was stored while they were one."""
        high = self.deps.messages.committed_seq_if_member(room, self.out.user_id)
        if high is None:
            raise Revoked(room)
        return high

    def _fill(self, room: str, stream: RoomStream, high: int | None = None) -> None:
        """Stored messages after `stream.last_seq` (up to a verified seq), then the buffered live
        ones, gapless. A round that still finds a gap reads (and verifies) again."""
        for round_ in range(CATCH_UP_ROUNDS):
            if high is None:
                high = self._verified_high(room)
            for item in self.deps.messages.messages_after(room, stream.last_seq, upto=high):
                if self.rooms.get(room) is not stream:
                    return   # removed meanwhile
                event = ServerEvent(message_event(item))
                if stream.stored(event) and self.out.enqueue_events([event], wait=True) != OK:
                    raise ConnectionAbortedError("client too slow for the catch-up")
            ready, gap = stream.finish_catch_up(force=round_ == CATCH_UP_ROUNDS - 1)
            self.out.enqueue_events(ready)
            if not gap:
                return
            high = None

    def _changes_since(self, room: str, stream: RoomStream, seq: int) -> None:
        """What changed while the client was away, among the messages it had (up to `seq`):
        their state as change events, before the catch-up's newer messages (docs/protocol.md)."""
        events = [ServerEvent(e) for item in self.deps.messages.changed_up_to(room, seq)
                  for e in changes.state_events(item)]
        if events and self.rooms.get(room) is stream and self.out.enqueue_events(events, wait=True) != OK:
            raise ConnectionAbortedError("client too slow for the catch-up")

    def _recheck_later(self, room: str, stream: RoomStream) -> None:
        """A worker may deliver from a copy of the room's subscribers read before ours was
        added, for up to TIDINGS_SUBS_CACHE_S: once that has passed, read the room's stored seq
        again and fill what did not come live."""
        self.out.spawn_later(self.settings.subs_cache_s + RECHECK_MARGIN_S, self._recheck, room, stream)

    def _recheck(self, room: str, stream: RoomStream) -> None:
        if self.out.closing or self.rooms.get(room) is not stream or stream.catching_up:
            return
        try:
            high = self.deps.messages.committed_seq(room)
        except Exception:
            log.warning("recheck of %s failed", room, exc_info=True)
            return
        have = stream.stored_up_to()
        if high > have and self.rooms.get(room) is stream and not stream.catching_up:
            self.deps.metrics.rechecks_filled.inc()
            stream.begin_catch_up(have)
            self._fill_gap(room, stream)

    def _fill_gap(self, room: str, stream: RoomStream) -> None:
        self.deps.metrics.gap_fills.inc()
        try:
            self._fill(room, stream)
        except Revoked:
            self._revoke(room, contracts.REASON_REMOVED)
        except Exception:
            log.warning("gap fill of %s failed: sending what is buffered", room, exc_info=True)
            self.out.enqueue_events(stream.abandon_catch_up())

    def restore(self, room: str) -> None:
        """Put back a subscription entry that vanished, if the user is still a member, and read
        what was stored while it was gone."""
        stream = self.rooms.get(room)
        try:
            self.deps.connections.subscribe(room, self.out.connection_id, self.out.user_id, self.out.role,
                                            self.settings.edge_delivery_url)
            if stream is None or stream.last_seq is None:
                if not self.deps.rooms.is_member(room, self.out.user_id):
                    raise Revoked(room)
                return
            stream.begin_catch_up(stream.last_seq)
            self._fill(room, stream)
            self._recheck_later(room, stream)
        except (Revoked, UnknownRoom):
            self._revoke(room, contracts.REASON_REMOVED)
        except Exception:
            log.warning("restoring the subscription to %s failed", room, exc_info=True)
            if stream is not None and stream.catching_up:
                self.out.enqueue_events(stream.abandon_catch_up())

    def _revoke(self, room: str, reason: str, quiet: bool = False) -> None:
        """End this connection's subscription to `room` (the user is no longer a member):
        nothing more of the room is shown; the client is told unless `quiet`."""
        stream = self.rooms.pop(room, None)
        if stream is None:
            return
        self._quietly(self.deps.connections.unsubscribe, room, self.out.connection_id)
        if not quiet:
            self.out.enqueue(self.out.protocol.render_revoked(room, reason))
            self.out.close_if_failed()
            self.presence(room, "leave")

    def unsubscribe(self, unsub: Unsubscribe) -> None:
        stream = self.rooms.pop(unsub.room, None)
        if stream is not None:
            self._quietly(self.deps.connections.unsubscribe, unsub.room, self.out.connection_id)
            self.presence(unsub.room, "leave")
        self.out.enqueue(self.out.protocol.render_unsubscribed(unsub))

    @staticmethod
    def _quietly(fn, *args) -> None:
        try:
            fn(*args)
        except Exception:
            log.warning("%s failed (the entry expires by TTL)", getattr(fn, "__name__", fn), exc_info=True)
