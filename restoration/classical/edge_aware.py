"""Edge-aware chroma handling: guided filtering and upsampling, colour hints spread along
geodesic distances, and clamping chroma to the valid Lab / sRGB gamut at a fixed lightness.

Chroma planes are (H, W, 2) float32 CIE a*, b* (roughly -128..127); lightness planes are
(H, W) float32 CIE L* in [0, 100] (D65, sRGB; the conversions here are exact, as scikit-image's).

References:
    He, Sun and Tang, "Guided Image Filtering", ECCV 2010 / TPAMI 2013.
    He and Sun, "Fast Guided Filter", arXiv 1505.00996, 2015 (guided upsampling).
    Levin, Lischinski and Weiss, "Colorization using Optimization", SIGGRAPH 2004 (colour
    spreads where lightness is similar: here along geodesic distances instead of a solve).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["MAX_CHROMA", "guided_filter", "guided_upsample", "spread_hints", "shaded_chroma", "clamp_to_gamut", "lab_to_rgb", "rgb_to_lab"]

MAX_CHROMA = 90.0
"""Largest chroma C* = sqrt(a*^2 + b*^2) the stage ever produces (no neon)."""
_GAMUT_STEPS = 12  # bisection steps of the chroma scale: 1/4096 of the chroma
_HINT_EDGE_COST = 4.0  # geodesic cost per L* unit of gradient: an edge of 20 L* costs ~80 px
_HINT_TEXTURE_SIGMA = 4.0  # px (working grid): scale over which the local texture level is taken
_HINT_TEXTURE_SHARE = 0.6  # share of the local texture level that a colour hint crosses for free


_RGB_TO_XYZ = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]], np.float64
)
"""Linear sRGB -> CIE XYZ (D65), the matrix scikit-image's ``rgb2lab`` uses."""
_XYZ_TO_RGB = np.linalg.inv(_RGB_TO_XYZ)
_WHITE = np.array([0.95047, 1.0, 1.08883], np.float64)  # D65, 2-degree observer
_EPSILON, _KAPPA = 216.0 / 24389.0, 24389.0 / 27.0


def _to_linear(rgb: np.ndarray) -> np.ndarray:
    return np.where(rgb > 0.04045, ((rgb + 0.055) / 1.055) ** 2.4, rgb / 12.92)


def _to_srgb(linear: np.ndarray) -> np.ndarray:
    return np.where(linear > 0.0031308, 1.055 * np.abs(linear) ** (1 / 2.4) * np.sign(linear) - 0.055, 12.92 * linear)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """(H, W, 3) float sRGB in [0, 1] -> (H, W, 3) float32 CIE Lab (D65; L* in [0, 100]).

    Exact formulas (as ``skimage.color.rgb2lab``; OpenCV's float conversion is off by up to
    0.2 L*), so that lightness survives a round trip through :func:`lab_to_rgb`.
    """
    linear = _to_linear(np.asarray(rgb, np.float32))
    xyz = (linear @ (_RGB_TO_XYZ.T / _WHITE[:, None].T).astype(np.float32)).astype(np.float32)
    f = np.where(xyz > _EPSILON, np.cbrt(xyz), (_KAPPA * xyz + 16.0) / 116.0)
    lab = np.stack([116.0 * f[..., 1] - 16.0, 500.0 * (f[..., 0] - f[..., 1]), 200.0 * (f[..., 1] - f[..., 2])], axis=-1)
    return lab.astype(np.float32)


