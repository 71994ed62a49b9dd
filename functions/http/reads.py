"""Read marks, presence and the caller: PUT/GET /rooms/{roomId}/read,
GET /rooms/{roomId}/presence, GET /me."""

from __future__ import annotations

from functions import contracts
from functions.http.common import HttpError, Request, check_seq
from functions.read_marks import NotMember, unread


def put_read(req: Request):
    room_id = req.room_id()
    body = req.json_object(("seq",))
    if "seq" not in body:
        raise HttpError(400, contracts.ERR_BAD_REQUEST, "seq is required")
    seq = check_seq(body["seq"])
    req.member_room(room_id)
    try:
        mark = req.deps.read_marks.mark(room_id, req.caller.user_id, seq)
    except NotMember:  # removed between the check and the write
        raise HttpError(403, contracts.ERR_FORBIDDEN, f"not a member of room {room_id}") from None
    return 200, {"roomId": room_id, "userId": req.caller.user_id, "readSeq": mark.read_seq,
                 "lastSeq": mark.last_seq, "unread": unread(mark.last_seq, mark.read_seq), "moved": mark.moved}


def get_reads(req: Request):
    room_id = req.room_id()
    req.member_room(room_id)
    marks = req.deps.read_marks
    reads = marks.of_room(room_id)
    return 200, {"roomId": room_id, "lastSeq": marks.last_seq(room_id), "reads": reads}


def presence(req: Request):
    room_id = req.room_id()
    req.member_room(room_id)
    return 200, {"roomId": room_id, "online": req.deps.connections.online_users(room_id)}


def me(req: Request):
    return 200, {"userId": req.caller.user_id, "role": req.caller.role}
