"""Blur: how much there is (:func:`estimate_blur`) and its removal (:func:`deblur`).

The blur model is a Gaussian point-spread function (defocus, a soft lens, an enlarger, a print
copied from a print); motion blur is read as its sharpest direction.

Estimation, after Zhuo and Sim: re-blurring an edge blurred by sigma with a known Gaussian
sigma_r lowers its gradient maximum by ``R = sqrt(sigma**2 + sigma_g**2 + sigma_r**2) /
sqrt(sigma**2 + sigma_g**2)`` (sigma_g the smoothing under the gradient), so sigma follows from
the ratio R at every edge pixel. Edges are the stronger half of the Canny edges of the smoothed
luminance, and only those well above the noise; the noise's own share of the gradient energy is
subtracted before the ratio. The result is a percentile of the per-pixel sigmas (``_PERCENTILE``)
in the sharpest of 8 edge directions (motion blur, sharp across the motion, is not taken for a
wide round blur), less, in quadrature, the width that a perfectly sampled sharp edge already
measures (``_INTRINSIC``).

Removal: regularised deconvolution with a Gaussian of the measured blur (nothing is done up to
``BLUR_FLOOR``), in the DCT domain. The measure is a middle percentile of the edges (the 70th),
so that it follows the blur ADDED to a photo rather than the photo's own softest edges (a
background out of focus, soft fur, a print copied from a print). With
reflecting borders a symmetric blur is diagonal in the DCT-II basis (Ng, Chan and Tang), so there
is no wrap-around ringing at the image borders and no padding. The regulariser is total
variation (edges stay sharp without overshoot, flat areas stay flat), solved by half-quadratic
splitting with an increasing penalty as in Krishnan and Fergus (with their exponent 1), plus a
quadratic term that caps the gain where the blur left nothing to recover, larger when the blur
differs between edge directions (motion blur, which a round kernel fits badly); the TV weight
grows with the noise level, so grain is not sharpened back in. A grainy photo (``_GRAINY``) is
deblurred cautiously (a larger quadratic term, colours left alone). The change is kept on edges and
texture only, weighted by the gradient in units of the grain left after denoising
(``_EDGE_RAMP``): flat areas (skin, sky) are not crisped into mottled texture. Luminance by
total variation (BT.601 Y); the colour differences, as blurred, by a linear (Wiener-like)
deconvolution with the same kernel, which keeps a gray photo exactly gray.

References: Zhuo and Sim, "Defocus map estimation from a single image", Pattern Recognition
2011; Ng, Chan and Tang, "A fast algorithm for deblurring models with Neumann boundary
conditions", SIAM J. Sci. Comput. 1999; Krishnan and Fergus, "Fast image deconvolution using
hyper-Laplacian priors", NIPS 2009; Rudin, Osher and Fatemi, "Nonlinear total variation based
noise removal algorithms", Physica D 1992.
"""

from __future__ import annotations

import logging

import cv2
import numpy as np
import scipy.fft

from ..errors import InputError
from ..luma import weighted_luma
from ..validation import check_rgb

__all__ = ["BLUR_FLOOR", "deblur", "estimate_blur"]

logger = logging.getLogger(__name__)

BLUR_FLOOR = 0.6
"""Blur sigmas (px) up to this are left alone: ``deblur`` returns a copy. A sharp photo measures
about 0-0.5 px; over the floor the kernel rises to the measured blur within ``_KERNEL_RAMP``.
Chosen with the fitting prints (0.5 and 0.6 score the same on their blur rows; 0.6 leaves
their clean row 0.4-0.7 dB closer to the photo)."""

