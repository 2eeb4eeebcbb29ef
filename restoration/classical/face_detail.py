"""Classical face clean-up: grain out, soft focus undone, detail recovered on edges only.

Works on a window around one face at the photo's own resolution (no resampling), with the
grain measured on the whole photo (a face alone holds too few flat areas to measure it):

1. :func:`restoration.classical.grain.denoise` removes the grain (luminance and chroma);
2. :func:`restoration.classical.sharpen.deblur` undoes the soft focus measured on the window,
   total-variation regularised, so grain is not sharpened back in;
3. a mild unsharp mask adds detail finer than about 1/60 of the face;
   both sharpening steps are weighted by edge strength (eyes, lids, brows, lips, the outline):
   where the gradient is within a few noise levels of flat (skin) they add nothing, so skin is
   not crisped into mottled texture;
4. the grain removed is returned separately, so the caller gives part of it back (the face then
   matches the print's grain and keeps the skin's own texture: no waxy, pasted-on look).

``fidelity`` in [0, 1] trades improvement for closeness to the input: the unsharp amount is
``1 - fidelity`` and the grain share given back grows with it (:func:`grain_share`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import InputError
from ..luma import LUMA as _LUMA
from .grain import NoiseEstimate, denoise
from .sharpen import deblur, estimate_blur

__all__ = ["FaceCleanup", "clean_face_region", "grain_share"]

_DETAIL_SHARE = 1.0 / 60.0  # unsharp radius as a share of the face side ...
_DETAIL_RADIUS = (0.7, 3.0)  # ... within these px
_EDGE_LOW, _EDGE_HIGH = 2.0, 6.0  # edge weight ramps from 0 to 1 between these many noise stds of gradient
_NOISE_FLOOR = 2.0 / 255.0  # the noise assumed at least (JPEG, scanning), [0, 1] units
_GRAIN_SHARE = (0.25, 0.55)  # share of the removed grain given back at fidelity 0 and 1


@dataclass(frozen=True)
class FaceCleanup:
    """The cleaned window and the grain taken out of it, both (h, w, 3) float32.

    ``clean + grain`` is the denoised-and-sharpened window with all its grain back; the face
    stage adds ``grain_share(fidelity) * grain``.
    """

    clean: np.ndarray
    grain: np.ndarray


def grain_share(fidelity: float) -> float:
    """Share of the removed grain given back to a face, in [0.25, 0.55], growing with ``fidelity``."""
    low, high = _GRAIN_SHARE
    return float(low + (high - low) * min(max(fidelity, 0.0), 1.0))


def clean_face_region(region: np.ndarray, *, noise: NoiseEstimate, fidelity: float, face_side: float) -> FaceCleanup:
    """Denoise, deblur and add edge detail to a window around a face.

    Args:
        region: (h, w, 3) float32 RGB in [0, 1], the face with some surroundings (denoising and
            the blur estimate need context); at least 8 px on a side.
        noise: the photo's grain (``grain.estimate_noise`` of the whole photo).
        fidelity: in [0, 1]; higher adds less detail (1 = none).
        face_side: the face's size in px (eye-to-mouth span about 0.35 of it); sets the detail scale.

    Returns:
        :class:`FaceCleanup`. A gray window comes back gray.
    """
    if region.ndim != 3 or region.shape[2] != 3 or min(region.shape[:2]) < 8:
        raise InputError(f"a face window must be (h, w, 3) with h, w >= 8, got shape {region.shape}")
    if not 0.0 <= fidelity <= 1.0:
        raise InputError(f"fidelity must be between 0 and 1, got {fidelity!r}")
    denoised = denoise(region, sigma=noise.sigma, chroma_sigma=noise.chroma_sigma, correlation=noise.correlation)
    grain = (region - denoised).astype(np.float32)
    blur = estimate_blur(denoised, noise_sigma=min(noise.sigma, 0.5))
    sharp = deblur(denoised, blur_sigma=blur, noise_sigma=min(noise.sigma, 0.5))
    detail = _fine_detail(sharp, face_side=face_side)
    edges = _edge_weights(denoised, face_side=face_side, noise_sigma=noise.sigma)
    change = (sharp - denoised) + ((1.0 - fidelity) * detail)[..., None]
    return FaceCleanup(np.clip(denoised + edges[..., None] * change, 0.0, 1.0).astype(np.float32), grain)


def _detail_radius(face_side: float) -> float:
    return float(np.clip(face_side * _DETAIL_SHARE, *_DETAIL_RADIUS))


def _fine_detail(image: np.ndarray, *, face_side: float) -> np.ndarray:
    """Luma detail of ``image`` finer than about face_side/60 px: (h, w) float32."""
    luma = image @ _LUMA
    return luma - cv2.GaussianBlur(luma, (0, 0), _detail_radius(face_side))


def _edge_weights(image: np.ndarray, *, face_side: float, noise_sigma: float) -> np.ndarray:
    """(h, w) in [0, 1]: 0 where the smoothed luma gradient is within ``_EDGE_LOW`` noise stds
    of flat (skin), 1 from ``_EDGE_HIGH`` (eyes, lids, brows, lips, outlines)."""
    smooth = cv2.GaussianBlur(image @ _LUMA, (0, 0), max(_detail_radius(face_side), 1.0))
    gx = cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3, scale=1.0 / 8.0)
    gy = cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3, scale=1.0 / 8.0)
    level = max(noise_sigma, _NOISE_FLOOR)
    return np.clip((np.hypot(gx, gy) / level - _EDGE_LOW) / (_EDGE_HIGH - _EDGE_LOW), 0.0, 1.0).astype(np.float32)
