"""The mask editor's geometry: a photo and its damage mask on a fixed square canvas, and back.

The app shows the detected scratch mask as a coloured, semi-transparent layer over the photo in
an image editor whose canvas is always ``EDITOR_SIDE`` x ``EDITOR_SIDE`` pixels: the photo is
scaled to fit and centred on a grey margin. The user paints damage the detector missed and erases
what is not damage; the edited layer comes back at canvas resolution.

The canvas is much coarser than a scan (a 3000 x 2000 scan is shown at 1024 x 683), so the mask
that comes back can not simply be scaled up: a detected 1 px scratch covers a third of a canvas
pixel and would fade below any threshold. Instead only the canvas pixels the user changed are
taken from the canvas; every other pixel keeps the full-resolution detected mask exactly.

This module is plain numpy and PIL: it builds and reads plain arrays and dicts (the editor's value
``{"background", "layers", "composite"}``); the user-interface toolkit stays in ``app.py``.
Masks are (H, W) float32 in [0, 1], 1 = damaged.
"""

from __future__ import annotations

import logging

import numpy as np
from PIL import Image

__all__ = [
    "EDITOR_MARGIN_RGB",
    "EDITOR_SIDE",
    "EDIT_TOLERANCE",
    "MASK_ALPHA",
    "MASK_BRUSH_COLOR",
    "MASK_OPACITY",
    "MASK_RGB",
    "editor_box",
    "editor_value",
    "mask_from_editor",
]

logger = logging.getLogger(__name__)

EDITOR_SIDE = 1024
"""The editor's canvas is EDITOR_SIDE x EDITOR_SIDE pixels: the photo is scaled to fit it and
centred on a grey margin. (Gradio's editor drops the layers it is given whenever an uploaded
background makes it resize its canvas, so the canvas size never changes.)"""
EDITOR_MARGIN_RGB = (229, 231, 235)
"""Colour of the canvas around the photo, uint8 RGB."""

MASK_RGB = (255, 23, 68)
"""Colour of the mask layer, uint8 RGB."""
MASK_OPACITY = 0.6
"""The layer's alpha is the mask value times MASK_OPACITY; the brush paints with this opacity,
so a brush stroke gives a mask value of 1 and the eraser gives 0."""
MASK_ALPHA = round(255 * MASK_OPACITY)
"""Layer alpha (uint8) of a mask value of 1."""
MASK_BRUSH_COLOR = (f"rgb{MASK_RGB}", MASK_OPACITY)
"""The brush colour as the editor's (css colour, opacity) pair."""

EDIT_TOLERANCE = 3
"""A canvas pixel counts as edited when its alpha differs from the alpha sent by more than this
(uint8 levels), which absorbs rounding in the editor's round trip."""


def editor_box(width: int, height: int) -> tuple[int, int, int, int]:
    """Where a ``width`` x ``height`` photo sits on the canvas: (left, top, w, h) in canvas pixels.

    The photo is scaled by ``EDITOR_SIDE / max(width, height)`` (up for photos smaller than the
    canvas), so ``max(w, h) == EDITOR_SIDE`` and ``min(w, h) >= 1``, and centred.
    """
    width, height = int(width), int(height)
    if width < 1 or height < 1:
        raise ValueError(f"photo size must be at least 1 x 1 pixels, got {width} x {height}")
    scale = EDITOR_SIDE / max(width, height)
    w, h = max(1, round(width * scale)), max(1, round(height * scale))
    return (EDITOR_SIDE - w) // 2, (EDITOR_SIDE - h) // 2, w, h


