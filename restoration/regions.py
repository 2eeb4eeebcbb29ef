"""Native-resolution work on crops: windows around damage, and feathered paste-back.

Diffusion runs at the model's working size (about 512 px) on crops of the full-resolution
photo; results are pasted back with a feathered mask so that every pixel farther than
``feather`` from the mask is bit-identical to the input. One place for both, used by every
stage that repairs locally.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import InputError

__all__ = ["Window", "coverage_percent", "feather_weights", "composite", "windows_covering", "repaint_in_windows"]


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


def windows_covering(mask: np.ndarray, *, size: int = 512, overlap: int = 64) -> list[Window]:
    """Crops of at most ``size`` x ``size`` px that together cover every masked pixel.

    Tiles of a grid with stride ``size - overlap`` are kept when they contain damage, so every
    masked pixel lies in some tile with at least ``overlap / 2`` px of context (except at the
    photo's border). A photo smaller than ``size`` gives one window: the whole photo.

    Args:
        mask: (H, W) bool or float in [0, 1].
        size: window side in pixels, > ``overlap``.
        overlap: pixels shared by neighbouring tiles, >= 0.

    Returns:
        Windows in raster order; empty when the mask is empty.
    """
    if size <= overlap or overlap < 0:
        raise InputError(f"window size must exceed the overlap, got size={size}, overlap={overlap}")
    damaged = np.asarray(mask) > 0.5
    height, width = damaged.shape
    windows = []
    for top in _tile_starts(height, size, overlap):
        for left in _tile_starts(width, size, overlap):
            window = Window(top, left, min(top + size, height), min(left + size, width))
            if damaged[window.slices].any():
                windows.append(window)
    return windows


def _tile_starts(length: int, size: int, overlap: int) -> list[int]:
    if length <= size:
        return [0]
    stride = size - overlap
    starts = list(range(0, length - size, stride))
    return starts + [length - size]


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
) -> np.ndarray:
    """Repair ``mask`` window by window at native resolution and paste each result back.

    Windows are processed in order on the progressively repaired image, so later windows see
    earlier repairs as context. Pixels farther than ``2 * feather`` from the mask are the
    input's own, bit for bit.

    Args:
        image: (H, W, 3) float32 in [0, 1].
        mask: (H, W) float in [0, 1]; > 0.5 is repaired.
        repair: the per-crop repair (for instance the diffusion engine's inpainting).
        size, overlap: window geometry (see :func:`windows_covering`).
        feather: soft edge of the paste-back, in pixels.
        on_window: progress, called as ``on_window(done, total)`` after each window.

    Returns:
        (H, W, 3) float32 in [0, 1], same size as ``image``.
    """
    result = image.astype(np.float32, copy=True)
    windows = windows_covering(mask, size=size, overlap=overlap)
    for index, window in enumerate(windows):
        crop_mask = np.asarray(mask[window.slices], dtype=np.float32)
        crop = result[window.slices]
        repaired = repair(crop.copy(), crop_mask)
        result[window.slices] = composite(crop, repaired, feather_weights(crop_mask, feather=feather))
        if on_window is not None:
            on_window(index + 1, len(windows))
    return result
