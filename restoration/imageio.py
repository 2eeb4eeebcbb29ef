"""Reading and writing photos and masks: the entry point of the I/O layer.

The I/O layer is this module with :mod:`restoration.decoding` (opening and strict decoding),
:mod:`restoration.metadata` (EXIF, orientation, ICC, :class:`PhotoMetadata`) and
:mod:`restoration.png_writer` (PNG encoding, atomic writes): the only modules that touch image
files and PIL modes. The rest of ``restoration/`` imports from this module only.

Everything else in ``restoration/`` sees a :class:`Photo`: float32 RGB pixels (H, W, 3) in
[0, 1], an optional alpha plane, and the metadata needed to write the result back without
losing anything (bit depth, ICC profile, EXIF, alpha). Files are read with Pillow (16-bit
colour PNG/TIFF with OpenCV, which Pillow cannot hold) and written as lossless PNG. This module
holds the entry points and the conversions between PIL modes, arrays and :class:`Photo`.

Bad input raises :class:`~restoration.errors.InputError` with one sentence naming the file and
saying what to do: not an image, empty, truncated or corrupt, too many pixels (checked from the
header before decoding), too small, missing path, folder given as a file.
"""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageCms

from .decoding import decode, decode_16bit_colour, frame_notice, open_image, tile_rawmode
from .errors import InputError
from .luma import luma
from .metadata import (
    PhotoMetadata,
    apply_orientation,
    icc_space,
    orientation_of,
    read_exif,
    read_text,
)
from .png_writer import encode_png_channels, pil_image, quantize, write_atomic

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MIN_SIDE",
    "IMAGE_SUFFIXES",
    "PhotoMetadata",
    "Photo",
    "load_photo",
    "save_photo",
    "encode_png",
    "to_pil",
    "load_mask",
    "save_mask",
    "find_images",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_PIXELS = 50_000_000
"""Largest photo accepted (width * height); overridable with the environment variable
``RESTORATION_MAX_PIXELS`` (read at call time) or ``load_photo(..., max_pixels=)``."""
MIN_SIDE = 16
"""Photos with a side shorter than this are refused."""
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp"})
"""File suffixes (lowercase) that :func:`find_images` picks up in folders."""

_MAX_PIXELS_ENV = "RESTORATION_MAX_PIXELS"
_MASK_SUFFIX = ".mask.png"

# Grayscale-by-content test on RGB sources, measured on the photo reduced to <= 256 px (area
# average, which also averages away JPEG chroma noise). The per-pixel colour spread is
# max(R, G, B) - min(R, G, B). Gray only when the channels agree up to encoding noise: a toned
# print keeps its tone (restoration must not silently change a photo's colours), so
# 1860Girls.jpg (faint warm tone, mean spread 0.054) and the sepia 1870Girl.jpg (0.146) are
# colour, while 1899NycBlizzard.jpg (RGB file, 0.0) is gray. Almost no pixel may be clearly
# coloured (skimage's hubble_deep_field: mean 0.021 but 0.7 % of pixels > 0.25).
_GRAY_MEAN_SPREAD = 0.02
_GRAY_STRONG_SPREAD = 0.1
_GRAY_STRONG_FRACTION = 0.001
_GRAY_MEASURE_SIDE = 256


