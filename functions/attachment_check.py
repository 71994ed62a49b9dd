"""The attachment check: S3 ObjectCreated notifications -> ready | rejected.

    handler(event, context)   event: S3's notification ({"Records": [{"s3": {bucket, object}}]})

In AWS the bucket notifies this function for keys under rooms/ (iac/modules/attachments);
locally local/emulators/s3_server.js posts the same events to local/emulators/s3_events.py,
which invokes it. For each new object rooms/{roomId}/{attId} it:
1. reads the item the HTTP function wrote when it presigned the upload (none: the key was
   never presigned, the object is deleted);
2. reads the object (at most TIDINGS_ATTACHMENT_MAX_BYTES + 1 bytes) and checks the size
   (as declared, within the limit), the magic bytes (one of functions/image_types.py, the
   declared type) and that Pillow decodes it (HEIC through pillow-heif's opener);
3. ready: writes a JPEG thumbnail (THUMB_PX on the long side) at thumbs/{roomId}/{attId}.jpg;
   rejected: deletes the object, so nothing of it is kept but the reason;
4. settles the item once (a repeated notification changes nothing) and tells the room's
   subscribers with an `attachment` event (contracts.EVENT_ATTACHMENT).
Errors of S3 or DynamoDB raise, so the invocation is retried (asynchronous invokes: twice).
"""

from __future__ import annotations

import functools
import io
from typing import Any
from urllib.parse import unquote_plus

from functions import aws, contracts, image_types, logs
from functions.attachments import PENDING, READY, REJECTED, Attachments, thumb_key
from functions.connections import Connections, by_edge
from functions.delivery import Deliverer
from functions.entry import WarmHandler
from functions.settings import Settings

log = logs.get_logger(__name__)

THUMB_PX = 320
THUMB_QUALITY = 80
# A decompression bomb (a small file that decodes to a huge bitmap) is refused, not decoded.
MAX_PIXELS = 50_000_000


class Rejected(Exception):
    """The object is not an acceptable photo; the message says why."""


@functools.cache
def _register_heif() -> None:
    """Teach Pillow HEIF (iPhones' default), so HEIC is decoded and thumbnailed like the rest.
    Registering is process-wide; once is enough."""
    import pillow_heif

    pillow_heif.register_heif_opener()


def inspect(data: bytes, declared_type: str, declared_bytes: int, max_bytes: int) -> tuple[str, Any]:
    """Check a photo's bytes: (its type, the decoded Pillow image); Rejected otherwise."""
    if len(data) > max_bytes:
        raise Rejected(f"larger than {max_bytes} bytes")
    if len(data) != declared_bytes:
        raise Rejected(f"{len(data)} bytes, {declared_bytes} were declared")
    found = image_types.sniff(data[:image_types.SNIFF_BYTES])
    if found is None:
        raise Rejected("not a JPEG, PNG, WebP or HEIC image (magic bytes)")
    if found != declared_type:
        raise Rejected(f"the bytes are {found}, {declared_type} was declared")
    _register_heif()
    from PIL import Image, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(data))
        if image.width * image.height > MAX_PIXELS:
            raise Rejected(f"{image.width}x{image.height} pixels is more than {MAX_PIXELS}")
        image.load()   # decodes everything: a truncated or corrupt file fails here
    except Rejected:
        raise
    except UnidentifiedImageError:   # its own message names only the BytesIO object
        raise Rejected(f"does not decode as {found}: its structure is unreadable") from None
    # RuntimeError: what pillow-heif raises for some libheif failures (its security limits)
    except (OSError, ValueError, SyntaxError, RuntimeError, Image.DecompressionBombError) as exc:
        raise Rejected(f"does not decode as {found}: {str(exc)[:120]}") from None
    return found, image


def thumbnail(image) -> bytes:
    from PIL import ImageOps

    thumb = ImageOps.exif_transpose(image).convert("RGB")
    thumb.thumbnail((THUMB_PX, THUMB_PX))
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=THUMB_QUALITY)
    return out.getvalue()


class AttachmentCheck:
    def __init__(self, settings: Settings, *, client=None, s3=None, deliverer: Deliverer | None = None):
        self.settings = settings
        self.s3 = s3 or aws.s3(settings)
        self.attachments = Attachments(settings, client, self.s3)
        self.connections = Connections(settings, self.attachments.store.client)
        self.deliverer = deliverer or Deliverer(settings)

    def __call__(self, event: Any, context: Any = None) -> dict:
        logs.bind_invocation(context)
        outcomes = []
        for record in (event or {}).get("Records") or ():
            if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
                continue
            key = unquote_plus(record["s3"]["object"]["key"])   # S3 URL-encodes keys in events
            outcomes.append(self.check(key))
        return {"checked": outcomes}

    def check(self, key: str) -> dict:
        named = contracts.parse_attachment_key(key)
        item = self.attachments.get(*named) if named else None
        if item is None:   # never presigned (or not a photo key): nothing of it is kept
            self._delete(key)
            log.warning("attachment_unknown", key=key)
            return {"key": key, "status": "unknown"}
        if item.get("status") != PENDING:   # a repeated notification
            return {"key": key, "status": item["status"]}
        try:
            fields = self._accept(item)
            status = READY
        except Rejected as why:
            self._delete(key)
            fields, status = {"reason": str(why)}, REJECTED
        settled = self.attachments.settle(item["roomId"], item["attId"], status, **fields)
        if settled is None:   # settled by a concurrent invocation meanwhile
            return {"key": key, "status": "settled before"}
        log.info("attachment_checked", key=key, status=status, reason=fields.get("reason"))
        self._tell(settled)
        return {"key": key, "status": status}

    def _accept(self, item: dict) -> dict:
        limit = self.settings.attachment_max_bytes
        body = self.s3.get_object(Bucket=self.settings.attachments_bucket, Key=item["key"],
                                  Range=f"bytes=0-{limit}")["Body"]
        data = body.read()
        _type, image = inspect(data, item["contentType"], int(item["bytes"]), limit)
        key = thumb_key(item["roomId"], item["attId"])
        self.s3.put_object(Bucket=self.settings.attachments_bucket, Key=key, Body=thumbnail(image),
                           ContentType=image_types.JPEG)
        return {"width": image.width, "height": image.height, "thumbKey": key}

    def _delete(self, key: str) -> None:
        self.s3.delete_object(Bucket=self.settings.attachments_bucket, Key=key)

    def _tell(self, item: dict) -> None:
        event = {"type": contracts.EVENT_ATTACHMENT, "room": item["roomId"],
                 "attachment": self.attachments.view(item)}
        subs = self.connections.subscribers(item["roomId"])
        per_edge = {edge: [(ids, event)] for edge, ids in by_edge(subs).items()}
        if per_edge:
            self.deliverer.deliver(per_edge)


def _build() -> AttachmentCheck:
    settings = Settings.from_env()
    settings.require_deployable_secrets("the attachment check")
    return AttachmentCheck(settings)


# The Lambda entry point (settings from the environment, built on first call).
handler = WarmHandler(_build)
