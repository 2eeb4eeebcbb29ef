"""Photo metadata: what survives from the source file to the output, and EXIF orientation.

Part of the I/O layer (with :mod:`restoration.imageio`, :mod:`restoration.decoding` and
:mod:`restoration.png_writer`), the only modules that touch files, Pillow images and PIL modes.
Everything here works on decoded Pillow images, EXIF/ICC bytes or numpy arrays; nothing opens
a file. The rest of ``restoration/`` reaches these names through :mod:`restoration.imageio`.

EXIF: the orientation is read from a decoded image and applied to the pixels on load, so the
EXIF block kept for the output says orientation 1 (changed in place, every other byte kept).
A TIFF's "EXIF" is its whole tag directory: only descriptive tags are kept from it.
ICC: profiles are kept as bytes; :func:`icc_space` tells a gray from an RGB or CMYK profile.
Text: the source's XMP packet (PNG iTXt ``XML:com.adobe.xmp``, JPEG/WebP APP1 or chunk, TIFF
tag 700) and a PNG's descriptive text chunks (Title, Author, Copyright, ...) are kept, so that an
edit history recorded in the source survives (:mod:`restoration.provenance` appends to it).

References: Adobe XMP Specification Part 3 (2020), "Storage in files": PNG and JPEG.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass

import numpy as np
from PIL import Image

from . import xmp
from .errors import InputError

__all__ = [
    "EXIF_HEADER",
    "ORIENTATION_TAG",
    "XMP_KEYWORD",
    "PhotoMetadata",
    "apply_orientation",
    "icc_space",
    "orientation_of",
    "read_exif",
    "read_text",
]

logger = logging.getLogger(__name__)

ORIENTATION_TAG = 0x0112
"""EXIF tag number of the orientation (values 1-8, 1 = upright)."""
EXIF_HEADER = b"Exif\x00\x00"
"""Prefix of an EXIF block as Pillow keeps it in ``info["exif"]`` (a PNG eXIf chunk omits it)."""

XMP_KEYWORD = "XML:com.adobe.xmp"
"""Keyword of the PNG iTXt chunk that holds an XMP packet (XMP Specification Part 3)."""
_XMP_TIFF_TAG = 700
# PNG text keywords kept from a source PNG: the descriptive ones the PNG specification defines.
# "Software" is left out (the output names the program that wrote it), and so are other
# keywords, e.g. ImageMagick's "Raw profile type exif", whose copy of the EXIF could disagree
# with the eXIf chunk written (the orientation is applied on load).
_PNG_TEXT_KEEP = ("Title", "Author", "Description", "Copyright", "Creation Time", "Disclaimer", "Warning", "Source", "Comment")

# EXIF tags kept from a TIFF source (whose "EXIF" is the whole TIFF directory: strip offsets,
# compression and other layout tags must not be copied into the PNG).
_TIFF_EXIF_KEEP = (270, 271, 272, 274, 282, 283, 296, 305, 306, 315, 316, 33432, 34665, 34853)
_EXIF_IFD, _GPS_IFD = 0x8769, 0x8825


@dataclass(frozen=True)
class PhotoMetadata:
    """What is needed to write a photo back without loss, and what the user should be told.

    Attributes:
        source_format: Pillow format name of the source ("JPEG", "PNG", "WEBP", "TIFF", ...),
            None for arrays and in-memory PIL images.
        source_mode: PIL mode of the source ("L", "LA", "RGB", "RGBA", "P", "CMYK", "I;16",
            "1", ...); for arrays the equivalent mode ("L", "LA", "RGB", "RGBA", "I;16", "1").
        bit_depth: 8 or 16 bits per channel of the output file.
        icc_profile: ICC profile bytes written to the output, or None (sRGB). None for CMYK
            sources, which are converted to sRGB.
        exif: EXIF block (starting with ``b"Exif\\0\\0"``) written to the output, or None. Its
            orientation tag is 1 because the orientation is applied to the pixels on load.
        notices: sentences for the user about what was adjusted on load.
        text: text metadata written to the output as (keyword, value) pairs: the source's XMP
            packet under :data:`XMP_KEYWORD`, and a PNG source's descriptive text chunks.
    """

    source_format: str | None
    source_mode: str
    bit_depth: int
    icc_profile: bytes | None = None
    exif: bytes | None = None
    notices: tuple[str, ...] = ()
    text: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.bit_depth not in (8, 16):
            raise InputError(f"bit_depth must be 8 or 16, got {self.bit_depth!r}")


def read_exif(im: Image.Image, notices: list[str]) -> tuple[int, bytes | None]:
    """Orientation and the EXIF block to keep, from a decoded image.

    Read after decoding: Pillow applies (and drops) a TIFF's orientation tag while loading it,
    and a PNG may carry its eXIf chunk after the pixel data.

    Args:
        im: a decoded Pillow image.
        notices: sentences for the user; one is appended when the EXIF is damaged and dropped.

    Returns:
        (orientation 1-8 still to apply to the pixels, EXIF bytes starting with
        :data:`EXIF_HEADER` with the orientation reset to 1, or None when there is none).
    """
    try:
        exif = im.getexif()
        orientation = int(exif.get(ORIENTATION_TAG, 1) or 1)
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types on malformed EXIF
        logger.info("unreadable EXIF: %s", exc)
        notices.append("the EXIF metadata is damaged and was dropped")
        return 1, None
    if orientation not in range(1, 9):
        orientation = 1
    raw = im.info.get("exif")
    try:
        if isinstance(raw, (bytes, bytearray)) and raw:
            raw = bytes(raw)
            if not raw.startswith(EXIF_HEADER):
                raw = EXIF_HEADER + raw
            return orientation, _reset_orientation(raw)
        if im.format == "TIFF" and len(exif):
            return orientation, _tiff_exif(exif)
    except Exception as exc:  # noqa: BLE001
        logger.info("EXIF could not be rewritten: %s", exc)
        notices.append("the EXIF metadata could not be kept")
    return orientation, None


def read_text(im: Image.Image, notices: list[str]) -> tuple[tuple[str, str], ...]:
    """Text metadata to keep from a decoded image: (keyword, value) pairs.

    Args:
        im: a decoded Pillow image (a PNG keeps text chunks found after the pixel data too).
        notices: sentences for the user; one is appended when an XMP packet cannot be read.

    Returns:
        The XMP packet as ``(XMP_KEYWORD, packet)`` if the file has one (its
        ``tiff:Orientation`` set to 1, as the orientation is applied on load), then a PNG's
        descriptive text chunks (``_PNG_TEXT_KEEP``) in file order.
    """
    kept: list[tuple[str, str]] = []
    raw = im.info.get("xmp") or im.info.get(XMP_KEYWORD)
    if raw is None and hasattr(im, "tag_v2"):
        raw = im.tag_v2.get(_XMP_TIFF_TAG)
    if raw:
        packet = _xmp_text(raw)
        if packet is None:
            notices.append("the XMP metadata could not be read and was dropped")
        elif packet.strip():
            kept.append((XMP_KEYWORD, xmp.upright(packet)))
    if im.format == "PNG":
        chunks = getattr(im, "text", {}) or {}
        kept += [(key, str(value)) for key, value in chunks.items() if key in _PNG_TEXT_KEEP]
    return tuple(kept)


def _xmp_text(raw: object) -> str | None:
    """An XMP packet as text (UTF-8 or UTF-16 bytes, or str), None when it is not text."""
    if isinstance(raw, str):
        return raw
    if isinstance(raw, tuple) and raw and isinstance(raw[0], (bytes, bytearray)):  # TIFF BYTE arrays
        raw = b"".join(raw)
    if not isinstance(raw, (bytes, bytearray)):
        return None
    raw = bytes(raw).rstrip(b"\x00")
    for encoding in ("utf-8", "utf-16"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    logger.info("XMP packet is neither UTF-8 nor UTF-16")
    return None


def orientation_of(im: Image.Image) -> int:
    """EXIF orientation 1-8 of a decoded image; 1 when absent, out of range or unreadable."""
    try:
        value = int(im.getexif().get(ORIENTATION_TAG, 1) or 1)
    except Exception:  # noqa: BLE001 - a damaged EXIF block counts as upright
        return 1
    return value if value in range(1, 9) else 1


def _reset_orientation(exif: bytes) -> bytes:
    """Set the orientation tag of IFD0 to 1 in place (keeping every other byte), if present."""
    data = bytearray(exif)
    base = len(EXIF_HEADER)
    order = bytes(data[base : base + 2])
    endian = {b"II": "<", b"MM": ">"}.get(order)
    if endian is not None:
        try:
            (ifd,) = struct.unpack_from(endian + "I", data, base + 4)
            (count,) = struct.unpack_from(endian + "H", data, base + ifd)
            for index in range(count):
                entry = base + ifd + 2 + 12 * index
                tag, kind, n = struct.unpack_from(endian + "HHI", data, entry)
                if tag == ORIENTATION_TAG and kind == 3 and n == 1:
                    struct.pack_into(endian + "H", data, entry + 8, 1)
                    return bytes(data)
                if tag == ORIENTATION_TAG:
                    break
            else:
                return bytes(data)
        except struct.error:
            pass
    # Unusual layout: let Pillow rewrite the block.
    parsed = Image.Exif()
    parsed.load(exif)
    if ORIENTATION_TAG in parsed:
        parsed[ORIENTATION_TAG] = 1
    return parsed.tobytes()


def _tiff_exif(tags: Image.Exif) -> bytes | None:
    """EXIF block from a TIFF's tags: descriptive tags and the Exif/GPS directories only."""
    kept = Image.Exif()
    for tag in _TIFF_EXIF_KEEP:
        if tag not in tags:
            continue
        kept[tag] = tags.get_ifd(tag) if tag in (_EXIF_IFD, _GPS_IFD) else tags[tag]
    if not len(kept):
        return None
    if ORIENTATION_TAG in kept:
        kept[ORIENTATION_TAG] = 1
    return kept.tobytes()


def apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation to an array, as ``ImageOps.exif_transpose`` does to an image.

    Args:
        array: (H, W, ...) array, any dtype.
        orientation: EXIF orientation 1-8; 1 (or anything else) leaves the array as it is.

    Returns:
        A view of ``array``: (H, W, ...) for orientations 1-4, (W, H, ...) for 5-8.
    """
    if orientation == 2:
        return array[:, ::-1]
    if orientation == 3:
        return array[::-1, ::-1]
    if orientation == 4:
        return array[::-1]
    if orientation == 5:
        return array.swapaxes(0, 1)
    if orientation == 6:
        return np.rot90(array, -1)
    if orientation == 7:
        return array.swapaxes(0, 1)[::-1, ::-1]
    if orientation == 8:
        return np.rot90(array, 1)
    return array


def icc_space(icc: bytes | None) -> bytes | None:
    """Colour space signature of an ICC profile (b"RGB ", b"GRAY", b"CMYK", ...), None if not a profile."""
    return bytes(icc[16:20]) if icc and len(icc) >= 128 else None
