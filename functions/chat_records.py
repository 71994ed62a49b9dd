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
from functions.store import dedup_digest

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
        """Whether an answer can reach the sender's connection."""
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


def invalid_reason(v: dict, key: bytes | None) -> str | None:
    """Why a record breaks the contract (the first reason), or None."""
    kind, body, sent_at, conn = v.get("type"), v.get("body"), v.get("sentAt"), v.get("connectionId")
    texts = (c.RECORD_SEND, c.RECORD_EDIT)            # records with a body
    ids = (c.RECORD_SEND, *c.RECORD_CHANGES)          # records with a clientMsgId
    target = c.parse_message_id(v.get("messageId"))
    reply_to = v.get("replyTo")
    replied = c.parse_message_id(reply_to)
    attachment = (c.attachment_problem(v["attachment"], v.get("roomId"))
                  if kind == c.RECORD_SEND and v.get("attachment") is not None else None)
    checks = (
        (v.get("v", c.SCHEMA_VERSION) == c.SCHEMA_VERSION, f"unsupported schema version {v.get('v')!r}"),
        (kind in c.RECORD_KINDS, f"unknown record type {kind!r}"),
        (c.ROOM_ID.valid(v.get("roomId")), "invalid roomId"),
        (c.USER_ID.valid(v.get("senderId")), "invalid senderId"),
        (v.get("senderRole") in c.ROLES, "invalid senderRole"),
        (type(sent_at) is int and sent_at >= 0, "invalid sentAt"),
        (isinstance(conn, str) and 0 < len(conn) <= MAX_CONNECTION_ID_CHARS, "invalid connectionId"),
        (_is_url(v.get("edgeUrl")), "invalid edgeUrl"),
        (key is None or key == str(v.get("roomId")).encode(), "record key is not the room id"),
        (kind not in ids or c.CLIENT_MSG_ID.valid(v.get("clientMsgId")), "invalid clientMsgId"),
        (kind not in texts or (isinstance(body, str) and body.strip() != ""), "body must be non-empty text"),
        (kind not in texts or not isinstance(body, str) or len(body) <= c.MAX_BODY_CHARS,
         f"body longer than {c.MAX_BODY_CHARS} characters"),
        (kind not in c.RECORD_CHANGES or target is not None, "invalid messageId"),
        (kind not in c.RECORD_CHANGES or target is None or target[0] == v.get("roomId"), "messageId is not a message of this room"),
        (kind != c.RECORD_SEND or reply_to is None or replied is not None, "invalid replyTo"),
        (kind != c.RECORD_SEND or replied is None or replied[0] == v.get("roomId"),
         "replyTo is not a message of this room"),
        (attachment is None, f"invalid attachment: {attachment}"),
        (kind != c.RECORD_REACT or c.is_single_emoji(v.get("emoji")), "a reaction is exactly one emoji"),
        (kind != c.RECORD_PRESENCE or v.get("state") in PRESENCE_STATES, "invalid presence state"),
    )
    return next((reason for ok, reason in checks if not ok), None)


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
