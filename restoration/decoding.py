"""Opening and decoding image files with Pillow (and 16-bit colour with OpenCV), strictly.

Part of the I/O layer (with :mod:`restoration.imageio`, :mod:`restoration.metadata` and
:mod:`restoration.png_writer`), the only modules that touch files, Pillow images and PIL modes.
:mod:`restoration.imageio` calls these; the rest of ``restoration/`` never does.

Truncated or corrupt pixel data is always an error, whatever Pillow's process-wide
``ImageFile.LOAD_TRUNCATED_IMAGES`` says (some libraries set it to True, and then Pillow's own
``load()`` silently returns a partly gray picture). That flag is never written here (other
threads of the server see it unchanged) and its value does not decide what is accepted:
:func:`decode` runs Pillow's tile loop itself (``ImageFile.ImageFile.load`` of Pillow 12.3, the
version pinned in requirements.txt) with the flag's strict behaviour built in. Data that ends
before the decoder is done means the file was cut; a negative decoder status means corrupt
data. Formats whose loader never consults the flag (WebP, compressed TIFF through libtiff) are
loaded by Pillow itself.

Only the pixel data is strict. Pillow's format hooks still consult the flag for what is not
pixels: a PNG's ancillary chunks (text, a damaged ICC chunk, chunks after the image data) are
skipped rather than refused when it is True, as they always were.
"""

from __future__ import annotations

import itertools
import logging
import struct
import typing
import warnings
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import cv2
import numpy as np
from PIL import Image, ImageFile, JpegImagePlugin, TiffImagePlugin, UnidentifiedImageError

from .errors import InputError
from .metadata import apply_orientation

__all__ = ["FORMATS", "SUPPORTED_TEXT", "decode", "decode_16bit_colour", "frame_notice", "open_image", "tile_rawmode"]

logger = logging.getLogger(__name__)

FORMATS = ("PNG", "JPEG", "WEBP", "TIFF", "BMP", "DIB", "GIF")
"""Formats Pillow may try (JPEG includes multi-picture MPO files). A closed list: no EPS
(Ghostscript) or other exotic parsers run on uploads."""
SUPPORTED_TEXT = "JPEG, PNG, WebP, TIFF, BMP or GIF"
"""The readable formats, as the user is told them."""

_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)


@contextmanager
def open_image(fp: typing.BinaryIO, label: str) -> Iterator[Image.Image]:
    """``Image.open`` restricted to :data:`FORMATS`, with its errors turned into InputError.

    Args:
        fp: a binary file object positioned at the start of the image; it stays open.
        label: how messages name the image ("scan.jpg", "the uploaded file").

    Yields:
        The lazily opened image (header read, pixels not decoded), closed on exit.
    """
    try:
        with warnings.catch_warnings():
            # Our own pixel limit decides; Pillow's warning would only print to stderr.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(fp, formats=FORMATS)
    except Image.DecompressionBombError as exc:
        raise InputError(
            f"{label} declares too many pixels for a safe decode ({exc}); "
            "it is either damaged or far too large: downscale it first"
        ) from None
    except UnidentifiedImageError:
        raise InputError(
            f"{label} is not an image this app can read, or it is damaged; "
            f"use a {SUPPORTED_TEXT} file"
        ) from None
    except _DECODE_ERRORS as exc:
        raise InputError(
            f"{label} is a damaged image file ({exc}); export or download it again"
        ) from None
    with im:
        yield im


def decode(im: Image.Image, label: str) -> None:
    """Decode the pixels of ``im`` in place, refusing truncated or corrupt data.

    Never writes ``ImageFile.LOAD_TRUNCATED_IMAGES`` (other threads of the server see it
    unchanged), and refuses the same data whatever its value. Decodes may run concurrently.

    Args:
        im: an opened image (see :func:`open_image`), or any PIL image (then a no-op when it is
            already decoded).
        label: how messages name the image.

    Raises:
        InputError: the data is truncated, corrupt, or too large to decode safely.
    """
    try:
        if _runs_tile_loop(im):
            _load_tiles(typing.cast(ImageFile.ImageFile, im))
        else:
            im.load()
    except Image.DecompressionBombError as exc:
        raise InputError(
            f"{label} is too large to decode safely ({exc}); downscale it first"
        ) from None
    except _DECODE_ERRORS as exc:
        what = "truncated (the file ends early)" if "truncated" in str(exc) else f"damaged ({exc})"
        raise InputError(
            f"{label} is {what}; download, copy or export it again"
        ) from None


