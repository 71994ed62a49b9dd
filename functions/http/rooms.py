"""Rooms and members: POST/GET /rooms, GET /rooms/{roomId}, POST/DELETE members.

Membership rules (docs/http-api.md):
- whoever creates a room becomes a member, with the role from their token;
- any member may add a user (201). Adding someone who is already a member with the same
  role is a no-op (200); with another role it is a conflict (409): roles are not changed here;
- a member may remove themselves; the room's creator may remove anyone; nobody else may (403).
"""

from __future__ import annotations

import uuid

from functions import contracts, tables
from functions.connections import by_edge
from functions.http.common import (HttpError, Request, bad_request, check_role, check_room_id,
                                          check_user_id, member_view)
from functions.read_marks import unread
from functions.rooms import MAX_NAME_CHARS, RoomExists, UnknownRoom

MAX_CREATE_MEMBERS = 100


def _room_view(room: dict, last_seq: int) -> dict:
    return {"roomId": room["roomId"], "name": room.get("name"), "createdBy": room.get("createdBy"),
            "createdAt": room.get("createdAt"), "lastSeq": last_seq}


def _name(value) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME_CHARS \
            or contracts.has_control_chars(value):
        raise bad_request(f"name must be a non-blank string of at most {MAX_NAME_CHARS} characters, "
                          "without control characters")
    return value


def _roster(value, creator: str) -> dict[str, str]:
    """members: [{userId, role}] -> {userId: role}, the creator left out (they join with
    their token's role)."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise bad_request("members must be an array of {userId, role}")
    if len(value) > MAX_CREATE_MEMBERS:
        raise bad_request(f"at most {MAX_CREATE_MEMBERS} members at creation")
    roster: dict[str, str] = {}
    for i, entry in enumerate(value):
        if not isinstance(entry, dict) or set(entry) - {"userId", "role"}:
            raise bad_request(f"members[{i}] must be an object with userId and role only")
        user_id = check_user_id(entry.get("userId"), f"members[{i}].userId")
        role = check_role(entry.get("role"), f"members[{i}].role")
        if roster.get(user_id, role) != role:
            raise bad_request(f"members lists {user_id} twice with different roles")
        roster[user_id] = role
    roster.pop(creator, None)
    return roster


def create_room(req: Request):
    body = req.json_object(("roomId", "name", "members"))
    room_id = body.get("roomId")
    room_id = uuid.uuid4().hex if room_id is None else check_room_id(room_id)
    name = _name(body.get("name"))
    roster = _roster(body.get("members"), req.caller.user_id)
    try:
        room = req.deps.rooms.create(room_id, name, req.caller.user_id, roster, creator_role=req.caller.role)
    except RoomExists:
        raise HttpError(409, contracts.ERR_CONFLICT, f"room {room_id} already exists") from None
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    members = sorted(({"userId": m["userId"], "role": m["role"], "joinedAt": room["createdAt"]}
                      for m in room["members"]), key=lambda m: m["userId"])
    return 201, {**_room_view(room, 0), "members": members}, {"location": f"/rooms/{room_id}"}


def list_rooms(req: Request):
    me = req.caller.user_id
    rows = req.deps.rooms.rooms_of(me)
    marks = req.deps.read_marks.of_user(me, [r["roomId"] for r in rows])
    out = []
    for row in rows:
        mark = marks.get(row["roomId"])
        if mark is None:  # left the room between the two reads
            continue
        out.append({**_room_view(row, mark["lastSeq"]), "role": row.get("role"), "joinedAt": row.get("joinedAt"),
                    "readSeq": min(mark["readSeq"], mark["lastSeq"]),
                    "unread": unread(mark["lastSeq"], mark["readSeq"]),
                    "lastMessage": mark["lastMessage"]})
    out.sort(key=lambda r: ((r["lastMessage"] or {}).get("sentAt") or r["createdAt"] or 0, r["roomId"]),
             reverse=True)
    return 200, {"rooms": out}


def get_room(req: Request):
    room_id = req.room_id()
    room = req.member_room(room_id)
    members = [member_view(m) for m in req.deps.rooms.members(room_id)]
    return 200, {**_room_view(room, req.deps.read_marks.last_seq(room_id)), "members": members}


def add_member(req: Request):
    room_id = req.room_id()
    body = req.json_object(("userId", "role"))
    user_id = check_user_id(body.get("userId"))
    role = check_role(body.get("role"))
    req.member_room(room_id)
    found = req.deps.store.batch_get({tables.MEMBERS: [{"roomId": room_id, "userId": user_id}]})
    if found[tables.MEMBERS]:
        current = found[tables.MEMBERS][0]
        if current.get("role") != role:
            raise HttpError(409, contracts.ERR_CONFLICT,
                            f"{user_id} is already a member with role {current.get('role')}")
        return 200, {"roomId": room_id, **member_view(current)}
    try:
        req.deps.rooms.add_member(room_id, user_id, role)
    except UnknownRoom:
        raise HttpError(404, contracts.ERR_UNKNOWN_ROOM, f"no room {room_id}") from None
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    found = req.deps.store.batch_get({tables.MEMBERS: [{"roomId": room_id, "userId": user_id}]})
    item = found[tables.MEMBERS][0] if found[tables.MEMBERS] else {"userId": user_id, "role": role}
    return 201, {"roomId": room_id, **member_view(item)}


def remove_member(req: Request):
    room_id = req.room_id()
    user_id = req.user_id()
    room = req.member_room(room_id)
    me = req.caller.user_id
    if user_id != me and room.get("createdBy") != me:
        raise HttpError(403, contracts.ERR_FORBIDDEN,
                        "only the room's creator may remove other members; anyone may remove themselves")
    ended = req.deps.rooms.remove_member(room_id, user_id)
    if ended is None:
        raise HttpError(404, contracts.ERR_NOT_FOUND, f"{user_id} is not a member of room {room_id}")
    if ended:   # their sockets stop showing the room now, on every edge (docs/guarantees.md)
        event = {"type": contracts.EVENT_UNSUBSCRIBED, "room": room_id, "reason": contracts.REASON_REMOVED}
        req.deps.deliverer.deliver({edge: [(ids, event)] for edge, ids in by_edge(ended).items()})
    return 200, {"roomId": room_id, "userId": user_id, "removed": True}
