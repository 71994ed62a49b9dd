"""Rooms and their members (tables `rooms` and `members`).

The room item also carries `subs` (connectionId -> subscription entry), which
`functions.connections` maintains; `Rooms.get` leaves it out (it names edges and
connections, which are nobody's business outside the backend).
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from functions import contracts, tables
from functions.settings import Settings
from functions.store import Store, now_ms, to_item

MAX_NAME_CHARS = 200

MEMBER = "member"
NOT_MEMBER = "not_member"
UNKNOWN_ROOM = "unknown_room"


class RoomExists(Exception):
    """create() with an id that is already taken."""


class UnknownRoom(LookupError):
    """The room does not exist."""


def _check_room_id(room_id: str) -> None:
    if not contracts.ROOM_ID.valid(room_id):
        raise ValueError(f"invalid room id: {room_id!r}")


def _check_user(user_id: str, role: str | None = None) -> None:
    if not contracts.USER_ID.valid(user_id):
        raise ValueError(f"invalid user id: {user_id!r}")
    if role is not None and role not in contracts.ROLES:
        raise ValueError(f"invalid role: {role!r} (one of {', '.join(contracts.ROLES)})")


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class Rooms:
    def __init__(self, settings: Settings, client=None):
        self.store = Store(settings, client)
        self.client = self.store.client
        self.rooms_table = self.store.name(tables.ROOMS)
        self.members_table = self.store.name(tables.MEMBERS)

    def create(self, room_id: str, name: str, created_by: str, members: dict[str, str] | None = None,
               *, creator_role: str = "customer") -> dict:
        """Create a room with its members (user id -> role). The creator becomes a member
        (with their role in `members` if listed, else `creator_role`). Raises RoomExists."""
        _check_room_id(room_id)
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME_CHARS \
                or contracts.has_control_chars(name):
            raise ValueError(f"room name must be 1..{MAX_NAME_CHARS} characters, no control characters")
        roster = dict(members or {})
        roster.setdefault(created_by, creator_role)
        for user_id, role in roster.items():
            _check_user(user_id, role)
        created_at = now_ms()
        room = {"roomId": room_id, "name": name, "createdBy": created_by, "createdAt": created_at}
        try:
            self.client.put_item(TableName=self.rooms_table, Item=to_item({**room, "subs": {}}),
                                 ConditionExpression="attribute_not_exists(roomId)")
        except ClientError as exc:
            if _conditional_failed(exc):
                raise RoomExists(room_id) from exc
            raise
        self.store.batch_write({tables.MEMBERS: [
            {"roomId": room_id, "userId": u, "role": r, "joinedAt": created_at} for u, r in roster.items()]})
        return {**room, "members": [{"userId": u, "role": r} for u, r in roster.items()]}

    def get(self, room_id: str) -> dict | None:
        """The room (roomId, name, createdBy, createdAt) or None."""
        found = self.store.batch_get({tables.ROOMS: [{"roomId": room_id}]})[tables.ROOMS]
        if not found:
            return None
        room = found[0]
        room.pop("subs", None)
        return room

    def exists(self, room_id: str) -> bool:
        response = self.client.get_item(TableName=self.rooms_table, Key=to_item({"roomId": room_id}),
                                        ProjectionExpression="roomId", ConsistentRead=True)
        return "Item" in response

    def add_member(self, room_id: str, user_id: str, role: str) -> None:
        """Add a member or change their role (joinedAt is kept). Raises UnknownRoom."""
        _check_user(user_id, role)
        if not self.exists(room_id):
            raise UnknownRoom(room_id)
        self.client.update_item(
            TableName=self.members_table, Key=to_item({"roomId": room_id, "userId": user_id}),
            UpdateExpression="SET #role = :role, joinedAt = if_not_exists(joinedAt, :now)",
            ExpressionAttributeNames={"#role": "role"},
            ExpressionAttributeValues=to_item({":role": role, ":now": now_ms()}))

    def remove_member(self, room_id: str, user_id: str) -> dict[str, dict] | None:
        """Remove a member, then their live subscriptions to the room. Returns those
        subscription entries (connectionId -> {u, r, e, x}: the caller tells their edges),
        or None when the user was not a member.

        The member row goes first: a subscribe racing this checks membership after writing
        its entry (websocket_edge/session.py), so either it sees the removal or its entry is
        already there to be removed here."""
        response = self.client.delete_item(
            TableName=self.members_table, Key=to_item({"roomId": room_id, "userId": user_id}),
            ReturnValues="ALL_OLD")
        found = self.store.batch_get({tables.ROOMS: [{"roomId": room_id}]})[tables.ROOMS]
        subs = (found[0].get("subs") or {}) if found else {}
        theirs = {cid: entry for cid, entry in subs.items() if entry.get("u") == user_id}
        if theirs:
            names = {f"#c{i}": cid for i, cid in enumerate(theirs)}
            try:
                self.client.update_item(
                    TableName=self.rooms_table, Key=to_item({"roomId": room_id}),
                    UpdateExpression="REMOVE " + ", ".join(f"subs.{n}" for n in names),
                    ConditionExpression="attribute_exists(roomId)",
                    ExpressionAttributeNames=names)
            except ClientError as exc:
                if not _conditional_failed(exc):
                    raise
        return theirs if "Attributes" in response else None

    def membership(self, room_id: str, user_id: str) -> str:
        """"member" | "not_member" | "unknown_room", in one BatchGetItem."""
        found = self.store.batch_get({tables.ROOMS: [{"roomId": room_id}],
                                      tables.MEMBERS: [{"roomId": room_id, "userId": user_id}]})
        if not found[tables.ROOMS]:
            return UNKNOWN_ROOM
        return MEMBER if found[tables.MEMBERS] else NOT_MEMBER

    def is_member(self, room_id: str, user_id: str) -> bool:
        """One consistent read of the member row (the edge calls it after what it guards)."""
        response = self.client.get_item(TableName=self.members_table,
                                        Key=to_item({"roomId": room_id, "userId": user_id}),
                                        ProjectionExpression="userId", ConsistentRead=True)
        return "Item" in response

    def members(self, room_id: str) -> list[dict]:
        """[{roomId, userId, role, joinedAt}] ordered by userId."""
        return list(self.store.query(tables.MEMBERS, KeyConditionExpression="roomId = :r",
                                     ExpressionAttributeValues={":r": room_id}, ConsistentRead=True))

    def rooms_of(self, user_id: str) -> list[dict]:
        """The rooms a user is a member of: [{roomId, name, createdBy, createdAt, role, joinedAt}],
        ordered by roomId. Rooms deleted since are left out."""
        rows = list(self.store.query(tables.MEMBERS, index="by_user",
                                     KeyConditionExpression="userId = :u",
                                     ExpressionAttributeValues={":u": user_id}))
        if not rows:
            return []
        found = self.store.batch_get({tables.ROOMS: [{"roomId": r["roomId"]} for r in rows]})
        rooms: dict[str, dict[str, Any]] = {r["roomId"]: r for r in found[tables.ROOMS]}
        out = []
        for row in rows:
            room = rooms.get(row["roomId"])
            if room is None:
                continue
            out.append({"roomId": row["roomId"], "name": room.get("name"), "createdBy": room.get("createdBy"),
                        "createdAt": room.get("createdAt"), "role": row.get("role"),
                        "joinedAt": row.get("joinedAt")})
        return out
