"""The JSON protocol (subprotocol `tidings.json`, or none offered). See docs/protocol.md.

Client messages are JSON objects with a `type`; anything wrong with one is an error frame
and the connection stays usable. Sender and role never come from here: fields such as
`senderId` are ignored, the session stamps them from the token.
"""

from __future__ import annotations

from typing import Any

import orjson

from functions import contracts
from functions.contracts import CLIENT_MSG_ID, MAX_BODY_CHARS, ROOM_ID
from websocket_edge.protocol import (Action, Authenticate, Frame, Invalid, Ping, Protocol,
                                     ServerEvent, Send, Subscribe, Typing, Unsubscribe)

_dumps = orjson.dumps


class _Bad(Exception):
    def __init__(self, code: str, message: str, ref: str | None = None):
        super().__init__(message)
        self.code, self.message, self.ref = code, message, ref


def _room(obj: dict) -> str:
    room = obj.get("room")
    if room is None:
        raise _Bad(contracts.ERR_BAD_REQUEST, "missing field: room")
    if not ROOM_ID.valid(room):
        raise _Bad(contracts.ERR_BAD_REQUEST, "bad room id")
    return room


def _ids(obj: dict) -> tuple[str, str]:
    """(room, clientMsgId) of a send or a change; errors name the clientMsgId when valid."""
    client_msg_id = obj.get("clientMsgId")
    ref = client_msg_id if CLIENT_MSG_ID.valid(client_msg_id) else None
    try:
        room = _room(obj)
    except _Bad as bad:
        raise _Bad(bad.code, bad.message, ref) from None
    if client_msg_id is None:
        raise _Bad(contracts.ERR_BAD_REQUEST, "missing field: clientMsgId")
    if ref is None:
        raise _Bad(contracts.ERR_BAD_REQUEST, "bad clientMsgId")
    return room, client_msg_id


def _body(obj: dict, ref: str) -> str:
    body = obj.get("body")
    if body is None:
        raise _Bad(contracts.ERR_BAD_REQUEST, "missing field: body", ref)
    if not isinstance(body, str) or not body.strip():
        raise _Bad(contracts.ERR_BAD_REQUEST, "body must be non-empty text", ref)
    if len(body) > MAX_BODY_CHARS:
        raise _Bad(contracts.ERR_TOO_LARGE, f"body over {MAX_BODY_CHARS} characters", ref)
    return body


def _message_id(obj: dict, field: str, room: str, ref: str) -> str:
    """A message id of this room (`{roomId}:{seq}`); whether it exists the worker decides."""
    value = obj.get(field)
    if value is None:
        raise _Bad(contracts.ERR_BAD_REQUEST, f"missing field: {field}", ref)
    named = contracts.parse_message_id(value)
    if named is None:
        raise _Bad(contracts.ERR_BAD_REQUEST, f"bad {field} (a messageId, roomId:seq)", ref)
    if named[0] != room:
        raise _Bad(contracts.ERR_BAD_REQUEST, f"{field} is not a message of room {room}", ref)
    return value


