"""History: GET /rooms/{roomId}/messages?after=SEQ|before=SEQ&limit=N&cursor=C.

A page is always in ascending seq. It carries two opaque cursors:
- `nextCursor`: the page just newer than this one (null when nothing newer exists now);
- `prevCursor`: the page just older (null when the page starts at the room's first message).
Following either one walks the whole room in that direction (no depth limit). A cursor is
base64url JSON {r: roomId, a?: after, b?: before}; it is only good for its own room, and
it is used instead of after/before (giving both is a 400).

Without bounds the page is the latest `limit` messages. `after` pages forward (oldest
first after SEQ), `before` pages backward (the newest before SEQ); both together page
forward inside the range.
"""

from __future__ import annotations

import base64
import binascii

from functions import contracts
from functions.http.common import MAX_SEQ, Request, bad_request
from functions.history import MAX_PAGE
from functions.message_items import changed_state

DEFAULT_LIMIT = 50
MAX_CURSOR_CHARS = 512


def message_view(item: dict) -> dict:
    """A message as it is now: the latest version of its body (null once deleted), and what its
    changes added (replyTo, editedAt/version, deleted/deletedAt/deletedBy, reactions), and the
    photo it refers to (`attachment`; its state and URLs: GET .../attachments/{attId})."""
    return {"roomId": item["roomId"], "seq": item["seq"],
            "messageId": item.get("messageId") or contracts.message_id(item["roomId"], item["seq"]),
            "clientMsgId": item.get("clientMsgId"), "senderId": item.get("senderId"),
            "senderRole": item.get("senderRole"), "body": item.get("body"), "sentAt": item.get("sentAt"),
            "storedAt": item.get("storedAt"), **changed_state(item),
            **({"attachment": item["attachment"]} if item.get("attachment") else {})}


def encode_cursor(room_id: str, after: int | None = None, before: int | None = None) -> str:
    payload = {"r": room_id}
    if after is not None:
        payload["a"] = after
    if before is not None:
        payload["b"] = before
    return base64.urlsafe_b64encode(contracts.encode(payload)).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str, room_id: str) -> tuple[int | None, int | None]:
    """(after, before) from a cursor of this room, or 400."""
    bad = bad_request("cursor is not a cursor of this room's history")
    if not isinstance(cursor, str) or not cursor or len(cursor) > MAX_CURSOR_CHARS:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = contracts.decode(raw)
    except (ValueError, binascii.Error):
        raise bad from None
    if not isinstance(payload, dict) or payload.get("r") != room_id or set(payload) - {"r", "a", "b"}:
        raise bad
    bounds = []
    for key in ("a", "b"):
        value = payload.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                  or not 0 <= value <= MAX_SEQ):
            raise bad
        bounds.append(value)
    if bounds == [None, None]:
        raise bad
    return bounds[0], bounds[1]


def list_messages(req: Request):
    room_id = req.room_id()
    limit = req.query_int("limit", low=1, high=MAX_PAGE)
    limit = DEFAULT_LIMIT if limit is None else limit
    after, before = req.query_int("after"), req.query_int("before")
    cursor = req.event.query("cursor")
    if cursor is not None:
        if after is not None or before is not None:
            raise bad_request("give either cursor or after/before, not both")
        after, before = decode_cursor(cursor, room_id)
    req.member_room(room_id)
    page = req.deps.messages.page(room_id, after_seq=after, before_seq=before, limit=limit)
    last_seq = req.deps.read_marks.last_seq(room_id)
    items = page.items
    if page.direction == "forward":
        newer = page.cursor is not None
        if items:
            first, last = items[0]["seq"], items[-1]["seq"]
        else:  # nothing after `after` (in range): older ones end at it
            first, last = min(after + 1, MAX_SEQ), after
    else:
        if items:
            first, last = items[0]["seq"], items[-1]["seq"]
        else:  # nothing before `before` (or an empty room)
            first, last = 1, max(0, before - 1 if before is not None else last_seq)
        newer = last < last_seq
    next_cursor = encode_cursor(room_id, after=last, before=before if page.direction == "forward" else None) \
        if newer else None
    older = page.cursor is not None if page.direction == "backward" else first > 1
    prev_cursor = encode_cursor(room_id, before=first) if older else None
    return 200, {"roomId": room_id, "items": [message_view(i) for i in items], "lastSeq": last_seq,
                 "nextCursor": next_cursor, "prevCursor": prev_cursor}
