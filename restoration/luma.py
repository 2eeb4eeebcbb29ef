"""Luma (ITU-R BT.601, as Pillow's "L") and what counts as a gray photo: one definition for
every module."""

from __future__ import annotations

import numpy as np

__all__ = ["LUMA", "is_gray", "luma", "weighted_luma"]

LUMA = np.array([0.299, 0.587, 0.114], np.float32)
"""BT.601 luma weights of R, G and B: ``Y = image @ LUMA``."""


def is_gray(rgb: np.ndarray) -> bool:
    """True when the three channels of ``rgb`` (H, W, 3) are exactly equal."""
    return bool(np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 0], rgb[..., 2]))


def luma(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) -> (H, W) luma; the channel itself, bit for bit, where the three are equal."""
    return rgb[..., 0] if is_gray(rgb) else rgb @ LUMA


def weighted_luma(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32 -> (H, W) float32 C-contiguous ``rgb @ LUMA``, gray or not (the classical
    filters' working plane: the same arithmetic on every photo)."""
    return np.ascontiguousarray(rgb @ LUMA)