class JsonProtocol(Protocol):
    name = "tidings.json"

    def __init__(self, identity=None, settings=None):
        self.identity = identity
        self.settings = settings

    # --- decoding -----------------------------------------------------------------------
    def decode(self, message: str | bytes) -> list[Action]:
        try:
            obj = orjson.loads(message)
        except orjson.JSONDecodeError:
            return [Invalid(contracts.ERR_BAD_FRAME, "not valid JSON")]
        if not isinstance(obj, dict):
            return [Invalid(contracts.ERR_BAD_FRAME, "expected a JSON object")]
        kind = obj.get("type")
        if kind is None:
            return [Invalid(contracts.ERR_BAD_REQUEST, "missing field: type")]
        if self.awaiting_auth:   # opened without a token: `auth` first, nothing else
            if kind != "auth":
                return [Invalid(contracts.ERR_UNAUTHORIZED,
                                'authenticate first: {"type":"auth","token":"<JWT>"}', fatal=True)]
            token = obj.get("token")
            if not isinstance(token, str) or not token:
                return [Invalid(contracts.ERR_UNAUTHORIZED, "auth needs a token (a JWT string)", fatal=True)]
            return [Authenticate(token)]
        if kind == "auth":
            return [Invalid(contracts.ERR_BAD_REQUEST, "already authenticated")]
        decoder = self._decoders.get(kind) if isinstance(kind, str) else None
        if decoder is None:
            return [Invalid(contracts.ERR_UNKNOWN_TYPE, f"unknown type: {str(kind)[:40]}")]
        try:
            return [decoder(obj)]
        except _Bad as bad:
            return [Invalid(bad.code, bad.message, bad.ref)]

    @staticmethod
    def _send(obj: dict) -> Send:
        room, client_msg_id = _ids(obj)
        body = _body(obj, client_msg_id)
        fields = ()
        if obj.get("replyTo") is not None:
            fields = (("replyTo", _message_id(obj, "replyTo", room, client_msg_id)),)
        if obj.get("attachment") is not None:
            problem = contracts.attachment_problem(obj["attachment"], room)
            if problem is not None:
                raise _Bad(contracts.ERR_BAD_REQUEST, problem, client_msg_id)
            fields += (("attachment", {"key": obj["attachment"]["key"]}),)
        return Send(room, client_msg_id, body, fields=fields)

    @staticmethod
    def _edit(obj: dict) -> Send:
        room, client_msg_id = _ids(obj)
        target = _message_id(obj, "messageId", room, client_msg_id)
        return Send(room, client_msg_id, _body(obj, client_msg_id), kind=contracts.RECORD_EDIT,
                    fields=(("messageId", target),))

    @staticmethod
    def _delete(obj: dict) -> Send:
        room, client_msg_id = _ids(obj)
        target = _message_id(obj, "messageId", room, client_msg_id)
        return Send(room, client_msg_id, None, kind=contracts.RECORD_DELETE, fields=(("messageId", target),))

    @staticmethod
    def _react(obj: dict) -> Send:
        room, client_msg_id = _ids(obj)
        target = _message_id(obj, "messageId", room, client_msg_id)
        emoji = obj.get("emoji")
        if not contracts.is_single_emoji(emoji):
            raise _Bad(contracts.ERR_BAD_REQUEST, "emoji must be exactly one emoji", client_msg_id)
        return Send(room, client_msg_id, None, kind=contracts.RECORD_REACT,
                    fields=(("messageId", target), ("emoji", emoji)))

    @staticmethod
    def _subscribe(obj: dict) -> Subscribe:
        room = _room(obj)
        after = obj.get("afterSeq")
        if after is not None and (not isinstance(after, int) or isinstance(after, bool) or after < 0):
            raise _Bad(contracts.ERR_BAD_REQUEST, "afterSeq must be a non-negative integer", room)
        return Subscribe(room, after)

    @staticmethod
    def _unsubscribe(obj: dict) -> Unsubscribe:
        return Unsubscribe(_room(obj))

    @staticmethod
    def _typing(obj: dict) -> Typing:
        return Typing(_room(obj))

    @staticmethod
    def _ping(obj: dict) -> Ping:
        return Ping()

    _decoders = {
        "send": _send.__func__,
        "edit": _edit.__func__,
        "delete": _delete.__func__,
        "react": _react.__func__,
        "subscribe": _subscribe.__func__,
        "unsubscribe": _unsubscribe.__func__,
        "typing": _typing.__func__,
        "ping": _ping.__func__,
    }

    # --- rendering ----------------------------------------------------------------------
    def render_ack(self, send: Send, partition: int, offset: int) -> list[Frame]:
        return [_dumps({"type": contracts.EVENT_ACK, "clientMsgId": send.client_msg_id,
                        "room": send.room, "partition": partition, "offset": offset})]

    def render_error(self, code: str, message: str, ref: str | None = None,
                     action: Action | None = None) -> list[Frame]:
        return [_dumps(contracts.error_event(code, message, ref))]

    def render_authenticated(self, auth: Authenticate, identity) -> list[Frame]:
        self.identity, self.awaiting_auth = identity, False
        return [_dumps({"type": "authenticated", "userId": identity.user_id, "role": identity.role,
                        "expiresAt": int(identity.expires_at)})]

    def render_subscribed(self, subscribe: Subscribe, last_seq: int | None) -> list[Frame]:
        out: dict[str, Any] = {"type": "subscribed", "room": subscribe.room}
        if last_seq is not None:
            out["lastSeq"] = last_seq
        return [_dumps(out)]

    def render_unsubscribed(self, unsubscribe: Unsubscribe) -> list[Frame]:
        return [_dumps({"type": contracts.EVENT_UNSUBSCRIBED, "room": unsubscribe.room})]

    def render_flow(self, window: int) -> list[Frame]:
        return [_dumps({"type": contracts.EVENT_FLOW, "window": window})]

    def render_revoked(self, room: str, reason: str) -> list[Frame]:
        return [_dumps({"type": contracts.EVENT_UNSUBSCRIBED, "room": room, "reason": reason})]

    def render_pong(self, ping: Ping) -> list[Frame]:
        return [b'{"type":"pong"}']

    def render_event(self, event: ServerEvent) -> list[Frame]:
        return [event.json_bytes]
