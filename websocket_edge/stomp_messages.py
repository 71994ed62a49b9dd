"""Server events as STOMP MESSAGE frames on a connection's subscriptions, pure: the bodies (a
chat message in the old clients' JSON DTO, any other event as it is, with `roomId` for `room`)
and one subscription's frame (destination, message-id, `ack` for client acks on 1.2). Used by
stomp_protocol.py, which keeps the subscriptions, numbers the message ids and serialises.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from websocket_edge import stomp
from websocket_edge.protocol import ServerEvent
from websocket_edge.stomp_destinations import subscribe_destination

# a stored message's state beyond its text: replies, edits, deletion, reactions
STATE_FIELDS = ("replyTo", "editedAt", "version", "deleted", "deletedAt", "deletedBy", "reactions", "attachment")


@dataclass(frozen=True)
class Subscription:
    id: str
    room: str
    ack: str


def chat_body(event: ServerEvent) -> bytes:
    d = event.data
    body = {"roomId": d.get("room"), "senderId": d.get("senderId"), "senderRole": d.get("senderRole"),
            "content": d.get("body"), "seq": d.get("seq"), "messageId": d.get("messageId"),
            "sentAt": d.get("sentAt"), "clientMsgId": d.get("clientMsgId")}
    body.update((key, d[key]) for key in STATE_FIELDS if key in d)
    return orjson.dumps(body)


def signal_body(event: ServerEvent) -> bytes:
    body = {("roomId" if key == "room" else key): value for key, value in event.data.items()}
    return orjson.dumps(body)


def message_frame(sub: Subscription, message_id: str, body: bytes, headers, version: str | None) -> stomp.Frame:
    """`body` (JSON) as a MESSAGE on `sub`; with a client ack mode on 1.2 it names its `ack` id."""
    extra = list(headers)
    if sub.ack != "auto" and version == "1.2":
        extra.append(("ack", f"{sub.id}/{message_id}"))
    return stomp.message(subscribe_destination(sub.room), sub.id, message_id, body, "application/json", extra)


def raw_frame(sub: Subscription, message_id: str, data: bytes, headers) -> stomp.Frame:
    """Raw data posted to the connection as a MESSAGE on `sub`: text/plain if it is UTF-8."""
    try:
        data.decode("utf-8")
        content_type = "text/plain;charset=utf-8"
    except UnicodeDecodeError:
        content_type = "application/octet-stream"
    return stomp.message(subscribe_destination(sub.room), sub.id, message_id, data, content_type, headers)