_SMOOTH = 1.5  # px, sigma_g: Gaussian smoothing under the gradients
_REBLUR = 1.0  # px, sigma_r: the known re-blur
_PERCENTILE = 70  # of the per-edge-pixel blur, in the sharpest edge direction. Thin lines and
# texture read sharper than they are under the step-edge model, so a low percentile (under the
# 50th) reads 0 on most prints blurred by 1 px; a high one (the 85th) takes in the photo's own
# softest edges and overstated the blur added to soft photos, whose deconvolution then drew
# halos. As the deconvolution kernel the 70th is within 0.18-0.27 px rms of the blur added to
# the fitting prints (FIT_PRINTS of benchmarks/scratch_quality.py, 512 px, blurred by 0.8-2 px;
# bias -0.1 px, largest overestimate +0.31 px). The rule it replaced, the 85th percentile
# through a fitted line (0.8 x + 0.1), scored the same on those prints (blur, motion and grain +
# blur rows of benchmarks/denoise_quality.py, summed over both halves: 165.84 dB against 165.72
# now) and lower on the 47 corpus prints that are neither fitted nor scored (``--validation``:
# blur row 28.95 against 29.08 dB, clean row 45.27 against 46.19), where it made more of the
# blurred photos worse than leaving the blur alone (10 of 141 against 3)
_INTRINSIC = 0.71  # px: what a perfectly sampled sharp edge measures (polygons and discs drawn at
# 8x and area-downsampled: raw 0.70-0.72; blurred by 1, 2, 3 px they measure 1.22, 2.10, 3.04,
# i.e. sqrt(b**2 + 0.71**2) within 0.03 px; tests/test_sharpen.py checks it)
_STRONG = 0.5  # edges kept: the strongest half of the Canny edges ...
_EDGE_SNR = 5.0  # ... whose gradient is at least this many noise gradient stds
_MIN_EDGES = 30  # edge pixels needed to measure one direction
_DIRECTIONS = 8  # bins of edge direction
_MAX_BLUR = 8.0  # px, largest blur reported / accepted

_KERNEL_RAMP = 0.1  # px: over BLUR_FLOOR the kernel rises from 0 to the measured blur within this
# much (a clean photo measuring just over the floor is barely touched)
# Regularisation, chosen on the same prints AND by eye on real prints. A weaker total variation
# scores higher (_TV_WEIGHT 1: blur row +0.06 dB) but sharpens a real soft scan's JPEG noise and
# residual grain into textured skin (photos/1860Girls.jpg). Quadratic term of a round blur: blur
# row on the fitting prints 30.10, 29.76, 29.52, 29.33 dB for 0.005, 0.01, 0.015, 0.02; 0.01 is
# the compromise with the motion and clean rows (0.005: 26.45 and 42.31 dB, 0.01: 26.73, 42.67)
_TV_WEIGHT = 3.0  # total-variation weight per noise variance, see _tv_weight
_SMOOTHNESS = (0.01, 0.05)  # a quadratic (Laplacian) term that caps the gain where the blur left
# nothing: for a round blur, and for one that differs between edge directions (_SPREAD_RAMP). On
# motion blur, read as its sharpest direction, the round kernel's gain made the motion row lose
# 0.25 dB; with 0.05 there it is back within 0.1 dB, the blur row 0.02 dB lower
_SPREAD_RAMP = (1.3, 1.6)  # largest / smallest blur over the edge directions: from round to motion
# (Gaussian blur on the fitting prints: 1.03-1.52, median 1.12; motion 1.02-3.41, median 1.6)
_GRAINY = (3.0 / 255.0, 6.0 / 255.0)  # measured grain from which a photo counts as grainy (fully
# from the second): the quadratic term becomes _GRAINY_SMOOTHNESS, the colours are left alone
# and the edge ramp counts all the grain measured. Without it the grain row lost up to 1 dB:
# photos with their own blur under 5-12 levels of grain were deconvolved as if blurred. (A
# smaller kernel for grainy photos, sqrt(blur**2 - t**2), scored lower on the grain + blur row of
# the fitting prints as t grew from 0.2 to 0.5 px, so the kernel is the measured blur here too)
_GRAINY_SMOOTHNESS = 0.02  # a grainy photo's quadratic term
_NOISE_FLOOR = 1.5 / 255.0  # the noise deblurring assumes at least (quantisation, JPEG, residual grain)
_EDGE_RAMP = (0.5, 2.0)  # the deconvolution's change is kept in full where the smoothed gradient
# exceeds 2 stds of the grain left after denoising, not at all under 0.5 (flat skin, sky, paper).
# Without it a soft print's skin turns mottled, with dark contour lines (photos/1860Girls.jpg,
# blur 1.76 px, where the floor below decides)
_EDGE_NOISE_SHARE = 0.35  # the grain left after grain.denoise, as a share of the grain measured
# before it (estimate_noise after / before on the real photos of examples/: 0.17-0.58, median
# 0.4). With the whole grain measured the ramp closed on the texture that a blurred print lost
# (fitting prints, blur row: +0.1 dB with 0.35)
_EDGE_NOISE_FLOOR = 1.5 / 255.0  # the noise the edge ramp assumes at least (JPEG, scanning); 1/255
# scores 0.1 dB more on the blur row but brings texture back to 1860Girls' cheeks and jaw
_ITERATIONS = 8  # half-quadratic splitting rounds
_BETA = (1.0, 2.0)  # splitting penalty of the first round (threshold 1 / beta) and its growth per round


