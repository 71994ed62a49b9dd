"""One WebSocket connection: reader loop, writer greenlet, timers, subscriptions.

Greenlets of a session:
- the reader (the handler's own greenlet, `run`): receive → rate limit → `protocol.decode`
  → carry the actions out, one at a time, in order;
- the writer: the only one writing data frames; drains the bounded outbound queue, then
  writes the close frame. Everything else only *enqueues* (non-blocking), so the delivery API,
  delivery reports and timers never wait on a client. A full queue closes the connection
  with 1013 (the client reconnects and catches up from the store): never a silent drop;
- timers: heart-beats and idle check, token expiry, registration refresh.

Sender and role of every record come from the token (`Identity`), never from the payload.
Acks are sent only from the Kafka delivery report.

A socket opened without a token (handshake.py) is *pending*: outside the hub, not
registered, counted in `deps.pending`; its first frame must carry the token (STOMP CONNECT,
JSON `auth`) within `auth_timeout_s`, or it is closed with 1008.

Membership is read AFTER what it guards (docs/guarantees.md, "Security model"): the
subscription entry is written, the room's committed seq read, and only then is membership
checked; live events wait meanwhile. A member removed later has their entries deleted
and is told through the delivery API (`unsubscribed`, reason `removed`), which drops the
room here; a refresh that finds an entry gone checks membership before putting it back.
"""

from __future__ import annotations

import logging
import time
import uuid

import gevent
from gevent.event import Event
from gevent.queue import Empty, Queue

from functions import contracts, tokens
from functions import message_changes as changes
from functions.rooms import UnknownRoom
from functions.store import message_event
from websocket_edge import bounded, handshake
from websocket_edge.deps import EdgeDeps
from websocket_edge.hub import FULL, GONE, OK
from websocket_edge.protocol import (Authenticate, Disconnect, Invalid, Ping, Reply, Send, ServerEvent,
                                     Subscribe, Typing, Unsubscribe)
from websocket_edge.ratelimit import TokenBucket
from websocket_edge.sequencing import RoomStream

log = logging.getLogger("tidings.edge.session")

RATE_ABUSE_FRAMES = 20   # refused frames in a row before the connection is closed (1008)
CLOSE_WAIT_S = 3.0       # after our close frame, how long the peer has to answer
CATCH_UP_ROUNDS = 3      # store reads to close a gap between stored and buffered live messages
RECHECK_MARGIN_S = 1.0   # after TIDINGS_SUBS_CACHE_S, how much later a new subscription re-reads
_CLOSE = object()
_PING = object()


class Revoked(Exception):
    """The user is no longer a member of the room (found while reading it)."""


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}Z"