@dataclass(frozen=True, eq=False, repr=False)
class Photo:
    """A decoded photo in the project's working format.

    Attributes:
        pixels: (H, W, 3) float32 RGB in [0, 1]. Gray photos have three equal channels.
            Arrays made by this module are read-only: derive new ones and use :meth:`with_pixels`.
        alpha: (H, W) float32 opacity in [0, 1], or None when the source has no alpha.
        is_grayscale: the source is single-channel, or RGB whose channels are equal up to JPEG
            noise and a faint tone; then ``pixels`` has exactly equal channels and the photo is
            saved as a gray PNG.
        metadata: see :class:`PhotoMetadata`.
    """

    pixels: np.ndarray
    alpha: np.ndarray | None
    is_grayscale: bool
    metadata: PhotoMetadata

    def __post_init__(self) -> None:
        px = self.pixels
        if not isinstance(px, np.ndarray) or px.dtype != np.float32 or px.ndim != 3 or px.shape[2] != 3:
            raise InputError(
                f"Photo.pixels must be a float32 array of shape (H, W, 3), got {_describe_array(px)}"
            )
        if self.alpha is not None:
            a = self.alpha
            if not isinstance(a, np.ndarray) or a.dtype != np.float32 or a.shape != px.shape[:2]:
                raise InputError(
                    f"Photo.alpha must be None or a float32 array of shape {px.shape[:2]}, "
                    f"got {_describe_array(a)}"
                )

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels, as PIL reports sizes."""
        return self.width, self.height

    def with_pixels(self, pixels: np.ndarray) -> Photo:
        """The same photo (alpha, metadata) with new pixels.

        Args:
            pixels: (H, W, 3) float array of this photo's size; values are clipped to [0, 1]
                (resampling overshoot); NaN or infinity is refused. The array is copied.

        Returns:
            A new Photo. It stays grayscale only if this one was and the new channels are equal
            at the output bit depth (then they are made exactly equal); otherwise it is colour.
        """
        if not isinstance(pixels, np.ndarray) or pixels.ndim != 3 or pixels.shape[2] != 3:
            raise InputError(
                f"new pixels must be an array of shape ({self.height}, {self.width}, 3), "
                f"got {_describe_array(pixels)}"
            )
        if pixels.shape[:2] != self.pixels.shape[:2]:
            raise InputError(
                f"new pixels are {pixels.shape[1]}x{pixels.shape[0]} but the photo is "
                f"{self.width}x{self.height}; resize the result back to the photo's size"
            )
        if not np.issubdtype(pixels.dtype, np.floating):
            raise InputError(f"new pixels must be float in [0, 1], got dtype {pixels.dtype}")
        out = np.clip(pixels.astype(np.float32), 0.0, 1.0)  # astype copies
        if not np.isfinite(out).all():
            raise InputError("new pixels contain NaN or infinity; check the stage that produced them")
        gray = False
        if self.is_grayscale:
            scale = 65535.0 if self.metadata.bit_depth == 16 else 255.0
            codes = np.rint(out * scale)
            if np.array_equal(codes[..., 0], codes[..., 1]) and np.array_equal(codes[..., 0], codes[..., 2]):
                out[...] = out.mean(axis=2, keepdims=True)
                gray = True
        out.flags.writeable = False
        return Photo(pixels=out, alpha=self.alpha, is_grayscale=gray, metadata=self.metadata)

    def __repr__(self) -> str:
        kind = "gray" if self.is_grayscale else "RGB"
        alpha = "+alpha" if self.alpha is not None else ""
        return (
            f"Photo({self.width}x{self.height} {kind}{alpha}, {self.metadata.bit_depth}-bit, "
            f"source {self.metadata.source_format} {self.metadata.source_mode})"
        )


# ----------------------------------------------------------------------------------------------
# Loading photos


def load_photo(
    source: str | os.PathLike | bytes | Image.Image | np.ndarray, *, max_pixels: int | None = None
) -> Photo:
    """Read a photo from a file, encoded bytes, a PIL image or an array.

    Args:
        source: path; encoded file bytes; a PIL image (its current frame is used); or a numpy
            RGB(A) array: (H, W), (H, W, 1), (H, W, 2) gray+alpha, (H, W, 3) or (H, W, 4),
            dtype uint8 (0-255), uint16 (0-65535), bool, or float with values in [0, 1].
            Never modified.
        max_pixels: largest accepted width * height; default ``RESTORATION_MAX_PIXELS`` from the
            environment, else :data:`DEFAULT_MAX_PIXELS`. Checked from the header before decoding.

    Returns:
        A :class:`Photo` at the source's full resolution, EXIF orientation applied. Animated
        and multi-page images give their first frame and a notice in ``metadata.notices``.

    Raises:
        InputError: the source cannot be used; the message names it and says what to do.
    """
    limit = _pixel_limit(max_pixels)
    if isinstance(source, np.ndarray):
        return _photo_from_array(source, limit)
    with _opened(source) as (im, label, read_bytes):
        return _photo_from_pil(im, label=label, read_bytes=read_bytes, limit=limit)


def _pixel_limit(max_pixels: int | None) -> int:
    if max_pixels is None:
        env = os.environ.get(_MAX_PIXELS_ENV, "").strip()
        if not env:
            return DEFAULT_MAX_PIXELS
        try:
            max_pixels = int(env.replace("_", ""))
        except ValueError:
            raise InputError(
                f"{_MAX_PIXELS_ENV} must be a whole number of pixels such as 50000000, got {env!r}"
            ) from None
        name = _MAX_PIXELS_ENV
    else:
        name = "max_pixels"
    if isinstance(max_pixels, bool) or not isinstance(max_pixels, (int, np.integer)) or max_pixels < 1:
        raise InputError(f"{name} must be a positive whole number of pixels, got {max_pixels!r}")
    return int(max_pixels)


@contextmanager
def _opened(source: object) -> Iterator[tuple[Image.Image, str, object]]:
    """Yield (lazily opened PIL image, label for messages, callable returning the file bytes or None)."""
    if isinstance(source, Image.Image):
        yield source, "the given image", lambda: None
        return
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        label = "the uploaded file"
        if not data:
            raise InputError(f"{label} is empty (0 bytes); upload the image again")
        with open_image(io.BytesIO(data), label) as im:
            yield im, label, lambda: data
        return
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        label = str(source)
        if not path.exists():
            raise InputError(f"{label} does not exist; check the path and the spelling")
        if path.is_dir():
            raise InputError(
                f"{label} is a folder, not an image file; give an image file "
                "(the command line also accepts folders)"
            )
        if path.stat().st_size == 0:
            raise InputError(f"{label} is empty (0 bytes); copy or export the image again")
        # Opened through a file object, not the path: given a path, Pillow 12.3 memory-maps
        # uncompressed data and lays a TIFF with orientation 5-8 out at the rotated size,
        # which garbles the pixels.
        try:
            handle = path.open("rb")
        except OSError as exc:
            raise InputError(f"{label} cannot be read ({exc.strerror}); check its permissions") from None
        with handle, open_image(handle, label) as im:
            yield im, label, path.read_bytes
        return
    raise InputError(
        "expected a file path, file bytes, a PIL image or a numpy array, "
        f"got {type(source).__name__}"
    )


def _check_size(size: tuple[int, int], label: str, limit: int) -> None:
    width, height = size
    if width * height > limit:
        raise InputError(
            f"{label} is {width}x{height} = {width * height / 1e6:.1f} megapixels, over the limit of "
            f"{limit / 1e6:.1f} megapixels; downscale it first, or raise the limit with "
            f"{_MAX_PIXELS_ENV}=<pixels>"
        )
    if min(width, height) < MIN_SIDE:
        raise InputError(
            f"{label} is {width}x{height} pixels; photos must be at least {MIN_SIDE}x{MIN_SIDE} "
            "pixels: use a larger scan"
        )


def _photo_from_pil(im: Image.Image, *, label: str, read_bytes, limit: int) -> Photo:
    _check_size(im.size, label, limit)
    notices: list[str] = []
    frames = frame_notice(im)
    if frames:
        notices.append(frames)
    source_mode = im.mode
    wide_colour = im.mode in ("RGB", "RGBA", "LA") and "16" in tile_rawmode(im)
    decode(im, label)

    icc = im.info.get("icc_profile") or None
    orientation, exif = read_exif(im, notices)
    text = read_text(im, notices)

    colour, alpha, bit_depth, single = _pil_to_arrays(im, icc=icc, notices=notices)
    if wide_colour:
        data = read_bytes()
        if data is None:
            notices.append("16-bit colour is not available from a PIL image: 8 bits were used; "
                           "give the file itself to keep 16 bits")
        else:
            wide = decode_16bit_colour(data, colour, alpha, orientation)
            if wide is None:
                notices.append("the 16-bit colour data could not be read: 8 bits were used")
            else:
                colour, alpha, orientation = wide
                bit_depth = 16
    metadata = PhotoMetadata(
        source_format=im.format,
        source_mode=source_mode,
        bit_depth=bit_depth,
        icc_profile=None if im.mode == "CMYK" else icc,  # CMYK is converted to sRGB
        exif=exif,
        notices=tuple(notices),
        text=text,
    )
    return _make_photo(colour, alpha, single=single, orientation=orientation, metadata=metadata)


def _pil_to_arrays(
    im: Image.Image, *, icc: bytes | None, notices: list[str]
) -> tuple[np.ndarray, np.ndarray | None, int, bool]:
    """Decoded PIL image -> (colour (H, W, 1|3) float32 in [0, 1], alpha or None, bit depth, single channel)."""
    mode = im.mode
    if mode.startswith("I;16"):
        raw = np.asarray(im)
        colour = (raw.astype(np.float32) / 65535.0)[..., None]
        alpha = None
        transparent = im.info.get("transparency")
        if isinstance(transparent, int):
            alpha = (raw != transparent).astype(np.float32)
        return colour, alpha, 16, True
    if mode in ("I", "F"):
        scales = (65535.0,) if mode == "I" else (1.0, 255.0)
        return _wide_values(np.asarray(im), scales, notices)[..., None], None, 16, True
    if mode == "CMYK":
        return _cmyk_to_rgb(im, icc, notices), None, 8, False

    has_alpha = im.has_transparency_data
    single = mode in ("1", "L", "LA", "La")
    target = ("LA" if has_alpha else "L") if single else ("RGBA" if has_alpha else "RGB")
    try:
        converted = im if mode == target else im.convert(target)
    except (ValueError, OSError) as exc:
        raise InputError(
            f"images in PIL mode {mode!r} are not supported ({exc}); save the image as RGB or grayscale"
        ) from None
    data = np.asarray(converted).astype(np.float32) / 255.0
    if data.ndim == 2:
        data = data[..., None]
    if has_alpha:
        return data[..., :-1], data[..., -1], 8, single
    return data, None, 8, single


def _wide_values(values: np.ndarray, scales: tuple[float, ...], notices: list[str]) -> np.ndarray:
    """Mode "I" / "F" gray values -> float32 in [0, 1].

    Divided by the first of ``scales`` that bounds them (65535 for "I"; 1, else 255, for "F"),
    otherwise stretched from their minimum to their maximum, with a notice.
    """
    values = values.astype(np.float64)
    if not np.isfinite(values).all():
        raise InputError("the image contains NaN or infinite values; save it as an ordinary 8- or 16-bit image")
    low, high = float(values.min()), float(values.max())
    for scale in scales:
        if low >= 0.0 and high <= scale:
            return (values / scale).astype(np.float32)
    notices.append(f"values from {low:g} to {high:g} were stretched to the full gray range")
    return ((values - low) / max(high - low, 1e-12)).astype(np.float32)


def _cmyk_to_rgb(im: Image.Image, icc: bytes | None, notices: list[str]) -> np.ndarray:
    """CMYK -> sRGB float32 (H, W, 3): through the embedded profile when there is one."""
    rgb = None
    if icc:
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
            rgb = ImageCms.profileToProfile(
                im, source, srgb, renderingIntent=ImageCms.Intent.PERCEPTUAL, outputMode="RGB"
            )
        except (ImageCms.PyCMSError, OSError, ValueError) as exc:
            logger.info("CMYK ICC conversion failed (%s); using a plain conversion", exc)
            notices.append("the CMYK colour profile could not be used: colours were converted approximately")
    if rgb is None:
        rgb = im.convert("RGB")
    return np.asarray(rgb).astype(np.float32) / 255.0


def _photo_from_array(array: np.ndarray, limit: int) -> Photo:
    label = "the given array"
    array = _with_channel_axis(array, label)
    _check_size((array.shape[1], array.shape[0]), label, limit)
    values, bit_depth = _array_values(array, label)
    channels = values.shape[2]
    single = channels <= 2
    alpha = values[..., -1] if channels in (2, 4) else None
    colour = values[..., :-1] if alpha is not None else values
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[channels]
    if array.dtype == np.uint16 and channels == 1:
        mode = "I;16"
    elif array.dtype == np.bool_ and channels == 1:
        mode = "1"
    metadata = PhotoMetadata(source_format=None, source_mode=mode, bit_depth=bit_depth)
    return _make_photo(colour, alpha, single=single, orientation=1, metadata=metadata)


def _with_channel_axis(array: np.ndarray, label: str) -> np.ndarray:
    """(H, W) or (H, W, 1-4) array -> (H, W, C) view; anything else is refused."""
    if array.ndim == 2:
        array = array[..., None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4):
        raise InputError(
            f"{label} has shape {array.shape}; expected (H, W), (H, W, 1), (H, W, 2) gray+alpha, "
            "(H, W, 3) RGB or (H, W, 4) RGBA"
        )
    return array


def _array_values(array: np.ndarray, label: str) -> tuple[np.ndarray, int]:
    """bool, uint8, uint16 or float [0, 1] array -> (float32 copy in [0, 1], bit depth 8 or 16).

    Floats on the 8-bit grid (k / 255) count as 8-bit, other floats as 16-bit.
    """
    if array.dtype == np.bool_:
        return array.astype(np.float32), 8
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0, 8
    if array.dtype == np.uint16:
        return array.astype(np.float32) / 65535.0, 16
    if not np.issubdtype(array.dtype, np.floating):
        raise InputError(
            f"{label} has dtype {array.dtype}; use uint8, uint16, bool or float in [0, 1] "
            "(for example array.astype(np.uint8))"
        )
    values = array.astype(np.float32)
    if not np.isfinite(values).all():
        raise InputError(f"{label} contains NaN or infinity; replace them before loading")
    low, high = float(values.min()), float(values.max())
    if low < 0.0 or high > 1.0:
        raise InputError(
            f"{label} has float values from {low:g} to {high:g}; floats must be in [0, 1] "
            "(divide 8-bit values by 255)"
        )
    codes = values * 255.0
    return values, 8 if np.abs(codes - np.rint(codes)).max() < 1e-3 else 16


def _make_photo(
    colour: np.ndarray, alpha: np.ndarray | None, *, single: bool, orientation: int, metadata: PhotoMetadata
) -> Photo:
    """Assemble a Photo from (H, W, 1|3) colour and (H, W) alpha in [0, 1] (arrays owned by us)."""
    if single:
        gray = True
        pixels = np.repeat(colour[..., :1], 3, axis=2)
    elif _is_gray_content(colour):
        gray = True
        # On the output grid, so that saving and loading again gives the same values.
        scale = 65535.0 if metadata.bit_depth == 16 else 255.0
        pixels = np.repeat((np.rint(_luma(colour) * scale) / scale)[..., None], 3, axis=2)
    else:
        gray = False
        pixels = colour
    pixels = np.ascontiguousarray(apply_orientation(pixels, orientation), dtype=np.float32)
    pixels.flags.writeable = False
    if alpha is not None:
        alpha = np.ascontiguousarray(apply_orientation(alpha, orientation), dtype=np.float32)
        alpha.flags.writeable = False
    return Photo(pixels=pixels, alpha=alpha, is_grayscale=gray, metadata=metadata)


def _luma(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (H, W) gray in [0, 1]; the channel itself where the three are already equal."""
    return np.clip(luma(rgb), 0.0, 1.0)


