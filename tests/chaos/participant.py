"""One member of one chat room on one WebSocket, as a thread: the unit of the chaos load.

It sends messages whose body is ``"{senderId}#{n}"`` (n = its own sequence number) one at
a time, each with a fresh clientMsgId, and waits for the ack. An error or an ack timeout
means: send the SAME clientMsgId again (on a new connection if the old one dropped). It
records every message event of its room, and every answer (ack or error) to every attempt.
A dropped connection is reopened with backoff, on the other edge first, and the room is
subscribed again with ``afterSeq`` = the last seq it saw. traffic.py puts members in rooms.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections import Counter, deque
from dataclasses import dataclass, field

import orjson
import websocket

from functions import contracts

ACK_TIMEOUT_S = 12.0      # > the edge's produce timeout (10 s): the edge answers first
SUBSCRIBE_TIMEOUT_S = 10.0
ERROR_RETRY_S = 0.3       # after an `unavailable` error, send the same clientMsgId again
BACKOFF_MIN_S, BACKOFF_MAX_S = 0.2, 2.0
ROLES = ("customer", "groomer", "admin")


@dataclass
class Pending:
    """The message in flight (a sender has at most one)."""
    cid: str
    n: int
    body: str
    created: float
    attempts: int = 0
    conn_no: int = -1            # the connection it was last sent on
    retry_at: float = 0.0


@dataclass
class Received:
    seq: int
    message_id: str
    cid: str
    sender: str
    body: str
    conn_no: int
    at: float


@dataclass
class Participant:
    """One member of one room, with one connection at a time (owned by its own thread)."""
    room: str
    user_id: str
    role: str
    token: str
    edges: dict[str, str]           # edge name -> WebSocket URL
    edge: str                       # where it connects (next)
    interval: float = 0.5
    clock: object = time.monotonic
    steady: bool = False            # the next message `interval` after the previous one was created, not after its ack
    # what it did
    sent: dict[str, int] = field(default_factory=dict)        # cid -> n, every message created
    acked: dict[str, tuple] = field(default_factory=dict)     # cid -> (n, partition, offset, latency s, at)
    abandoned: dict[str, int] = field(default_factory=dict)   # cid -> n: never acked
    rejected: dict[str, str] = field(default_factory=dict)    # cid -> error code (not retried)
    attempts: int = 0
    errors: Counter = field(default_factory=Counter)      # error codes, and "no answer" (an attempt timed out)
    answers: list[tuple[float, float, str]] = field(default_factory=list)   # (sent at, answered at, "ack" | code)
    waiting: dict[str, deque] = field(default_factory=dict)   # cid -> send times of its attempts not answered yet
    received: list[Received] = field(default_factory=list)
    last_seq: int = 0
    live_gaps: list[tuple[int, int, int]] = field(default_factory=list)   # (last seen, got, conn)
    connections: list[tuple[str, float]] = field(default_factory=list)    # (edge, at)
    drops: list[tuple[str, float, str]] = field(default_factory=list)     # (edge, at, why)
    notes: deque = field(default_factory=lambda: deque(maxlen=60))

    def __post_init__(self) -> None:
        self.sending = True
        self.pending: Pending | None = None
        self.n = 0
        self.ws: websocket.WebSocket | None = None
        self.conn_no = 0
        self.subscribed = False
        self.sub_retry_at = 0.0
        self.next_send_at = 0.0
        self.backoff = 0.0
        self.stopped = threading.Event()
        self.crash: str | None = None
        self.on_message = None      # called (in this thread) on a message event: Traffic.arm
        self.thread = threading.Thread(target=self._run, name=f"chaos-{self.user_id}", daemon=True)

    # --- what the driver uses ------------------------------------------------------------
    @property
    def name(self) -> str:
        return f"{self.user_id}@{self.room}"

    @property
    def idle(self) -> bool:
        """Nothing in flight (and nothing new will be sent once sending is off)."""
        return self.pending is None

    def seen_seqs(self) -> set[int]:
        return {r.seq for r in self.received}

    def abandon(self) -> None:
        """Give up the message in flight (called from the driver after the grace period)."""
        self.sending = False
        pending = self.pending
        if pending is not None and pending.cid not in self.acked:
            self.abandoned[pending.cid] = pending.n
        self.pending = None

    def note(self, text: str) -> None:
        self.notes.append(f"{self.clock():.2f} {text}")

    # --- the thread ---------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self.stopped.is_set():
                if self.ws is None and not self._connect():
                    continue
                now = self.clock()
                if not self.subscribed and self.sub_retry_at and now >= self.sub_retry_at:
                    self._subscribe()
                self._maybe_send(now)
                self._read(self._read_timeout())
        except Exception as exc:  # noqa: BLE001 - kept for the report; a dead driver fails checks
            self.crash = repr(exc)
            self.note(f"driver crash {exc!r}")
        finally:
            self._close_ws()

    def _read_timeout(self) -> float:
        now = self.clock()
        wake = now + 0.2
        if self.pending is not None:
            wake = min(wake, self.pending.retry_at)
        elif self.sending:
            wake = min(wake, self.next_send_at)
        if not self.subscribed and self.sub_retry_at:
            wake = min(wake, self.sub_retry_at)
        return max(0.01, wake - now)

    def _other_edge(self) -> str:
        names = sorted(self.edges)
        return names[(names.index(self.edge) + 1) % len(names)]

    def _connect(self) -> bool:
        url = f"{self.edges[self.edge]}?access_token={self.token}"
        try:
            self.ws = websocket.create_connection(url, timeout=5, enable_multithread=True)
        except Exception as exc:  # noqa: BLE001 - refused, 503 while shutting down, 5xx...
            self.ws = None
            self.errors["connect failed"] += 1
            self.note(f"connect {self.edge} failed: {exc!r}"[:200])
            self.edge = self._other_edge()
            self._sleep_backoff()
            return False
        self.conn_no += 1
        self.connections.append((self.edge, self.clock()))
        self.note(f"connected to {self.edge} (conn {self.conn_no})")
        self.subscribed = False
        self._subscribe()
        return True

    def _sleep_backoff(self) -> None:
        self.backoff = min(BACKOFF_MAX_S, max(BACKOFF_MIN_S, self.backoff * 2))
        self.stopped.wait(self.backoff * random.uniform(0.5, 1.0))

    def _subscribe(self) -> None:
        self.sub_retry_at = self.clock() + SUBSCRIBE_TIMEOUT_S   # no answer at all: ask again
        self._send_frame({"type": "subscribe", "room": self.room, "afterSeq": self.last_seq})

    def _send_frame(self, frame: dict) -> None:
        try:
            self.ws.send(orjson.dumps(frame).decode())
        except Exception as exc:  # noqa: BLE001 - the reader notices the drop too
            self._drop(f"send failed: {exc!r}")

    def _drop(self, why: str) -> None:
        if self.ws is None:
            return
        self.drops.append((self.edge, self.clock(), why[:120]))
        self.waiting.clear()   # what was sent on it cannot be answered any more
        self.note(f"dropped from {self.edge}: {why}"[:200])
        self._close_ws()
        self.subscribed = False
        self.edge = self._other_edge()       # the other edge first; back here if that fails
        self._sleep_backoff()

    def _close_ws(self) -> None:
        ws, self.ws = self.ws, None
        if ws is not None:
            try:
                ws.close(timeout=0.5)
            except Exception:  # noqa: BLE001
                pass

    def _maybe_send(self, now: float) -> None:
        if self.ws is None or not self.subscribed:
            return
        if self.pending is None:
            if not self.sending or now < self.next_send_at:
                return
            self.n += 1
            cid = f"c{self.n}-{uuid.uuid4().hex[:16]}"
            self.pending = Pending(cid, self.n, f"{self.user_id}#{self.n}", now)
            self.sent[cid] = self.n
        p = self.pending
        if p.conn_no == self.conn_no and now < p.retry_at:
            return
        attempts = self.waiting.setdefault(p.cid, deque())
        if attempts:   # the last attempt got neither an ack nor an error within ACK_TIMEOUT_S (yet)
            self.errors["no answer"] += 1
        attempts.append(now)
        p.attempts += 1
        self.attempts += 1
        p.conn_no, p.retry_at = self.conn_no, now + ACK_TIMEOUT_S
        if p.attempts > 1:
            self.note(f"resend {p.cid} (attempt {p.attempts}) on {self.edge}")
        self._send_frame({"type": "send", "room": self.room, "clientMsgId": p.cid, "body": p.body})

    def _read(self, timeout: float) -> None:
        ws = self.ws
        if ws is None:
            return
        try:
            ws.settimeout(timeout)
            opcode, data = ws.recv_data()
        except websocket.WebSocketTimeoutException:
            return
        except Exception as exc:  # noqa: BLE001 - closed, reset, EOF: the edge is gone
            self._drop(repr(exc))
            return
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = int.from_bytes(data[:2], "big") if len(data) >= 2 else None
            self._drop(f"close {code} {data[2:].decode('utf-8', 'replace')}")
            return
        try:
            frame = orjson.loads(data)
        except orjson.JSONDecodeError:
            self.errors["bad frame from server"] += 1
            return
        self._handle(frame)

    def _handle(self, frame: dict) -> None:
        kind, now = frame.get("type"), self.clock()
        if kind == contracts.EVENT_MESSAGE and frame.get("room") == self.room:
            seq = frame["seq"]
            if seq > self.last_seq + 1:
                self.live_gaps.append((self.last_seq, seq, self.conn_no))
            self.received.append(Received(seq, frame.get("messageId"), frame.get("clientMsgId"),
                                          frame.get("senderId"), frame.get("body"), self.conn_no, now))
            self.last_seq = max(self.last_seq, seq)
            hook = self.on_message
            if hook is not None:
                hook()
        elif kind == contracts.EVENT_ACK:
            cid = frame.get("clientMsgId")
            p = self.pending
            if cid in self.sent and cid not in self.acked:
                latency = now - p.created if p is not None and p.cid == cid else None
                self.acked[cid] = (self.sent[cid], frame.get("partition"), frame.get("offset"), latency, now)
            self._answered(cid, now, "ack")
            if p is not None and p.cid == cid:
                self.pending = None
                self.next_send_at = (p.created if self.steady else now) + self.interval
        elif kind == "subscribed" and frame.get("room") == self.room:
            self.subscribed = True
            self.backoff = 0.0
        elif kind == contracts.EVENT_ERROR:
            self._error(frame, now)

    def _answered(self, cid: str, now: float, outcome: str) -> None:
        """The edge answers a connection's attempts in order: this answers the oldest one."""
        attempts = self.waiting.get(cid)
        if attempts:
            self.answers.append((attempts.popleft(), now, outcome))

    def unanswered(self) -> int:
        """Attempts on a connection still open that never got an ack or an error."""
        return sum(len(attempts) for attempts in self.waiting.values())

    def _error(self, frame: dict, now: float) -> None:
        code, ref, p = frame.get("code"), frame.get("ref"), self.pending
        self.errors[code] += 1
        self.note(f"error {code} ref={ref}: {frame.get('message', '')}"[:200])
        if ref == self.room and not self.subscribed:     # subscribe refused: try again
            self.sub_retry_at = now + max(BACKOFF_MIN_S, self.backoff)
            self.backoff = min(BACKOFF_MAX_S, max(BACKOFF_MIN_S, self.backoff * 2))
        elif p is not None and (ref == p.cid or (ref is None and code == contracts.ERR_RATE_LIMITED)):
            self._answered(p.cid, now, code)
            if code in (contracts.ERR_UNAVAILABLE, contracts.ERR_INTERNAL, contracts.ERR_RATE_LIMITED):
                p.retry_at = min(p.retry_at, now + ERROR_RETRY_S)
            else:  # refused for good (forbidden, bad request): a setup bug, reported by the checks
                self.rejected[p.cid] = code
                self.pending = None
                self.next_send_at = now + self.interval