def _gradient(plane: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gradient magnitude per px (Sobel, normalised to a unit-step derivative) and its
    direction in [0, pi)."""
    gx = cv2.Sobel(plane, cv2.CV_32F, 1, 0, ksize=3, scale=1.0 / 8.0, borderType=cv2.BORDER_REFLECT)
    gy = cv2.Sobel(plane, cv2.CV_32F, 0, 1, ksize=3, scale=1.0 / 8.0, borderType=cv2.BORDER_REFLECT)
    return np.hypot(gx, gy), np.mod(np.arctan2(gy, gx), np.pi)


def _noise_gradient_std(noise_sigma: float, smoothing: float) -> float:
    """Largest std of one gradient component of noise of std ``noise_sigma`` after Gaussian
    smoothing by ``smoothing`` px, over grain widths s (it peaks at s = smoothing):
    ``max_s s / (2 (s**2 + smoothing**2))`` times the noise std."""
    return noise_sigma / (4.0 * smoothing)


def _raw_blur(y: np.ndarray, noise_sigma: float) -> float:
    """The per-edge blur percentile of the luminance ``y`` (H, W) float32, before ``_INTRINSIC``,
    in the sharpest edge direction."""
    return min(_direction_blurs(y, noise_sigma), default=0.0)


def _direction_blurs(y: np.ndarray, noise_sigma: float) -> list[float]:
    """The per-edge blur percentile (px, before ``_INTRINSIC``) of all the edges of the luminance
    ``y`` (H, W) float32, then of each edge direction with enough edges; [] without edges."""
    s1 = cv2.GaussianBlur(y, (0, 0), _SMOOTH, borderType=cv2.BORDER_REFLECT)
    s2 = cv2.GaussianBlur(s1, (0, 0), _REBLUR, borderType=cv2.BORDER_REFLECT)
    (g1, direction), (g2, _) = _gradient(s1), _gradient(s2)
    n1 = _noise_gradient_std(noise_sigma, _SMOOTH)
    n2 = _noise_gradient_std(noise_sigma, float(np.hypot(_SMOOTH, _REBLUR)))
    # Canny on the smoothed luminance; its Sobel is unnormalised (x8) and in 8-bit levels
    scale = 8.0 * 255.0
    high = max(float(np.percentile(g1, 95)), 1.5 * _EDGE_SNR * n1, 1.0 / 255.0) * scale
    edges = cv2.Canny(np.clip(s1 * 255.0 + 0.5, 0, 255).astype(np.uint8), 0.4 * high, high, L2gradient=True) > 0
    if np.count_nonzero(edges) < 20:
        return []
    strong = edges & (g1 >= max(float(np.quantile(g1[edges], _STRONG)), _EDGE_SNR * n1))
    energy1 = g1[strong] ** 2 - 2.0 * n1 * n1  # the noise's share of the gradient energy removed
    energy2 = np.maximum(g2[strong] ** 2 - 2.0 * n2 * n2, 1e-12)
    ratio2 = energy1 / energy2
    usable = ratio2 > 1.0 + 1e-4
    if np.count_nonzero(usable) < 10:
        return []
    blur2 = _REBLUR**2 / (ratio2[usable] - 1.0) - _SMOOTH**2
    # per edge direction (8 bins of 22.5 degrees): the sharpest direction is the photo's blur, so
    # that motion blur, sharp across the motion, is not taken for a wide round blur
    bins = np.round(direction[strong][usable] / (np.pi / _DIRECTIONS)).astype(int) % _DIRECTIONS
    values = [float(np.percentile(blur2, _PERCENTILE))]
    counts = np.bincount(bins, minlength=_DIRECTIONS)
    for b in range(_DIRECTIONS):
        if counts[b] >= max(_MIN_EDGES, 0.1 * len(blur2)):
            values.append(float(np.percentile(blur2[bins == b], _PERCENTILE)))
    return [float(np.sqrt(max(v, 0.0))) for v in values]


def estimate_blur(image: np.ndarray, *, noise_sigma: float = 0.0) -> float:
    """Gaussian blur sigma (px) of the sharpest structure of a photo.

    Args:
        image: (H, W, 3) float32 RGB with values in [0, 1] (float64 accepted).
        noise_sigma: std of the noise in the image, [0, 1] units, in [0, 0.5] (e.g.
            ``estimate_noise(image).sigma``); the noise's gradient energy is discounted and
            edges weaker than a few noise stds are ignored.

    Returns:
        The blur sigma in px, in [0, 8], relative to a perfectly sampled sharp edge: about 0-0.5
        for a sharp photo; for a photo further blurred by a Gaussian of b px, about b (within
        0.2-0.3 px rms on the fitting prints, see ``_PERCENTILE``): the blur to undo. Motion
        blur reads as its sharpest direction. 0 for a photo with too few edges to measure
        (flat, or smaller than 16 px).

    Raises:
        InputError: a bad image (see ``check_rgb``) or ``noise_sigma`` out of range.
    """
    image = check_rgb(image)
    noise_sigma = _check_number("noise_sigma", noise_sigma, 0.0, 0.5)
    if min(image.shape[:2]) < 16:
        return 0.0
    raw = _raw_blur(weighted_luma(image), noise_sigma)
    return float(min(np.sqrt(max(raw * raw - _INTRINSIC * _INTRINSIC, 0.0)), _MAX_BLUR))


def _check_number(name: str, value, low: float, high: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not (low <= number <= high):  # also NaN
        raise InputError(f"{name} must be in [{low:g}, {high:g}], got {value!r}")
    return number


def _gaussian_response(sigma: float, n: int) -> np.ndarray:
    """(n,) eigenvalues of the sampled Gaussian blur of ``sigma`` px on a length-n signal with
    reflecting ends, one per DCT-II frequency ``pi k / n``."""
    radius = int(np.ceil(4.0 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    omega = np.pi * np.arange(n) / n
    return taps[radius] + 2.0 * np.sum(taps[radius + 1 :, None] * np.cos(np.outer(np.arange(1, radius + 1), omega)), axis=0)


def _tv_weight(noise_sigma: float) -> float:
    """Weight of the total variation, from the noise the deconvolution must not amplify."""
    return _TV_WEIGHT * max(noise_sigma, _NOISE_FLOOR) ** 2


def deblur(image: np.ndarray, *, blur_sigma: float, noise_sigma: float = 0.0) -> np.ndarray:
    """Undo a Gaussian blur of ``blur_sigma`` px (see :func:`estimate_blur`).

    Args:
        image: (H, W, 3) float32 RGB with values in [0, 1] (float64 accepted).
        blur_sigma: the blur to undo, the sigma in px of the Gaussian kernel deconvolved, in
            [0, 8] (as :func:`estimate_blur` measures it); the kernel rises from 0 over the first
            0.1 px above ``BLUR_FLOOR`` (0.6 px); up to the floor the photo is returned unchanged
            (a copy).
        noise_sigma: std of the noise still in the image ([0, 1] units, in [0, 0.5]); it sets the
            regularisation, so grain is not sharpened back in. After :func:`grain.denoise`,
            pass the noise level measured before it: the grain left is small but structured.

    Returns:
        (H, W, 3) float32 with values in [0, 1], the same size. A gray photo stays gray.

    Raises:
        InputError: a bad image (see ``check_rgb``) or an option out of range.

    Cost: two DCTs of the luminance per round (``_ITERATIONS`` rounds), one edge measurement
    (the blur per edge direction) and, for a colour photo, two DCTs per channel; memory about 52
    bytes per pixel at its peak (a colour photo), whole-image (no tiles: the DCT needs the whole
    plane, and a 3000x2000 scan needs about 310 MB).
    """
    image = check_rgb(image)
    blur_sigma = _check_number("blur_sigma", blur_sigma, 0.0, _MAX_BLUR)
    noise_sigma = _check_number("noise_sigma", noise_sigma, 0.0, 0.5)
    if blur_sigma <= BLUR_FLOOR or min(image.shape[:2]) < 2:
        return image.copy()
    # a grainy photo gets a larger quadratic term, and its edge ramp counts all the grain measured
    grainy = float(np.clip((noise_sigma - _GRAINY[0]) / (_GRAINY[1] - _GRAINY[0]), 0.0, 1.0))
    kernel = min((blur_sigma - BLUR_FLOOR) / _KERNEL_RAMP, 1.0) * blur_sigma  # no jump at the floor
    if kernel < 0.2:
        return image.copy()
    y = weighted_luma(image)
    smoothness = _GRAINY_SMOOTHNESS
    if grainy < 1.0:
        smoothness = (1.0 - grainy) * _smoothness(y, noise_sigma) + grainy * _GRAINY_SMOOTHNESS
    sharp = _deconvolve_tv(y, kernel, _tv_weight(noise_sigma), smoothness)
    edge_noise = max(((1.0 - grainy) * _EDGE_NOISE_SHARE + grainy) * noise_sigma, _EDGE_NOISE_FLOOR)
    weights = _edge_weights(y, edge_noise)
    out = image + (weights * (sharp - y))[..., None]
    gray = all(np.array_equal(image[..., 0], image[..., c]) for c in (1, 2))
    if grainy < 1.0 and not gray:
        # the colours are as blurred as the luminance: a linear deconvolution of each channel's
        # difference from Y (few fine edges for total variation to keep there), not for a grainy
        # photo's chroma noise
        weights *= 1.0 - grainy
        for c in range(3):
            chroma = image[..., c] - y
            out[..., c] += weights * (_deconvolve_linear(chroma, kernel, smoothness) - chroma)
    return np.clip(out, 0.0, 1.0, out=out).astype(np.float32, copy=False)


def _edge_weights(y: np.ndarray, noise_sigma: float) -> np.ndarray:
    """(H, W) float32 in [0, 1]: 0 where the luminance ``y`` is flat within the noise (skin, sky,
    paper), rising to 1 on edges whose gradient is ``_EDGE_RAMP[1]`` noise stds or more."""
    smooth = cv2.GaussianBlur(y, (0, 0), 1.0, borderType=cv2.BORDER_REFLECT)
    gradient, _ = _gradient(smooth)
    low, high = _EDGE_RAMP
    return np.clip((gradient / noise_sigma - low) / (high - low), 0.0, 1.0).astype(np.float32)


def _smoothness(y: np.ndarray, noise_sigma: float) -> float:
    """The quadratic term of the deconvolution: ``_SMOOTHNESS[0]`` for a round blur, up to
    ``_SMOOTHNESS[1]`` as the blur of the luminance ``y`` differs between edge directions (the
    spread, largest over smallest, over ``_SPREAD_RAMP``): motion blur, which a round kernel
    fits badly."""
    blurs = _direction_blurs(y, noise_sigma)[1:]
    if len(blurs) < 2 or min(blurs) <= 0.0:
        return _SMOOTHNESS[0]
    low, high = _SPREAD_RAMP
    share = float(np.clip((max(blurs) / min(blurs) - low) / (high - low), 0.0, 1.0))
    return _SMOOTHNESS[0] + share * (_SMOOTHNESS[1] - _SMOOTHNESS[0])


def _dct_operators(sigma: float, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """(H, W) float32 eigenvalues, in the DCT-II basis with reflecting borders, of the Gaussian
    blur of ``sigma`` px and of the Neumann Laplacian (forward differences)."""
    ky, kx = _gaussian_response(sigma, h), _gaussian_response(sigma, w)
    blur = (ky[:, None] * kx[None, :]).astype(np.float32)
    ly = (2.0 - 2.0 * np.cos(np.pi * np.arange(h) / h)).astype(np.float32)
    lx = (2.0 - 2.0 * np.cos(np.pi * np.arange(w) / w)).astype(np.float32)
    return blur, ly[:, None] + lx[None, :]


def _deconvolve_linear(plane: np.ndarray, sigma: float, smoothness: float) -> np.ndarray:
    """argmin_x 1/2 ||k * x - plane||^2 + smoothness / 2 ||D x||^2 with reflecting borders (a
    Wiener-like filter); (H, W) float32 in and out."""
    blur, laplacian = _dct_operators(sigma, *plane.shape)
    spectrum = scipy.fft.dctn(plane, type=2, norm="ortho", workers=1)
    sharp = scipy.fft.idctn(blur * spectrum / (blur * blur + smoothness * laplacian), type=2, norm="ortho", workers=1)
    return sharp.astype(np.float32)


def _deconvolve_tv(y: np.ndarray, sigma: float, weight: float, smoothness: float) -> np.ndarray:
    """argmin_x 1/2 ||k * x - y||^2 + weight * (|dx x|_1 + |dy x|_1) + smoothness / 2 ||D x||^2
    with reflecting borders, by half-quadratic splitting; (H, W) float32 in and out."""
    blur, laplacian = _dct_operators(sigma, *y.shape)
    data = blur * scipy.fft.dctn(y, type=2, norm="ortho", workers=1)
    blur2 = blur * blur
    x = y.copy()
    beta = _BETA[0]  # continuation: the shrinkage threshold is 1 / beta, the coupling beta * weight
    for _ in range(_ITERATIONS):
        # w-step: shrink the forward differences (zero across the last row / column: Neumann)
        dx = np.zeros_like(x)
        dy = np.zeros_like(x)
        dx[:, :-1] = x[:, 1:] - x[:, :-1]
        dy[:-1, :] = x[1:, :] - x[:-1, :]
        dx = np.sign(dx) * np.maximum(np.abs(dx) - 1.0 / beta, 0.0)
        dy = np.sign(dy) * np.maximum(np.abs(dy) - 1.0 / beta, 0.0)
        # x-step: (K^T K + c D^T D) x = K^T y + c D^T w with c = beta * weight, diagonal in DCT-II
        divergence = np.zeros_like(x)  # D^T w
        divergence[:, :-1] -= dx[:, :-1]
        divergence[:, 1:] += dx[:, :-1]
        divergence[:-1, :] -= dy[:-1, :]
        divergence[1:, :] += dy[:-1, :]
        coupling = beta * weight
        rhs = data + coupling * scipy.fft.dctn(divergence, type=2, norm="ortho", workers=1)
        x = scipy.fft.idctn(rhs / (blur2 + (coupling + smoothness) * laplacian), type=2, norm="ortho", workers=1)
        x = x.astype(np.float32)
        beta *= _BETA[1]
    return x
