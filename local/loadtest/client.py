"""One simulated user: one WebSocket kept for the whole run, one room, N messages.

Lifecycle: start (at its ramp time) → connect (+ STOMP CONNECT) → subscribe → wait until
every member of its room is subscribed or has failed (so every member can receive every
message: deliveries expected = acked messages × subscribed members) → send its messages,
each one waiting for its ack (window 1, like the peer and the old JMeter plan) or paced at
a rate → done; the connection stays open until the generator stops the run.

Everything is callbacks on one asyncio loop (no task per message): an ack sends the next
message right away, or arms a timer when the user is paced. What a message body says and
what a user counts of its deliveries are `deliveries.py`.
"""

from __future__ import annotations

import asyncio
import random
import time

import orjson

from local.loadtest import wsclient
from local.loadtest.deliveries import Deliveries, message_body
from local.loadtest.model import GeneratorView, Room

NEW, CONNECTING, HANDSHAKE, SUBSCRIBING, READY, SENDING, DONE, FAILED, CLOSED = range(9)
SUBSCRIBE_RETRIES = 3
STATE_NAMES = ("new", "connecting", "handshake", "subscribing", "ready", "sending", "done", "failed", "closed")


class User:
    __slots__ = ("gen", "idx", "user_id", "role", "room", "host", "port", "path", "token", "tag",
                 "state", "ws", "planned", "n_sent", "inflight", "next_due", "interval", "timer",
                 "deliveries", "deadline_handle", "stopping", "done_at", "opened",
                 "subscribed_ok", "dropped", "start_offset", "sub_attempts", "connect_at", "flow_window")

    def __init__(self, gen: GeneratorView, idx: int, user_id: str, role: str, room: Room,
                 edge: tuple[str, int, str], token: str, planned: int, interval: float | None):
        self.gen = gen
        self.idx = idx
        self.user_id = user_id
        self.role = role
        self.room = room
        self.host, self.port, self.path = edge
        self.token = token
        self.tag = f"u{idx}"
        self.state = NEW
        self.ws: wsclient.WebSocket | None = None
        self.planned = planned            # messages to send; 0 = until the run's end
        self.n_sent = 0
        self.inflight: dict[str, float] = {}   # clientMsgId -> time.time() at send
        self.next_due = 0.0               # loop.time() of the next paced send
        self.interval = interval          # seconds between sends (None: as fast as acks allow)
        self.timer: asyncio.TimerHandle | None = None
        self.deliveries = Deliveries(room.id)
        self.deadline_handle: asyncio.TimerHandle | None = None
        self.stopping = False
        self.done_at = 0.0
        self.opened = False
        self.subscribed_ok = False        # subscribed: a receiver of every acked message of the room
        self.dropped = False              # the connection broke before the run ended
        self.start_offset = 0.0           # seconds after the run's start to connect
        self.sub_attempts = 0
        self.connect_at = 0.0
        self.flow_window = gen.settings.flow_window   # what the edge grants until it says otherwise

    # ------------------------------------------------------------------ connecting
    def start(self) -> None:
        if self.gen.stopping:
            self._fail("not_started")
            return
        self.state = CONNECTING
        self.connect_at = time.time()
        self.gen.count("connections.attempted")
        loop = self.gen.loop
        self.deadline_handle = loop.call_later(self.gen.opts.connect_timeout, self._setup_timeout)
        loop.create_task(self._connect())

    async def _connect(self) -> None:
        gen = self.gen
        path = f"{self.path}{'&' if '?' in self.path else '?'}access_token={self.token}"

        def factory() -> wsclient.WebSocket:
            self.ws = wsclient.WebSocket(self, self.host, self.port, path, gen.codec.subprotocol,
                                         gen.opts.origin)
            return self.ws

        try:
            _, ws = await gen.loop.create_connection(factory, self.host, self.port)
        except OSError as exc:
            if self.state == CONNECTING:
                self._fail(f"connect_{type(exc).__name__}")
            return
        if self.state == FAILED:   # timed out meanwhile
            ws.abort()
        elif self.state == CONNECTING:
            self.state = HANDSHAKE

    def _setup_timeout(self) -> None:
        self.deadline_handle = None
        if self.state in (CONNECTING, HANDSHAKE, SUBSCRIBING):
            self._fail(f"timeout_{STATE_NAMES[self.state]}")

    def _fail(self, reason: str) -> None:
        """Setup failed: count it, close, and let the room go on without this user."""
        was = self.state
        self.state = FAILED
        self.gen.count("connections.failed")
        self.gen.count(f"connect_fail.{reason}")
        if self.deadline_handle is not None:
            self.deadline_handle.cancel()
            self.deadline_handle = None
        if self.ws is not None:
            if was not in (CLOSED,):
                self.ws.abort()
        self.gen.not_sent(self.planned)
        self._room_member_settled(False)
        self.gen.user_finished(self)

    # ------------------------------------------------------------------ WebSocket callbacks
    def on_open(self, subprotocol: str | None) -> None:
        gen = self.gen
        gen.count("connections.opened")
        gen.open_connections += 1
        self.opened = True
        self.state = SUBSCRIBING
        codec = gen.codec
        if codec.needs_connect:
            self.ws.send_text(codec.connect(self.host))
        else:
            self.ws.send_text(codec.subscribe(self.room.id))

    def on_message(self, payload: bytes) -> None:
        try:
            events = self.gen.codec.parse(payload)
        except (orjson.JSONDecodeError, UnicodeDecodeError, ValueError):
            self.gen.count("frames.unparsable")
            return
        for event in events:
            kind = event.get("type")
            if kind == "message":
                self._on_delivery(event)
            elif kind == "ack":
                self._on_ack(event)
            elif kind == "error":
                self._on_error(event)
            elif kind == "subscribed":
                self._on_subscribed()
            elif kind == "connected":
                self._on_flow(event)
                self.ws.send_text(self.gen.codec.subscribe(self.room.id))
            elif kind == "flow":
                self._on_flow(event)
            else:
                self.gen.count(f"frames.other.{kind}")

    def on_closed(self, reason: str, expected: bool) -> None:
        gen = self.gen
        if self.opened:
            self.opened = False
            gen.open_connections -= 1
        if self.state in (CONNECTING, HANDSHAKE):
            self._fail(reason.split(" ")[0] if reason else "closed")
            return
        if self.state == FAILED:
            return
        if expected or self.state == CLOSED:
            self.state = CLOSED
            return
        # The server closed or the connection broke before we were done with it.
        self.dropped = True
        gen.count("connections.dropped")
        gen.count(f"drop_reason.{reason.split(' ')[0] if reason else 'unknown'}")
        if self.state in (SUBSCRIBING, READY) and not self.room.started:
            self.state = CLOSED
            if self.deadline_handle is not None:
                self.deadline_handle.cancel()
                self.deadline_handle = None
            gen.not_sent(self.planned)
            gen.count("connections.failed")
            gen.count("connect_fail.closed_before_subscribed")
            self._room_member_settled(False)
            gen.user_finished(self)
            return
        was = self.state
        self.state = CLOSED
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.inflight:
            gen.count("messages.errored", len(self.inflight))
            gen.count("errors.connection_closed", len(self.inflight))
            self.inflight.clear()
        if was == SENDING:
            if self.planned:
                gen.not_sent(self.planned - self.n_sent)
            gen.user_finished(self)

    # ------------------------------------------------------------------ subscribing
    def _on_subscribed(self) -> None:
        if self.state != SUBSCRIBING:
            self.gen.count("frames.other.subscribed_again")
            return
        if self.deadline_handle is not None:
            self.deadline_handle.cancel()
            self.deadline_handle = None
        self.state = READY
        self.subscribed_ok = True
        now = time.time()
        second = self.gen.sec(now)
        second.counts.add("subscriptions.ok")
        second.subscribe.record(now - self.connect_at)
        self._room_member_settled(True)

    def _room_member_settled(self, subscribed: bool) -> None:
        room = self.room
        room.pending -= 1
        if subscribed:
            room.subscribed += 1
        if room.pending == 0 and not room.started:
            room.started = True
            self.gen.room_ready(room)

    def begin_sending(self) -> None:
        """Called for every subscribed member once the whole room is settled."""
        if self.state != READY:
            return
        self.state = SENDING
        if self.interval:
            # spread the users' phases so paced sends do not come in lockstep
            self.next_due = self.gen.loop.time() + random.random() * self.interval
        self.pump()

    # ------------------------------------------------------------------ sending
    def _on_flow(self, event: dict) -> None:
        """The edge's send window (backpressure): never more unacked sends than it grants."""
        window = event.get("window")
        if isinstance(window, int) and not isinstance(window, bool) and window >= 1:
            self.flow_window = window
            self.gen.count("flow.changes")
            self.pump()

    def pump(self) -> None:
        if self.state != SENDING:
            return
        gen = self.gen
        window = min(gen.opts.window, self.flow_window)
        while len(self.inflight) < window:
            if self.stopping or gen.stop_sending or (self.planned and self.n_sent >= self.planned):
                break
            if self.interval:
                now = gen.loop.time()
                if self.next_due > now:
                    if self.timer is None:
                        self.timer = gen.loop.call_at(self.next_due, self._timer_fired)
                    return
                # next slot on the schedule; a user that fell behind does not burst to catch up
                self.next_due = max(self.next_due, now - self.interval) + self.interval
            self._send_one()
        if not self.inflight and (self.stopping or gen.stop_sending or
                                  (self.planned and self.n_sent >= self.planned)):
            self.state = DONE
            self.done_at = time.time()
            if self.planned and self.n_sent < self.planned:
                gen.not_sent(self.planned - self.n_sent)
            gen.user_finished(self)

    def _timer_fired(self) -> None:
        self.timer = None
        self.pump()

    def _send_one(self) -> None:
        n = self.n_sent + 1
        self.n_sent = n
        cmid = f"{self.tag}.{n}"
        now = time.time()
        body = message_body(cmid, now, self.gen.padding)
        self.inflight[cmid] = now
        self.ws.send_text(self.gen.codec.send(self.room.id, cmid, body))
        self.gen.sec(now).counts.add("sent")

    def _on_ack(self, event: dict) -> None:
        cmid = event.get("clientMsgId")
        sent = self.inflight.pop(cmid, None)
        now = time.time()
        gen = self.gen
        if sent is None:
            if cmid in gen.timed_out:
                gen.timed_out.discard(cmid)
                self.room.acked.add(cmid)
                gen.count("messages.late_acks")
            else:
                gen.count("messages.unknown_acks")
            return
        self.room.acked.add(cmid)
        second = gen.sec(now)
        second.counts.add("acked")
        second.ack.record(now - sent)
        self.pump()

    def _on_error(self, event: dict) -> None:
        gen = self.gen
        code = str(event.get("code") or "unknown")
        ref = event.get("ref")
        if ref is None and self.inflight and self.state == SENDING:
            # The edge refuses a frame before decoding it (rate limit) and cannot name it. With
            # window 1 it is the one in flight; with more, the newest is the best guess.
            ref = next(reversed(self.inflight))
        if ref is not None and ref in self.inflight:
            del self.inflight[ref]
            gen.count("messages.errored")
            gen.count(f"errors.{code}")
            self.pump()
            return
        if self.state == SUBSCRIBING:
            if code == "unavailable" and self.sub_attempts < SUBSCRIBE_RETRIES:
                # "cannot check membership now: try again", as a real client would
                self.sub_attempts += 1
                gen.count("subscriptions.retried")
                gen.loop.call_later(0.25 * 2 ** self.sub_attempts, self._resubscribe)
                return
            self._fail(f"subscribe_{code}")
            return
        gen.count(f"errors_unsolicited.{code}")

    def _resubscribe(self) -> None:
        if self.state == SUBSCRIBING and self.ws is not None:
            self.ws.send_text(self.gen.codec.subscribe(self.room.id))

    def check_timeouts(self, now: float, limit: float) -> None:
        """Give up on messages waiting longer than `limit` for their ack (counted as errors)."""
        expired = [cmid for cmid, sent in self.inflight.items() if now - sent > limit]
        if not expired:
            return
        for cmid in expired:
            del self.inflight[cmid]
            self.gen.timed_out.add(cmid)
        self.gen.count("messages.errored", len(expired))
        self.gen.count("errors.ack_timeout", len(expired))
        self.pump()

    # ------------------------------------------------------------------ receiving
    def _on_delivery(self, event: dict) -> None:
        now = time.time()
        self.gen.last_delivery_at = now
        self.deliveries.record(event, now, self.gen.sec(now))

    @property
    def received(self) -> set[str]:
        """clientMsgIds delivered to this user."""
        return self.deliveries.received

    # ------------------------------------------------------------------ the end
    def stop_sending(self) -> None:
        self.stopping = True
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.state == SENDING:
            self.pump()

    def close(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.deadline_handle is not None:
            self.deadline_handle.cancel()
            self.deadline_handle = None
        if self.ws is not None and self.state not in (CLOSED, FAILED):
            self.state = CLOSED
            frame = self.gen.codec.close_frame()
            if frame:
                self.ws.send_text(frame)
            self.ws.close()
