"""Lossless PNG output: 8- and 16-bit encoding with ICC profile and EXIF, and atomic file writes.

Part of the I/O layer (with :mod:`restoration.imageio`, :mod:`restoration.decoding` and
:mod:`restoration.metadata`), the only modules that touch files, Pillow images and PIL modes.
This module knows channels and bytes, not photos: :func:`restoration.imageio.encode_png` decides
the layout (gray or RGB, which ICC profile fits) and hands the channels over.

8-bit PNGs are written by Pillow. Pillow cannot write 16-bit colour, so 16-bit PNGs are written
chunk by chunk here (IHDR, iCCP, eXIf, tEXt/iTXt, IDAT, IEND).

Text metadata: Latin-1 text is written as tEXt, other text and the XMP packet as uncompressed
iTXt (XMP readers expect the packet in clear text under the keyword ``XML:com.adobe.xmp``).

References: Portable Network Graphics (PNG) Specification, Third Edition (W3C, 2025): chunk
layout and CRC, filter type 2 "Up", the iCCP, eXIf, tEXt and iTXt chunks. Adobe XMP
Specification Part 3 (2020), 1.1.5 PNG.
"""

from __future__ import annotations

import io
import logging
import os
import struct
import threading
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, PngImagePlugin

from .errors import InputError
from .metadata import EXIF_HEADER, XMP_KEYWORD

__all__ = ["COMPRESS_LEVEL", "encode_png_channels", "pil_image", "quantize", "write_atomic"]

logger = logging.getLogger(__name__)

COMPRESS_LEVEL = 6
"""zlib level of every PNG written (0-9; 6 is libpng's default balance of size and time)."""

_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_ROWS_PER_BLOCK = 256
_COLOUR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> gray, gray+alpha, RGB, RGBA


def quantize(values: np.ndarray, bit_depth: int) -> np.ndarray:
    """Float values in [0, 1] (clipped) -> uint8 (bit_depth 8) or uint16 (bit_depth 16), rounded."""
    if bit_depth == 16:
        return np.rint(np.clip(values, 0.0, 1.0) * 65535.0).astype(np.uint16)
    return np.rint(np.clip(values, 0.0, 1.0) * 255.0).astype(np.uint8)


def pil_image(data: np.ndarray) -> Image.Image:
    """(H, W, C) uint8, C in 1-4 (gray, gray+alpha, RGB, RGBA) -> PIL "L", "LA", "RGB" or "RGBA"."""
    return Image.fromarray(data[..., 0] if data.shape[2] == 1 else data)


def encode_png_channels(
    channels: np.ndarray,
    *,
    bit_depth: int,
    icc: bytes | None = None,
    exif: bytes | None = None,
    text: Sequence[tuple[str, str]] = (),
) -> bytes:
    """PNG bytes of an image given as channels.

    Args:
        channels: (H, W, C) float in [0, 1] (clipped), C in 1-4: gray, gray+alpha, RGB, RGBA.
        bit_depth: 8 or 16 bits per channel in the file.
        icc: ICC profile to embed (iCCP chunk), or None. It must suit the channels (a gray
            profile for 1-2 channels, an RGB one for 3-4); the caller checks.
        exif: EXIF block to embed (eXIf chunk), with or without the ``b"Exif\\0\\0"`` prefix, or None.
        text: (keyword, value) pairs written as tEXt or iTXt chunks, in this order; keywords
            are 1-79 Latin-1 characters (others are refused).

    Returns:
        The PNG file's bytes.
    """
    if channels.ndim != 3 or channels.shape[2] not in _COLOUR_TYPES:
        raise InputError(f"PNG channels must have shape (H, W, 1-4), got {channels.shape}")
    if bit_depth not in (8, 16):
        raise InputError(f"PNG bit depth must be 8 or 16, got {bit_depth!r}")
    text = [(_checked_keyword(key), str(value)) for key, value in text]
    if bit_depth == 16:
        return _png16(quantize(channels, 16), icc=icc, exif=exif, text=text)
    options: dict[str, object] = {"compress_level": COMPRESS_LEVEL}
    if icc:
        options["icc_profile"] = icc
    if exif:
        options["exif"] = exif
    if text:
        info = PngImagePlugin.PngInfo()
        for key, value in text:
            if _needs_itxt(key, value):
                info.add_itxt(key, value, zip=False)
            else:
                info.add_text(key, value)
        options["pnginfo"] = info
    buffer = io.BytesIO()
    pil_image(quantize(channels, 8)).save(buffer, format="PNG", **options)
    return buffer.getvalue()


