"""STOMP 1.2 (and 1.1, 1.0) as a `Protocol` adapter: subprotocols v12.stomp, v11.stomp, v10.stomp.

The clients of the system tidings replaces connect unchanged: CONNECT (or STOMP), SEND to
`/pub/chat/send/{roomId}` with a JSON body `{"content": "..."}`, SUBSCRIBE to
`/sub/chat/{roomId}`. Framing is `stomp.py`'s codec, the handshake's terms `stomp_handshake.py`,
what a SEND says `stomp_send.py` and MESSAGE frames `stomp_messages.py`; this module maps
frames to the session's actions and the session's outcomes to frames, and keeps the
connection's state (version, subscriptions). Behaviour and the choices made
(errors, NACK, credentials in CONNECT) are written down in docs/stomp.md.

STOMP has one error frame, ERROR, and it ends the connection: every `Invalid` this adapter
returns is fatal and `error_is_fatal` is set. After an ERROR the adapter takes no more
frames: if the session has not closed by the next input, that input closes it.
"""

from __future__ import annotations

import functools
import re
import uuid
from typing import Any, Callable

from functions import contracts, tokens
from functions.contracts import has_control_chars
from websocket_edge import stomp
from websocket_edge.protocol import (Action, Authenticate, Disconnect, Frame, Invalid, Protocol, Reply,
                                     Send, ServerEvent, Subscribe, Unsubscribe)
from websocket_edge.stomp import HEARTBEAT, StompError
from websocket_edge.stomp_destinations import SUBSCRIBE_PREFIX, parse_subscribe_destination, subscribe_destination
from websocket_edge.stomp_handshake import SUBPROTOCOLS, SUPPORTED_VERSIONS, negotiate_heartbeat, negotiate_version
from websocket_edge.stomp_messages import Subscription, chat_body, message_frame, raw_frame, signal_body
from websocket_edge.stomp_send import CLIENT_MSG_ID_HEADER, Ref, send_action
from websocket_edge.stomp_send import Refuse as _Refuse

SERVER = "tidings/0.1"
# MESSAGE frames that are not chat messages: typing|presence|error|edited|deleted|reaction
EVENT_HEADER = "tidings-event"
REF_HEADER = "tidings-ref"            # on ERROR: the client message id / room the error is about
REASON_HEADER = "tidings-reason"      # on the ERROR that ends a subscription: why ("removed")
FLOW_WINDOW_HEADER = "tidings-flow-window"   # on CONNECTED: unacknowledged sends allowed (backpressure)
AFTER_SEQ_HEADER = "after-seq"
ACK_MODES = ("auto", "client", "client-individual")
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_NORMAL = 1000
_SEQ_RE = re.compile(r"[0-9]{1,15}")
_JWT_RE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# Close codes the session uses → the ERROR `message` (a contracts.ERR_* code) we send before them.
_CLOSE_CODES = {4001: contracts.ERR_UNAUTHORIZED, 1008: contracts.ERR_RATE_LIMITED,
                1009: contracts.ERR_TOO_LARGE, 1011: contracts.ERR_INTERNAL}


def _receipt_of(action: Any) -> Ref:
    ref = getattr(action, "receipt", None)
    return ref if isinstance(ref, Ref) else Ref()


