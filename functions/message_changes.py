"""Changes to a stored message (issue 16): edit, delete, reactions, and a reply's quote.

Pure rules over message items (plain dicts, functions.store's shape), no I/O: the chat
planner (functions.chat_plan) calls them in room order on its working copies and writes the
items it changed. Every change returns the event members get, carrying the message's state
after the change (so a redelivered event is as good as the first).

What a message item holds besides the send (functions.message_items.message_item):
- `replyTo`: {messageId, seq, senderId, quote} (the first contracts.QUOTE_CHARS of the message
  replied to, as it was then), or {messageId, seq, senderId, deleted: true} once that message
  was deleted;
- `editedAt`, `version` (2 after the first edit): the body is the latest version;
- `deleted`, `deletedAt`, `deletedBy`: a tombstone; body, quote, reactions and the photo's
  reference (`attachment`) are removed;
- `reactions`: {emoji: [userId, ...]} in the order they came;
- `ops`: [[digest, offset], ...] of the last MAX_OPS changes applied (senderId|clientMsgId and
  the record's Kafka offset): a change found there is a client resend, not applied again (a
  failed attempt's changes never count: they sit in an uncommitted overlay, functions/store.py);
- `replies`: seqs of the messages replying to this one (the last MAX_REPLIES), so a delete can
  remove its quote from them;
- `changedSeq`: the room's last seq when members last saw it change, so a client that comes
  back with `afterSeq` N is sent the state of the messages at or below N changed since
  (`state_events`, functions.store.Messages.changed_up_to).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from functions import contracts as c

MAX_OPS = 64
MAX_REPLIES = 100


class Refused(Exception):
    """A change the rules do not allow: an error event to the sender, nothing changed."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code, self.message = code, message


def _head(item: Mapping[str, Any], kind: str, client_msg_id: str | None) -> dict:
    event = {"type": kind, "room": item["roomId"], "seq": item["seq"],
             "messageId": item.get("messageId") or c.message_id(item["roomId"], item["seq"])}
    if client_msg_id is not None:
        event["clientMsgId"] = client_msg_id
    return event


def counts(item: Mapping[str, Any]) -> dict[str, int]:
    return {emoji: len(users) for emoji, users in (item.get("reactions") or {}).items()}


def edited_event(item: Mapping[str, Any], client_msg_id: str | None = None) -> dict:
    return {**_head(item, c.EVENT_EDITED, client_msg_id), "body": item.get("body"),
            "editedAt": item.get("editedAt"), "version": item.get("version", 1)}


def deleted_event(item: Mapping[str, Any], client_msg_id: str | None = None) -> dict:
    return {**_head(item, c.EVENT_DELETED, client_msg_id), "deletedAt": item.get("deletedAt"),
            "deletedBy": item.get("deletedBy")}


def reaction_event(item: Mapping[str, Any], user_id: str, emoji: str, client_msg_id: str | None = None) -> dict:
    reactions = item.get("reactions") or {}
    return {**_head(item, c.EVENT_REACTION, client_msg_id), "userId": user_id, "emoji": emoji,
            "added": user_id in reactions.get(emoji, ()), "counts": counts(item),
            "reactions": {e: list(users) for e, users in reactions.items()}}


def state_event(kind: str, item: Mapping[str, Any], sender_id: str, value: Mapping[str, Any]) -> dict | None:
    """The event a change record of `kind` stands for, from the message as it is now (for a
    replay or a resend): a deleted message answers `deleted` whatever the change was."""
    client_msg_id = value.get("clientMsgId")
    if item.get("deleted"):
        return deleted_event(item, client_msg_id)
    if kind == c.RECORD_EDIT:
        return edited_event(item, client_msg_id) if item.get("editedAt") is not None else None
    if kind == c.RECORD_REACT:
        return reaction_event(item, sender_id, value.get("emoji"), client_msg_id)
    return None


def state_events(item: Mapping[str, Any]) -> list[dict]:
    """A changed message's state as change events, for a client that was away: `deleted`; or
    `edited` (if it was) and a `reaction` with the counts (no userId/emoji/added: nobody's
    reaction in particular, the state as it is)."""
    if item.get("deleted"):
        return [deleted_event(item)]
    out = [edited_event(item)] if item.get("editedAt") is not None else []
    reactions = item.get("reactions") or {}
    out.append({**_head(item, c.EVENT_REACTION, None), "counts": counts(item),
                "reactions": {e: list(users) for e, users in reactions.items()}})
    quoted = item.get("replyTo") or {}
    if quoted.get("deleted"):   # the message it quotes is gone (maybe older than what is read)
        out.insert(0, {"type": c.EVENT_DELETED, "room": item["roomId"], "seq": quoted.get("seq"),
                       "messageId": quoted.get("messageId")})
    return out