def editor_value(photo: Image.Image | np.ndarray, mask: np.ndarray) -> tuple[dict, dict]:
    """The editor's value (photo as background, mask as a coloured layer) and what to remember.

    Args:
        photo: the photo, a PIL image (converted to RGB) or an array (H, W) or (H, W, 3), uint8
            in [0, 255] or float in [0, 1].
        mask: (H, W) float in [0, 1] at the photo's size, 1 = damaged (values are clipped to
            [0, 1]; NaN is refused).

    Returns:
        (value, detection):
        ``value`` = {"background": RGB PIL image EDITOR_SIDE x EDITOR_SIDE with the photo fitted
        and centred, "layers": [(EDITOR_SIDE, EDITOR_SIDE, 4) uint8 RGBA layer, colour MASK_RGB,
        alpha = mask x MASK_ALPHA inside the photo's box and 0 on the margin], "composite": None}.
        ``detection`` (the state to keep for :func:`mask_from_editor`) = {"size": (W, H) of the
        photo, "mask": the full-resolution mask, stored losslessly (uint8 x 255 when every value is
        a multiple of 1/255, as binary detections are, else float32; read it back with
        :func:`mask_from_editor`), "box": (left, top, w, h) of the photo on the canvas,
        "alpha": (h, w) uint8 alpha of the layer sent, inside the box}.

    Raises:
        ValueError: the photo is not an image array, or the mask does not match it.
    """
    picture = _rgb_picture(photo)
    width, height = picture.size
    mask = np.asarray(mask)
    if mask.shape != (height, width):
        raise ValueError(
            f"mask has shape {mask.shape} but the photo is {width} x {height} pixels: "
            f"pass an (H, W) = ({height}, {width}) mask"
        )
    if not np.issubdtype(mask.dtype, np.number) and mask.dtype != bool:
        raise ValueError(f"mask must be numeric, got dtype {mask.dtype}")
    mask = np.clip(mask.astype(np.float32), 0.0, 1.0)
    if np.isnan(mask).any():
        raise ValueError("mask contains NaN values: expected values in [0, 1]")

    left, top, w, h = editor_box(width, height)
    if picture.size != (w, h):
        picture = picture.resize((w, h), Image.Resampling.LANCZOS)
    background = Image.new("RGB", (EDITOR_SIDE, EDITOR_SIDE), EDITOR_MARGIN_RGB)
    background.paste(picture, (left, top))
    alpha = np.rint(_resize_mask(mask, (w, h)) * MASK_ALPHA).astype(np.uint8)
    layer = np.zeros((EDITOR_SIDE, EDITOR_SIDE, 4), dtype=np.uint8)
    layer[..., :3] = MASK_RGB
    layer[top : top + h, left : left + w, 3] = alpha
    detection = {
        "size": (width, height),
        "mask": _pack_mask(mask),
        "box": (left, top, w, h),
        "alpha": alpha,
    }
    return {"background": background, "layers": [layer], "composite": None}, detection


