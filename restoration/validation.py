"""Input checks shared by every function that takes an image or a mask (one message each)."""

from __future__ import annotations

import numpy as np

from .errors import InputError

__all__ = ["check_rgb", "check_mask", "check_mask_size"]


def check_rgb(image: np.ndarray, *, min_side: int = 1, what: str = "image") -> np.ndarray:
    """Validate an RGB image and return it as float32 (no copy when it already is).

    Args:
        image: (H, W, 3) floating-point RGB with values in [0, 1].
        min_side: smallest accepted height and width, in pixels.
        what: how the message names the argument.

    Returns:
        (H, W, 3) float32 in [0, 1].

    Raises:
        InputError: wrong shape, a side under ``min_side``, a non-float dtype, NaN, or values
            outside [0, 1]; the message quotes what was received and says how to fix it.
    """
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(
            f"{what} must have shape (H, W, 3) (RGB), got {image.shape}; "
            "convert gray (repeat it over three channels) or RGBA photos to RGB first, or load files with imageio.load_photo"
        )
    if min(image.shape[:2]) < min_side:
        raise InputError(f"{what} is {image.shape[1]}x{image.shape[0]} px; at least {min_side}x{min_side} is needed")
    if not np.issubdtype(image.dtype, np.floating):
        raise InputError(f"{what} must be float32 with values in [0, 1], got dtype {image.dtype}; divide 8-bit pixels by 255")
    image = image.astype(np.float32, copy=False)
    low, high = float(image.min()), float(image.max())
    if not (low >= 0.0 and high <= 1.0):  # also catches NaN
        raise InputError(f"{what} values must be in [0, 1], got the range [{_bound(low)}, {_bound(high)}]; clip or rescale")
    return image


def _bound(value: float) -> str:
    """``value`` with 4 significant digits, or in full when the rounding would move it into
    [0, 1] (1.0000001 would print as 1)."""
    rounded = f"{value:.4g}"
    return rounded if (0.0 <= value <= 1.0) == (0.0 <= float(rounded) <= 1.0) else repr(value)


def check_mask(mask: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Validate a mask for an image of ``shape`` = (H, W) and return it as bool (True = damaged).

    Args:
        mask: (H, W) bool, or numbers in [0, 1] where > 0.5 is damaged.
        shape: the image's (H, W).

    Returns:
        (H, W) bool, a new array.
    """
    mask = np.asarray(mask)
    if mask.shape != tuple(shape):
        raise InputError(
            f"mask must have shape (H, W) = {tuple(shape)} like the image, got {mask.shape}; "
            "pass one channel of the mask at the image's size"
        )
    if mask.dtype == bool:
        return mask.copy()
    if not (np.issubdtype(mask.dtype, np.floating) or np.issubdtype(mask.dtype, np.integer)):
        raise InputError(f"mask must be bool or numbers in [0, 1], got dtype {mask.dtype}")
    low, high = float(mask.min()), float(mask.max())
    if not (low >= 0.0 and high <= 1.0):
        raise InputError(
            f"mask values must be in [0, 1] (> 0.5 = repaint), got the range [{low}, {high}]; divide an 8-bit mask by 255"
        )
    return mask > 0.5


def check_mask_size(mask: np.ndarray, shape: tuple[int, ...]) -> None:
    """Refuse a user mask whose (H, W) differs from the photo's ``shape[:2]``, naming both sizes."""
    if mask.shape[:2] != tuple(shape[:2]):
        raise InputError(
            f"the mask is {mask.shape[1]}x{mask.shape[0]} but the photo is {shape[1]}x{shape[0]}; "
            "draw or export the mask at the photo's size"
        )
