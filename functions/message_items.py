"""A stored message item: its shape, its dedup digest, its change overlay and the event and
preview readers make of it. Pure: no store access (functions/store.py reads and writes them).

Items cross tidings as plain dicts (numbers as int, or float when fractional).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from functions import contracts

PREVIEW_CHARS = 200
DIGEST_CHARS = 16


def dedup_digest(sender_id: str, client_msg_id: str) -> str:
    """A message's entry in its room's dedup window: 64 bits of blake2b over
    senderId|clientMsgId (the ids' patterns exclude "|"). A false match within one room's
    window of DEDUP_WINDOW digests is ~1e-16 likely."""
    return hashlib.blake2b(f"{sender_id}|{client_msg_id}".encode(), digest_size=DIGEST_CHARS // 2).hexdigest()


def message_item(room_id: str, seq: int, rec: Mapping[str, Any], partition: str, offset: int,
                 stored_at_ms: int, reply_to: Mapping[str, Any] | None = None,
                 attachment: Mapping[str, Any] | None = None) -> dict:
    item = {
        "roomId": room_id, "seq": seq, "messageId": contracts.message_id(room_id, seq),
        "clientMsgId": rec["clientMsgId"], "senderId": rec["senderId"], "senderRole": rec["senderRole"],
        "body": rec["body"], "sentAt": rec["sentAt"], "storedAt": stored_at_ms,
        "partition": partition, "offset": offset,
    }
    if reply_to is not None:
        item["replyTo"] = dict(reply_to)
    if attachment is not None:   # a photo (functions/attachments.py): {key, attId, contentType, bytes}
        item["attachment"] = dict(attachment)
    return item


def last_message(item: Mapping[str, Any]) -> dict:
    """The room list's preview of a message item (body cut to PREVIEW_CHARS)."""
    preview = {"seq": item["seq"], "senderId": item["senderId"], "senderRole": item["senderRole"],
               "body": (item.get("body") or "")[:PREVIEW_CHARS], "sentAt": item["sentAt"]}
    if item.get("editedAt") is not None:
        preview["editedAt"] = item["editedAt"]
    if item.get("deleted"):
        preview["deleted"] = True   # a tombstone: the body is ""
    return preview


# The fields changes of a stored message rewrite (functions/message_changes.py). A batch that
# changes a stored message writes the new values in the item's `next` overlay, {partition,
# offset, state}, which counts once its offset is committed, like a message: until then readers
# see the message as it was, and an attempt that never commits changed nothing. After its
# commit the worker folds the overlay into the item (`settle`).
CHANGE_FIELDS = ("body", "editedAt", "version", "deleted", "deletedAt", "deletedBy", "reactions", "replyTo",
                 "ops", "replies", "changedSeq", "attachment")


def settle(item: Mapping[str, Any], commits: Mapping[str, int]) -> dict:
    """The message as stored: its `next` overlay applied if its partition committed its offset,
    dropped otherwise (what a failed attempt left)."""
    overlay = item.get("next")
    out = {k: v for k, v in item.items() if k != "next"}
    if overlay and int(overlay.get("offset", -1)) <= commits.get(overlay.get("partition"), -1):
        for key in CHANGE_FIELDS:
            out.pop(key, None)
        out.update(overlay.get("state") or {})
    return out


def changed_state(item: Mapping[str, Any]) -> dict:
    """What a message's changes (issue 16) add to its event and views: replyTo, editedAt and
    version, deleted/deletedAt/deletedBy, reactions {emoji: [userId]} (only what applies)."""
    out: dict[str, Any] = {}
    if item.get("replyTo"):
        out["replyTo"] = item["replyTo"]
    if item.get("editedAt") is not None:
        out["editedAt"], out["version"] = item["editedAt"], item.get("version", 2)
    if item.get("deleted"):
        out.update(deleted=True, deletedAt=item.get("deletedAt"), deletedBy=item.get("deletedBy"))
    if item.get("reactions"):
        out["reactions"] = item["reactions"]
    return out


def message_event(item: Mapping[str, Any]) -> dict:
    """The server event (contracts.EVENT_MESSAGE) for a stored message item, as it is now
    (a deleted message has no body)."""
    event = {
        "type": contracts.EVENT_MESSAGE, "room": item["roomId"], "seq": item["seq"],
        "messageId": item.get("messageId") or contracts.message_id(item["roomId"], item["seq"]),
        "clientMsgId": item["clientMsgId"], "senderId": item["senderId"],
        "senderRole": item["senderRole"], "sentAt": item["sentAt"],
    }
    if not item.get("deleted"):
        event["body"] = item["body"]
    if item.get("attachment"):
        event["attachment"] = item["attachment"]
    event.update(changed_state(item))
    return event


def is_stored(item: Mapping[str, Any], commits: Mapping[str, int]) -> bool:
    """A message item is stored once its partition's commit covers its offset."""
    partition = item.get("partition")
    return partition is None or int(item.get("offset", -1)) <= commits.get(partition, -1)
