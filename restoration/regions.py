"""Native-resolution work on crops: tiles, windows around damage, blending and paste-back.

Diffusion runs at the model's working size (about 512 px) on crops of the full-resolution
photo, in two ways that share one tile geometry (:func:`tiles_covering`) and one set of blend
weights (:func:`blend_weights`):

* global refinement (:func:`process_in_tiles`): overlapping tiles over the whole photo, for the
  SDEdit-style passes (denoise, colour harmonisation);
* local repair (:func:`repaint_in_windows`): the tiles that contain damage, each result pasted
  back with a feathered mask so that every pixel farther than ``2 * feather`` from the mask is
  bit-identical to the input.

Where crops overlap, their results are blended with raised-cosine ramps running across the
overlap, normalised so that the weights sum to 1 at every covered pixel: no crop border shows,
and a pixel that only one crop covers takes that crop's result exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import InputError

__all__ = [
    "MIN_BLEND_OVERLAP",
    "Window",
    "coverage_percent",
    "keep_fine_change",
    "feather_weights",
    "composite",
    "tiles_covering",
    "blend_weights",
    "windows_covering",
    "process_in_tiles",
    "repaint_in_windows",
]

MIN_BLEND_OVERLAP = 8
"""Narrowest overlap (px) :func:`process_in_tiles` accepts: one latent cell of the SD VAE.
Narrower ramps leave tile borders visible; the default overlap is 64."""


@dataclass(frozen=True)
class Window:
    """A crop ``image[top:bottom, left:right]`` in full-resolution pixel coordinates."""

    top: int
    left: int
    bottom: int
    right: int

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.bottom), slice(self.left, self.right)

    @property
    def height(self) -> int:
        return self.bottom - self.top

    @property
    def width(self) -> int:
        return self.right - self.left


def coverage_percent(mask: np.ndarray) -> float:
    """Share of the pixels marked for repair (value > 0.5) in ``mask`` (H, W), in percent, 3 decimals."""
    mask = np.asarray(mask)
    return round(100.0 * float(np.count_nonzero(mask > 0.5)) / max(1, mask.size), 3)


def feather_weights(mask: np.ndarray, *, feather: int = 4) -> np.ndarray:
    """Blend weights that are 1 on the mask and fall to exactly 0 within ``2 * feather`` px.

    Args:
        mask: (H, W) bool or float in [0, 1]; > 0.5 is the region being repaired.
        feather: width in pixels of the soft edge, >= 0 (0 = hard edge).

    Returns:
        (H, W) float32 in [0, 1]; 0 exactly at pixels farther than ``2 * feather`` from the mask.
    """
    hard = (np.asarray(mask) > 0.5).astype(np.float32)
    if feather <= 0 or not hard.any():
        return hard
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * feather + 1, 2 * feather + 1))
    grown = cv2.dilate(hard, kernel)
    soft = cv2.GaussianBlur(grown, (2 * feather + 1, 2 * feather + 1), feather / 2.0)
    return np.maximum(hard, soft).astype(np.float32)


def composite(original: np.ndarray, repaired: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``original * (1 - w) + repaired * w``, exactly ``original`` where ``w == 0``.

    Args:
        original, repaired: (H, W, 3) float32 in [0, 1].
        weights: (H, W) float in [0, 1], e.g. from :func:`feather_weights`.

    Returns:
        (H, W, 3) float32 in [0, 1].
    """
    if original.shape != repaired.shape or weights.shape != original.shape[:2]:
        raise InputError(
            f"composite needs matching shapes, got {original.shape}, {repaired.shape} and weights {weights.shape}"
        )
    blended = original + (repaired - original) * weights[..., None]
    return np.where(weights[..., None] > 0, blended, original).astype(np.float32)


# --- tile geometry ---------------------------------------------------------------------------