def _is_gray_content(rgb: np.ndarray) -> bool:
    """True when an (H, W, 3) image in [0, 1] is gray up to JPEG chroma noise and a faint tone."""
    height, width = rgb.shape[:2]
    scale = _GRAY_MEASURE_SIDE / max(height, width)
    small = rgb
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)  # channel order irrelevant here
    spread = small.max(axis=2) - small.min(axis=2)
    return bool(
        spread.mean() <= _GRAY_MEAN_SPREAD
        and (spread > _GRAY_STRONG_SPREAD).mean() <= _GRAY_STRONG_FRACTION
    )


# ----------------------------------------------------------------------------------------------
# Saving photos


def save_photo(photo: Photo, path: str | os.PathLike, *, text: Iterable[tuple[str, str]] = ()) -> Path:
    """Write ``photo`` as a lossless PNG (see :func:`encode_png`); returns the path written.

    Args:
        photo: the photo to write.
        path: destination ending in ``.png``. Missing parent folders are created. The file is
            written to a hidden temporary name and renamed, so a stopped run never leaves a
            half-written output behind.
        text: (keyword, value) text metadata to write, replacing the source's under the same
            keyword (e.g. the XMP packet that :mod:`restoration.provenance` extends).
    """
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise InputError(f"photos are saved as PNG; give a path ending in .png, got {str(path)!r}")
    write_atomic(path, encode_png(photo, text=text))
    return path


