"""Face crops and their way back: FFHQ alignment, paste masks, seamless paste-back.

A face is cut out of the photo by the similarity transform (rotation, uniform scale,
translation) that puts its five landmarks on the FFHQ template used by GFPGAN, CodeFormer and
facexlib, scaled to the crop size; that is the crop the face models work on. A restored crop
goes back by the inverse transform, and only the *change* it brings is pasted, at full
resolution, through a feathered mask that is exactly 0 outside the face: every pixel away from
the faces is the input's own, bit for bit, and the original's detail stays wherever the
restoration did not change it.

No box shows around a pasted face because (a) the mask is an ellipse (or a face parser's map)
with a wide smooth rim, (b) the change keeps none of its coarse part (``regions.keep_fine_change``:
tones and colours stay the original's, only detail finer than a few pixels changes), and (c) part of
the grain the restoration removed is given back (the face stage does it), so a clean face does
not sit in a grainy print like a sticker.

When the detector gives no landmarks (the offline detector without dlib, for a face that only
its cascades found), five points are derived from the box (:func:`landmarks_from_box`).

References:
    Karras, Laine and Aila, "A style-based generator architecture for generative adversarial
    networks", CVPR 2019 (FFHQ alignment).
    Wang et al., "Towards real-world blind face restoration with generative facial prior"
    (GFPGAN), CVPR 2021 (the 5-point template at 512 px, paste-back by the inverse affine).
"""

from __future__ import annotations

import cv2
import numpy as np

from .errors import InputError
from .luma import LUMA

__all__ = [
    "CROP_SIZE",
    "FFHQ_TEMPLATE",
    "alignment_matrix",
    "landmarks_from_box",
    "warp_to_crop",
    "elliptical_mask",
    "paste_weights",
    "warp_change_back",
    "luma_change_only",
]

CROP_SIZE = 512
"""Side of the aligned crop the template is defined for, px."""

FFHQ_TEMPLATE = np.array(
    [[192.98138, 239.94708], [318.90277, 240.1936], [256.63416, 314.01935], [201.26117, 371.41043], [313.08905, 371.15118]],
    dtype=np.float32,
)
"""Where the five landmarks go in a 512 px crop (facexlib / GFPGAN): left eye, right eye (as
seen in the image), nose tip, left and right mouth corner; x, y in px."""

# Five points from a box in dlib's convention (a square from the eyebrows to the chin):
# fractions of the box side, x from the left, y from the top. Medians of the offline detector's
# own landmarks relative to its boxes on 31 faces (scikit-image's astronaut and
# ../shared/photos), made left-right symmetric: eyes 0.40 of the side apart at 0.31 below the
# top, nose tip at 0.51, mouth corners at 0.75.
_BOX_POINTS = np.array([[0.30, 0.31], [0.70, 0.31], [0.50, 0.51], [0.33, 0.75], [0.67, 0.75]], np.float32)

# The paste ellipse in the 512 px template crop: it covers the forehead, the cheeks and the chin
# of a template-aligned face (eyes at y 240, mouth at y 371), not the hair or the ears.
_ELLIPSE_CENTRE = (256.0, 290.0)
_ELLIPSE_AXES = (170.0, 215.0)
_ELLIPSE_RIM = 0.35  # the outer 35 % of the radius is the soft rim (weights from 1 down to 0)

