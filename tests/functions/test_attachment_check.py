"""The attachment check's pure parts: magic bytes (functions/image_types.py) and what
`inspect` accepts, rejects and makes a thumbnail of. End to end: tests/e2e/test_attachments_end_to_end.py."""

from __future__ import annotations

import io

import pillow_heif
import pytest
from PIL import Image

from functions import contracts, image_types
from functions.attachment_check import MAX_PIXELS, Rejected, inspect, thumbnail


GREEN = (10, 200, 30)


def encoded(fmt: str, size=(64, 48)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, GREEN).save(out, fmt)
    return out.getvalue()


def heic(size=(64, 48), image=None, **save) -> bytes:
    """A real HEIC (HEVC, by the encoder in pillow-heif's wheel). Made through pillow_heif
    directly, not Image.save: registering the opener is the check's job, not the test's."""
    out = io.BytesIO()
    pillow_heif.from_pillow(image or Image.new("RGB", size, GREEN)).save(out, quality=90, **save)
    return out.getvalue()


@pytest.mark.parametrize("fmt, content_type", [("JPEG", image_types.JPEG), ("PNG", image_types.PNG),
                                               ("WEBP", image_types.WEBP)])
def test_real_images_sniff_and_decode_as_declared(fmt, content_type):
    data = encoded(fmt)
    assert image_types.sniff(data[:image_types.SNIFF_BYTES]) == content_type
    found, image = inspect(data, content_type, len(data), 10_000)
    assert found == content_type and image.size == (64, 48)


@pytest.mark.parametrize("brand", [b"heic", b"heix", b"mif1", b"msf1"])
def test_heif_brands_are_heic(brand):
    assert image_types.sniff(b"\0\0\0\x18ftyp" + brand + b"\0" * 20) == image_types.HEIC


def test_a_real_heic_is_decoded_measured_and_thumbnailed():
    data = heic((1000, 500))
    assert image_types.sniff(data[:image_types.SNIFF_BYTES]) == image_types.HEIC
    found, image = inspect(data, image_types.HEIC, len(data), 10**7)
    assert found == image_types.HEIC and (image.width, image.height) == (1000, 500)
    thumb = Image.open(io.BytesIO(thumbnail(image)))
    assert (thumb.format, thumb.size) == ("JPEG", (320, 160))
    # the photo's pixels, not a blank of the right size (HEVC and JPEG are both lossy)
    assert all(abs(got - want) < 16 for got, want in zip(thumb.getpixel((160, 80)), GREEN))


def test_a_rotated_heic_gets_an_upright_thumbnail_as_a_rotated_jpeg_does():
    """Phones store photos as shot and say how to turn them (EXIF orientation 6: 90° clockwise).
    libheif turns a HEIC itself; the thumbnail must not turn it a second time."""
    shot = Image.new("RGB", (400, 300), (255, 0, 0))
    shot.paste((0, 0, 255), (200, 0, 400, 300))   # red left half, blue right half
    exif = Image.Exif()
    exif[0x0112] = 6
    jpeg = io.BytesIO()
    shot.save(jpeg, "JPEG", exif=exif.tobytes())
    for declared, data in ((image_types.JPEG, jpeg.getvalue()),
                           (image_types.HEIC, heic(image=shot, exif=exif.tobytes()))):
        thumb = Image.open(io.BytesIO(thumbnail(inspect(data, declared, len(data), 10**7)[1]))).convert("RGB")
        top, bottom = thumb.getpixel((120, 5)), thumb.getpixel((120, 315))
        # upright: portrait, the red half on top and the blue one at the bottom
        assert thumb.size == (240, 320), declared
        assert top[0] > 200 > top[2] and bottom[2] > 200 > bottom[0], (declared, top, bottom)


@pytest.mark.parametrize("case", ["header only", "garbage after the magic", "truncated"])
def test_a_heic_that_does_not_decode_is_rejected_saying_so(case):
    real = heic()
    data = {"header only": real[:32],
            "garbage after the magic": real[:16] + bytes(range(256)) * 8,
            "truncated": real[:len(real) // 2]}[case]
    assert image_types.sniff(data[:image_types.SNIFF_BYTES]) == image_types.HEIC
    with pytest.raises(Rejected, match="^does not decode as image/heic") as why:
        inspect(data, image_types.HEIC, len(data), 10_000)
    assert " at 0x" not in str(why.value), "the reason names the failure, not a Python object"


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