def encode_png(photo: Photo, *, text: Iterable[tuple[str, str]] = ()) -> bytes:
    """PNG bytes of ``photo``, as :func:`save_photo` writes them.

    Gray photos give a gray PNG ("L", 16-bit gray or "LA"), colour photos RGB(A); 8 or 16 bits
    per channel as ``photo.metadata.bit_depth``; alpha, ICC profile, EXIF and the source's text
    metadata (``photo.metadata.text``: XMP, PNG Title/Author/...) included, ``text`` replacing
    entries with the same keyword. A gray photo whose ICC profile is an RGB profile is written
    as RGB with three equal channels (PNG forbids an RGB profile in a gray image); a gray-only
    profile is left out of a colour output.
    """
    if not isinstance(photo, Photo):
        raise InputError(f"expected a Photo, got {type(photo).__name__}")
    channels, icc = _output_layout(photo)
    given = list(text)
    replaced = {key for key, _ in given}
    kept = [(key, value) for key, value in photo.metadata.text if key not in replaced]
    return encode_png_channels(
        channels, bit_depth=photo.metadata.bit_depth, icc=icc, exif=photo.metadata.exif, text=kept + given
    )


def to_pil(photo: Photo) -> Image.Image:
    """An 8-bit PIL image of ``photo`` for display: mode "L", "LA", "RGB" or "RGBA"."""
    if not isinstance(photo, Photo):
        raise InputError(f"expected a Photo, got {type(photo).__name__}")
    image = pil_image(quantize(_stacked(photo, gray=photo.is_grayscale), 8))
    icc = photo.metadata.icc_profile
    if icc and icc_space(icc) == (b"GRAY" if photo.is_grayscale else b"RGB "):
        image.info["icc_profile"] = icc
    return image