def mask_from_editor(
    value: dict | None,
    detection: dict | None,
    photo_size: tuple[int, int],
    *,
    tolerance: int = EDIT_TOLERANCE,
) -> tuple[np.ndarray | None, str]:
    """The mask to repair after the user's edits, and its ``mask_mode`` for the pipeline.

    Only the canvas pixels whose alpha differs from the alpha sent by more than ``tolerance``
    are the user's edit. Each photo pixel that overlaps an edited canvas pixel (so the whole
    footprint of a stroke is covered, its edges included) takes the edit:

    - painted (alpha went up): ``max(detected, alpha / MASK_ALPHA)``, so a brush stroke gives 1
      and a faint stroke edge never lowers a detected scratch under it;
    - erased (alpha went down): ``detected * alpha / alpha_sent``, the share the eraser left, so
      a full erase gives 0 and a partial one removes the same share at full resolution.

    Every other pixel keeps the full-resolution detected mask exactly.

    Args:
        value: the editor's value, {"layers": [(EDITOR_SIDE, EDITOR_SIDE, 4) RGBA arrays], ...}
            (layers of another size are ignored), or None.
        detection: the state returned by :func:`editor_value`, or None.
        photo_size: (W, H) of the photo being restored.
        tolerance: alpha difference (uint8 levels, >= 0) ignored as rounding.

    Returns:
        (mask, mask_mode): the whole mask, (H, W) float32 in [0, 1], and ``"replace"``; or
        ``(None, "add")`` when there is no detection for a photo of this size yet, which lets the
        pipeline detect on its own.
    """
    if tolerance < 0:
        raise ValueError(f"tolerance must be >= 0 alpha levels, got {tolerance}")
    size = (int(photo_size[0]), int(photo_size[1]))
    if detection is None or tuple(detection["size"]) != size:
        return None, "add"
    detected = _unpack_mask(detection["mask"])
    painted = _painted_alpha(value, detection["box"])
    if painted is None:
        return detected, "replace"
    sent = np.asarray(detection["alpha"])
    difference = painted.astype(np.int16) - sent.astype(np.int16)
    raised, lowered = difference > tolerance, difference < -tolerance
    edited = np.count_nonzero(raised) + np.count_nonzero(lowered)
    if edited == 0:
        return detected, "replace"
    logger.info(
        "Merging the editor's changes into the detected mask (%d canvas pixels painted, %d erased)",
        np.count_nonzero(raised),
        np.count_nonzero(lowered),
    )
    return _merge_edits(detected, painted, sent, raised, lowered), "replace"


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _rgb_picture(photo: Image.Image | np.ndarray) -> Image.Image:
    """``photo`` as an RGB PIL image (see :func:`editor_value` for what is accepted)."""
    if isinstance(photo, Image.Image):
        return photo if photo.mode == "RGB" else photo.convert("RGB")
    array = np.asarray(photo)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3) or 0 in array.shape:
        raise ValueError(
            f"photo must be an image array (H, W) or (H, W, 3), got shape {array.shape}"
        )
    if array.dtype != np.uint8:
        if not np.issubdtype(array.dtype, np.floating):
            raise ValueError(
                f"photo must be uint8 in [0, 255] or float in [0, 1], got dtype {array.dtype}"
            )
        array = np.rint(np.clip(np.nan_to_num(array), 0.0, 1.0) * 255.0).astype(np.uint8)
    return Image.fromarray(array).convert("RGB")


