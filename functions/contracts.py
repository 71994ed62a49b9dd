"""Wire contracts between the edge, Kafka, the worker functions and the clients.

One place for: the Kafka record the edge produces (key = room id, so one room is one
partition and one order), the events the worker posts back through the delivery API,
the error codes clients see, and the delivery API's batched body. Both sides import
these names; nothing else spells them.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

SCHEMA_VERSION = 1

# --- Kafka record (value is JSON, key is the room id) -----------------------------------
# Record "type" values. Typing indicators and presence ride the same partition as chat so
# they stay in room order, but only chat messages are stored.
RECORD_SEND = "chat.send"
RECORD_TYPING = "chat.typing"
RECORD_PRESENCE = "chat.presence"   # {state: "join"|"leave"} produced by the edge on (un)subscribe
# Changes to a stored message (issue 16): they ride the room's partition like sends, so a
# change is applied in room order, exactly once, by the room's only writer.
RECORD_EDIT = "chat.edit"           # {messageId, body}: the sender, within EDIT_WINDOW
RECORD_DELETE = "chat.delete"       # {messageId}: the sender, or the room's creator
RECORD_REACT = "chat.react"         # {messageId, emoji}: toggles the sender's emoji on the message
RECORD_CHANGES = (RECORD_EDIT, RECORD_DELETE, RECORD_REACT)
RECORD_STORED = (RECORD_SEND, *RECORD_CHANGES)   # records whose offset the worker commits
RECORD_KINDS = (RECORD_SEND, RECORD_TYPING, RECORD_PRESENCE, *RECORD_CHANGES)

# Kafka header names (ASCII); values are UTF-8 bytes.
HEADER_SCHEMA = "tidings-schema"
HEADER_EDGE = "tidings-edge"

# Fields of a chat.send record, all set by the edge. sender* come from the verified token.
RECORD_FIELDS = (
    "v",            # schema version
    "type",         # RECORD_SEND | RECORD_TYPING | RECORD_PRESENCE
    "roomId",
    "clientMsgId",  # the client's id for the message; resends with the same id are stored once
    "senderId",     # token "sub"
    "senderRole",   # token role claim
    "body",         # text, <= MAX_BODY_CHARS
    "sentAt",       # ms since epoch, edge receive time
    "connectionId", # the sender's connection, for error deliveries
    "edgeUrl",      # the delivery API base URL of the sender's edge
    # connectionId and edgeUrl come together, or neither does: a send or a change made through
    # the HTTP API (functions/http/changes.py) has no connection to answer
    # "state" ("join" | "leave") on chat.presence records only
    # "replyTo" (a messageId of the same room) on chat.send records, optional
    # "messageId" (the message changed, same room) on chat.edit / chat.delete / chat.react
    # "emoji" (one emoji) on chat.react; "body" (the new text) on chat.edit
    # "attachment" ({key}: a photo uploaded to this room, functions/attachments.py) on chat.send, optional
)

MAX_BODY_CHARS = 8000
QUOTE_CHARS = 100                 # a reply's quote: the first characters of the message replied to
MAX_REACTION_KINDS = 32           # different emoji on one message


class IdPattern:
    """The characters and length an id may have, always checked on the WHOLE value.

    There is no `.match`: Python's `^...$` with `re.match` accepts a trailing newline
    ("room\n"), which let look-alike ids into the store. `valid` uses `fullmatch`;
    `pattern` is the same rule anchored for OpenAPI / JSON Schema (ECMA `$` is end only).
    """

    __slots__ = ("regex", "pattern")

    def __init__(self, rule: str):
        self.regex = re.compile(rule)
        self.pattern = f"^{rule}$"

    def valid(self, value: Any) -> bool:
        return isinstance(value, str) and self.regex.fullmatch(value) is not None


ROOM_ID = IdPattern(r"[A-Za-z0-9_.:\-]{1,128}")
CLIENT_MSG_ID = IdPattern(r"[A-Za-z0-9_.:\-]{1,64}")
USER_ID = IdPattern(r"[A-Za-z0-9_.@:\-]{1,128}")
ROLES = ("customer", "groomer", "admin")

# C0 controls, DEL, C1 controls and the Unicode line/paragraph separators: never part of
# an id, a header value, a destination or a name (they split log lines and fake lines).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def has_control_chars(text: str) -> bool:
    return _CONTROL.search(text) is not None


_SEQ_PART = re.compile(r"[1-9][0-9]{0,15}")


def parse_message_id(value: Any) -> tuple[str, int] | None:
    """(roomId, seq) of a message id `{roomId}:{seq}` (message_id's form), else None. Room ids
    may hold ":", so the seq is what follows the last one; both parts are checked whole."""
    if not isinstance(value, str) or len(value) > 145:
        return None
    room, sep, seq = value.rpartition(":")
    if not sep or not ROOM_ID.valid(room) or _SEQ_PART.fullmatch(seq) is None:
        return None
    return room, int(seq)


# A photo's object key: rooms/{roomId}/{attId}, attId a uuid4 hex the HTTP function picks.
ATT_ID = IdPattern(r"[0-9a-f]{32}")
ATTACHMENT_PREFIX = "rooms/"
ATTACHMENT_STATUSES = ("pending", "ready", "rejected")


def attachment_key(room_id: str, att_id: str) -> str:
    return f"{ATTACHMENT_PREFIX}{room_id}/{att_id}"


def parse_attachment_key(value: Any) -> tuple[str, str] | None:
    """(roomId, attId) of an attachment key, both checked whole, else None."""
    if not isinstance(value, str) or not value.startswith(ATTACHMENT_PREFIX) or len(value) > 200:
        return None
    room, sep, att = value[len(ATTACHMENT_PREFIX):].rpartition("/")
    if not sep or not ROOM_ID.valid(room) or not ATT_ID.valid(att):
        return None
    return room, att


def attachment_problem(value: Any, room_id: Any) -> str | None:
    """Why a send's `attachment` is not {key} of a photo of this room, or None. Whether it was
    presigned, by whom, and how its check went, the chat worker decides."""
    if not isinstance(value, dict) or set(value) != {"key"}:
        return "attachment must be an object {key}"
    named = parse_attachment_key(value["key"])
    if named is None:
        return f"bad attachment key (rooms/{{roomId}}/{{attId}})"
    if named[0] != room_id:
        return "the attachment is not one of this room"
    return None


def is_single_emoji(value: Any) -> bool:
    """Exactly one emoji (a skin tone, a ZWJ family or a flag counts as one), nothing else."""
    import emoji   # the emoji library's data; loaded on first use only
    return isinstance(value, str) and 0 < len(value) <= 32 and emoji.is_emoji(value)


def encode(obj: Any) -> bytes:
    return orjson.dumps(obj)


def decode(data: bytes | str) -> Any:
    return orjson.loads(data)


def message_id(room_id: str, seq: int) -> str:
    """Stable id of a stored message: the same for every (re)delivery of it."""
    return f"{room_id}:{seq}"


# --- Server events (posted by the worker through the delivery API, rendered by the edge
# into JSON frames as is, or into STOMP MESSAGE/ERROR frames) ------------------------------
EVENT_MESSAGE = "message"     # {type, room, seq, messageId, clientMsgId, senderId, senderRole, body, sentAt}
EVENT_ERROR = "error"         # {type, code, message, ref}
EVENT_TYPING = "typing"       # {type, room, userId, role, at}
EVENT_PRESENCE = "presence"   # {type, room, userId, state: "join"|"leave", at}
# A message event may also carry replyTo {messageId, seq, senderId, quote | deleted},
# editedAt + version, deleted + deletedAt + deletedBy (then no body), reactions {emoji: [userId]}.
# Changes to a stored message, each carrying the message's state after the change:
EVENT_EDITED = "edited"       # {type, room, seq, messageId, body, editedAt, version, clientMsgId}
EVENT_DELETED = "deleted"     # {type, room, seq, messageId, deletedAt, deletedBy, clientMsgId}
EVENT_REACTION = "reaction"   # {type, room, seq, messageId, userId, emoji, added, counts, reactions, clientMsgId}
EVENT_CHANGES = (EVENT_EDITED, EVENT_DELETED, EVENT_REACTION)
EVENT_ACK = "ack"             # edge only: {type, clientMsgId, room, partition, offset}
# {type, room, reason}: the connection's subscription to the room ended. Posted to a removed
# member's connections (reason REASON_REMOVED) by the membership change; the edge drops the
# room and tells the client (JSON as is, STOMP as an ERROR for that subscription).
EVENT_UNSUBSCRIBED = "unsubscribed"
# edge only: {type, window}: how many unacknowledged sends the client may have out now; the
# edge lowers it to 1 while the chat worker lags (websocket_edge/admission.py)
EVENT_FLOW = "flow"
# {type, room, attachment: {key, attId, status, contentType, bytes, width, height, reason}}:
# the check of a photo a member uploaded to the room is done (status ready or rejected).
# Posted by functions/attachment_check.py to the room's subscribers; carries no URL (a
# member asks GET /rooms/{roomId}/attachments/{attId} for short-lived ones).
EVENT_ATTACHMENT = "attachment"
REASON_REMOVED = "removed"

# --- Error codes (JSON "error.code", STOMP ERROR "message" header, HTTP error "code") ---
ERR_BAD_FRAME = "bad_frame"            # not JSON / not STOMP / wrong shape
ERR_UNKNOWN_TYPE = "unknown_type"
ERR_BAD_REQUEST = "bad_request"        # a field missing or invalid
ERR_TOO_LARGE = "too_large"
ERR_UNAUTHORIZED = "unauthorized"      # bad or expired token
ERR_FORBIDDEN = "forbidden"            # not a member of the room
ERR_UNKNOWN_ROOM = "unknown_room"
ERR_RATE_LIMITED = "rate_limited"
ERR_UNAVAILABLE = "unavailable"        # broker down: not accepted, send again
ERR_CONFLICT = "conflict"
ERR_NOT_FOUND = "not_found"            # no such thing (a route, a device; a message, or a deleted one)
ERR_TOO_LATE = "too_late"              # an edit after the edit window
ERR_INTERNAL = "internal"
ERR_UNSUPPORTED_TYPE = "unsupported_type"   # an attachment that is not one of image_types.CONTENT_TYPES


def error_event(code: str, message: str, ref: str | None = None, **extra: Any) -> dict:
    event = {"type": EVENT_ERROR, "code": code, "message": message}
    if ref is not None:
        event["ref"] = ref
    event.update(extra)
    return event


# --- Delivery API (API Gateway @connections contract, plus a batched form) --------------
# POST   {edgeUrl}/@connections/{id}   body = raw data for the client   -> 200 | 410
# GET    {edgeUrl}/@connections/{id}   -> 200 {connectedAt, identity{sourceIp,userAgent}, lastActiveAt}
# DELETE {edgeUrl}/@connections/{id}   -> 204 | 410
# POST   {edgeUrl}/@connections        body = {"items": [{"connectionIds": [...], "data": {...}}, ...]}
#                                      -> 200 {"results": {connectionId: 200|410|429}}
# Items are applied in order, so a batch keeps room order for every recipient.
DELIVERY_PATH = "/@connections"
DELIVERY_SECRET_HEADER = "X-Tidings-Delivery-Secret"
MAX_DELIVERY_DATA_BYTES = 131072  # API Gateway's PostToConnection limit


def delivery_batch(items: list[tuple[list[str], dict]]) -> bytes:
    return encode({"items": [{"connectionIds": ids, "data": data} for ids, data in items]})
