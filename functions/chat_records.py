"""What the chat worker reads from Kafka and what it sends out, as typed values.

`parse(record)` turns one record of the Lambda Kafka event into a `ChatRecord` (or raises
`Unparseable` when it is not a base64 JSON object at all: reported in batchItemFailures).
A record that parses but breaks the contract keeps the reason in `error` and is refused,
with an error event to its sender. Deliveries are `ToRoom` (every live subscriber of the
room, but for an excluded user or connection) or `ToConnection` (one connection).
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from typing import Any, Mapping

import orjson

from functions import contracts as c
from functions.events import KafkaRecord
from functions.message_items import dedup_digest

MAX_CONNECTION_ID_CHARS = 256
PRESENCE_STATES = ("join", "leave")


class Unparseable(ValueError):
    """Not a base64 JSON object at all: reported in batchItemFailures."""


@dataclass(frozen=True)
class ChatRecord:
    partition: str                  # "topic-N", the event's key
    offset: int
    value: Mapping[str, Any]        # the record as produced (functions.contracts.RECORD_FIELDS)
    error: tuple[str, str] | None   # (code, message) when it breaks the contract

    @property
    def type(self) -> Any:
        return self.value.get("type")

    @property
    def room_id(self) -> Any:
        return self.value.get("roomId")

    @property
    def sender_id(self) -> Any:
        return self.value.get("senderId")

    @property
    def sender_role(self) -> Any:
        return self.value.get("senderRole")

    @property
    def client_msg_id(self) -> Any:
        return self.value.get("clientMsgId")

    @property
    def sent_at(self) -> Any:
        return self.value.get("sentAt")

    @property
    def connection_id(self) -> Any:
        return self.value.get("connectionId")

    @property
    def edge_url(self) -> Any:
        return self.value.get("edgeUrl")

    @property
    def state(self) -> Any:
        return self.value.get("state")

    @property
    def target(self) -> tuple[str, int] | None:
        """(roomId, seq) of the message a change is about, or a send replies to; else None."""
        if self.type in c.RECORD_CHANGES:
            return c.parse_message_id(self.value.get("messageId"))
        if self.type == c.RECORD_SEND:
            return c.parse_message_id(self.value.get("replyTo"))
        return None

    @property
    def attachment(self) -> tuple[str, str] | None:
        """(roomId, attId) of the photo a send refers to, else None."""
        if self.type != c.RECORD_SEND or not isinstance(self.value.get("attachment"), dict):
            return None
        return c.parse_attachment_key(self.value["attachment"].get("key"))

    @property
    def digest(self) -> str:
        return dedup_digest(self.sender_id, self.client_msg_id)

    @property
    def sender_known(self) -> bool:
        """Whether an answer can reach the sender's connection (a record from the HTTP API has
        none: its caller learns the outcome from the store, functions/http/changes.py)."""
        conn = self.connection_id
        return isinstance(conn, str) and bool(conn) and _is_url(self.edge_url)


@dataclass(frozen=True)
class ToRoom:
    room_id: str
    event: dict
    exclude_user: str | None = None
    exclude_connection: str | None = None


@dataclass(frozen=True)
class ToConnection:
    edge_url: str
    connection_id: str
    event: dict


Delivery = ToRoom | ToConnection


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


_TEXTS = (c.RECORD_SEND, c.RECORD_EDIT)            # records with a body
_WITH_IDS = (c.RECORD_SEND, *c.RECORD_CHANGES)     # records with a clientMsgId


def invalid_reason(v: dict, key: bytes | None) -> str | None:
    """Why a record breaks the contract (the first reason), or None. Checked in this order,
    each only as far as needed: it runs for every record."""
    kind, body, sent_at, conn = v.get("type"), v.get("body"), v.get("sentAt"), v.get("connectionId")
    room = v.get("roomId")
    if v.get("v", c.SCHEMA_VERSION) != c.SCHEMA_VERSION:
        return f"unsupported schema version {v.get('v')!r}"
    if kind not in c.RECORD_KINDS:
        return f"unknown record type {kind!r}"
    if not c.ROOM_ID.valid(room):
        return "invalid roomId"
    if not c.USER_ID.valid(v.get("senderId")):
        return "invalid senderId"
    if v.get("senderRole") not in c.ROLES:
        return "invalid senderRole"
    if not (type(sent_at) is int and sent_at >= 0):
        return "invalid sentAt"
    edge = v.get("edgeUrl")
    if conn is None and edge is None:   # through the HTTP API: nobody's connection to answer
        if kind not in c.RECORD_STORED:
            return "typing and presence come from a connection (connectionId, edgeUrl)"
    elif not (isinstance(conn, str) and 0 < len(conn) <= MAX_CONNECTION_ID_CHARS):
        return "invalid connectionId"
    elif not _is_url(edge):
        return "invalid edgeUrl"
    if not (key is None or key == str(room).encode()):
        return "record key is not the room id"
    if kind in _WITH_IDS and not c.CLIENT_MSG_ID.valid(v.get("clientMsgId")):
        return "invalid clientMsgId"
    if kind in _TEXTS:
        if not (isinstance(body, str) and body.strip() != ""):
            return "body must be non-empty text"
        if len(body) > c.MAX_BODY_CHARS:
            return f"body longer than {c.MAX_BODY_CHARS} characters"
    if kind in c.RECORD_CHANGES:
        target = c.parse_message_id(v.get("messageId"))
        if target is None:
            return "invalid messageId"
        if target[0] != room:
            return "messageId is not a message of this room"
    if kind == c.RECORD_SEND and v.get("replyTo") is not None:
        replied = c.parse_message_id(v.get("replyTo"))
        if replied is None:
            return "invalid replyTo"
        if replied[0] != room:
            return "replyTo is not a message of this room"
    if kind == c.RECORD_SEND and v.get("attachment") is not None:
        problem = c.attachment_problem(v["attachment"], room)
        if problem is not None:
            return f"invalid attachment: {problem}"
    if kind == c.RECORD_REACT and not c.is_single_emoji(v.get("emoji")):
        return "a reaction is exactly one emoji"
    if kind == c.RECORD_PRESENCE and v.get("state") not in PRESENCE_STATES:
        return "invalid presence state"
    return None


def parse(record: KafkaRecord) -> ChatRecord:
    try:
        value = record.json_value
        key = record.decoded_key
    except (binascii.Error, ValueError, orjson.JSONDecodeError) as exc:
        raise Unparseable(f"not base64 JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise Unparseable("the value is not a JSON object")
    reason = invalid_reason(value, key)
    return ChatRecord(record.partition_key, record.offset, value, (c.ERR_BAD_REQUEST, reason) if reason else None)
