"""The seam between a session and a wire protocol (JSON now, STOMP 1.2 through an adapter).

A session never parses or formats frames. It hands each incoming WebSocket message to
`Protocol.decode`, which returns typed *actions*; it carries them out (produce to Kafka,
check membership, subscribe...) and asks the protocol to *render* the outcome. Everything
a protocol renders is a `bytes` frame, sent as a text frame unless `Protocol.binary`.

Actions (client → session), plain dataclasses:
    Send(room, client_msg_id, body, receipt, kind, fields)
                                                      produce; ack only from the delivery report.
                                                      `kind` is the record type (a send, or an
                                                      edit / delete / reaction of a message);
                                                      `fields` the record's other fields
                                                      (messageId, emoji, replyTo)
    Subscribe(room, after_seq, receipt)               membership, subscribe, catch-up, "subscribed"
    Unsubscribe(room, receipt)
    Typing(room)
    Ping(receipt)                                     application-level ping (JSON) / receipt
    Disconnect(receipt)                               client says goodbye (STOMP DISCONNECT)
    Authenticate(token, receipt)                      the token of a socket opened without one
                                                      (STOMP CONNECT, JSON `auth`); the session
                                                      verifies it, then `render_authenticated`
    Reply(frames, close=None)                         the protocol answered by itself (STOMP
                                                      CONNECT → CONNECTED, heart-beat EOLs → no frames)
    Invalid(code, message, ref, fatal)                bad input: render_error; close if fatal

`receipt` is opaque to the session: whatever the protocol needs to answer later (the STOMP
`receipt` header; None for JSON). Subscription ids are the protocol's business: a STOMP
adapter keeps `id → room` itself and turns an UNSUBSCRIBE id into a room before returning
the action, and looks the id up again in `render_event`.

Rendering (session → client). Every method returns a list of frames (maybe empty):
    render_ack(send, partition, offset)       after the Kafka delivery report (STOMP: RECEIPT)
    render_error(code, message, ref, action)  error event (STOMP: ERROR, then the session closes
                                              when `error_is_fatal`)
    render_authenticated(auth, identity)      first-frame token accepted (STOMP: CONNECTED)
    render_flow(window)                       the send window granted now (JSON: a `flow` event;
                                              STOMP: only in CONNECTED, `tidings-flow-window`)
    render_revoked(room, reason)              the subscription ended: no longer a member (STOMP:
                                              ERROR naming the subscription, then close)
    render_subscribed(subscribe, last_seq)    after the catch-up (STOMP: RECEIPT if asked)
    render_unsubscribed(unsubscribe)
    render_pong(ping)
    render_disconnect(disconnect)             before the session closes (STOMP: RECEIPT)
    render_event(event)                       message / typing / presence / error events posted
                                              by the worker (a `ServerEvent`)
    render_raw(data)                          plain data posted for a non-JSON client
    render_close(code, reason)                last words before a close frame (STOMP: ERROR)
    heartbeat()                               an application heart-beat frame, or None to use a
                                              WebSocket ping (STOMP: b"\\n" once negotiated)

Heart-beats: `heartbeat_out_ms` is how often the session sends `heartbeat()` (0: the
session's default, `settings.heartbeat_ms`), `heartbeat_in_ms` how often the client
promised to send something (0: no promise; the session then applies its idle timeout).
A STOMP adapter sets both from the CONNECT frame's `heart-beat` header.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from functions import contracts

Frame = bytes


# --- actions --------------------------------------------------------------------------
@dataclass(frozen=True)
class Send:
    room: str
    client_msg_id: str
    body: str | None
    receipt: Any = None
    kind: str = contracts.RECORD_SEND
    fields: tuple[tuple[str, Any], ...] = ()

    def record_fields(self) -> dict:
        """What the Kafka record carries besides the edge's stamps."""
        out = {"clientMsgId": self.client_msg_id, **dict(self.fields)}
        if self.body is not None:
            out["body"] = self.body
        return out


@dataclass(frozen=True)
class Subscribe:
    room: str
    after_seq: int | None = None
    receipt: Any = None


@dataclass(frozen=True)
class Unsubscribe:
    room: str
    receipt: Any = None


@dataclass(frozen=True)
class Typing:
    room: str


@dataclass(frozen=True)
class Ping:
    receipt: Any = None


