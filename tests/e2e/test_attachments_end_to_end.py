"""Photo attachments end to end on the real stack: the gateway and the HTTP function presign,
the upload goes to s3rver over HTTP (its SigV4 checks of the signed Content-Type and
Content-Length), s3rver's ObjectCreated notification runs the check function, members on two
edges see the message, the check's event and fetch the photo; and every kind of bad input is
refused with nothing kept."""

from __future__ import annotations

import io
import uuid

import pillow_heif
import pytest
import requests
from botocore.exceptions import ClientError
from PIL import Image

from functions import aws, contracts, image_types, tables
from functions.store import Store
from functions.tokens import mint
from test_changes_end_to_end import change, event, history, refusal, sent


def photo(fmt: str = "PNG", size: tuple[int, int] = (640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 120, 40)).save(out, fmt)
    return out.getvalue()


@pytest.fixture
def api(local_stack, settings):
    base = local_stack.endpoints()["gateway"]["api"]

    def call(method: str, path: str, user, body=None) -> requests.Response:
        token = mint(settings, user.id, user.role)
        return requests.request(method, f"{base}{path}", json=body, timeout=30,
                                headers={"authorization": f"Bearer {token}"})
    return call


def presign(api, user, room: str, content_type: str, data: bytes) -> dict:
    answer = api("POST", f"/rooms/{room}/attachments", user, {"contentType": content_type, "bytes": len(data)})
    assert answer.status_code == 201, answer.text
    return answer.json()


def upload(new: dict, data: bytes, content_type: str | None = None) -> requests.Response:
    headers = {"Content-Type": content_type or new["upload"]["headers"]["Content-Type"]}
    return requests.put(new["upload"]["url"], data=data, headers=headers, timeout=30)


def exists(settings, key: str) -> bool:
    try:
        aws.s3(settings).head_object(Bucket=settings.attachments_bucket, Key=key)
        return True
    except ClientError as exc:
        assert exc.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound")
        return False


def items_of(settings, room: str) -> list[dict]:
    return list(Store(settings).query(tables.ATTACHMENTS, KeyConditionExpression="roomId = :r",
                                      ExpressionAttributeValues={":r": room}, ConsistentRead=True))


def test_a_photo_reaches_both_members_with_a_thumbnail_and_full_size(chat, api, settings):
    data = photo("PNG", (800, 600))
    new = presign(api, chat.customer, chat.room, image_types.PNG, data)
    assert (new["status"], new["bytes"], new["key"]) == ("pending", len(data), f"rooms/{chat.room}/{new['attId']}")
    assert upload(new, data).status_code == 200

    message = sent(chat.c, chat.room, "Bella after the trim", attachment={"key": new["key"]})
    ref = {"key": new["key"], "attId": new["attId"], "contentType": image_types.PNG, "bytes": len(data)}
    assert message["attachment"] == ref
    assert event(chat.g, "message", seq=message["seq"])["attachment"] == ref
    for client in (chat.c, chat.g):   # the check's verdict, to everyone in the room
        checked = event(client, "attachment", room=chat.room)["attachment"]
        assert (checked["status"], checked["width"], checked["height"]) == ("ready", 800, 600)
        assert "url" not in checked
    assert history(settings, chat.room)[-1]["attachment"] == ref

    got = api("GET", f"/rooms/{chat.room}/attachments/{new['attId']}", chat.groomer)
    assert got.status_code == 200, got.text
    view = got.json()
    full = requests.get(view["url"], timeout=30)
    assert (full.status_code, full.content) == (200, data)
    thumb = requests.get(view["thumbUrl"], timeout=30)
    assert thumb.status_code == 200 and image_types.sniff(thumb.content) == image_types.JPEG
    assert max(Image.open(io.BytesIO(thumb.content)).size) == 320
    # the bucket is private: the same object without a signature is refused
    assert requests.get(view["url"].split("?")[0], timeout=30).status_code == 403


def test_an_upload_of_another_size_or_type_than_presigned_is_refused_by_s3(chat, api, settings):
    data = photo("JPEG")
    new = presign(api, chat.customer, chat.room, image_types.JPEG, data)
    bigger = upload(new, data + b"\0" * 10)
    assert bigger.status_code == 403 and "SignatureDoesNotMatch" in bigger.text
    other_type = upload(new, data, content_type=image_types.PNG)
    assert other_type.status_code == 403 and "SignatureDoesNotMatch" in other_type.text
    assert not exists(settings, new["key"])
    assert api("GET", f"/rooms/{chat.room}/attachments/{new['attId']}", chat.customer).json()["status"] == "pending"


def test_presign_refuses_bad_input_and_strangers_with_nothing_written(chat, api, new_user, settings):
    stranger = new_user("customer")
    before = len(items_of(settings, chat.room))
    cases = [
        (chat.customer, chat.room, {"contentType": "image/gif", "bytes": 10}, 400, contracts.ERR_UNSUPPORTED_TYPE),
        (chat.customer, chat.room, {"contentType": "image/png", "bytes": settings.attachment_max_bytes + 1},
         400, contracts.ERR_TOO_LARGE),
        (chat.customer, chat.room, {"contentType": "image/png", "bytes": 0}, 400, contracts.ERR_BAD_REQUEST),
        (chat.customer, chat.room, {"contentType": "image/png", "bytes": "12"}, 400, contracts.ERR_BAD_REQUEST),
        (stranger, chat.room, {"contentType": "image/png", "bytes": 10}, 403, contracts.ERR_FORBIDDEN),
        (chat.customer, f"room-{uuid.uuid4().hex[:8]}", {"contentType": "image/png", "bytes": 10}, 404,
         contracts.ERR_UNKNOWN_ROOM),
    ]
    for user, room, body, status, code in cases:
        answer = api("POST", f"/rooms/{room}/attachments", user, body)
        assert (answer.status_code, answer.json()["error"]["code"]) == (status, code), body
        assert "upload" not in answer.json()
    assert len(items_of(settings, chat.room)) == before