class Session:
    def __init__(self, ws, environ: dict, deps: EdgeDeps):
        self.id = uuid.uuid4().hex
        self.ws = ws
        self.deps = deps
        self.settings = deps.settings
        self.transport: bounded.Transport = ws.handler.ws_transport
        self.identity = environ[handshake.ENV_IDENTITY]   # None: pending, the first frame has the token
        self.user_id = self.identity.user_id if self.identity is not None else None
        name = environ[handshake.ENV_SUBPROTOCOL]
        self.protocol = deps.protocols[name](self.identity, self.settings)
        self.protocol.awaiting_auth = self.identity is None
        if deps.admission is not None:
            self.protocol.flow_window = deps.admission.window
        self.protocol_name = name
        self.source_ip = environ.get("REMOTE_ADDR", "")
        self.user_agent = environ.get("HTTP_USER_AGENT", "")
        self.connected_at = deps.clock()
        self.last_active_at = self.connected_at
        self.rooms: dict[str, RoomStream] = {}
        self._out: Queue = Queue()   # bounded by _enqueue, so control items always fit
        self._limit = self.settings.outbound_queue_size
        self._closing: tuple[int, str] | None = None
        self._reader_done = Event()
        self._bucket = TokenBucket(self.settings.rate_per_second, self.settings.rate_burst)
        self._user_bucket: TokenBucket | None = None   # shared by the user's sockets, once known
        self._admitted = False                         # in the hub and registered
        self._greenlets: list[gevent.Greenlet] = []
        self._opcode = ws.OPCODE_BINARY if self.protocol.binary else ws.OPCODE_TEXT
        m = deps.metrics
        self._frames_out = m.frames_out.labels(protocol=name)
        self._frames_in = m.frames_in.labels(protocol=name)

    # --- what the hub and the delivery API see ---------------------------------------------
    @property
    def open(self) -> bool:
        return self._closing is None

    def info(self) -> dict:
        return {"connectedAt": _iso(self.connected_at),
                "identity": {"sourceIp": self.source_ip, "userAgent": self.user_agent},
                "lastActiveAt": _iso(self.last_active_at)}

    def deliver(self, event: ServerEvent) -> int:
        if self._closing is not None:
            return GONE
        kind, room = event.type, event.room
        if kind == contracts.EVENT_MESSAGE or kind in contracts.EVENT_CHANGES:
            # a change keeps its place after the messages of the room (held during a catch-up)
            stream = self.rooms.get(room)
            if stream is None:
                return OK    # not (or no longer) subscribed here: nothing to show
            result = self._enqueue_events(stream.live(event))
            if stream.take_fill():   # seqs skipped: fetch them from the store, in order
                self._spawn(lambda: self._fill_gap(room, stream))
            return result
        if kind == contracts.EVENT_UNSUBSCRIBED:   # removed from the room (functions/membership.py)
            if room is not None:
                self._revoke(room, str(event.data.get("reason") or contracts.REASON_REMOVED))
            return OK
        if kind in (contracts.EVENT_TYPING, contracts.EVENT_PRESENCE) and room not in self.rooms:
            return OK
        result = self._enqueue(self.protocol.render_event(event))
        self._close_if_failed()   # a worker refusal rendered as STOMP ERROR ends the connection now
        return result

    def flow(self, window: int) -> None:
        """Tell the client how many unacknowledged sends it may have out (backpressure)."""
        self._enqueue(self.protocol.render_flow(window))

    def deliver_raw(self, data: bytes) -> int:
        if self._closing is not None:
            return GONE
        return self._enqueue(self.protocol.render_raw(data))

    def close(self, code: int, reason: str = "", flush: bool = True) -> None:
        """Close with `code` (from any greenlet). With `flush`, queued frames go out first."""
        if self._closing is not None:
            return
        self._closing = (code, reason)
        self.deps.metrics.closes.labels(code=str(code)).inc()
        if not flush:
            while True:
                try:
                    self._out.get_nowait()
                except Empty:
                    break
        for frame in self.protocol.render_close(code, reason):
            self._out.put_nowait(frame)
        self._out.put_nowait(_CLOSE)
        # Safety net: a writer stuck on a peer that stopped reading is cut off.
        gevent.spawn_later(self.settings.send_timeout_s + CLOSE_WAIT_S, self._force_end)

    # --- queueing --------------------------------------------------------------------------
    def _enqueue(self, frames, wait: bool = False) -> int:
        if self._closing is not None:
            return GONE
        if not frames:
            return OK
        if wait:   # catch-up: wait for room instead of failing (the reader is the one waiting)
            deadline = time.monotonic() + self.settings.send_timeout_s
            while self._out.qsize() + len(frames) > self._limit // 2 and self._closing is None:
                if time.monotonic() > deadline:
                    break
                gevent.sleep(0.005)
        if self._out.qsize() + len(frames) > self._limit:
            self.deps.metrics.slow_consumers.inc()
            self.close(bounded.CLOSE_TRY_AGAIN, "too slow: reconnect and catch up", flush=False)
            return FULL
        for frame in frames:
            self._out.put_nowait(frame)
        return OK

    def _enqueue_events(self, events, wait: bool = False) -> int:
        frames = []
        for event in events:
            frames.extend(self.protocol.render_event(event))
        result = self._enqueue(frames, wait)
        self._close_if_failed()
        return result

    def _error(self, code: str, message: str, ref: str | None = None, action=None) -> None:
        self.deps.metrics.errors.labels(code=code).inc()
        self._enqueue(self.protocol.render_error(code, message, ref, action))
        self._close_if_failed()

    def _close_if_failed(self) -> None:
        """A protocol whose errors end the connection (STOMP's ERROR) gets its close."""
        if self.protocol.failed and self._closing is None:
            self.close(bounded.CLOSE_PROTOCOL_ERROR, "error")

    # --- life --------------------------------------------------------------------------------
    def run(self) -> None:
        d = self.deps
        d.metrics.connections.labels(protocol=self.protocol_name).inc()
        d.metrics.connections_total.labels(protocol=self.protocol_name).inc()
        self._spawn(self._writer)
        try:
            if self.identity is not None:
                self._admit()
            elif d.pending.add(self, self.source_ip):
                self._greenlets.append(gevent.spawn_later(self.settings.auth_timeout_s, self._auth_deadline))
            else:
                self.close(bounded.CLOSE_TRY_AGAIN, "too many unauthenticated connections: try again")
            self._read_loop()
        finally:
            self._reader_done.set()
            self._finish()

    def _admit(self) -> None:
        """The identity is known: into the hub, registered, timers started."""
        d, s = self.deps, self.settings
        d.hub.add(self)
        self._admitted = True
        self._user_bucket = d.hub.user_bucket(
            self.user_id, lambda: TokenBucket(s.user_rate_per_second, s.user_rate_burst))
        # The connection row is for presence and cleanup, not for delivery (subscriptions
        # carry the edge): the client's first frames need not wait for it.
        self._spawn(self._register)
        self._spawn(self._heartbeat)
        if d.admission is not None and d.admission.window != d.admission.open_window:
            self.flow(d.admission.window)   # joining while the edge holds sends back
        self._spawn(self._refresh)
        self._greenlets.append(gevent.spawn_later(
            max(0.0, self.identity.expires_at - d.clock()), self._token_expired))

    def _register(self) -> None:
        d, s = self.deps, self.settings
        try:
            d.connections.register(self.id, self.user_id, self.identity.role, s.edge_delivery_url,
                                   self.source_ip, self.user_agent, int(self.connected_at * 1000))
        except Exception:
            log.exception("register failed for %s", self.id)
            self.close(bounded.CLOSE_TRY_AGAIN, "try again later")

    def _authenticate(self, auth: Authenticate) -> None:
        """The token from the first frame of a pending socket."""
        d = self.deps
        try:
            identity = tokens.verify(self.settings, auth.token)
        except tokens.TokenError as exc:
            self._refuse_auth(contracts.ERR_UNAUTHORIZED, str(exc), auth)
            return
        if d.hub.connections_of(identity.user_id) >= self.settings.max_connections_per_user:
            self._refuse_auth(contracts.ERR_RATE_LIMITED, "too many connections for this user", auth)
            return
        d.pending.remove(self)
        self.identity, self.user_id = identity, identity.user_id
        self._enqueue(self.protocol.render_authenticated(auth, identity))
        self._admit()

    def _refuse_auth(self, code: str, message: str, action) -> None:
        self._error(code, message, None, action)
        self.close(bounded.CLOSE_POLICY, message)

    def _auth_deadline(self) -> None:
        if self.identity is None and self._closing is None:
            self._refuse_auth(contracts.ERR_UNAUTHORIZED,
                              f"no token within {self.settings.auth_timeout_s:g} s of connecting", None)

    def _spawn(self, fn) -> None:
        self._greenlets.append(gevent.spawn(fn))

    def _read_loop(self) -> None:
        ws = self.ws
        while True:
            message = ws.receive()
            if message is None:
                break
            if self._closing is not None:
                continue   # our close frame is out: wait for the peer's
            self.last_active_at = self.deps.clock()
            self._frames_in.inc()
            if not self._bucket.take():
                self._rate_limited(self._bucket)
                continue
            if self._user_bucket is not None and not self._user_bucket.take():
                self._rate_limited(self._user_bucket)
                continue
            for action in self.protocol.decode(message):
                if self._closing is not None:
                    break
                if self.identity is None and not isinstance(action, (Authenticate, Invalid, Reply)):
                    self._refuse_auth(contracts.ERR_UNAUTHORIZED, "authenticate first", action)
                    break
                try:
                    self._dispatch(action)
                except Exception:
                    log.exception("action failed: %r", action)
                    self._error(contracts.ERR_INTERNAL, "internal error", getattr(action, "room", None), action)
        if self._closing is None:   # the peer closed or vanished
            code = self.transport.close_code or 1006
            self._closing = (code, self.transport.close_reason)
            self.deps.metrics.closes.labels(code=str(code)).inc()
            self._out.put_nowait(_CLOSE)

    def _writer(self) -> None:
        ws, opcode = self.ws, self._opcode
        try:
            while True:
                item = self._out.get()
                if item is _CLOSE:
                    break
                with gevent.Timeout(self.settings.send_timeout_s, bounded.SendTimeout("client not reading")):
                    if item is _PING:
                        ws.ping()
                    else:
                        ws.send_frame(item, opcode)
                self._frames_out.inc()
        except (gevent.Timeout, OSError):
            ws.abort()
            return
        code, reason = self._closing or (bounded.CLOSE_NORMAL, "")
        ws.close(code, reason)
        if not self._reader_done.wait(CLOSE_WAIT_S):
            ws.abort()

    def _force_end(self) -> None:
        if not self._reader_done.is_set():
            self.ws.abort()

    def _finish(self) -> None:
        d = self.deps
        for greenlet in self._greenlets[1:]:
            greenlet.kill(block=False)
        self._greenlets[0].join(timeout=CLOSE_WAIT_S)   # the writer: close frame out
        self._greenlets[0].kill(block=False)
        d.pending.remove(self)
        d.metrics.connections.labels(protocol=self.protocol_name).dec()
        if not self._admitted:
            return
        d.hub.remove(self)
        rooms, self.rooms = list(self.rooms), {}
        try:
            d.connections.unregister(self.id, rooms)
        except Exception:
            log.warning("unregister failed for %s (rows expire by TTL)", self.id, exc_info=True)
        for room in rooms:
            self._presence(room, "leave")

    # --- timers --------------------------------------------------------------------------------
    def _heartbeat(self) -> None:
        s, p = self.settings, self.protocol
        while self._closing is None:
            gevent.sleep((p.heartbeat_out_ms or s.heartbeat_ms) / 1000.0)
            if self._closing is not None:
                return
            idle_limit = p.heartbeat_in_ms * 3 / 1000.0 if p.heartbeat_in_ms else s.idle_timeout_s
            if time.monotonic() - self.transport.last_frame_at > idle_limit:
                self.close(bounded.CLOSE_GOING_AWAY, "idle timeout")
                return
            frame = p.heartbeat()
            self._enqueue([_PING] if frame is None else [frame])

    def _token_expired(self) -> None:
        self._error(contracts.ERR_UNAUTHORIZED, "token expired: reconnect with a fresh token")
        self.close(self.protocol.close_token_expired, "token expired")

    def _refresh(self) -> None:
        every = max(1.0, self.settings.connection_ttl_s / 3.0)
        while self._closing is None:
            gevent.sleep(every)
            if self._closing is not None:
                return
            try:
                missing = self.deps.connections.refresh(self.id, list(self.rooms))
            except Exception:
                log.warning("refresh failed for %s", self.id, exc_info=True)
                continue
            for room in missing or ():
                # Our entry is gone: swept as gone, or the user was removed. Membership decides.
                if room in self.rooms:
                    self._restore(room)

    def _rate_limited(self, bucket: TokenBucket) -> None:
        if bucket.refused_in_a_row > RATE_ABUSE_FRAMES:
            self.close(bounded.CLOSE_POLICY, "rate limit exceeded")
        else:
            self._error(contracts.ERR_RATE_LIMITED, "too many messages: slow down")

    # --- actions -------------------------------------------------------------------------------
    def _dispatch(self, action) -> None:
        if isinstance(action, Send):
            self._send(action)
        elif isinstance(action, Subscribe):
            self._subscribe(action)
        elif isinstance(action, Unsubscribe):
            self._unsubscribe(action)
        elif isinstance(action, Typing):
            self._typing(action)
        elif isinstance(action, Ping):
            self._enqueue(self.protocol.render_pong(action))
        elif isinstance(action, Authenticate):
            if self.identity is None:
                self._authenticate(action)
        elif isinstance(action, Reply):
            self._enqueue(action.frames)
            if action.close:
                self.close(*action.close)
        elif isinstance(action, Disconnect):
            self._enqueue(self.protocol.render_disconnect(action))
            self.close(bounded.CLOSE_NORMAL, "bye")
        elif isinstance(action, Invalid):
            self._error(action.code, action.message, action.ref, action)
            if action.fatal or self.protocol.error_is_fatal:
                policy = action.code == contracts.ERR_UNAUTHORIZED
                self.close(bounded.CLOSE_POLICY if policy else bounded.CLOSE_PROTOCOL_ERROR, action.message)

    def _record(self, kind: str, room: str, **fields) -> dict:
        return {"v": contracts.SCHEMA_VERSION, "type": kind, "roomId": room,
                "senderId": self.user_id, "senderRole": self.identity.role,
                "sentAt": int(self.deps.clock() * 1000), "connectionId": self.id,
                "edgeUrl": self.settings.edge_delivery_url, **fields}

    def _send(self, send: Send) -> None:
        if not self.deps.state.accepting_sends:
            self._error(contracts.ERR_UNAVAILABLE, "edge restarting: send again", send.client_msg_id, send)
            return
        admission = self.deps.admission
        if admission is not None:   # backpressure: wait here while the worker lags
            held = admission.admit()
            if held:
                self.deps.metrics.send_hold.observe(held)
            if not self.deps.state.accepting_sends:   # the edge began to stop meanwhile
                self._error(contracts.ERR_UNAVAILABLE, "edge restarting: send again", send.client_msg_id, send)
                return
        record = self._record(send.kind, send.room, **send.record_fields())
        result = self.deps.producer.publish(record, send.room)
        result.rawlink(lambda r: self._reported(send, r))   # runs in the hub: only enqueues

    def _reported(self, send: Send, result) -> None:
        if result.successful():
            partition, offset = result.value
            self._enqueue(self.protocol.render_ack(send, partition, offset))
        else:
            self._error(contracts.ERR_UNAVAILABLE, f"not accepted, send again: {result.exception}",
                        send.client_msg_id, send)

    def _typing(self, typing: Typing) -> None:
        if typing.room not in self.rooms:
            self._error(contracts.ERR_FORBIDDEN, "subscribe to the room first", typing.room, typing)
            return
        self.deps.producer.publish(self._record(contracts.RECORD_TYPING, typing.room), typing.room)

    def _presence(self, room: str, state: str) -> None:
        try:
            self.deps.producer.publish(self._record(contracts.RECORD_PRESENCE, room, state=state), room)
        except Exception:
            log.warning("presence %s for %s not produced", state, room, exc_info=True)

    def _subscribe(self, sub: Subscribe) -> None:
        d, room = self.deps, sub.room
        if room not in self.rooms and len(self.rooms) >= self.settings.max_subscriptions_per_connection:
            self._error(contracts.ERR_BAD_REQUEST, "too many subscriptions on this connection", room, sub)
            return
        stream = self.rooms.get(room)
        fresh = stream is None
        if fresh:
            stream = self.rooms[room] = RoomStream()
            stream.hold()   # live events wait until membership is confirmed
        if sub.after_seq is not None:
            stream.begin_catch_up(sub.after_seq)   # live events are buffered from now on
        try:
            d.connections.subscribe(room, self.id, self.user_id, self.identity.role,
                                    self.settings.edge_delivery_url)
            high = self._verified_high(room)
        except Revoked:
            self._revoke(room, contracts.REASON_REMOVED, quiet=fresh)
            self._error(contracts.ERR_FORBIDDEN, "not a member of this room", room, sub)
            return
        except Exception as exc:
            unknown = isinstance(exc, UnknownRoom)
            if not unknown:
                log.warning("subscribe to %s failed", room, exc_info=True)
            if fresh:
                self.rooms.pop(room, None)
                self._quietly(d.connections.unsubscribe, room, self.id)
            else:
                self._enqueue_events(stream.abandon_catch_up())
            if unknown:
                self._error(contracts.ERR_UNKNOWN_ROOM, "no such room", room, sub)
            else:
                self._error(contracts.ERR_UNAVAILABLE, "cannot subscribe now: try again", room, sub)
            return
        if self.rooms.get(room) is not stream:
            return   # removed while we were reading: the client was told
        if sub.after_seq is not None:
            self._changes_since(room, stream, min(sub.after_seq, high))
            self._fill(room, stream, high)
        elif stream.catching_up:   # without afterSeq: live from now on (older live ones pass too)
            stream.floor = high
            self._enqueue_events(stream.finish_catch_up(force=True)[0])   # release the hold
        self._enqueue(self.protocol.render_subscribed(sub, stream.last_seq if sub.after_seq is not None else None))
        if fresh:
            self._presence(room, "join")
            self._recheck_later(room, stream)

    def _verified_high(self, room: str) -> int:
        """The room's committed seq, read BEFORE membership is checked: when the user is still a
        member after this read, every message up to it was stored while they were one."""
        high = self.deps.messages.committed_seq_if_member(room, self.user_id)
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
                if stream.stored(event) and self._enqueue_events([event], wait=True) != OK:
                    raise ConnectionAbortedError("client too slow for the catch-up")
            ready, gap = stream.finish_catch_up(force=round_ == CATCH_UP_ROUNDS - 1)
            self._enqueue_events(ready)
            if not gap:
                return
            high = None

    def _changes_since(self, room: str, stream: RoomStream, seq: int) -> None:
        """What changed while the client was away, among the messages it had (up to `seq`):
        their state as change events, before the catch-up's newer messages (docs/protocol.md)."""
        events = [ServerEvent(e) for item in self.deps.messages.changed_up_to(room, seq)
                  for e in changes.state_events(item)]
        if events and self.rooms.get(room) is stream and self._enqueue_events(events, wait=True) != OK:
            raise ConnectionAbortedError("client too slow for the catch-up")

    def _recheck_later(self, room: str, stream: RoomStream) -> None:
        """A worker may deliver from a copy of the room's subscribers read before ours was
        added, for up to TIDINGS_SUBS_CACHE_S: once that has passed, read the room's stored seq
        again and fill what did not come live."""
        self._greenlets.append(gevent.spawn_later(self.settings.subs_cache_s + RECHECK_MARGIN_S,
                                                  self._recheck, room, stream))

    def _recheck(self, room: str, stream: RoomStream) -> None:
        if self._closing is not None or self.rooms.get(room) is not stream or stream.catching_up:
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
            self._enqueue_events(stream.abandon_catch_up())

    def _restore(self, room: str) -> None:
        """Put back a subscription entry that vanished, if the user is still a member, and read
        what was stored while it was gone."""
        stream = self.rooms.get(room)
        try:
            self.deps.connections.subscribe(room, self.id, self.user_id, self.identity.role,
                                            self.settings.edge_delivery_url)
            if stream is None or stream.last_seq is None:
                if not self.deps.rooms.is_member(room, self.user_id):
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
                self._enqueue_events(stream.abandon_catch_up())

    def _revoke(self, room: str, reason: str, quiet: bool = False) -> None:
        """End this connection's subscription to `room` (the user is no longer a member):
        nothing more of the room is shown; the client is told unless `quiet`."""
        stream = self.rooms.pop(room, None)
        if stream is None:
            return
        self._quietly(self.deps.connections.unsubscribe, room, self.id)
        if not quiet:
            self._enqueue(self.protocol.render_revoked(room, reason))
            self._close_if_failed()
            self._presence(room, "leave")

    def _unsubscribe(self, unsub: Unsubscribe) -> None:
        stream = self.rooms.pop(unsub.room, None)
        if stream is not None:
            self._quietly(self.deps.connections.unsubscribe, unsub.room, self.id)
            self._presence(unsub.room, "leave")
        self._enqueue(self.protocol.render_unsubscribed(unsub))

    @staticmethod
    def _quietly(fn, *args) -> None:
        try:
            fn(*args)
        except Exception:
            log.warning("%s failed (the entry expires by TTL)", getattr(fn, "__name__", fn), exc_info=True)
