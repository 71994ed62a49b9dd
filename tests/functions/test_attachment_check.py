"""The attachment check's pure parts: magic bytes (functions/image_types.py) and what
`inspect` accepts, rejects and makes a thumbnail of. End to end: tests/e2e/test_attachments_end_to_end.py."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from functions import contracts, image_types
from functions.attachment_check import MAX_PIXELS, Rejected, inspect, thumbnail


def encoded(fmt: str, size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize("fmt, content_type", [("JPEG", image_types.JPEG), ("PNG", image_types.PNG),
                                               ("WEBP", image_types.WEBP)])
def test_real_images_sniff_and_decode_as_declared(fmt, content_type):
    data = encoded(fmt)
    assert image_types.sniff(data[:image_types.SNIFF_BYTES]) == content_type
    found, image = inspect(data, content_type, len(data), 10_000)
    assert found == content_type and image.size == (64, 48)


@pytest.mark.parametrize("brand", [b"heic", b"heix", b"mif1", b"msf1"])
def test_heif_brands_are_heic_and_kept_without_decoding(brand):
    data = b"\0\0\0\x18ftyp" + brand + b"\0" * 20
    assert image_types.sniff(data) == image_types.HEIC
    assert inspect(data, image_types.HEIC, len(data), 1000) == (image_types.HEIC, None)


@pytest.mark.parametrize("head", [b"GIF89a" + b"\0" * 20, b"RIFF\0\0\0\0WAVEfmt ", b"\0\0\0\x18ftypisom",
                                  b"\xff\xd8", b"", b"%PDF-1.7"])
def test_other_heads_are_none_of_ours(head):
    assert image_types.sniff(head) is None


def test_rejections_say_why():
    png = encoded("PNG")
    cases = [
        (png, image_types.PNG, len(png), len(png) - 1, "larger than"),
        (png, image_types.PNG, len(png) + 1, 10_000, "declared"),
        (png, image_types.JPEG, len(png), 10_000, "image/png, image/jpeg was declared"),
        (b"hello world" * 3, image_types.PNG, 33, 10_000, "magic bytes"),
        (png[:40], image_types.PNG, 40, 10_000, "does not decode"),   # a truncated PNG
    ]
    for data, declared, size, limit, why in cases:
        with pytest.raises(Rejected, match=why):
            inspect(data, declared, size, limit)


def test_a_decompression_bomb_is_refused_before_decoding():
    side = int(MAX_PIXELS ** 0.5) + 10
    out = io.BytesIO()
    Image.new("1", (side, side)).save(out, "PNG")   # tiny file, huge bitmap
    data = out.getvalue()
    with pytest.raises(Rejected, match="pixels"):
        inspect(data, image_types.PNG, len(data), 10_000_000)


def test_thumbnails_are_jpegs_320_on_the_long_side():
    _, image = inspect(data := encoded("PNG", (1000, 500)), image_types.PNG, len(data), 10**7)
    thumb = Image.open(io.BytesIO(thumbnail(image)))
    assert (thumb.format, thumb.size) == ("JPEG", (320, 160))


def test_attachment_keys_are_checked_whole():
    att = "0123456789abcdef" * 2
    assert contracts.parse_attachment_key(f"rooms/r:1/{att}") == ("r:1", att)
    for bad in (f"rooms/r/{att}\n", f"rooms//{att}", f"thumbs/r/{att}", f"rooms/a/b/{att}", f"rooms/r/{att[:-1]}",
                f"rooms/r/{att.upper()}", None, 7):
        assert contracts.parse_attachment_key(bad) is None, bad
    assert contracts.attachment_problem({"key": f"rooms/r/{att}"}, "r") is None
    assert "not one of this room" in contracts.attachment_problem({"key": f"rooms/q/{att}"}, "r")
    assert contracts.attachment_problem({"key": f"rooms/r/{att}", "url": "x"}, "r") is not None