def _output_layout(photo: Photo) -> tuple[np.ndarray, bytes | None]:
    """(H, W, 1-4) channels to write in [0, 1] and the ICC profile that fits them."""
    icc = photo.metadata.icc_profile
    space = icc_space(icc) if icc else None
    gray = photo.is_grayscale and space != b"RGB "
    if icc and space != (b"GRAY" if gray else b"RGB "):
        logger.info("ICC profile for %r data left out of a %s PNG", space, "gray" if gray else "colour")
        icc = None
    return _stacked(photo, gray=gray), icc


def _stacked(photo: Photo, *, gray: bool) -> np.ndarray:
    """(H, W, 1-4) in [0, 1]: one gray channel or RGB, then alpha if any."""
    channels = photo.pixels[..., :1] if gray else photo.pixels
    if photo.alpha is not None:
        channels = np.concatenate([channels, photo.alpha[..., None]], axis=2)
    return channels


# ----------------------------------------------------------------------------------------------
# Masks


def load_mask(
    source: str | os.PathLike | bytes | Image.Image | np.ndarray, *, size: tuple[int, int]
) -> np.ndarray:
    """Read a damage mask drawn for a photo of ``size``.

    Args:
        source: path, file bytes, PIL image or array. Accepted: a gray or RGB mask (white or
            any bright colour = damaged; the brightest channel counts), or strokes painted on a
            transparent background (then the alpha is the mask). Arrays: (H, W), (H, W, 1-4),
            uint8, uint16, bool or float in [0, 1]. Never modified.
        size: (width, height) of the photo the mask belongs to.

    Returns:
        (H, W) float32 in [0, 1], 1 = damaged / to repaint.
    """
    if (
        not isinstance(size, tuple)
        or len(size) != 2
        or not all(isinstance(v, (int, np.integer)) and v > 0 for v in size)
    ):
        raise InputError(f"size must be the photo's (width, height) in pixels, got {size!r}")
    width, height = int(size[0]), int(size[1])
    if isinstance(source, np.ndarray):
        label = "the mask array"
        array = _with_channel_axis(source, label)
        _check_mask_size((array.shape[1], array.shape[0]), (width, height), label)
        values = _array_values(array, label)[0]
        alpha = values[..., -1] if values.shape[2] in (2, 4) else None
        return _mask_from(values[..., :-1] if alpha is not None else values, alpha)
    with _opened(source) as (im, label, _):
        # From the header, before decoding, either way round: the EXIF orientation that may turn
        # the mask is only certain once decoded (a PNG may carry it after the pixels, Pillow
        # turns a TIFF while loading it). Exactly, once decoded and turned.
        if im.size not in ((width, height), (height, width)):
            _check_mask_size(im.size, (width, height), label)
        decode(im, label)
        colour, alpha, _, _ = _pil_to_arrays(im, icc=None, notices=[])
        mask = apply_orientation(_mask_from(colour, alpha), orientation_of(im))
        _check_mask_size((mask.shape[1], mask.shape[0]), (width, height), label)
        return np.ascontiguousarray(mask)


