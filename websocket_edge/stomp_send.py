"""What a STOMP SEND says: a typing indicator, or its client message id, its content (the
old clients' JSON DTO or plain text) and the changes sent to /pub/chat/edit|delete|react/{roomId}.
A frame that says it wrong is refused (`Refuse`: the adapter answers ERROR and closes). Used by
stomp_protocol.py.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable

import orjson

from functions import contracts
from functions.contracts import CLIENT_MSG_ID, MAX_BODY_CHARS
from websocket_edge import stomp
from websocket_edge.protocol import Send, Typing
from websocket_edge.stomp_destinations import (SEND_PREFIX, parse_change_destination, parse_send_destination,
                                               parse_typing_destination)

CLIENT_MSG_ID_HEADER = "client-msg-id"


@dataclass(frozen=True)
class Ref:
    """What an action carries back to us as its opaque `receipt`."""
    receipt: str | None = None                 # the frame's `receipt` header
    sub_id: str | None = None                  # SUBSCRIBE: the subscription id
    headers: tuple[tuple[str, str], ...] = ()  # extra headers for an ERROR about this frame


class Refuse(Exception):
    """A frame we answer with ERROR (and close)."""

    def __init__(self, code: str, message: str, receipt: str | None = None, ref: str | None = None,
                 headers: tuple[tuple[str, str], ...] = ()):
        super().__init__(message)
        self.code, self.message, self.receipt, self.ref, self.headers = code, message, receipt, ref, headers


def client_msg_id_from_receipt(receipt: str) -> str:
    """A receipt id as a client message id: as is when it is a valid one, else a digest of it
    (so a resend with the same receipt still lands on the same stored message)."""
    if CLIENT_MSG_ID.valid(receipt):
        return receipt
    return "r-" + hashlib.sha256(receipt.encode("utf-8")).hexdigest()[:40]


def message_id(obj: dict, field: str, room: str, receipt: str | None, ref: str) -> str:
    named = contracts.parse_message_id(obj.get(field))
    if named is None:
        raise Refuse(contracts.ERR_BAD_REQUEST, f'"{field}" must be a messageId (roomId:seq)', receipt, ref)
    if named[0] != room:
        raise Refuse(contracts.ERR_BAD_REQUEST, f'"{field}" is not a message of room {room}', receipt, ref)
    return obj[field]



def json_object(frame: stomp.Frame, receipt: str | None, ref: str) -> dict:
    mime = (frame.get("content-type") or "").partition(";")[0].strip().lower()
    if mime not in ("", "application/json") and not mime.endswith("+json"):
        raise Refuse(contracts.ERR_BAD_REQUEST, f"unsupported content-type {mime[:60]!r} (use application/json)",
                     receipt, ref)
    try:
        obj = orjson.loads(frame.text("utf-8"))
    except orjson.JSONDecodeError:
        obj = None
    if not isinstance(obj, dict):
        raise Refuse(contracts.ERR_BAD_REQUEST, 'the body must be a JSON object with "messageId"', receipt, ref)
    return obj



def text_of(content, receipt: str | None, ref: str) -> str:
    if not isinstance(content, str) or not content.strip():
        raise Refuse(contracts.ERR_BAD_REQUEST, "content must be non-empty text", receipt, ref)
    if len(content) > MAX_BODY_CHARS:
        raise Refuse(contracts.ERR_TOO_LARGE, f"content over {MAX_BODY_CHARS} characters", receipt, ref)
    return content



def content_of(frame: stomp.Frame, receipt: str | None, ref: str) -> tuple[str, dict | None]:
    """The content of a SEND, and the JSON object it came in (None for a text body)."""
    mime, _, params = (frame.get("content-type") or "").partition(";")
    mime = mime.strip().lower()
    charset = "utf-8"
    for param in params.split(";"):
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"')
    text = frame.text(charset)
    obj = None
    if mime.startswith("text/"):
        content = text
    elif mime in ("", "application/json") or mime.endswith("+json"):
        try:
            obj = orjson.loads(text)
        except orjson.JSONDecodeError:
            obj = None
            if mime:
                raise Refuse(contracts.ERR_BAD_REQUEST, "body is not valid JSON", receipt, ref) from None
        if isinstance(obj, dict):   # the old DTO; sender fields in it are ignored
            content = obj.get("content")
            if not isinstance(content, str):
                raise Refuse(contracts.ERR_BAD_REQUEST, 'JSON body needs a "content" string', receipt, ref)
        elif mime:
            raise Refuse(contracts.ERR_BAD_REQUEST, 'JSON body must be an object with "content"', receipt, ref)
        else:
            content, obj = text, None   # no content-type and not a JSON object: plain text
    else:
        raise Refuse(contracts.ERR_BAD_REQUEST, f"unsupported content-type {mime[:60]!r} "
                                                "(use application/json or text/plain)", receipt, ref)
    return text_of(content, receipt, ref), obj


def change_action(frame: stomp.Frame, receipt: str | None, client_msg_id: str, kind: str, room: str) -> Send:
    """SEND to /pub/chat/edit|delete|react/{roomId}: a JSON object naming the message
    (`messageId`), with `content` (edit) or `emoji` (react)."""
    obj = json_object(frame, receipt, client_msg_id)
    fields = [("messageId", message_id(obj, "messageId", room, receipt, client_msg_id))]
    content = None
    if kind == contracts.RECORD_EDIT:
        content = text_of(obj.get("content"), receipt, client_msg_id)
    elif kind == contracts.RECORD_REACT:
        if not contracts.is_single_emoji(obj.get("emoji")):
            raise Refuse(contracts.ERR_BAD_REQUEST, '"emoji" must be exactly one emoji', receipt, client_msg_id)
        fields.append(("emoji", obj["emoji"]))
    return Send(room, client_msg_id, content, Ref(receipt), kind=kind, fields=tuple(fields))


def send_action(frame: stomp.Frame, receipt: str | None, new_id: Callable[[], str]) -> Send | Typing:
    """The action a SEND asks for: a typing indicator, a change of a stored message or a
    chat message; its client message id is the header's, else the receipt's, else `new_id()`."""
    typing_room = parse_typing_destination(frame.get("destination"))
    if typing_room is not None:   # ephemeral: fanned out, never stored, no RECEIPT awaited
        return Typing(typing_room)
    header_id = frame.get(CLIENT_MSG_ID_HEADER)
    if header_id is not None:
        if not CLIENT_MSG_ID.valid(header_id):
            raise Refuse(contracts.ERR_BAD_REQUEST, "bad client-msg-id header", receipt)
        client_msg_id = header_id
    elif receipt is not None:
        client_msg_id = client_msg_id_from_receipt(receipt)
    else:
        client_msg_id = new_id()
    destination = frame.get("destination")
    change = parse_change_destination(destination)
    if change is not None:
        return change_action(frame, receipt, client_msg_id, *change)
    room = parse_send_destination(destination)
    if room is None:
        what = "missing destination" if destination is None else f"unknown destination {destination[:80]!r}"
        raise Refuse(contracts.ERR_BAD_REQUEST, f"{what} (send to {SEND_PREFIX}{{roomId}})",
                     receipt, client_msg_id)
    content, obj = content_of(frame, receipt, client_msg_id)
    fields = ()
    if obj is not None and obj.get("replyTo") is not None:
        fields = (("replyTo", message_id(obj, "replyTo", room, receipt, client_msg_id)),)
    if obj is not None and obj.get("attachment") is not None:   # a photo: {key} (docs/stomp.md)
        problem = contracts.attachment_problem(obj["attachment"], room)
        if problem is not None:
            raise Refuse(contracts.ERR_BAD_REQUEST, problem, receipt, client_msg_id)
        fields += (("attachment", {"key": obj["attachment"]["key"]}),)
    return Send(room, client_msg_id, content, Ref(receipt), fields=fields)
