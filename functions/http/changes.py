"""Edit, delete and react through the HTTP API (issue 16):

    PATCH  /rooms/{roomId}/messages/{seq}            {"content", "clientMsgId"?}   edit
    DELETE /rooms/{roomId}/messages/{seq}?clientMsgId=                           delete
    POST   /rooms/{roomId}/messages/{seq}/reactions  {"emoji", "clientMsgId"?}     toggle a reaction

A change takes the WebSocket protocols' path: a record of the room's partition (keyed by
roomId), which the chat worker applies in room order, exactly once, and tells the room's
members. This function never writes a message item. It
1. checks what it can before producing, with the worker's own rules (functions.message_changes,
   run on a copy of the stored message): member, message stored, who may, the edit window,
   one emoji. A refusal produces nothing;
2. produces the record (sender and role from the token; no connectionId/edgeUrl: nobody's
   connection to answer) and waits for Kafka's delivery report (none: 503, send again);
3. waits up to TIDINGS_HTTP_CHANGE_WAIT_S for the partition's commit to pass the record's
   offset, then reads the message: applied (its `ops` remember senderId|clientMsgId) 200 with
   the message as it is now; refused by the worker (the message changed after the check) the
   rules name why, else 409. Not committed in time: 202, the change is on its way.

A resend with the same clientMsgId applies once: the worker and the check here both find it
in the message's `ops`.
"""

from __future__ import annotations

import copy
import re
import time
import uuid

from functions import contracts
from functions import message_changes as rules
from functions.http.common import HttpError, Request, bad_request
from functions.http.messages import message_view
from functions.message_items import dedup_digest

POLL_S = 0.05
_SEQ = re.compile(r"[1-9][0-9]{0,15}")
# Refusals of the rules, as HTTP statuses (the code is the rules' own).
_STATUS = {contracts.ERR_FORBIDDEN: 403, contracts.ERR_NOT_FOUND: 404, contracts.ERR_TOO_LATE: 409,
           contracts.ERR_BAD_REQUEST: 400}


def edit_message(req: Request):
    room_id, seq = _target(req)
    body = req.json_object(("content", "clientMsgId"))
    content = body.get("content")
    if not isinstance(content, str) or not content.strip():
        raise bad_request("content must be non-empty text")
    if len(content) > contracts.MAX_BODY_CHARS:
        raise HttpError(413, contracts.ERR_TOO_LARGE, f"content over {contracts.MAX_BODY_CHARS} characters")
    return _change(req, contracts.RECORD_EDIT, room_id, seq, _client_msg_id(body.get("clientMsgId")),
                   {"body": content})


def delete_message(req: Request):
    room_id, seq = _target(req)
    return _change(req, contracts.RECORD_DELETE, room_id, seq, _client_msg_id(req.event.query("clientMsgId")), {})


def react_to_message(req: Request):
    room_id, seq = _target(req)
    body = req.json_object(("emoji", "clientMsgId"))
    if not contracts.is_single_emoji(body.get("emoji")):
        raise bad_request("emoji must be exactly one emoji")
    return _change(req, contracts.RECORD_REACT, room_id, seq, _client_msg_id(body.get("clientMsgId")),
                   {"emoji": body["emoji"]})


def _target(req: Request) -> tuple[str, int]:
    room_id = req.room_id()
    raw = req.params.get("seq")
    if not isinstance(raw, str) or _SEQ.fullmatch(raw) is None:
        raise bad_request("path parameter seq must be a message's seq (a positive integer)")
    return room_id, int(raw)


def _client_msg_id(value) -> str:
    if value is None:
        return uuid.uuid4().hex
    if not contracts.CLIENT_MSG_ID.valid(value):
        raise bad_request(f"clientMsgId must match {contracts.CLIENT_MSG_ID.pattern}")
    return value


def _change(req: Request, kind: str, room_id: str, seq: int, client_msg_id: str, fields: dict):
    user = req.caller.user_id
    record = {"v": contracts.SCHEMA_VERSION, "type": kind, "roomId": room_id, "senderId": user,
              "senderRole": req.caller.role, "sentAt": int(time.time() * 1000), "clientMsgId": client_msg_id,
              "messageId": contracts.message_id(room_id, seq), **fields}
    digest = dedup_digest(user, client_msg_id)
    room, item = _stored(req, room_id, seq)
    if rules.applied_at(item, digest) is not None:   # a resend of a change already stored
        return 200, message_view(item)
    _check(req, kind, record, digest, item, room)
    try:
        partition, offset = req.deps.producer.produce(record, room_id)
    except Exception as exc:   # record_producer.ProduceError, or a producer that cannot be built
        raise HttpError(503, contracts.ERR_UNAVAILABLE, f"not accepted, send again: {exc}",
                        {"retry-after": "1"}) from exc
    if not _committed(req, f"{req.deps.settings.chat_topic}-{partition}", offset):
        return 202, {"status": "accepted", "clientMsgId": client_msg_id, "messageId": record["messageId"]}
    room, item = _stored(req, room_id, seq)
    if rules.applied_at(item, digest) is not None:
        return 200, message_view(item)
    _check(req, kind, record, digest, item, room)   # names why the worker refused it, if the rules can
    raise HttpError(409, contracts.ERR_CONFLICT, "the change was not applied (the message changed meanwhile)")


def _stored(req: Request, room_id: str, seq: int) -> tuple[dict, dict]:
    """(room, stored message) if the caller is a member (403/404 otherwise) and it exists."""
    room = req.member_room(room_id)
    item = req.deps.messages.get(room_id, seq)
    if item is None:
        raise HttpError(404, contracts.ERR_NOT_FOUND, f"no message {contracts.message_id(room_id, seq)}")
    return room, item


def _check(req: Request, kind: str, record: dict, digest: str, item: dict, room: dict) -> None:
    """The worker's rules on a copy of the message: raises the HTTP error of a refusal."""
    mine = copy.deepcopy(item)
    try:
        if kind == contracts.RECORD_EDIT:
            rules.edit(mine, record["senderId"], record, digest, -1, int(req.deps.settings.edit_window_s * 1000))
        elif kind == contracts.RECORD_DELETE:
            rules.delete(mine, record["senderId"], record, digest, -1, room.get("createdBy"))
        else:
            rules.react(mine, record["senderId"], record, digest, -1)
    except rules.Refused as refused:
        raise HttpError(_STATUS.get(refused.code, 409), refused.code, refused.message) from None


def _committed(req: Request, partition: str, offset: int) -> bool:
    """Whether the partition's commit point reached `offset` within TIDINGS_HTTP_CHANGE_WAIT_S."""
    store = req.deps.store
    deadline = time.monotonic() + req.deps.settings.http_change_wait_s
    while store.commits([partition])[partition] < offset:
        if time.monotonic() >= deadline:
            return False
        time.sleep(POLL_S)
    return True
