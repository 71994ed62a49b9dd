"""Photo attachments: POST /rooms/{roomId}/attachments (a presigned upload) and
GET /rooms/{roomId}/attachments/{attId} (its state, and short-lived URLs once it is ready).

Only members: a non-member gets 403 and nothing is presigned or written (the membership is
read before anything else is done). docs/http-api.md, "Attachments".
"""

from __future__ import annotations

from functions import contracts, image_types
from functions.http.common import HttpError, Request, bad_request


def _content_type(value) -> str:
    if value not in image_types.CONTENT_TYPES:
        raise HttpError(400, contracts.ERR_UNSUPPORTED_TYPE,
                        f"contentType must be one of {', '.join(image_types.CONTENT_TYPES)}")
    return value


def _size(value, limit: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise bad_request("bytes must be the photo's size, a positive integer")
    if value > limit:
        raise HttpError(400, contracts.ERR_TOO_LARGE, f"a photo may have at most {limit} bytes, not {value}")
    return value


def create_attachment(req: Request):
    room_id = req.room_id()
    body = req.json_object(("contentType", "bytes"))
    req.member_room(room_id)
    content_type = _content_type(body.get("contentType"))
    size = _size(body.get("bytes"), req.deps.settings.attachment_max_bytes)
    item = req.deps.attachments.create(room_id, req.caller.user_id, content_type, size)
    return 201, {**req.deps.attachments.view(item), "upload": req.deps.attachments.presign_upload(item)}


def get_attachment(req: Request):
    room_id = req.room_id()
    att_id = req.params.get("attId")
    if not contracts.ATT_ID.valid(att_id):
        raise bad_request(f"path parameter attId must match {contracts.ATT_ID.pattern}")
    req.member_room(room_id)
    item = req.deps.attachments.get(room_id, att_id)
    if item is None:
        raise HttpError(404, contracts.ERR_NOT_FOUND, f"no attachment {att_id} in room {room_id}")
    return 200, req.deps.attachments.view(item, urls=True)
