"""Read marks: how far each member has read a room, and unread counts.

A read mark is the attribute `readSeq` (plus `readAt`, ms) on the member's item in the
`members` table, so it lives and dies with the membership and needs no table of its own.
It only moves forward: the write is a conditional update (`readSeq < :seq` or absent,
and the member item must exist, so a removed member's row is never re-created), and the
target is clamped to the room's last stored seq, so a client cannot mark messages
read that do not exist yet.

Unread = lastSeq - readSeq, never negative. Both numbers only grow, and the mark never
passes the head it was clamped to, so a count computed while messages are being sent is
at worst slightly stale, never wrong in sign or larger than the room.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from botocore.exceptions import ClientError

from functions import tables
from functions.settings import Settings
from functions.store import Store, now_ms, to_item


class NotMember(LookupError):
    """The user has no member item in the room (never was, or was removed)."""


class Mark(NamedTuple):
    read_seq: int     # the mark after the call
    last_seq: int     # the room's head it was clamped to
    moved: bool       # False when the mark was already at or past the target


def unread(last_seq: int | None, read_seq: int | None) -> int:
    return max(0, int(last_seq or 0) - int(read_seq or 0))


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class ReadMarks:
    def __init__(self, settings: Settings, client=None, *, clock_ms=now_ms):
        self.store = Store(settings, client)
        self.client = self.store.client
        self.members_table = self.store.name(tables.MEMBERS)
        self.clock_ms = clock_ms

    def last_seq(self, room_id: str) -> int:
        head = self.store.heads([room_id]).get(room_id)
        return int(head.get("lastSeq") or 0) if head else 0

    def get(self, room_id: str, user_id: str) -> int:
        """The user's read seq in the room (0 when never marked). Raises NotMember."""
        found = self.store.batch_get({tables.MEMBERS: [{"roomId": room_id, "userId": user_id}]})
        if not found[tables.MEMBERS]:
            raise NotMember(room_id, user_id)
        return int(found[tables.MEMBERS][0].get("readSeq") or 0)

    def mark(self, room_id: str, user_id: str, seq: int, *, last_seq: int | None = None) -> Mark:
        """Move the user's mark forward to min(seq, the room's lastSeq). Never moves it back.
        `last_seq` skips reading the head when the caller has just read it. Raises NotMember."""
        if isinstance(seq, bool) or not isinstance(seq, int) or seq < 0:
            raise ValueError(f"seq must be a non-negative integer, got {seq!r}")
        head = self.last_seq(room_id) if last_seq is None else int(last_seq)
        target = min(seq, head)
        if target <= 0:
            return Mark(self.get(room_id, user_id), head, False)
        try:
            self.client.update_item(
                TableName=self.members_table, Key=to_item({"roomId": room_id, "userId": user_id}),
                UpdateExpression="SET readSeq = :seq, readAt = :now",
                ConditionExpression="attribute_exists(userId) AND "
                                    "(attribute_not_exists(readSeq) OR readSeq < :seq)",
                ExpressionAttributeValues=to_item({":seq": target, ":now": self.clock_ms()}))
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            return Mark(self.get(room_id, user_id), head, False)  # NotMember, or already further
        return Mark(target, head, True)

    def of_room(self, room_id: str) -> list[dict]:
        """Every member's mark: [{userId, readSeq, readAt}] ordered by userId (readSeq 0 and
        readAt None for members who never marked)."""
        rows = self.store.query(tables.MEMBERS, KeyConditionExpression="roomId = :r",
                                ExpressionAttributeValues={":r": room_id}, ConsistentRead=True)
        return [{"userId": r["userId"], "readSeq": int(r.get("readSeq") or 0), "readAt": r.get("readAt")}
                for r in rows]

    def of_user(self, user_id: str, room_ids: Iterable[str]) -> dict[str, dict]:
        """For each room the user is a member of: {"readSeq", "lastSeq", "lastMessage"}
        (the member items in one BatchGetItem, then each room's newest stored message). Rooms
        where the user is not a member are left out."""
        ids = list(dict.fromkeys(room_ids))
        if not ids:
            return {}
        found = self.store.batch_get({tables.MEMBERS: [{"roomId": r, "userId": user_id} for r in ids]})
        heads = self.store.heads([row["roomId"] for row in found[tables.MEMBERS]])
        out = {}
        for row in found[tables.MEMBERS]:
            head = heads.get(row["roomId"]) or {}
            out[row["roomId"]] = {"readSeq": int(row.get("readSeq") or 0),
                                  "lastSeq": int(head.get("lastSeq") or 0),
                                  "lastMessage": head.get("lastMessage")}
        return out