def _check_points(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    if points.shape != (5, 2) or not np.isfinite(points).all():
        raise InputError(f"face landmarks must be a finite (5, 2) array of x, y in px, got shape {points.shape}")
    return points


def landmarks_from_box(box) -> np.ndarray:
    """Approximate five landmarks of an upright frontal face from its box.

    Args:
        box: (x, y, w, h) in px, in dlib's convention (a square from the eyebrows to the chin).

    Returns:
        (5, 2) float32 x, y in px, in FFHQ order (see :data:`FFHQ_TEMPLATE`).
    """
    x, y, w, h = (float(v) for v in box)
    if w <= 0 or h <= 0:
        raise InputError(f"a face box needs a positive width and height, got {box!r}")
    return (np.array([x, y], np.float32) + _BOX_POINTS * np.array([w, h], np.float32)).astype(np.float32)


def alignment_matrix(landmarks: np.ndarray, *, size: int = CROP_SIZE) -> np.ndarray:
    """The similarity transform from photo to a ``size`` px aligned crop.

    Least-median-of-squares fit (``cv2.estimateAffinePartial2D``, LMEDS) of the five points to
    the FFHQ template scaled to ``size``, as facexlib does.

    Args:
        landmarks: (5, 2) x, y in photo px, FFHQ order.
        size: crop side in px, >= 8.

    Returns:
        (2, 3) float64 matrix M with ``crop_xy = M @ [x, y, 1]``.
    """
    points = _check_points(landmarks)
    if int(size) != size or size < 8:
        raise InputError(f"the crop size must be a whole number of px >= 8, got {size!r}")
    template = FFHQ_TEMPLATE.astype(np.float64) * (size / CROP_SIZE)
    matrix, _ = cv2.estimateAffinePartial2D(points, template, method=cv2.LMEDS)
    if matrix is None or not np.isfinite(matrix).all() or abs(np.linalg.det(matrix[:, :2])) < 1e-8:
        raise InputError("these face landmarks do not define an alignment (are all five points distinct?)")
    return matrix


def warp_to_crop(image: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The aligned ``size`` x ``size`` crop of ``image`` (H, W, C) float32 in [0, 1]; outside the
    photo, its border pixels are repeated (no gray or black band for the model to repaint).
    Bicubic, clipped to [0, 1] (its overshoot)."""
    crop = cv2.warpAffine(image, matrix, (int(size), int(size)), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    return np.clip(crop, 0.0, 1.0).astype(np.float32)


def elliptical_mask(size: int = CROP_SIZE) -> np.ndarray:
    """Paste mask in the aligned crop: 1 inside the face's ellipse, a raised-cosine rim over
    the outer ``_ELLIPSE_RIM`` of its radius, exactly 0 outside. (size, size) float32 in [0, 1]."""
    scale = size / CROP_SIZE
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    cx, cy = (c * scale for c in _ELLIPSE_CENTRE)
    ax, ay = (a * scale for a in _ELLIPSE_AXES)
    radius = np.sqrt(((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2)
    t = np.clip((1.0 - radius) / _ELLIPSE_RIM, 0.0, 1.0)
    return (np.sin(0.5 * np.pi * t) ** 2).astype(np.float32)


def paste_weights(crop_mask: np.ndarray, matrix: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The crop's paste mask carried back onto the photo.

    Args:
        crop_mask: (s, s) float in [0, 1] in the aligned crop (e.g. :func:`elliptical_mask`).
        matrix: the photo -> crop transform of :func:`alignment_matrix`.
        shape: (H, W) of the photo.

    Returns:
        (H, W) float32 in [0, 1], exactly 0 wherever the crop mask is 0 (and off the crop).
    """
    height, width = shape
    inverse = cv2.invertAffineTransform(matrix)
    weights = cv2.warpAffine(
        crop_mask.astype(np.float32), inverse, (width, height), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=0.0,
    )
    weights[weights < 1e-4] = 0.0
    return np.clip(weights, 0.0, 1.0).astype(np.float32)


def warp_change_back(change: np.ndarray, matrix: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """A change computed on the aligned crop, (s, s, C) float32, carried back onto the photo:
    (H, W, C) float32, 0 off the crop."""
    height, width = shape
    inverse = cv2.invertAffineTransform(matrix)
    back = cv2.warpAffine(
        change.astype(np.float32), inverse, (width, height), flags=cv2.INTER_CUBIC,
        borderMode=cv2.BORDER_CONSTANT, borderValue=0.0,
    )
    return back.reshape(height, width, *change.shape[2:]).astype(np.float32)


def luma_change_only(change: np.ndarray) -> np.ndarray:
    """The change of BT.601 luma, put on all three channels: the chroma (Cb, Cr) does not move,
    so a gray face stays gray and a sepia one keeps its tone. (H, W, 3) -> (H, W, 3) float32."""
    luma = change @ LUMA
    return np.repeat(luma[..., None], 3, axis=2).astype(np.float32)