class StompProtocol(Protocol):
    name = "v12.stomp"
    error_is_fatal = True

    def __init__(self, identity: tokens.Identity | None = None, settings=None,
                 subprotocol: str | None = None, *,
                 verify: Callable = tokens.verify, new_id: Callable[[], str] = lambda: uuid.uuid4().hex):
        self.identity = identity
        self.settings = settings
        self.subprotocol = subprotocol
        if subprotocol:
            self.name = subprotocol
        self._verify = verify
        self._new_id = new_id
        self.session_id = new_id()
        max_body = getattr(settings, "max_message_bytes", None) or stomp.DEFAULT_MAX_BODY
        self._parser = stomp.Parser(max_body=max_body, commands=stomp.CLIENT_COMMANDS)
        self.version: str | None = None      # set by CONNECT
        self.subscriptions: dict[str, Subscription] = {}   # id → subscription
        self._by_room: dict[str, list[Subscription]] = {}  # room → its subscriptions, in order
        self.failed = False                 # an ERROR went out: no more frames
        self._message_counter = 0

    @property
    def connected(self) -> bool:
        return self.version is not None

    # --- decoding -----------------------------------------------------------------------
    def decode(self, message: str | bytes) -> list[Action]:
        if self.failed:
            return [Reply([], close=(CLOSE_PROTOCOL_ERROR, "no frames accepted after ERROR"))]
        try:
            items = self._parser.feed(message)
        except StompError as exc:
            return [self._fatal(_Refuse(contracts.ERR_BAD_FRAME, exc.message, exc.receipt_id))]
        actions: list[Action] = []
        for item in items:
            if item is HEARTBEAT:
                continue
            try:
                action = self._frame(item)
            except StompError as exc:
                action = self._fatal(_Refuse(contracts.ERR_BAD_FRAME, exc.message, exc.receipt_id))
            except _Refuse as refuse:
                action = self._fatal(refuse)
            if action is not None:
                actions.append(action)
            if self.failed:
                break   # frames after a fatal one in the same message are not looked at
        return actions

    def _fatal(self, refuse: _Refuse) -> Invalid:
        self.failed = True
        return Invalid(refuse.code, refuse.message, refuse.ref, fatal=True,
                       receipt=Ref(refuse.receipt, headers=refuse.headers))

    def _frame(self, frame: stomp.Frame) -> Action | None:
        command, receipt = frame.command, frame.get("receipt")
        for name, value in frame.headers:   # ids, destinations, receipts: never control characters
            if has_control_chars(name) or has_control_chars(value):
                raise _Refuse(contracts.ERR_BAD_FRAME, f"control character in header {name[:40]!r}",
                              None if has_control_chars(receipt or "") else receipt)
        if command in ("CONNECT", "STOMP"):
            if self.connected:
                raise _Refuse(contracts.ERR_BAD_REQUEST, "already connected", receipt)
            return self._connect(frame)
        if not self.connected:
            raise _Refuse(contracts.ERR_BAD_REQUEST, f"expected CONNECT or STOMP first, got {command}", receipt)
        if command in ("BEGIN", "COMMIT", "ABORT") or frame.get("transaction") is not None:
            raise _Refuse(contracts.ERR_BAD_REQUEST, "transactions not supported", receipt)
        if command == "SEND":
            return send_action(frame, receipt, self._new_id)
        if command == "SUBSCRIBE":
            return self._subscribe(frame, receipt)
        if command == "UNSUBSCRIBE":
            return self._unsubscribe(frame, receipt)
        if command in ("ACK", "NACK"):
            return self._ack(frame, receipt)
        if command == "DISCONNECT":
            return Disconnect(Ref(receipt))
        raise _Refuse(contracts.ERR_UNKNOWN_TYPE, f"unexpected command {command}", receipt)  # pragma: no cover

    def _connect(self, frame: stomp.Frame) -> Reply | Authenticate:
        try:
            version = negotiate_version(frame.get("accept-version"), self.subprotocol)
        except StompError as exc:
            raise _Refuse(contracts.ERR_BAD_REQUEST, exc.message,
                          headers=(("version", ",".join(SUPPORTED_VERSIONS)),)) from None
        wish = getattr(self.settings, "heartbeat_ms", 10000)
        send_ms, expect_ms = negotiate_heartbeat(frame.get("heart-beat"), wish, wish)
        token = self._credentials(frame)
        if self.awaiting_auth:   # no token at the handshake: this CONNECT must carry it
            if not token:
                raise _Refuse(contracts.ERR_UNAUTHORIZED, "CONNECT needs the token: an Authorization: Bearer "
                                                          "header, or the JWT as passcode")
            self._agree(version, send_ms, expect_ms)
            return Authenticate(token, Ref(frame.get("receipt")))
        self._check_same_user(token)
        self._agree(version, send_ms, expect_ms)
        return Reply([self._connected()])

    def _agree(self, version: str, send_ms: int, expect_ms: int) -> None:
        self.version = self._parser.version = version
        self.heartbeat_out_ms, self.heartbeat_in_ms = send_ms, expect_ms

    def _connected(self) -> Frame:
        frame = stomp.connected(self.version, (self.heartbeat_out_ms, self.heartbeat_in_ms), SERVER, self.session_id)
        if self.flow_window is not None:
            frame.headers.append((FLOW_WINDOW_HEADER, str(self.flow_window)))
        return self._out(frame)

    def render_authenticated(self, auth: Authenticate, identity: tokens.Identity) -> list[Frame]:
        self.identity, self.awaiting_auth = identity, False
        return [self._connected()]

    @staticmethod
    def _credentials(frame: stomp.Frame) -> str:
        """The token of a CONNECT: `Authorization: Bearer <jwt>` (what Spring clients send), or
        a JWT as `passcode`; "" when there is none."""
        scheme, _, token = (frame.get("Authorization") or frame.get("authorization") or "").strip().partition(" ")
        token = token.strip() if scheme.lower() == "bearer" else ""
        if not token and _JWT_RE.fullmatch(frame.get("passcode") or ""):
            token = frame.get("passcode")
        return token

    def _check_same_user(self, token: str) -> None:
        """The token was checked at the handshake; one in CONNECT too must name the same user."""
        if not token or self.identity is None:
            return
        try:
            claimed = self._verify(self.settings, token)
        except tokens.TokenError as exc:
            raise _Refuse(contracts.ERR_UNAUTHORIZED, f"Authorization in CONNECT: {exc}") from None
        if claimed.user_id != self.identity.user_id:
            raise _Refuse(contracts.ERR_UNAUTHORIZED, "Authorization in CONNECT names another user "
                                                      "than the connection's token")

    def _subscribe(self, frame: stomp.Frame, receipt: str | None) -> Subscribe:
        destination = frame.get("destination")
        room = parse_subscribe_destination(destination)
        if room is None:
            what = "missing destination" if destination is None else f"unknown destination {destination[:80]!r}"
            raise _Refuse(contracts.ERR_BAD_REQUEST, f"{what} (subscribe to {SUBSCRIBE_PREFIX}{{roomId}})",
                          receipt)
        sub_id = frame.get("id")
        if sub_id is None:
            if self.version != "1.0":
                raise _Refuse(contracts.ERR_BAD_REQUEST, "SUBSCRIBE needs an id header", receipt, room)
            sub_id = destination   # STOMP 1.0: the id is optional
        if sub_id in self.subscriptions:
            raise _Refuse(contracts.ERR_BAD_REQUEST, f"subscription id {sub_id[:64]!r} already in use", receipt, room)
        limit = getattr(self.settings, "max_subscriptions_per_connection", 200)
        if len(self.subscriptions) >= limit:   # ids, not only rooms: many ids on one room cost memory too
            raise _Refuse(contracts.ERR_BAD_REQUEST, f"too many subscriptions on this connection (limit {limit})",
                          receipt, room)
        ack = frame.get("ack", "auto")
        if ack not in ACK_MODES:
            raise _Refuse(contracts.ERR_BAD_REQUEST, f"unsupported ack mode {ack[:40]!r}", receipt, room)
        after = frame.get(AFTER_SEQ_HEADER)
        if after is not None and not _SEQ_RE.fullmatch(after):
            raise _Refuse(contracts.ERR_BAD_REQUEST, "after-seq must be a non-negative integer", receipt, room)
        sub = Subscription(sub_id, room, ack)
        self.subscriptions[sub_id] = sub
        self._by_room.setdefault(room, []).append(sub)
        return Subscribe(room, None if after is None else int(after), Ref(receipt, sub_id))

    def _forget(self, sub_id: str) -> Subscription | None:
        sub = self.subscriptions.pop(sub_id, None)
        if sub is not None:
            subs = [s for s in self._by_room.get(sub.room, ()) if s.id != sub_id]
            if subs:
                self._by_room[sub.room] = subs
            else:
                self._by_room.pop(sub.room, None)
        return sub

    def _unsubscribe(self, frame: stomp.Frame, receipt: str | None) -> Action:
        sub_id = frame.get("id")
        if sub_id is None and self.version == "1.0":
            sub_id = frame.get("destination")
        if sub_id is None:
            raise _Refuse(contracts.ERR_BAD_REQUEST, "UNSUBSCRIBE needs an id header", receipt)
        sub = self._forget(sub_id)
        if sub is None or sub.room in self._by_room:
            # an unknown id (already gone: unsubscribing is idempotent), or the room is still
            # subscribed under another id: nothing for the session to do
            return Reply(self._receipt(receipt))
        return Unsubscribe(sub.room, Ref(receipt))

    def _ack(self, frame: stomp.Frame, receipt: str | None) -> Reply:
        """Accepted and answered; delivery is at least once with gapless catch-up by seq, so a
        NACK does not redeliver (see docs/stomp.md)."""
        needed = "id" if self.version == "1.2" else "message-id"
        if frame.get(needed) is None:
            raise _Refuse(contracts.ERR_BAD_REQUEST, f"{frame.command} needs a {needed} header", receipt)
        return Reply(self._receipt(receipt))

    # --- rendering ----------------------------------------------------------------------
    def _out(self, frame: stomp.Frame) -> Frame:
        return stomp.serialize(frame, self.version or "1.2")

    def _receipt(self, receipt: str | None, *extra: tuple[str, str]) -> list[Frame]:
        if receipt is None:
            return []
        frame = stomp.receipt(receipt)
        frame.headers.extend(extra)
        return [self._out(frame)]

    def _error_frame(self, code: str, message: str, receipt: str | None = None,
                     headers: tuple[tuple[str, str], ...] | list = ()) -> Frame:
        self.failed = True
        return self._out(stomp.error(code, message, receipt, headers))

    def render_ack(self, send: Send, partition: int, offset: int) -> list[Frame]:
        return self._receipt(_receipt_of(send).receipt, (CLIENT_MSG_ID_HEADER, send.client_msg_id))

    def render_error(self, code: str, message: str, ref: str | None = None,
                     action: Action | None = None) -> list[Frame]:
        context = _receipt_of(action)
        if isinstance(action, Subscribe) and context.sub_id is not None:
            sub = self.subscriptions.get(context.sub_id)
            if sub is not None and sub.room == action.room:
                self._forget(context.sub_id)   # the subscription did not happen
        headers = list(context.headers)
        if ref is not None:
            headers.append((REF_HEADER, ref))
        return [self._error_frame(code, message, context.receipt, headers)]

    def render_subscribed(self, subscribe: Subscribe, last_seq: int | None) -> list[Frame]:
        extra = () if last_seq is None else (("last-seq", str(last_seq)),)
        return self._receipt(_receipt_of(subscribe).receipt, *extra)

    def render_revoked(self, room: str, reason: str) -> list[Frame]:
        """STOMP has no per-subscription error: one ERROR naming the subscription(s) of the room
        (the connection then closes; the client reconnects without that room)."""
        subs = self._by_room.get(room, [])
        for sub in list(subs):
            self._forget(sub.id)
        headers = [(EVENT_HEADER, contracts.EVENT_UNSUBSCRIBED), (REF_HEADER, room), (REASON_HEADER, reason),
                   ("destination", subscribe_destination(room))]
        headers += [("subscription", sub.id) for sub in subs[:1]]
        return [self._error_frame(contracts.ERR_FORBIDDEN, f"no longer a member of room {room} ({reason})",
                                  None, headers)]

    def render_unsubscribed(self, unsubscribe: Unsubscribe) -> list[Frame]:
        return self._receipt(_receipt_of(unsubscribe).receipt)

    def render_pong(self, ping) -> list[Frame]:
        return self._receipt(_receipt_of(ping).receipt)

    def render_disconnect(self, disconnect: Disconnect) -> list[Frame]:
        return self._receipt(_receipt_of(disconnect).receipt)

    def render_event(self, event: ServerEvent) -> list[Frame]:
        kind, room = event.type, event.room
        subs = self._by_room.get(room, ()) if room is not None else ()
        if kind == contracts.EVENT_MESSAGE:
            seq = () if event.seq is None else (("seq", str(event.seq)),)
            return self._messages(subs, chat_body(event), seq,
                                  str(event.data.get("messageId") or contracts.message_id(room, event.seq)))
        if kind in (contracts.EVENT_TYPING, contracts.EVENT_PRESENCE, contracts.EVENT_ATTACHMENT,
                    *contracts.EVENT_CHANGES):
            return self._messages(subs, signal_body(event), ((EVENT_HEADER, kind),))
        if kind == contracts.EVENT_ERROR:
            code = str(event.data.get("code") or contracts.ERR_INTERNAL)
            message = str(event.data.get("message") or "")
            ref = event.data.get("ref")
            if subs:   # a per-message rejection on a room the client watches: not fatal
                return self._messages(subs, signal_body(event), ((EVENT_HEADER, kind),))
            headers = [(REF_HEADER, str(ref))] if ref is not None else []
            return [self._error_frame(code, message, None, headers)]
        return []   # an event type this protocol does not show

    def _messages(self, subs, body: bytes, headers: tuple, message_id: str | None = None) -> list[Frame]:
        """One MESSAGE per subscription; without a `message_id` each gets one of this session's."""
        return [self._out(message_frame(sub, self._next_message_id() if message_id is None else message_id,
                                        body, headers, self.version)) for sub in subs]

    def _next_message_id(self) -> str:
        self._message_counter += 1
        return f"{self.session_id}-{self._message_counter}"

    def render_raw(self, data: bytes) -> list[Frame]:
        """Raw data posted to the connection: one MESSAGE on its oldest subscription (raw bytes
        are no STOMP frame); with no subscription a STOMP client has nowhere to see it."""
        if not self.subscriptions:
            return []
        sub = next(iter(self.subscriptions.values()))
        return [self._out(raw_frame(sub, self._next_message_id(), data, ((EVENT_HEADER, "raw"),)))]

    def render_close(self, code: int, reason: str) -> list[Frame]:
        if code == CLOSE_NORMAL or self.failed:
            return []   # a normal goodbye, or the ERROR already went out
        code_name = _CLOSE_CODES.get(code, contracts.ERR_UNAVAILABLE)
        return [self._error_frame(code_name, reason or "connection closed")]

    def heartbeat(self) -> Frame | None:
        return stomp.HEARTBEAT_BYTES if self.heartbeat_out_ms else None


def stomp_protocols() -> dict[str, Callable]:
    """Subprotocol name → factory `(identity, settings) -> StompProtocol`, for `deps.default_protocols`."""
    return {name: functools.partial(StompProtocol, subprotocol=name) for name in SUBPROTOCOLS}