def _checked_keyword(key: str) -> str:
    """A PNG text keyword: 1-79 Latin-1 characters, no leading, trailing or double spaces."""
    try:
        key.encode("latin-1")
    except (UnicodeEncodeError, AttributeError):
        raise InputError(f"PNG text keywords must be Latin-1 text, got {key!r}") from None
    if not 1 <= len(key) <= 79 or key != key.strip() or "  " in key:
        raise InputError(f"PNG text keywords must be 1-79 characters without outer or double spaces, got {key!r}")
    return key


def _needs_itxt(key: str, value: str) -> bool:
    """XMP, and text that Latin-1 (tEXt) cannot hold, go into iTXt chunks."""
    if key == XMP_KEYWORD:
        return True
    try:
        value.encode("latin-1")
    except UnicodeEncodeError:
        return True
    return False


def _text_chunk(key: str, value: str) -> bytes:
    """A tEXt chunk, or an uncompressed iTXt chunk (no language tag) when :func:`_needs_itxt`."""
    if _needs_itxt(key, value):
        return _chunk(b"iTXt", key.encode("latin-1") + b"\x00\x00\x00\x00\x00" + value.encode("utf-8"))
    return _chunk(b"tEXt", key.encode("latin-1") + b"\x00" + value.encode("latin-1"))


def _png16(data: np.ndarray, *, icc: bytes | None, exif: bytes | None, text: Sequence[tuple[str, str]] = ()) -> bytes:
    """Encode (H, W, C) uint16, C in 1-4 (gray, gray+alpha, RGB, RGBA), as a 16-bit PNG.

    Every row uses the "Up" filter: on 12 MP photos it compressed better than libpng's
    per-row choice (40.0 vs 41.2 MB) and takes a twentieth of the time to compute in numpy.
    """
    height, width, channels = data.shape
    header = struct.pack(">IIBBBBB", width, height, 16, _COLOUR_TYPES[channels], 0, 0, 0)
    parts = [_SIGNATURE, _chunk(b"IHDR", header)]
    if icc:
        parts.append(_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc)))
    if exif:
        parts.append(_chunk(b"eXIf", exif[len(EXIF_HEADER) :] if exif.startswith(EXIF_HEADER) else exif))
    parts += [_text_chunk(key, value) for key, value in text]
    rows = data.astype(">u2").view(np.uint8).reshape(height, width * channels * 2)
    compressor = zlib.compressobj(COMPRESS_LEVEL)
    for start in range(0, height, _ROWS_PER_BLOCK):
        block = rows[start : start + _ROWS_PER_BLOCK]
        above = rows[start - 1 : start + len(block) - 1] if start else np.vstack([0 * block[:1], block[:-1]])
        filtered = np.empty((len(block), rows.shape[1] + 1), np.uint8)
        filtered[:, 0] = 2  # Up
        np.subtract(block, above, out=filtered[:, 1:])  # modulo 256, as PNG defines it
        compressed = compressor.compress(filtered.tobytes())
        if compressed:
            parts.append(_chunk(b"IDAT", compressed))
    parts.append(_chunk(b"IDAT", compressor.flush()))
    parts.append(_chunk(b"IEND", b""))
    return b"".join(parts)


def _chunk(kind: bytes, payload: bytes) -> bytes:
    """One PNG chunk: length, type, payload, CRC-32 of type and payload."""
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a hidden temporary file in the same folder, then rename.

    A stopped run never leaves a half-written file under the final name. Missing parent
    folders are created; the temporary name is unique per process and thread.
    """
    if path.is_dir():
        raise InputError(f"{path} is a folder; give a file name ending in .png")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    logger.debug("wrote %s (%d bytes)", path, len(data))