@dataclass(frozen=True)
class Disconnect:
    receipt: Any = None


@dataclass(frozen=True)
class Authenticate:
    token: str
    receipt: Any = None


@dataclass(frozen=True)
class Reply:
    frames: list[Frame] = field(default_factory=list)
    close: tuple[int, str] | None = None   # close the socket after the frames


@dataclass(frozen=True)
class Invalid:
    code: str            # contracts.ERR_*
    message: str
    ref: str | None = None
    fatal: bool = False  # close after the error (STOMP: always)
    receipt: Any = None


Action = Send | Subscribe | Unsubscribe | Typing | Ping | Disconnect | Authenticate | Reply | Invalid


# --- server events ----------------------------------------------------------------------
class ServerEvent:
    """One event posted through the delivery API, shared by every recipient of a batch item.

    The JSON encoding is computed at most once (`json_bytes`), however many sessions render it.
    """

    __slots__ = ("data", "_json")

    def __init__(self, data: dict, json_bytes: bytes | None = None):
        self.data = data
        self._json = json_bytes

    @property
    def type(self) -> str | None:
        return self.data.get("type")

    @property
    def room(self) -> str | None:
        room = self.data.get("room")
        return room if isinstance(room, str) else None

    @property
    def seq(self) -> int | None:
        """The room seq a message event carries (other events, a change's included, have none
        for ordering: a change names its message, it is not a new seq of the room)."""
        if self.data.get("type") != contracts.EVENT_MESSAGE:
            return None
        seq = self.data.get("seq")
        return seq if isinstance(seq, int) and not isinstance(seq, bool) else None

    @property
    def json_bytes(self) -> bytes:
        if self._json is None:
            self._json = contracts.encode(self.data)
        return self._json

    def __repr__(self) -> str:
        return f"ServerEvent({self.data!r})"


# --- the interface ----------------------------------------------------------------------
class Protocol(ABC):
    """One connection's protocol state. Built per session: `factory(identity, settings)`."""

    name: str = ""
    binary: bool = False
    heartbeat_out_ms: int = 0
    heartbeat_in_ms: int = 0
    error_is_fatal: bool = False
    # True once the protocol rendered something after which the connection must end
    # (STOMP: any ERROR frame); the session then closes after sending it.
    failed: bool = False
    # close codes the session uses for these situations (the protocol may prefer others)
    close_token_expired: int = 4001
    # Set by the session for a socket opened without a token: the first frame must carry
    # one (`Authenticate`); anything else is refused. `render_authenticated` clears it.
    awaiting_auth: bool = False
    # The send window the edge grants now (backpressure), for protocols that announce it at
    # connect (STOMP's CONNECTED); None: not announced.
    flow_window: int | None = None

    @abstractmethod
    def decode(self, message: str | bytes) -> list[Action]:
        """Client message → actions. Never raises: bad input is an `Invalid` action."""

    @abstractmethod
    def render_ack(self, send: Send, partition: int, offset: int) -> list[Frame]: ...

    @abstractmethod
    def render_error(self, code: str, message: str, ref: str | None = None,
                     action: Action | None = None) -> list[Frame]: ...

    @abstractmethod
    def render_subscribed(self, subscribe: Subscribe, last_seq: int | None) -> list[Frame]: ...

    @abstractmethod
    def render_unsubscribed(self, unsubscribe: Unsubscribe) -> list[Frame]: ...

    @abstractmethod
    def render_pong(self, ping: Ping) -> list[Frame]: ...

    @abstractmethod
    def render_event(self, event: ServerEvent) -> list[Frame]: ...

    @abstractmethod
    def render_authenticated(self, auth: Authenticate, identity: Any) -> list[Frame]:
        """The socket's first-frame token was valid: take `identity`, say so to the client."""

    @abstractmethod
    def render_revoked(self, room: str, reason: str) -> list[Frame]:
        """The connection's subscription to `room` ended (e.g. the user was removed)."""

    def render_flow(self, window: int) -> list[Frame]:
        """The client may have `window` unacknowledged sends out (backpressure)."""
        return []

    def render_disconnect(self, disconnect: Disconnect) -> list[Frame]:
        return []

    def render_raw(self, data: bytes) -> list[Frame]:
        return [data]

    def render_close(self, code: int, reason: str) -> list[Frame]:
        return []

    def heartbeat(self) -> Frame | None:
        return None