def _runs_tile_loop(im: Image.Image) -> bool:
    """True when ``im.load()`` would decode through ``ImageFile.ImageFile.load``'s tile loop.

    That loop is the only pixel-decoding code of our formats that consults
    LOAD_TRUNCATED_IMAGES. WebP's ``load`` decodes the whole frame with libwebp first (a cut
    file fails there) and a compressed TIFF goes to libtiff: both fail on bad data by themselves.
    """
    if not isinstance(im, ImageFile.ImageFile) or not im.tile:
        return False  # in memory, or decoded already
    if isinstance(im, TiffImagePlugin.TiffImageFile):
        return not im.use_load_libtiff
    return type(im).load is ImageFile.ImageFile.load


def _load_tiles(im: ImageFile.ImageFile) -> None:
    """``ImageFile.ImageFile.load`` of Pillow 12.3, as it runs with LOAD_TRUNCATED_IMAGES False.

    The same hooks in the same order (``load_prepare``, ``load_read``/``load_seek``, the tile
    decoders, ``load_end``), without memory-mapping (our files are opened as file objects, for
    which Pillow does not map either). Differences, all stricter: a negative status of any tile
    (not only the last) is an error, and a JPEG is read from its file directly, because
    ``JpegImageFile.load_read`` only adds a fake end-of-image marker when the flag is on.

    Raises:
        OSError: "image file is truncated ..." when the data ends before the decoder is done,
            or the decoder's message for corrupt data; other errors of the format's hooks.
    """
    if im.fp is None:
        raise OSError("the image's file is already closed")
    Image.Image.load(im)
    im.map = None
    read = _reader(im)
    seek: Callable[[int], object] = getattr(im, "load_seek", im.fp.seek)
    im.load_prepare()
    # In file order, consecutive duplicates that differ only by their offset removed.
    tiles = sorted(im.tile, key=lambda tile: tile[2])
    tiles = [list(group)[-1] for _, group in itertools.groupby(tiles, lambda tile: (tile[0], tile[1], tile[3]))]
    prefix = getattr(im, "tile_prefix", b"")  # a TIFF's JPEGTables
    block = getattr(im, "decodermaxblock", ImageFile.MAXBLOCK)
    for index, (decoder_name, extents, offset, args) in enumerate(tiles):
        seek(offset)
        decoder = Image._getdecoder(im.mode, decoder_name, args, im.decoderconfig)
        try:
            decoder.setimage(im.im, extents)
            if decoder.pulls_fd:
                decoder.setfd(im.fp)
                status = decoder.decode(b"")[1]
            else:
                next_offset = tiles[index + 1][2] if index + 1 < len(tiles) else 0
                size = next_offset - offset if next_offset > offset else block
                status = _feed(decoder, read, prefix, size)
        finally:
            decoder.cleanup()
        if status < 0:
            raise OSError(f"{ImageFile.ERRORS.get(status, f'decoder error {status}')} when reading image file")
    im.tile = []
    im.readonly = 0
    im.load_end()
    if im._exclusive_fp and im._close_exclusive_fp_after_loading:
        im.fp.close()
    im.fp = None
    Image.Image.load(im)  # realises the palette, as ImageFile.load ends


def _reader(im: ImageFile.ImageFile) -> Callable[[int], bytes]:
    """The function the tile loop reads compressed data with: the format's hook, or the file's read."""
    if isinstance(im, JpegImagePlugin.JpegImageFile):
        return im.fp.read  # see _load_tiles: its load_read only hides a premature end
    return getattr(im, "load_read", im.fp.read)


