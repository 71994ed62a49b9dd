"""Photo attachments: their items (table `attachments`) and the presigned S3 URLs.

Life of a photo (docs/http-api.md, "Attachments"):
1. a member asks to upload (POST /rooms/{roomId}/attachments {contentType, bytes}): an item
   {roomId, attId, key, status: pending, contentType, bytes, uploadedBy} and a presigned PUT
   of `key` that signs Content-Type and Content-Length, so S3 takes exactly that type and size;
2. the client PUTs the photo to S3 and sends a message with `attachment: {key}`;
3. S3's ObjectCreated notification runs the check (functions/attachment_check.py), which
   settles the item: ready (with width, height, and a thumbnail at `thumbKey`) or rejected
   (with a reason; the object is deleted). A settled item never changes again;
4. members fetch through presigned GETs that live TIDINGS_ATTACHMENT_URL_TTL_S.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Mapping

from botocore.exceptions import ClientError

from functions import aws, contracts, tables
from functions.settings import Settings
from functions.store import Store, from_item, to_item

PENDING, READY, REJECTED = contracts.ATTACHMENT_STATUSES
THUMB_PREFIX = "thumbs/"     # outside rooms/: a thumbnail written is no new photo to check
# What members see of an item (besides the URLs).
VIEW_FIELDS = ("key", "attId", "status", "contentType", "bytes", "width", "height", "reason")


def thumb_key(room_id: str, att_id: str) -> str:
    return f"{THUMB_PREFIX}{room_id}/{att_id}.jpg"


class Attachments:
    def __init__(self, settings: Settings, client=None, s3=None):
        self.settings = settings
        self.store = Store(settings, client)
        self.s3 = s3 or aws.s3(settings)
        self.table = settings.table_name(tables.ATTACHMENTS.logical)

    # --- items -----------------------------------------------------------------------------
    def create(self, room_id: str, user_id: str, content_type: str, size: int) -> dict:
        att_id = uuid.uuid4().hex
        item = {"roomId": room_id, "attId": att_id, "key": contracts.attachment_key(room_id, att_id),
                "status": PENDING, "contentType": content_type, "bytes": size, "uploadedBy": user_id,
                "createdAt": int(time.time() * 1000)}
        self.store.client.put_item(TableName=self.table, Item=to_item(item))
        return item

    def get(self, room_id: str, att_id: str) -> dict | None:
        found = self.store.batch_get({tables.ATTACHMENTS: [{"roomId": room_id, "attId": att_id}]})
        return found[tables.ATTACHMENTS][0] if found[tables.ATTACHMENTS] else None

    def settle(self, room_id: str, att_id: str, status: str, **fields: Any) -> dict | None:
        """pending -> ready | rejected, once: the settled item, or None when it was settled
        before (a repeated notification) or never presigned."""
        values = {"status": status, "checkedAt": int(time.time() * 1000), **fields}
        names = {f"#{k}": k for k in values}
        try:
            out = self.store.client.update_item(
                TableName=self.table, Key=to_item({"roomId": room_id, "attId": att_id}),
                UpdateExpression="SET " + ", ".join(f"#{k} = :{k}" for k in values),
                ConditionExpression="#status = :pending",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**to_item({f":{k}": v for k, v in values.items()}),
                                           ":pending": {"S": PENDING}},
                ReturnValues="ALL_NEW")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise
        return from_item(out["Attributes"])

    # --- S3 --------------------------------------------------------------------------------
    def presign_upload(self, item: Mapping[str, Any]) -> dict:
        """A PUT that S3 accepts only with this Content-Type and this Content-Length (both are
        signed headers: anything else is 403 SignatureDoesNotMatch)."""
        url = self.s3.generate_presigned_url(
            "put_object", ExpiresIn=self.settings.attachment_upload_ttl_s,
            Params={"Bucket": self.settings.attachments_bucket, "Key": item["key"],
                    "ContentType": item["contentType"], "ContentLength": int(item["bytes"])})
        return {"method": "PUT", "url": url, "headers": {"Content-Type": item["contentType"]},
                "expiresIn": self.settings.attachment_upload_ttl_s}

    def presign_get(self, key: str) -> str:
        return self.s3.generate_presigned_url("get_object", ExpiresIn=self.settings.attachment_url_ttl_s,
                                              Params={"Bucket": self.settings.attachments_bucket, "Key": key})

    def view(self, item: Mapping[str, Any], *, urls: bool = False) -> dict:
        """What a member sees; with `urls`, a ready photo's presigned GETs (url, thumbUrl)."""
        out = {k: item[k] for k in VIEW_FIELDS if item.get(k) is not None}
        if urls and item.get("status") == READY:
            out["url"] = self.presign_get(item["key"])
            if item.get("thumbKey"):
                out["thumbUrl"] = self.presign_get(item["thumbKey"])
            out["expiresIn"] = self.settings.attachment_url_ttl_s
        return out