def test_a_stranger_cannot_fetch_a_members_photo(chat, api, new_user):
    data = photo()
    new = presign(api, chat.customer, chat.room, image_types.PNG, data)
    assert upload(new, data).status_code == 200
    stranger = new_user("customer")
    answer = api("GET", f"/rooms/{chat.room}/attachments/{new['attId']}", stranger)
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, contracts.ERR_FORBIDDEN)
    assert "url" not in answer.json()


def test_a_fake_image_is_rejected_deleted_and_cannot_be_sent(chat, api, settings):
    data = b"<html>definitely not a png</html>" * 10
    new = presign(api, chat.customer, chat.room, image_types.PNG, data)
    assert upload(new, data).status_code == 200   # S3 takes what was signed; the check decides
    checked = event(chat.g, "attachment", room=chat.room)["attachment"]
    assert (checked["attId"], checked["status"]) == (new["attId"], "rejected")
    assert "magic bytes" in checked["reason"]
    assert not exists(settings, new["key"])
    ref = change(chat.c, "send", chat.room, body="look", attachment={"key": new["key"]})
    assert refusal(chat.c, ref)["code"] == contracts.ERR_BAD_REQUEST
    assert all(m.get("clientMsgId") != ref for m in history(settings, chat.room))


def test_more_bytes_than_declared_put_with_bucket_credentials_are_rejected_by_the_check(chat, api, settings):
    """Past the presign (someone with the bucket's own credentials): the check still measures."""
    data = photo("PNG")
    new = presign(api, chat.customer, chat.room, image_types.PNG, data)
    aws.s3(settings).put_object(Bucket=settings.attachments_bucket, Key=new["key"], Body=data + b"\0" * 64,
                                ContentType=image_types.PNG)
    checked = event(chat.c, "attachment", room=chat.room)["attachment"]
    assert checked["status"] == "rejected" and "declared" in checked["reason"]
    assert not exists(settings, new["key"])


def test_a_heic_photo_is_decoded_measured_and_thumbnailed_like_the_others(chat, api):
    out = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (640, 480), (200, 120, 40))).save(out, quality=90)
    data = out.getvalue()
    new = presign(api, chat.customer, chat.room, image_types.HEIC, data)
    assert upload(new, data).status_code == 200
    checked = event(chat.c, "attachment", room=chat.room)["attachment"]
    assert (checked["status"], checked["width"], checked["height"]) == ("ready", 640, 480)
    view = api("GET", f"/rooms/{chat.room}/attachments/{new['attId']}", chat.customer).json()
    assert requests.get(view["url"], timeout=30).content == data   # the original HEIC, as uploaded
    thumb = requests.get(view["thumbUrl"], timeout=30)
    assert thumb.status_code == 200 and image_types.sniff(thumb.content) == image_types.JPEG
    assert Image.open(io.BytesIO(thumb.content)).size == (320, 240)


def test_a_heic_that_does_not_decode_is_rejected_and_deleted(chat, api, settings):
    data = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic" + b"\0" * 200   # the magic bytes, no photo
    new = presign(api, chat.customer, chat.room, image_types.HEIC, data)
    assert upload(new, data).status_code == 200
    checked = event(chat.c, "attachment", room=chat.room)["attachment"]
    assert checked["status"] == "rejected" and checked["reason"].startswith("does not decode as image/heic")
    assert not exists(settings, new["key"])


def test_sends_naming_another_rooms_or_an_unknown_key_are_refused(chat, api, new_room, settings):
    other = new_room(chat.customer, chat.groomer)
    data = photo()
    theirs = presign(api, chat.customer, other, image_types.PNG, data)
    assert upload(theirs, data).status_code == 200
    # another room's key: the edge refuses it before Kafka
    chat.c.send_json({"type": "send", "room": chat.room, "clientMsgId": "c-other", "body": "x",
                      "attachment": {"key": theirs["key"]}})
    assert "not one of this room" in refusal(chat.c, "c-other")["message"]
    # a key of this room's shape that was never presigned: the chat worker refuses it
    ref = change(chat.c, "send", chat.room, body="x", attachment={"key": f"rooms/{chat.room}/{uuid.uuid4().hex}"})
    assert refusal(chat.c, ref)["code"] == contracts.ERR_NOT_FOUND
    # another member's upload is theirs to send
    mine = presign(api, chat.customer, chat.room, image_types.PNG, data)
    ref = change(chat.g, "send", chat.room, body="x", attachment={"key": mine["key"]})
    assert refusal(chat.g, ref)["code"] == contracts.ERR_FORBIDDEN
    assert [m for m in history(settings, chat.room) if m.get("attachment")] == []


def test_deleting_the_message_drops_its_photo_reference(chat, api, settings):
    data = photo()
    new = presign(api, chat.customer, chat.room, image_types.PNG, data)
    assert upload(new, data).status_code == 200
    message = sent(chat.c, chat.room, "oops", attachment={"key": new["key"]})
    change(chat.c, "delete", chat.room, messageId=message["messageId"])
    assert "attachment" not in event(chat.g, "deleted", messageId=message["messageId"])
    stored = next(m for m in history(settings, chat.room) if m["seq"] == message["seq"])
    assert stored.get("deleted") and "attachment" not in stored