def _feed(decoder: typing.Any, read: Callable[[int], bytes], data: bytes, size: int) -> int:
    """Feed ``read(size)`` blocks to ``decoder`` until it is done; its final status (< 0: error).

    Raises OSError("image file is truncated ...") when the data ends first.
    """
    while True:
        try:
            chunk = read(size)
        except (IndexError, struct.error) as exc:  # a PNG or GIF cut inside a chunk header
            raise OSError("image file is truncated") from exc
        if not chunk:
            raise OSError(f"image file is truncated ({len(data)} bytes not processed)")
        data += chunk
        consumed, status = decoder.decode(data)
        if consumed < 0:
            return status
        data = data[consumed:]


def frame_notice(im: Image.Image) -> str | None:
    """A sentence for the user when ``im`` has several frames or pages (only one is used), else None."""
    try:
        frames = int(getattr(im, "n_frames", 1))
        current = im.tell()
    except _DECODE_ERRORS:
        return "animated or multi-page image: only the first frame was used"
    if frames <= 1:
        return None
    which = "first" if current == 0 else f"number {current + 1}"
    if im.format == "TIFF":
        return f"multi-page TIFF: only the {which} of {frames} pages was used"
    if im.format == "MPO":
        return f"multi-picture JPEG: only the {which} of {frames} pictures was used"
    return f"animated image: only the {which} of {frames} frames was used"


def tile_rawmode(im: Image.Image) -> str:
    """Pillow's raw mode of the undecoded data, e.g. "RGB;16B" for a 16-bit RGB PNG ("" if unknown)."""
    tile = getattr(im, "tile", None) or []
    if not tile:
        return ""
    args = tile[0][3]
    if isinstance(args, str):
        return args
    if isinstance(args, tuple) and args and isinstance(args[0], str):
        return args[0]
    return ""


def decode_16bit_colour(
    data: bytes, colour8: np.ndarray, alpha8: np.ndarray | None, orientation: int
) -> tuple[np.ndarray, np.ndarray | None, int] | None:
    """16-bit RGB(A)/LA PNG or TIFF via OpenCV (Pillow keeps 8 bits), checked against Pillow's decode.

    Args:
        data: the whole file's bytes.
        colour8: Pillow's decode, (H, W, 1|3) float32 in [0, 1], not yet oriented.
        alpha8: Pillow's alpha, (H, W) float32 in [0, 1], or None.
        orientation: EXIF orientation 1-8 still to apply to Pillow's decode.

    Returns:
        (colour (H, W, 1|3), alpha (H, W) or None, orientation still to apply), float32 in
        [0, 1]; or None when OpenCV's result does not match Pillow's (then the caller keeps the
        8-bit data).
    """
    decoded = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded is None or decoded.dtype != np.uint16:
        return None
    if decoded.ndim == 2:
        decoded = decoded[..., None]
    channels = decoded.shape[2]
    if channels in (3, 4):  # OpenCV order is BGR(A)
        decoded = np.concatenate([decoded[..., 2::-1], decoded[..., 3:]], axis=2)
    if colour8.shape[2] == 1 and channels in (3, 4):  # gray+alpha expanded to BGRA by OpenCV
        decoded = decoded[..., [0, 3]] if channels == 4 else decoded[..., :1]
    expected = np.concatenate([colour8, alpha8[..., None]], axis=2) if alpha8 is not None else colour8
    expected = np.rint(expected * 255.0).astype(np.uint16)  # Pillow keeps the high byte of each sample
    if decoded.shape == expected.shape and np.array_equal(decoded >> 8, expected):
        still_to_apply = orientation
    elif orientation != 1 and np.array_equal(decoded >> 8, apply_orientation(expected, orientation)):
        still_to_apply = 1  # OpenCV applies the TIFF orientation tag itself
    else:
        logger.warning("OpenCV's 16-bit decode does not match Pillow's; keeping 8 bits")
        return None
    values = decoded.astype(np.float32) / 65535.0
    n = colour8.shape[2]
    return values[..., :n], (values[..., n] if alpha8 is not None else None), still_to_apply