def _lab_to_linear(lightness: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    fy = (lightness.astype(np.float32) + 16.0) / 116.0
    f = np.stack([fy + chroma[..., 0] / 500.0, fy, fy - chroma[..., 1] / 200.0], axis=-1)
    xyz = np.where(f**3 > _EPSILON, f**3, (116.0 * f - 16.0) / _KAPPA)
    return (xyz @ (_XYZ_TO_RGB * _WHITE[None, :]).T.astype(np.float32)).astype(np.float32)


def lab_to_rgb(lightness: np.ndarray, chroma: np.ndarray) -> np.ndarray:
    """(H, W) L* and (H, W, 2) a*b* -> (H, W, 3) float32 sRGB (not clipped)."""
    return _to_srgb(_lab_to_linear(lightness, chroma)).astype(np.float32)


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    return cv2.blur(image, (2 * radius + 1, 2 * radius + 1), borderType=cv2.BORDER_REFLECT)


def _guided_coefficients(guide: np.ndarray, source: np.ndarray, radius: int, eps: float):
    """Per-pixel linear model ``source ~ a * guide + b`` (He et al.), averaged over windows."""
    mean_guide = _box(guide, radius)
    variance = _box(guide * guide, radius) - mean_guide**2
    channels = source if source.ndim == 3 else source[..., None]
    a_planes, b_planes = [], []
    for index in range(channels.shape[2]):
        plane = np.ascontiguousarray(channels[..., index])
        mean_source = _box(plane, radius)
        covariance = _box(guide * plane, radius) - mean_guide * mean_source
        a = covariance / (variance + eps)
        a_planes.append(_box(a, radius))
        b_planes.append(_box(mean_source - a * mean_guide, radius))
    return np.stack(a_planes, axis=2), np.stack(b_planes, axis=2)


def guided_filter(guide: np.ndarray, source: np.ndarray, *, radius: int, eps: float) -> np.ndarray:
    """Edge-preserving smoothing of ``source`` guided by ``guide``.

    Args:
        guide: (H, W) float32, e.g. L* / 100 in [0, 1].
        source: (H, W, C) float32.
        radius: window radius in px, >= 1.
        eps: regularisation in guide units squared; larger smooths across weaker edges.

    Returns:
        (H, W, C) float32.
    """
    guide = guide.astype(np.float32)
    a, b = _guided_coefficients(guide, source.astype(np.float32), radius, eps)
    return (a * guide[..., None] + b).astype(np.float32)


def guided_upsample(
    guide_full: np.ndarray, guide_small: np.ndarray, source_small: np.ndarray, *, radius: int, eps: float
) -> np.ndarray:
    """Upsample ``source_small`` to the size of ``guide_full`` so its edges follow the full-size guide
    (the fast guided filter: coefficients at the small size, bilinearly upsampled, applied to
    the full-size guide).

    Args:
        guide_full: (H, W) float32 guide at full resolution.
        guide_small: (h, w) float32, the same guide at the small size.
        source_small: (h, w, C) float32 values to upsample.
        radius, eps: as in :func:`guided_filter`, at the small size.

    Returns:
        (H, W, C) float32.
    """
    a, b = _guided_coefficients(guide_small.astype(np.float32), source_small.astype(np.float32), radius, eps)
    size = (guide_full.shape[1], guide_full.shape[0])
    a_full = cv2.resize(a, size, interpolation=cv2.INTER_LINEAR).reshape(*guide_full.shape, -1)
    b_full = cv2.resize(b, size, interpolation=cv2.INTER_LINEAR).reshape(*guide_full.shape, -1)
    return (a_full * guide_full[..., None].astype(np.float32) + b_full).astype(np.float32)


def spread_hints(
    lightness: np.ndarray, chroma: np.ndarray, seeds: list[tuple[np.ndarray, np.ndarray]], *, reach: float
) -> tuple[np.ndarray, np.ndarray]:
    """Override ``chroma`` with hint colours that spread along the photo's objects.

    Each hint colour spreads from its seed pixels by geodesic distance, where crossing an edge of
    the (texture-smoothed) lightness costs like a long walk, so colour stops at object borders.
    A pixel takes the nearest hint colour with weight ``exp(-(d / reach)^2)`` (1 on the seeds
    themselves), shaded to the pixel's lightness (:func:`shaded_chroma`).

    Args:
        lightness: (H, W) float32 L* in [0, 100].
        chroma: (H, W, 2) float32 a*b* to override.
        seeds: one (mask (H, W) bool of seed pixels, (3,) sRGB colour in [0, 1]) per hint colour.
        reach: distance in px at which a hint's weight falls to 1/e, > 0.

    Returns:
        ((H, W, 2) float32 chroma, (H, W) float32 weight of the hints in [0, 1]).
    """
    from skimage.graph import MCP_Geometric

    if not seeds:
        return chroma, np.zeros(lightness.shape, np.float32)
    costs = (1.0 + _HINT_EDGE_COST * _edges_above_texture(lightness)).astype(np.float64)
    nearest = np.full(lightness.shape, np.inf)
    colour = np.zeros_like(chroma)
    for mask, rgb in seeds:
        starts = np.argwhere(mask)
        if not len(starts):
            continue
        distance, _ = MCP_Geometric(costs).find_costs(starts)
        closer = distance < nearest
        nearest[closer] = distance[closer]
        colour[closer] = shaded_chroma(lightness[closer], rgb)
    weight = np.exp(-((nearest / reach) ** 2)).astype(np.float32)
    blended = chroma * (1.0 - weight[..., None]) + colour * weight[..., None]
    return blended.astype(np.float32), weight


def _edges_above_texture(lightness: np.ndarray) -> np.ndarray:
    """(H, W) float32 lightness gradient (L* per px) in excess of the local texture level.

    Grass, foliage or a patterned dress have strong gradients everywhere; an object border is a
    gradient stronger than its surroundings'. Subtracting the local RMS gradient (as Levin et
    al. scale their affinities by the local variance) lets colour cross texture and stop at
    borders.
    """
    smooth = cv2.GaussianBlur(lightness.astype(np.float32), (0, 0), 1.0)
    gradient = np.hypot(cv2.Sobel(smooth, cv2.CV_32F, 1, 0, ksize=3), cv2.Sobel(smooth, cv2.CV_32F, 0, 1, ksize=3)) / 8.0
    texture = np.sqrt(cv2.GaussianBlur(gradient**2, (0, 0), _HINT_TEXTURE_SIGMA))
    return np.maximum(gradient - _HINT_TEXTURE_SHARE * texture, 0.0)


def shaded_chroma(lightness: np.ndarray, rgb: np.ndarray) -> np.ndarray:
    """The a*b* of a surface of colour ``rgb`` seen at each ``lightness``.

    A painted hint names the colour of a surface; the photo's lightness says how brightly it is
    lit. So the hint's linear RGB is scaled to the pixel's luminance (a shadowed red is a dark
    red, not a neon one); where that leaves the sRGB cube the colour is mixed with the gray of
    the same luminance (a brightly lit colour pales towards white, as film renders it).

    Args:
        lightness: (...,) float L* in [0, 100].
        rgb: (3,) sRGB colour in [0, 1].

    Returns:
        (..., 2) float32 a*b*.
    """
    table_lightness = np.linspace(0.0, 100.0, 201, dtype=np.float32)
    luminance = _lab_to_linear(table_lightness[:, None], np.zeros((201, 1, 2), np.float32))[:, 0, 1]
    linear = _to_linear(np.asarray(rgb, np.float64).reshape(3))
    own = float(_RGB_TO_XYZ[1] @ linear)
    if own <= 1e-6:  # a black hint: a neutral surface
        return np.zeros((*np.shape(lightness), 2), np.float32)
    lit = linear[None, :] * (luminance[:, None] / own)
    peak = lit.max(axis=1)
    over = peak > 1.0
    white_share = np.zeros_like(peak)
    white_share[over] = (peak[over] - 1.0) / np.maximum(peak[over] - luminance[over], 1e-6)
    lit = lit * (1.0 - white_share[:, None]) + luminance[:, None] * white_share[:, None]
    table = rgb_to_lab(_to_srgb(np.clip(lit, 0.0, 1.0))[None].astype(np.float32))[0, :, 1:]
    flat = np.asarray(lightness, np.float32).ravel()
    ab = np.stack([np.interp(flat, table_lightness, table[:, channel]) for channel in range(2)], axis=-1)
    return ab.reshape(*np.shape(lightness), 2).astype(np.float32)


def clamp_to_gamut(lightness: np.ndarray, chroma: np.ndarray, *, max_chroma: float = MAX_CHROMA) -> np.ndarray:
    """Scale each pixel's chroma down (hue and L* kept) until the colour is valid sRGB.

    Chroma is first capped at ``max_chroma``; then the largest scale in [0, 1] whose Lab colour
    converts to RGB inside [0, 1] is found by bisection (a gray of the same L* always is).

    Args:
        lightness: (H, W) float32 L* in [0, 100].
        chroma: (H, W, 2) float32 a*b*.
        max_chroma: largest C* allowed.

    Returns:
        (H, W, 2) float32 a*b*, in gamut at ``lightness``.
    """
    chroma = chroma.astype(np.float32)
    magnitude = np.hypot(chroma[..., 0], chroma[..., 1])
    chroma = chroma * np.minimum(1.0, max_chroma / np.maximum(magnitude, 1e-6))[..., None]
    lightness = np.clip(lightness, 0.0, 100.0).astype(np.float32)

    def inside(scale: np.ndarray) -> np.ndarray:
        linear = _lab_to_linear(lightness, chroma * scale[..., None])
        return ((linear >= -1e-5) & (linear <= 1.0 + 1e-5)).all(axis=2)

    ones = np.ones(lightness.shape, np.float32)
    if inside(ones).all():
        return chroma
    low, high = np.zeros_like(ones), ones
    done = inside(ones)
    low[done] = 1.0
    for _ in range(_GAMUT_STEPS):
        middle = np.where(done, 1.0, (low + high) / 2.0)
        ok = inside(middle)
        low = np.where(ok, middle, low)
        high = np.where(ok, high, middle)
    return (chroma * low[..., None]).astype(np.float32)
