"""Per member of a room, what the notifier needs besides the read mark (on the same
`members` item, so it lives and dies with the membership, like `readSeq`):

- `mutedUntil` (ms): no pushes for the room before then. 0 unmutes.
- `pushedSeq`: the seq of the last message pushed to the member for the room. While the
  member has not read up to it (`readSeq < pushedSeq`) nothing more is pushed for the room:
  one notification per room until read.

Both writes are conditional on the member item existing, so a removed member's row is
never re-created (the same rule as read marks).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from functions import tables
from functions.read_marks import NotMember
from functions.settings import Settings
from functions.store import Store, to_item

MAX_MUTE_MS = 2 ** 53 - 1


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def muted(member: Mapping[str, Any], now_ms: int) -> bool:
    return int(member.get("mutedUntil") or 0) > now_ms


def awaiting_read(member: Mapping[str, Any]) -> bool:
    """A push for the room went out and the member has not read up to it yet."""
    return int(member.get("pushedSeq") or 0) > int(member.get("readSeq") or 0)


class MemberState:
    def __init__(self, settings: Settings, client=None):
        self.store = Store(settings, client)
        self.client = self.store.client
        self.table = self.store.name(tables.MEMBERS)

    def _update(self, room_id: str, user_id: str, expression: str, values: dict, condition: str = "") -> None:
        try:
            self.client.update_item(
                TableName=self.table, Key=to_item({"roomId": room_id, "userId": user_id}),
                UpdateExpression=expression, ExpressionAttributeValues=to_item(values),
                ConditionExpression="attribute_exists(userId)" + condition)
        except ClientError as exc:
            if _conditional_failed(exc):
                raise NotMember(room_id, user_id) from None
            raise

    def mute(self, room_id: str, user_id: str, until_ms: int) -> None:
        """Mute the room for the member until `until_ms` (0 or past: unmuted). Raises NotMember."""
        self._update(room_id, user_id, "SET mutedUntil = :u", {":u": int(until_ms)})

    def pushed(self, room_id: str, user_id: str, seq: int) -> bool:
        """Record that `seq` was pushed (never moves back). False if the member is gone or
        the mark is already there (a retried batch)."""
        try:
            self._update(room_id, user_id, "SET pushedSeq = :s", {":s": int(seq)},
                         " AND (attribute_not_exists(pushedSeq) OR pushedSeq < :s)")
        except NotMember:
            return False
        return True

    def of_room(self, room_id: str) -> list[dict]:
        """Every member item of the room (userId, readSeq, mutedUntil, pushedSeq…)."""
        return list(self.store.query(tables.MEMBERS, KeyConditionExpression="roomId = :r",
                                     ExpressionAttributeValues={":r": room_id}, ConsistentRead=True))