def applied_at(item: Mapping[str, Any], digest: str) -> int | None:
    """The offset of the record that applied the change with this digest, if it is remembered."""
    for known, offset in reversed(item.get("ops") or ()):
        if known == digest:
            return int(offset)
    return None


def _remember(item: dict, digest: str, offset: int) -> None:
    item["ops"] = [*(item.get("ops") or ())[-(MAX_OPS - 1):], [digest, offset]]


def quote_of(item: Mapping[str, Any]) -> dict:
    """What a reply stores of the message it replies to."""
    if item.get("deleted"):
        raise Refused(c.ERR_NOT_FOUND, f"message {item['messageId']} was deleted")
    return {"messageId": item["messageId"], "seq": item["seq"], "senderId": item["senderId"],
            "quote": item["body"][:c.QUOTE_CHARS]}


def add_reply(item: dict, reply_seq: int) -> None:
    item["replies"] = [*(item.get("replies") or ())[-(MAX_REPLIES - 1):], reply_seq]


def edit(item: dict, sender_id: str, value: Mapping[str, Any], digest: str, offset: int,
         window_ms: int) -> dict:
    """Replace the body (the sender only, within the window from the message's sentAt)."""
    _alive(item)
    if sender_id != item["senderId"]:
        raise Refused(c.ERR_FORBIDDEN, "only the sender may edit a message")
    if value["sentAt"] - int(item["sentAt"]) > window_ms:
        raise Refused(c.ERR_TOO_LATE, f"the edit window ({window_ms // 1000} s after sending) has passed")
    item["body"] = value["body"]
    item["editedAt"] = value["sentAt"]
    item["version"] = int(item.get("version", 1)) + 1
    _remember(item, digest, offset)
    return edited_event(item, value.get("clientMsgId"))


def delete(item: dict, sender_id: str, value: Mapping[str, Any], digest: str, offset: int,
           creator: str | None) -> dict:
    """A tombstone (the sender, or the room's creator): body, quote and reactions go."""
    _alive(item)
    if sender_id != item["senderId"] and sender_id != creator:
        raise Refused(c.ERR_FORBIDDEN, "only the sender or the room's creator may delete a message")
    for key in ("body", "reactions", "editedAt", "version", "attachment"):
        item.pop(key, None)
    if item.get("replyTo"):
        item["replyTo"] = scrubbed(item["replyTo"])
    item.update(deleted=True, deletedAt=value["sentAt"], deletedBy=sender_id)
    _remember(item, digest, offset)
    return deleted_event(item, value.get("clientMsgId"))


def react(item: dict, sender_id: str, value: Mapping[str, Any], digest: str, offset: int) -> dict:
    """Toggle the sender's emoji on the message."""
    _alive(item)
    emoji = value["emoji"]
    reactions = {e: list(users) for e, users in (item.get("reactions") or {}).items()}
    users = reactions.get(emoji, [])
    if sender_id in users:
        users.remove(sender_id)
    else:
        if emoji not in reactions and len(reactions) >= c.MAX_REACTION_KINDS:
            raise Refused(c.ERR_BAD_REQUEST, f"a message takes at most {c.MAX_REACTION_KINDS} different emoji")
        users.append(sender_id)
    reactions[emoji] = users
    reactions = {e: u for e, u in reactions.items() if u}
    if reactions:
        item["reactions"] = reactions
    else:
        item.pop("reactions", None)
    _remember(item, digest, offset)
    return reaction_event(item, sender_id, emoji, value.get("clientMsgId"))


def scrubbed(reply_to: Mapping[str, Any]) -> dict:
    """A reply's quote once the message it quotes is deleted: who and which, not what."""
    return {"messageId": reply_to.get("messageId"), "seq": reply_to.get("seq"),
            "senderId": reply_to.get("senderId"), "deleted": True}


def _alive(item: Mapping[str, Any]) -> None:
    if item.get("deleted"):
        raise Refused(c.ERR_NOT_FOUND, f"message {item['messageId']} was deleted")