def _check_mask_size(mask_size: tuple[int, int], photo_size: tuple[int, int], label: str) -> None:
    if tuple(mask_size) != tuple(photo_size):
        raise InputError(
            f"mask is {mask_size[0]}x{mask_size[1]} but the photo is {photo_size[0]}x{photo_size[1]} "
            f"({label}); draw or export the mask at the photo's size"
        )


def _mask_from(colour: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """(H, W, 1|3) colour and (H, W) alpha in [0, 1] -> (H, W) float32 mask.

    Strokes on a transparent background: the alpha, when it is not fully opaque. Otherwise
    the brightest channel (white or any bright colour = damaged).
    """
    if alpha is not None and alpha.min() < 1.0:
        return np.array(alpha, dtype=np.float32)
    return np.ascontiguousarray(colour.max(axis=2), dtype=np.float32)


def save_mask(mask: np.ndarray, path: str | os.PathLike) -> Path:
    """Write a mask as an 8-bit gray PNG, 255 = damaged, 0 = untouched; returns the path.

    Args:
        mask: (H, W) bool, uint8 (0-255) or float in [0, 1].
        path: destination ending in ``.png``; parent folders are created.
    """
    if not isinstance(mask, np.ndarray) or mask.ndim != 2:
        raise InputError(f"a mask must be an (H, W) array, got {_describe_array(mask)}")
    values = _array_values(mask, "the mask")[0]
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise InputError(f"masks are saved as PNG; give a path ending in .png, got {str(path)!r}")
    write_atomic(path, encode_png_channels(values[..., None], bit_depth=8))
    return path


# ----------------------------------------------------------------------------------------------
# Folders


def find_images(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Expand command-line inputs into image files.

    Args:
        paths: files (kept as given, whatever their suffix) and folders (their image files,
            sorted by name, not recursive; hidden files and our own ``*.mask.png`` outputs are
            skipped).

    Returns:
        The files in order, each once.

    Raises:
        InputError: a path does not exist.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    found: list[Path] = []
    seen: set[Path] = set()
    for entry in paths:
        path = Path(entry)
        if not path.exists():
            raise InputError(f"{entry} does not exist; check the path and the spelling")
        if path.is_dir():
            files = [
                child
                for child in sorted(path.iterdir(), key=lambda p: p.name)
                if child.is_file()
                and not child.name.startswith(".")
                and child.suffix.lower() in IMAGE_SUFFIXES
                and not child.name.lower().endswith(_MASK_SUFFIX)
            ]
            if not files:
                logger.warning("no images (%s) in folder %s", ", ".join(sorted(IMAGE_SUFFIXES)), path)
        else:
            files = [path]
        for file in files:
            key = file.resolve()
            if key not in seen:
                seen.add(key)
                found.append(file)
    return found


def _describe_array(value: object) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} array of shape {value.shape}"
    return type(value).__name__