def _resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an (H, W) float mask in [0, 1] to ``size`` = (width, height): box-averaged when
    shrinking, bilinear when enlarging."""
    if (mask.shape[1], mask.shape[0]) == tuple(size):
        return mask.astype(np.float32)
    image = Image.fromarray(np.asarray(mask, dtype=np.float32), mode="F")
    resample = Image.Resampling.BOX if size[0] < mask.shape[1] else Image.Resampling.BILINEAR
    return np.clip(np.asarray(image.resize(size, resample), dtype=np.float32), 0.0, 1.0)


def _pack_mask(mask: np.ndarray) -> np.ndarray:
    """(H, W) float32 in [0, 1] -> uint8 x 255 if that is lossless (a quarter of the memory), else
    a float32 copy. :func:`_unpack_mask` gives back exactly ``mask``."""
    quantized = np.rint(mask * 255.0).astype(np.uint8)
    if np.array_equal(_unpack_mask(quantized), mask):
        return quantized
    return mask.astype(np.float32, copy=True)


def _unpack_mask(stored: np.ndarray) -> np.ndarray:
    """The (H, W) float32 mask kept by :func:`_pack_mask` (a new array)."""
    stored = np.asarray(stored)
    if stored.dtype == np.uint8:
        return stored.astype(np.float32) / np.float32(255.0)
    return stored.astype(np.float32, copy=True)


def _painted_alpha(value: dict | None, box: tuple[int, int, int, int]) -> np.ndarray | None:
    """Alpha (h, w) uint8 of the editor's mask layer(s) inside ``box`` (the highest, if there are
    several), or None if the value holds no usable layer."""
    if not value or not value.get("layers"):
        return None
    left, top, w, h = box
    alphas = []
    for layer in value["layers"]:
        layer = np.asarray(layer)
        if layer.shape == (EDITOR_SIDE, EDITOR_SIDE, 4):
            alphas.append(layer[top : top + h, left : left + w, 3].astype(np.uint8))
        else:
            logger.warning(
                "Ignoring an editor layer of shape %s (expected (%d, %d, 4))",
                layer.shape, EDITOR_SIDE, EDITOR_SIDE,
            )
    if not alphas:
        return None
    return np.max(np.stack(alphas), axis=0)


def _merge_edits(
    detected: np.ndarray,
    painted: np.ndarray,
    sent: np.ndarray,
    raised: np.ndarray,
    lowered: np.ndarray,
) -> np.ndarray:
    """Apply the edited canvas pixels to the full-resolution mask (see :func:`mask_from_editor`).

    Args:
        detected: (H, W) float32 in [0, 1], the full-resolution mask (modified in place).
        painted, sent: (h, w) uint8 alpha of the layer received and sent.
        raised, lowered: (h, w) bool, the canvas pixels painted and erased.
    """
    rows_first, rows_last = _overlapped_cells(detected.shape[0], painted.shape[0])
    cols_first, cols_last = _overlapped_cells(detected.shape[1], painted.shape[1])
    # Work only on the photo pixels under the rectangle around the edited canvas pixels.
    edited_rows = np.flatnonzero((raised | lowered).any(axis=1))
    edited_cols = np.flatnonzero((raised | lowered).any(axis=0))
    rows = _photo_span(rows_first, rows_last, edited_rows[0], edited_rows[-1])
    cols = _photo_span(cols_first, cols_last, edited_cols[0], edited_cols[-1])
    cells = (rows_first[rows], rows_last[rows], cols_first[cols], cols_last[cols])
    region = detected[rows, cols]

    if lowered.any():
        # The share of the sent alpha the eraser left (sent > painted >= 0 where lowered).
        kept = np.ones(painted.shape, np.float32)
        kept[lowered] = painted[lowered].astype(np.float32) / sent[lowered].astype(np.float32)
        region = region * _reduce_over_cells(kept, *cells, reduce=np.minimum)
    if raised.any():
        value = np.minimum(painted.astype(np.float32) / np.float32(MASK_ALPHA), np.float32(1.0))
        added = np.where(raised, value, np.float32(0.0))
        region = np.maximum(region, _reduce_over_cells(added, *cells, reduce=np.maximum))
    detected[rows, cols] = region
    return detected


def _overlapped_cells(n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """For each of ``n`` photo pixels along an axis shown as ``m`` canvas pixels, the first and
    last canvas pixel it overlaps (both (n,) int, inclusive).

    Photo pixel ``i`` spans ``[i * m / n, (i + 1) * m / n)`` in canvas pixels, as in PIL's resize.
    """
    i = np.arange(n, dtype=np.int64)
    return (i * m) // n, ((i + 1) * m - 1) // n


def _photo_span(first: np.ndarray, last: np.ndarray, lo: int, hi: int) -> slice:
    """The photo pixels (a slice) that overlap canvas pixels ``lo..hi`` (inclusive)."""
    start = int(np.searchsorted(last, lo, side="left"))
    stop = int(np.searchsorted(first, hi, side="right"))
    return slice(start, stop)


def _reduce_over_cells(
    canvas: np.ndarray,
    rows_first: np.ndarray,
    rows_last: np.ndarray,
    cols_first: np.ndarray,
    cols_last: np.ndarray,
    *,
    reduce: np.ufunc,
) -> np.ndarray:
    """(h, w) canvas values -> (len(rows_first), len(cols_first)) photo values: each photo pixel
    gets the ``reduce`` (np.maximum or np.minimum) of the canvas pixels it overlaps."""
    across = _reduce_ranges(canvas, cols_first, cols_last, axis=1, reduce=reduce)
    return _reduce_ranges(across, rows_first, rows_last, axis=0, reduce=reduce)


def _reduce_ranges(
    values: np.ndarray, first: np.ndarray, last: np.ndarray, *, axis: int, reduce: np.ufunc
) -> np.ndarray:
    """``reduce`` of ``values[first[k] : last[k] + 1]`` along ``axis`` (0 or 1), for every k."""
    pad = [(0, 0), (0, 0)]
    pad[axis] = (0, 1)  # so that last + 1 is a valid index
    padded = np.pad(values, pad, mode="edge")
    bounds = np.empty(2 * len(first), dtype=np.intp)
    bounds[0::2] = first
    bounds[1::2] = last + 1
    reduced = reduce.reduceat(padded, bounds, axis=axis)  # odd entries span the gaps: dropped
    return reduced[:, 0::2] if axis == 1 else reduced[0::2]
