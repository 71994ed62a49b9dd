"""One WebSocket connection's transport: reader loop, writer greenlet, timers.

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

The chat rules (sending, subscriptions, catch-up, gap fill, revocation) are chat_rules.py's:
they see this session only as their `Outbox` (enqueue, error, spawn ...), and the store and
Kafka only through the ports of ports.py.
"""

from __future__ import annotations

import logging
import time
import uuid

import gevent
from gevent.event import Event
from gevent.queue import Empty, Queue

from functions import contracts, tokens
from websocket_edge import bounded, handshake
from websocket_edge.chat_rules import ChatRules
from websocket_edge.deps import EdgeDeps
from websocket_edge.hub import FULL, GONE, OK
from websocket_edge.protocol import (Authenticate, Disconnect, Invalid, Ping, Reply, Send, ServerEvent,
                                     Subscribe, Typing, Unsubscribe)
from websocket_edge.ratelimit import TokenBucket
from websocket_edge.sequencing import RoomStream

log = logging.getLogger("tidings.edge.session")

RATE_ABUSE_FRAMES = 20   # refused frames in a row before the connection is closed (1008)
CLOSE_WAIT_S = 3.0       # after our close frame, how long the peer has to answer
WRITE_BATCH = 64        # frames the writer joins into one write at most
_CLOSE = object()
_PING = object()


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
        self.rules = ChatRules(self, deps)
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

    @property
    def rooms(self) -> dict[str, RoomStream]:
        return self.rules.rooms

    # --- the rules' Outbox (chat_rules.Outbox) -------------------------------------------------
    @property
    def connection_id(self) -> str:
        return self.id

    @property
    def role(self) -> str:
        return self.identity.role

    @property
    def closing(self) -> bool:
        return self._closing is not None

    def spawn_later(self, seconds: float, fn, *args) -> None:
        self._greenlets.append(gevent.spawn_later(seconds, fn, *args))

    def info(self) -> dict:
        return {"connectedAt": _iso(self.connected_at),
                "identity": {"sourceIp": self.source_ip, "userAgent": self.user_agent},
                "lastActiveAt": _iso(self.last_active_at)}

    def deliver(self, event: ServerEvent) -> int:
        if self._closing is not None:
            return GONE
        handled = self.rules.deliver(event)   # a room's message, the end of a membership
        if handled is not None:
            return handled
        result = self.enqueue(self.protocol.render_event(event))
        self.close_if_failed()   # a worker refusal rendered as STOMP ERROR ends the connection now
        return result

    def flow(self, window: int) -> None:
        """Tell the client how many unacknowledged sends it may have out (backpressure)."""
        self.enqueue(self.protocol.render_flow(window))

    def deliver_raw(self, data: bytes) -> int:
        if self._closing is not None:
            return GONE
        return self.enqueue(self.protocol.render_raw(data))

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
    def enqueue(self, frames, wait: bool = False) -> int:
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

    def enqueue_events(self, events, wait: bool = False) -> int:
        frames = []
        for event in events:
            frames.extend(self.protocol.render_event(event))
        result = self.enqueue(frames, wait)
        self.close_if_failed()
        return result

    def error(self, code: str, message: str, ref: str | None = None, action=None) -> None:
        self.deps.metrics.errors.labels(code=code).inc()
        self.enqueue(self.protocol.render_error(code, message, ref, action))
        self.close_if_failed()

    def close_if_failed(self) -> None:
        """A protocol whose errors end the connection (STOMP's ERROR) gets its close."""
        if self.protocol.failed and self._closing is None:
            self.close(bounded.CLOSE_PROTOCOL_ERROR, "error")

    # --- life --------------------------------------------------------------------------------
    def run(self) -> None:
        d = self.deps
        d.metrics.connections.labels(protocol=self.protocol_name).inc()
        d.metrics.connections_total.labels(protocol=self.protocol_name).inc()
        self.spawn(self._writer)
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
        self.spawn(self._register)
        self.spawn(self._heartbeat)
        if d.admission is not None:
            before = d.admission.window
            d.admission.set_connections(len(d.hub))   # a changed window is announced to all, us too
            if d.admission.window == before != s.flow_window:
                self.flow(before)   # joining with less than the default window
        self.spawn(self._refresh)
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
        self.enqueue(self.protocol.render_authenticated(auth, identity))
        self._admit()

    def _refuse_auth(self, code: str, message: str, action) -> None:
        self.error(code, message, None, action)
        self.close(bounded.CLOSE_POLICY, message)

    def _auth_deadline(self) -> None:
        if self.identity is None and self._closing is None:
            self._refuse_auth(contracts.ERR_UNAUTHORIZED,
                              f"no token within {self.settings.auth_timeout_s:g} s of connecting", None)

    def spawn(self, fn) -> None:
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
                    self.error(contracts.ERR_INTERNAL, "internal error", getattr(action, "room", None), action)
        if self._closing is None:   # the peer closed or vanished
            code = self.transport.close_code or 1006
            self._closing = (code, self.transport.close_reason)
            self.deps.metrics.closes.labels(code=str(code)).inc()
            self._out.put_nowait(_CLOSE)

    def _writer(self) -> None:
        """Send what the queue holds, up to WRITE_BATCH frames in one write: one lock and one
        system call per batch instead of per frame, under one timer armed per write and made
        once per connection (a new gevent.Timeout per frame cost ~30-40 µs, the edge's largest
        per-frame cost)."""
        ws, out, opcode = self.ws, self._out, self._opcode
        timer = gevent.Timeout(self.settings.send_timeout_s, bounded.SendTimeout("client not reading"))
        closing = False
        try:
            while not closing:
                batch = [out.get()]
                while len(batch) < WRITE_BATCH:
                    try:
                        batch.append(out.get_nowait())
                    except Empty:
                        break
                frames = []
                for item in batch:
                    if item is _CLOSE:
                        closing = True   # nothing queued after the close is sent
                        break
                    frames.append((b"", ws.OPCODE_PING) if item is _PING else (item, opcode))
                if frames:
                    timer.start()
                    try:
                        ws.send_frames(frames)
                    finally:
                        timer.cancel()
                    self._frames_out.inc(len(frames))
        except (gevent.Timeout, OSError):
            ws.abort()
            return
        finally:
            timer.close()
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
        if d.admission is not None:
            d.admission.set_connections(len(d.hub))
        rooms = self.rules.leave_all()
        try:
            d.connections.unregister(self.id, rooms)
        except Exception:
            log.warning("unregister failed for %s (rows expire by TTL)", self.id, exc_info=True)
        for room in rooms:
            self.rules.presence(room, "leave")

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
            self.enqueue([_PING] if frame is None else [frame])

    def _token_expired(self) -> None:
        self.error(contracts.ERR_UNAUTHORIZED, "token expired: reconnect with a fresh token")
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
            self.rules.restore_missing(missing)

    def _rate_limited(self, bucket: TokenBucket) -> None:
        if bucket.refused_in_a_row > RATE_ABUSE_FRAMES:
            self.close(bounded.CLOSE_POLICY, "rate limit exceeded")
        else:
            self.error(contracts.ERR_RATE_LIMITED, "too many messages: slow down")

    # --- actions -------------------------------------------------------------------------------
    def _dispatch(self, action) -> None:
        if isinstance(action, Send):
            self.rules.send(action)
        elif isinstance(action, Subscribe):
            self.rules.subscribe(action)
        elif isinstance(action, Unsubscribe):
            self.rules.unsubscribe(action)
        elif isinstance(action, Typing):
            self.rules.typing(action)
        elif isinstance(action, Ping):
            self.enqueue(self.protocol.render_pong(action))
        elif isinstance(action, Authenticate):
            if self.identity is None:
                self._authenticate(action)
        elif isinstance(action, Reply):
            self.enqueue(action.frames)
            if action.close:
                self.close(*action.close)
        elif isinstance(action, Disconnect):
            self.enqueue(self.protocol.render_disconnect(action))
            self.close(bounded.CLOSE_NORMAL, "bye")
        elif isinstance(action, Invalid):
            self.error(action.code, action.message, action.ref, action)
            if action.fatal or self.protocol.error_is_fatal:
                policy = action.code == contracts.ERR_UNAUTHORIZED
                self.close(bounded.CLOSE_POLICY if policy else bounded.CLOSE_PROTOCOL_ERROR, action.message)