def _check_geometry(size: int, overlap: int) -> None:
    for name, value in (("size", size), ("overlap", overlap)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise InputError(f"window {name} must be a whole number of pixels, got {name}={value!r}")
    if overlap < 0:
        raise InputError(f"window overlap must be >= 0 px, got overlap={overlap}")
    if size <= overlap:
        raise InputError(f"window size must exceed the overlap, got size={size}, overlap={overlap}")


def _tile_starts(length: int, size: int, overlap: int) -> list[int]:
    """Starts of the fewest ``size``-px spans covering ``length`` px with overlaps >= ``overlap``.

    The spans are spread evenly, so neighbouring overlaps differ by at most 1 px (instead of
    the last one absorbing the remainder).
    """
    if length <= size:
        return [0]
    count = -(-(length - overlap) // (size - overlap))
    span = length - size
    return [(index * span + (count - 1) // 2) // (count - 1) for index in range(count)]


def tiles_covering(height: int, width: int, *, size: int = 512, overlap: int = 64) -> list[Window]:
    """Overlapping tiles at the model's working size that cover a whole ``height`` x ``width`` photo.

    Along each side the fewest tiles are used whose neighbours overlap by at least ``overlap``
    px, spread evenly from edge to edge. Every tile is exactly ``size`` px along a side that is
    at least ``size`` long; along a shorter side the tile is the whole side (a photo smaller
    than ``size`` x ``size`` is one tile, the whole photo). ``len(tiles_covering(...))`` is the
    number of model calls a tiled pass makes, for duration estimates.

    Args:
        height, width: photo size in pixels, >= 1.
        size: tile side in pixels, > ``overlap``.
        overlap: least number of pixels shared by neighbouring tiles, >= 0.

    Returns:
        Tiles in raster order (row by row, left to right).
    """
    _check_geometry(size, overlap)
    if min(height, width) < 1:
        raise InputError(f"tiles need a photo of at least 1 x 1 px, got height={height}, width={width}")
    return [
        Window(top, left, top + min(size, height), left + min(size, width))
        for top in _tile_starts(height, size, overlap)
        for left in _tile_starts(width, size, overlap)
    ]


def windows_covering(mask: np.ndarray, *, size: int = 512, overlap: int = 64) -> list[Window]:
    """The tiles of :func:`tiles_covering` that contain damage, so every masked pixel is covered.

    Every masked pixel lies in some window with at least ``overlap / 2`` px of context (except
    at the photo's border). A photo smaller than ``size`` gives one window: the whole photo.

    Args:
        mask: (H, W) bool or float in [0, 1]; > 0.5 is damage.
        size: window side in pixels, > ``overlap``.
        overlap: least number of pixels shared by neighbouring windows, >= 0.

    Returns:
        Windows in raster order; empty when the mask is empty.
    """
    damaged = np.asarray(mask) > 0.5
    if damaged.ndim != 2:
        raise InputError(f"a mask must have shape (H, W), got {damaged.shape}")
    height, width = damaged.shape
    return [tile for tile in tiles_covering(height, width, size=size, overlap=overlap) if damaged[tile.slices].any()]


# --- blending ----------------------------------------------------------------------------------


def _rising_ramp(width: int) -> np.ndarray:
    """Rising half of a raised cosine over ``width`` px, sampled at pixel centres: (width,) in (0, 1).

    ``ramp[k] + ramp[width - 1 - k] == 1``, so a rising and a falling ramp over the same pixels
    sum to 1; the largest step between neighbouring pixels is ``sin(pi / (2 * width))``.
    """
    return np.sin(np.pi * (np.arange(width) + 0.5) / (2 * width)) ** 2


def _profile(length: int, rise: int, fall: int) -> np.ndarray:
    """(length,) weights: a ramp up over the first ``rise`` px, down over the last ``fall``, else 1; all > 0."""
    profile = np.ones(length)
    if rise:
        profile[:rise] = _rising_ramp(rise)
    if fall:
        profile[length - fall :] = np.minimum(profile[length - fall :], _rising_ramp(fall)[::-1])
    return profile


def _ramp_widths(boxes: np.ndarray, index: int) -> tuple[int, int, int, int]:
    """How far (px) window ``index`` overlaps the windows beyond each of its sides: top, left, bottom, right.

    ``boxes`` is (N, 4) with rows (top, left, bottom, right). A window "beyond" a side covers that
    side's edge from outside; the ramp on that side spans the deepest such overlap.
    """
    top, left, bottom, right = boxes[index]
    others = np.delete(boxes, index, axis=0)
    o_top, o_left, o_bottom, o_right = others.T
    meets = (o_top < bottom) & (top < o_bottom) & (o_left < right) & (left < o_right)

    def deepest(beyond: np.ndarray, depth: np.ndarray) -> int:
        chosen = meets & beyond
        return int(depth[chosen].max()) if chosen.any() else 0

    return (
        deepest(o_top < top, np.minimum(o_bottom, bottom) - top),
        deepest(o_left < left, np.minimum(o_right, right) - left),
        deepest(o_bottom > bottom, bottom - np.maximum(o_top, top)),
        deepest(o_right > right, right - np.maximum(o_left, left)),
    )


def blend_weights(windows: Sequence[Window], height: int, width: int) -> list[np.ndarray]:
    """Per-window blend weights that sum to 1 at every pixel some window covers.

    Each window gets a separable profile: 1 inside, with a raised-cosine ramp
    (``sin^2``, sampled at pixel centres) across each overlap with a window beyond that side,
    spanning the whole overlap; sides without such a neighbour (photo borders) have no ramp.
    The profiles are then divided by their sum over all windows. Where two tiles of a row
    overlap, the falling and the rising ramp already sum to 1, so the normalisation only
    matters where three or more windows meet. A pixel covered by one window alone gets
    weight exactly 1, and the largest change of any weight between neighbouring pixels is
    about ``pi / (2 * overlap)``.

    Args:
        windows: crops inside a ``height`` x ``width`` photo, e.g. from :func:`tiles_covering`
            or :func:`windows_covering`.
        height, width: photo size in pixels.

    Returns:
        One (window.height, window.width) float32 array in (0, 1] per window, in order.
    """
    for window in windows:
        if not (0 <= window.top < window.bottom <= height and 0 <= window.left < window.right <= width):
            raise InputError(f"window {window} is empty or outside the {height} x {width} px photo")
    if not windows:
        return []
    boxes = np.array([(w.top, w.left, w.bottom, w.right) for w in windows], dtype=np.int64)
    profiles = []
    for index, window in enumerate(windows):
        top, left, bottom, right = _ramp_widths(boxes, index)
        rows = _profile(window.height, top, bottom)
        columns = _profile(window.width, left, right)
        profiles.append(np.outer(rows, columns).astype(np.float32))
    total = np.zeros((height, width), np.float32)
    for window, profile in zip(windows, profiles):
        total[window.slices] += profile
    return [profile / total[window.slices] for window, profile in zip(windows, profiles)]


# --- tiled global refinement ----------------------------------------------------------------------

TileFunction = Callable[[np.ndarray], np.ndarray]
"""``function(tile (h, w, C) float32) -> (h, w, C)``, e.g. one SDEdit pass of the diffusion engine."""


def keep_fine_change(change: np.ndarray, *, sigma: float) -> np.ndarray:
    """The part of ``change`` (H, W, C) float32 finer than ``sigma`` px: its Gaussian-blurred
    (coarse) part removed, so tones, shading and colours stay the original's."""
    if sigma <= 0:
        return change.astype(np.float32)
    coarse = cv2.GaussianBlur(change.astype(np.float32), (0, 0), float(sigma), borderType=cv2.BORDER_REFLECT)
    return (change - coarse.reshape(change.shape)).astype(np.float32)


def process_in_tiles(
    image: np.ndarray,
    function: TileFunction,
    *,
    size: int = 512,
    overlap: int = 64,
    on_tile: Callable[[int, int], None] | None = None,
) -> np.ndarray:
    """Run ``function`` on overlapping tiles of the whole photo and blend the results seamlessly.

    The tiles are those of :func:`tiles_covering` (exactly ``size`` x ``size`` on a photo at
    least that big; a smaller photo is one tile, the whole photo). Each tile is cut from the
    input (tiles do not see each other's results) and the results are blended with
    :func:`blend_weights`: a pixel that one tile covers takes that tile's result exactly, and
    across an overlap the results cross-fade over the whole overlap, so no tile border shows.
    The identity function returns the image unchanged (up to float rounding in the overlaps).

    Args:
        image: (H, W, C) or (H, W) float, typically RGB float32 in [0, 1].
        function: called once per tile with a copy of the (h, w, C) float32 tile; must return
            an array of the same shape.
        size: tile side in pixels, > ``overlap`` (512 for SD 1.5).
        overlap: least number of pixels shared by neighbouring tiles, >= ``MIN_BLEND_OVERLAP``.
        on_tile: progress, called as ``on_tile(done, total)`` after each tile.

    Returns:
        float32 array of the shape of ``image``; a convex blend of the tile results, so within
        their value range.
    """
    image = np.asarray(image, dtype=np.float32)
    if image.ndim not in (2, 3) or min(image.shape[:2], default=0) < 1:
        raise InputError(f"process_in_tiles needs an (H, W, C) or (H, W) image, got shape {image.shape}")
    _check_geometry(size, overlap)
    if overlap < MIN_BLEND_OVERLAP:
        raise InputError(
            f"tile overlap must be at least {MIN_BLEND_OVERLAP} px for the tiles to blend without a visible "
            f"border, got overlap={overlap} (the default is 64)"
        )
    height, width = image.shape[:2]
    tiles = tiles_covering(height, width, size=size, overlap=overlap)
    result = np.zeros_like(image)
    for index, (tile, weight) in enumerate(zip(tiles, blend_weights(tiles, height, width))):
        crop = image[tile.slices]
        processed = np.asarray(function(crop.copy()))
        if processed.shape != crop.shape:
            raise InputError(
                f"the tile function must return an array of the tile's shape {crop.shape}, "
                f"got shape {processed.shape} for tile {tile}"
            )
        result[tile.slices] += processed.astype(np.float32, copy=False) * _broadcast(weight, crop.ndim)
        if on_tile is not None:
            on_tile(index + 1, len(tiles))
    return result


def _broadcast(weight: np.ndarray, ndim: int) -> np.ndarray:
    return weight[..., None] if ndim == 3 else weight


# --- local repair ------------------------------------------------------------------------------------

RepairFunction = Callable[[np.ndarray, np.ndarray], np.ndarray]
"""``repair(crop (h, w, 3) float32 [0, 1], crop_mask (h, w) float32 [0, 1]) -> (h, w, 3)``."""


def repaint_in_windows(
    image: np.ndarray,
    mask: np.ndarray,
    repair: RepairFunction,
    *,
    size: int = 512,
    overlap: int = 64,
    feather: int = 4,
    on_window: Callable[[int, int], None] | None = None,
    windows: Sequence[Window] | None = None,
) -> np.ndarray:
    """Repair ``mask`` window by window at native resolution and paste the results back.

    Windows are processed in order on the progressively repaired image, so later windows see
    earlier repairs as context. Where windows overlap, their repairs are blended with
    :func:`blend_weights` (a cross-fade across the overlap, so a window's border never shows
    inside the damage); the blend is then composited over the input with
    ``feather_weights(mask, feather=feather)``. Pixels farther than ``2 * feather`` from the
    mask, and pixels no window covers, are the input's own, bit for bit.

    Args:
        image: (H, W, 3) float32 in [0, 1].
        mask: (H, W) float in [0, 1]; > 0.5 is repaired.
        repair: the per-crop repair (for instance the diffusion engine's inpainting).
        size, overlap: window geometry (see :func:`windows_covering`); unused when ``windows``
            is given.
        feather: soft edge of the paste-back, in pixels, >= 0.
        on_window: progress, called as ``on_window(done, total)`` after each window.
        windows: the windows to repair, in order, instead of ``windows_covering(mask, ...)``;
            masked pixels outside all of them are left as they are.

    Returns:
        (H, W, 3) float32 in [0, 1], same size as ``image``.
    """
    original = np.asarray(image, dtype=np.float32)
    mask = np.asarray(mask, dtype=np.float32)
    if original.ndim != 3 or mask.shape != original.shape[:2]:
        raise InputError(
            f"repaint_in_windows needs an (H, W, 3) image and an (H, W) mask of the same size, "
            f"got image {original.shape} and mask {mask.shape}"
        )
    if windows is None:
        windows = windows_covering(mask, size=size, overlap=overlap)
    height, width = mask.shape
    paste = feather_weights(mask, feather=feather)
    result = original.copy()
    blended_sum = np.zeros_like(original)
    weight_sum = np.zeros(mask.shape, np.float32)
    for index, (window, weight) in enumerate(zip(windows, blend_weights(windows, height, width))):
        crop_mask = mask[window.slices]
        repaired = np.asarray(repair(result[window.slices].copy(), crop_mask.copy()))
        if repaired.shape != crop_mask.shape + original.shape[2:]:
            raise InputError(
                f"the repair function must return an array of the crop's shape {result[window.slices].shape}, "
                f"got shape {repaired.shape} for window {window}"
            )
        blended_sum[window.slices] += repaired.astype(np.float32, copy=False) * weight[..., None]
        weight_sum[window.slices] += weight
        # The blend of the windows done so far; a pixel's last window makes it the final blend.
        covered = weight_sum[window.slices]
        blended = blended_sum[window.slices] / np.maximum(covered, np.finfo(np.float32).tiny)[..., None]
        result[window.slices] = composite(original[window.slices], blended, paste[window.slices] * (covered > 0))
        if on_window is not None:
            on_window(index + 1, len(windows))
    return result
