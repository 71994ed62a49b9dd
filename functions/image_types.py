"""The photo types an attachment may be, and how to tell one from its first bytes.

A client says what it uploads (`contentType`) and S3 keeps that header, but anyone can say
"image/png" over any bytes: the check (functions/attachment_check.py) trusts only the magic
bytes, and the type they show must be the type that was declared.
"""

from __future__ import annotations

JPEG = "image/jpeg"
PNG = "image/png"
WEBP = "image/webp"
HEIC = "image/heic"
CONTENT_TYPES = (JPEG, PNG, WEBP, HEIC)

# Enough of the head of a file for every signature below.
SNIFF_BYTES = 32

# ISO BMFF brands (the `ftyp` box at byte 4) of HEIF stills: HEVC-coded (heic, heix) and the
# generic image brands (mif1, msf1) iPhones and others write.
HEIF_BRANDS = (b"heic", b"heix", b"heim", b"heis", b"mif1", b"msf1")


def sniff(head: bytes) -> str | None:
    """The content type the first bytes of a file show, or None when they are none of ours."""
    if head[:3] == b"\xff\xd8\xff":
        return JPEG
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        return HEIC
    return None
