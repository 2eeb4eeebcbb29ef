"""Film grain: how much there is (:func:`estimate_noise`) and its removal (:func:`denoise`).

The noise model is the one of scanned film and prints: additive, locally Gaussian, spatially
correlated over a few pixels (grain clumps) and signal-dependent (strongest in the mid-tones).
Both functions work in the 8x8 block DCT, where such noise is simple: a stationary noise with
autocorrelation R gives the coefficient (u, v) the variance ``sigma**2 * m_uv``, ``m =
diag(D R D^T)``; white noise spreads evenly over the 64 coefficients, grain piles up in the low
ones. Luminance (BT.601 Y) and chroma (Cb, Cr) are handled separately.

Estimation. The plane is cut into 8x8 blocks (on a grid offset by 4 px from a JPEG grid, whose
quantised coefficients would read as no noise), at full, half and quarter size, and each block
loses its best-fitting plane (a smooth gradient is not noise). A block counts as flat when its
eight NEIGHBOURS are among the flattest, and the noise is measured on its own coefficients,
which the selection did not look at: choosing the least-varying blocks themselves would bias the
measurement low. Per grey level, a low quantile of every coefficient's energy (robust to the
texture left; corrected for the number of blocks, see :func:`_chi2_sample_quantile`) gives the
coefficient variances, and a two-part model, white noise plus Gaussian-correlated grain of width
s, is fitted to them at all sizes at once (the coarse blocks see grain up to about 3 px that the
fine ones only see in their lowest coefficients). The fitted noise may not hold more energy than
the blocks it was measured on. The noise level function sigma(L) = c0 + c1 * 4 L (1 - L) (0 <=
c1 <= c0: at most twice as strong in the mid-tones) is fitted to the lower envelope of the grey
levels (those noisier than the curve hold texture), then the blocks are chosen again, as the
flattest of the whole plane RELATIVE to that function, and everything is measured once more:
grey levels where nothing is flat drop out. ``sigma`` is the function at L = 0.5.

Removal. A sliding-window DCT denoiser: hard thresholding at ``2.7 sigma_uv``, then empirical
Wiener shrinkage, twice, each pass with the previous one as its pilot (the transform-domain
filtering of BM3D without its block matching). Chroma is filtered as if its noise were 1.5 times
the measured level. The per-coefficient thresholds follow the grain's spectrum,
which is what removes correlated grain that patch-distance methods (non-local means) keep as
texture, and every block's threshold follows its grey level through the photo's noise level
function. Overlapping blocks are averaged with weights favouring sparse blocks. Grain wider than
about a pixel also lives in the 8x8 block means, so the same runs on a half-size (and quarter-size)
pyramid and the coarse result replaces the coarse content of the fine one. Last, what was
removed beyond the noise's power (texture mistaken for grain) is put back by a local Wiener gain,
and at least ``_KEEP`` of the removed signal everywhere, so that skin and paper keep some texture.

References: Yu and Sapiro, "DCT image denoising: a simple and effective image denoising
algorithm", IPOL 2011; Dabov, Foi, Katkovnik and Egiazarian, "Image denoising by sparse 3-D
transform-domain collaborative filtering", IEEE TIP 2007 (Wiener pilot, aggregation weights);
Makinen, Azzari and Foi, "Collaborative filtering of correlated noise: exact transform-domain
variance for improved shrinkage and patch matching", IEEE TIP 2020 (per-coefficient variances of
correlated noise); Facciolo, Pierazzo and Morel, "Conservative scale recomposition for
multiscale denoising", SIAM J. Imaging Sciences 2018 (pyramid for correlated noise); Liu, Tanaka
and Okutomi, "Single-image noise level estimation for blind denoising", IEEE TIP 2013 (noise
from weak-texture patches, noise level functions).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
import scipy.fft
import scipy.stats

from ..errors import InputError
from ..luma import LUMA as _LUMA
from ..luma import is_gray, weighted_luma
from ..validation import check_rgb
from .threads import run_each

__all__ = ["SIGMA_FLOOR", "NoiseEstimate", "denoise", "estimate_noise"]

logger = logging.getLogger(__name__)

SIGMA_FLOOR = 1.0 / 255.0
"""Noise levels (``sigma``, [0, 1] units) below this, one 8-bit level, are left alone: ``denoise``
returns a copy. Clean digital photos and good scans measure below or near it."""

_CB, _CR = 0.5 / (1.0 - 0.114), 0.5 / (1.0 - 0.299)  # Cb = _CB (B - Y), Cr = _CR (R - Y)
_DCT = scipy.fft.dct(np.eye(8), norm="ortho", axis=0)  # rows are the basis vectors
_DCT32 = _DCT.astype(np.float32)
_BLAS_SINGLE = 262144  # OpenBLAS multithreads a product when M * N * K exceeds this (65536 x 4)
_U, _V = np.meshgrid(np.arange(8), np.arange(8), indexing="ij")
_FIT = ((_U + _V) >= 2).ravel()  # coefficients fitted (the lowest ones also hold shading)
_S_GRID = np.round(np.arange(0.0, 3.0001, 0.05), 2)  # grain widths s considered, px
_BINS = 8  # grey levels of the noise level function
_SELECT = 0.15  # share of the blocks of a grey level kept as flat
_MIN_KEPT = 10  # kept blocks needed to measure a grey level
_MEASURE_Q = 0.25  # quantile of the coefficient energies that is measured ...
_CHI2_Q = float(scipy.stats.chi2.ppf(_MEASURE_Q, 1))  # ... and that quantile of chi-square(1)
_MAX_RISE = 1.0  # bound of c1 / c0 in the noise level function
_ENVELOPE = 1.1  # grey levels noisier than this times the fitted curve count as texture
_QUANT = (1.0 / 255.0) ** 2 / 12.0  # 8-bit quantisation noise variance, part of every model
_MIN_SIDE = 24  # px; smaller images are reported noise-free (too few blocks to measure)

_TAU = 2.7  # hard threshold of the pilot pass, in coefficient standard deviations
_KEEP = 0.08  # share of the removed signal added back (texture, no waxy look)
_TEXTURE_WINDOW = 4.0  # px, see _restore_texture
_TEXTURE_MARGIN = 1.5  # removed power above this times the noise power counts as texture
_PROFILE_FLOOR = 0.35  # the noise level function is taken >= this share of its mid-tone value
_STRIDES = ((2, 1.5), (4, 4))  # grid steps (px) of the (pilot, Wiener) passes: luminance, chroma
_WIENER_ROUNDS = 2  # Wiener passes, each the next one's pilot. Chosen on the 20 fitting prints
# (grain row of benchmarks/denoise_quality.py, 512 px): 1 round 32.44 dB, 2: 32.51, 3: 32.53 at
# +35 % time per round
_CHROMA_STRENGTH = 1.5  # chroma is filtered as if its noise were this times the measured level:
# chroma grain is blotchy and the eye forgives smoothed chroma (fitting prints: x1 32.51 dB,
# x1.5 32.56, x2 32.54)
_COARSE_SHARE = 0.04  # recurse to half size while the block means hold this share of the noise
_STRIP = 256  # rows per strip processed at once (bounds memory; strips share ``workers`` threads)


@dataclass(frozen=True)
class NoiseEstimate:
    """The noise of a photo, as measured by :func:`estimate_noise`.

    Attributes:
        sigma: luminance (BT.601 Y) noise standard deviation at mid-tones, [0, 1] units
            (8-bit levels = ``sigma * 255``); the marginal std of the grain, whatever its width.
        chroma_sigma: the same for chroma (root mean square of the Cb and Cr noise, BT.601
            scaling); 0 for a gray photo.
        correlation: the grain's correlation length in px: ``sqrt(s**2 + 1/4)`` where s is the
            sigma of the Gaussian that turns white noise into grain of the measured spectrum;
            0.5 for white (pixel-independent) noise, about 1-3 for film grain.
        per_channel: the mid-tone noise std of the R, G and B channels, [0, 1] units.
    """

    sigma: float
    chroma_sigma: float
    correlation: float
    per_channel: tuple[float, float, float]


# ----------------------------------------------------------------------------------------------
# Noise model: variances of the 8x8 DCT coefficients of Gaussian-correlated noise
# ----------------------------------------------------------------------------------------------


def _grain_width(correlation: float) -> float:
    """The smoothing sigma s (px) of white noise for a correlation length ``sqrt(s**2 + 1/4)``."""
    return float(np.sqrt(max(correlation * correlation - 0.25, 0.0)))


def _autocorrelation(s: float, n: int) -> np.ndarray:
    """Lags 0..n-1 of the (1D, normalised) autocorrelation of white noise smoothed by a
    sampled Gaussian of sigma ``s`` px, as ``cv2.GaussianBlur`` smooths it."""
    r = np.zeros(n)
    if s < 0.05:
        r[0] = 1.0
        return r
    kernel = cv2.getGaussianKernel(round(8 * s + 1) | 1, s).ravel().astype(np.float64)
    full = np.correlate(kernel, kernel, "full")
    centre = len(kernel) - 1
    m = min(n, len(kernel))
    r[:m] = full[centre : centre + m] / full[centre]
    return r


def _scaled_autocorrelation(s: float, level: int) -> np.ndarray:
    """Lags 0..7 of the autocorrelation of unit-variance grain of width ``s`` px after the image
    is downsized ``2**level`` times by 2x2 averaging (not normalised: it averages down)."""
    r = _autocorrelation(s, 16 * 2**level + 4)
    for _ in range(level):  # y[n] = (x[2n] + x[2n+1]) / 2
        lags = np.arange(len(r) // 2 - 1)
        r = (2 * r[2 * lags] + r[2 * lags + 1] + r[np.abs(2 * lags - 1)]) / 4
    return r[:8]


@lru_cache(maxsize=1024)
def _coefficient_variances(s: float, level: int = 0) -> np.ndarray:
    """(64,) variances of the 8x8 DCT coefficients (row-major (u, v)) of unit-variance noise of
    grain width ``s`` px, on blocks of the image downsized ``2**level`` times by 2x2 averaging.
    At level 0 they sum to 64 (the pixel variance is 1); each level averages the noise down."""
    r1 = _scaled_autocorrelation(s, level)[np.abs(np.subtract.outer(np.arange(8), np.arange(8)))]
    v = np.einsum("ui,ij,uj->u", _DCT, r1, _DCT)
    return np.outer(v, v).ravel()


_RAMP = (np.arange(8) - 3.5) / np.sqrt(np.sum((np.arange(8) - 3.5) ** 2))  # unit linear ramp
_PLANE = np.stack(
    [np.full((8, 8), 1 / 8).ravel(), np.outer(_RAMP, np.full(8, 1 / np.sqrt(8))).ravel(), np.outer(np.full(8, 1 / np.sqrt(8)), _RAMP).ravel()]
)  # orthonormal basis of the planes a + b y + c x over an 8x8 block, (3, 64)
_DETREND = np.eye(64) - _PLANE.T @ _PLANE
_DETRENDED_DCT = (np.kron(_DCT, _DCT) @ _DETREND).T.astype(np.float32)  # row-major block (64,) -> coefficients


def _detrended_variances(s: float, level: int) -> np.ndarray:
    """As :func:`_coefficient_variances`, for blocks from which their best-fitting plane was
    subtracted (as the estimator measures them: a smooth gradient is not noise)."""
    r1 = _scaled_autocorrelation(s, level)[np.abs(np.subtract.outer(np.arange(8), np.arange(8)))]
    dct2 = np.kron(_DCT, _DCT)
    transform = dct2 @ _DETREND
    return np.einsum("ki,ij,kj->k", transform, np.kron(r1, r1), transform)


_SCALES = 3  # pyramid levels measured: full, half and quarter size
def _matmul(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for a tall (M, K) ``a`` and a small (K, N) ``b``, in row chunks small enough that
    OpenBLAS runs each product on one thread. Its threads, spinning on products this thin, are
    several times SLOWER than one thread on a machine whose cores are busy (a shared server, or
    the app serving other requests)."""
    a = np.ascontiguousarray(a)
    out = np.empty((a.shape[0], b.shape[1]), np.result_type(a, b))
    step = max(1, _BLAS_SINGLE // (b.shape[0] * b.shape[1]))
    for start in range(0, a.shape[0], step):
        np.matmul(a[start : start + step], b, out=out[start : start + step])
    return out


_MODELS = [np.stack([_detrended_variances(float(s), depth) for s in _S_GRID]) for depth in range(_SCALES)]
_WHITE = [_detrended_variances(0.0, depth) for depth in range(_SCALES)]
_RAW = np.stack([_coefficient_variances(float(s), 0) for s in _S_GRID])  # not detrended


# ----------------------------------------------------------------------------------------------
# Estimation
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _PlaneNoise:
    """Noise of one plane: mid-tone std, noise level function and equivalent grain width."""

    sigma: float  # at mid-tones (L = 0.5 of the reference plane), [0, 1] units
    c0: float  # noise level function sigma(L) = c0 + c1 * 4 L (1 - L)
    c1: float
    s: float  # grain width of the single-Gaussian model closest to the measured spectrum, px


_NO_NOISE = _PlaneNoise(0.0, 0.0, 0.0, 0.0)


def _block_coefficients(plane: np.ndarray, level: np.ndarray, offset: int = 4):
    """DCT coefficients of the 8x8 blocks of ``plane`` on a grid starting at ``offset`` px.

    Args:
        plane: (H, W) float32, the plane measured.
        level: (H, W) float32 in [0, 1], the grey level that indexes the noise level function
            (the luminance, also for a chroma plane).

    Returns:
        (levels (N,), flatness of the neighbours (N,), coefficients (N, 64)) of the blocks that
        have no clipped pixel (black or white, where the noise is cut off).
    """
    p, q = plane[offset:, offset:], level[offset:, offset:]
    nby, nbx = p.shape[0] // 8, p.shape[1] // 8
    if nby < 3 or nbx < 3:
        return np.zeros(0, np.float32), np.zeros(0, np.float32), np.zeros((0, 64), np.float32)
    blocks = p[: nby * 8, : nbx * 8].reshape(nby, 8, nbx, 8).transpose(0, 2, 1, 3).reshape(-1, 64)
    # minus each block's best-fitting plane, then the 2D DCT, as one product
    coeffs = _matmul(blocks, _DETRENDED_DCT).reshape(nby, nbx, 64)
    lum = q[: nby * 8, : nbx * 8].reshape(nby, 8, nbx, 8)
    mean = lum.mean(axis=(1, 3))
    unclipped = (lum.min(axis=(1, 3)) > 2.0 / 255.0) & (lum.max(axis=(1, 3)) < 253.0 / 255.0)
    energy = np.ascontiguousarray((coeffs[..., 1:] ** 2).sum(axis=-1), dtype=np.float32)
    ring = np.ones((3, 3), np.uint8)
    ring[1, 1] = 0
    # the busiest of the 8 neighbours: a block is "flat" when everything around it is
    neighbours = cv2.dilate(energy, ring, borderType=cv2.BORDER_REPLICATE)
    keep = unclipped
    keep[0, :] = keep[-1, :] = keep[:, 0] = keep[:, -1] = False
    return mean[keep], neighbours[keep], coeffs[keep]


def _level_variances(blocks, nlf: tuple[float, float] | None = None) -> dict[int, tuple[np.ndarray, int, float, float]]:
    """Per grey-level bin: (coefficient variances (64,), kept blocks, mean level, mean energy of
    the kept blocks (sum of their squared detrended coefficients)).

    ``blocks`` is what :func:`_block_coefficients` returns. Without ``nlf`` the flattest
    ``_SELECT`` of each grey level are kept; with a noise level function ``(c0, c1)`` the
    flattest ``_SELECT`` of the whole plane RELATIVE to it, so that a grey level where nothing is
    flat (texture only) keeps few blocks or none."""
    means, flatness, coeffs = blocks
    bins = np.clip((means * _BINS).astype(int), 0, _BINS - 1)
    if nlf is not None:
        expected = np.maximum(nlf[0] + nlf[1] * 4.0 * means * (1.0 - means), 1e-6) ** 2
        relative = flatness / expected
        chosen = relative <= np.quantile(relative, _SELECT) if len(relative) else relative > 0
    out = {}
    for b in range(_BINS):
        idx = np.flatnonzero(bins == b)
        if nlf is None:
            if len(idx) * _SELECT < _MIN_KEPT:
                continue
            kept = idx[flatness[idx] <= np.quantile(flatness[idx], _SELECT)]
        else:
            kept = idx[chosen[idx]]
            if len(kept) < _MIN_KEPT:
                continue
        variances = np.quantile(coeffs[kept] ** 2, _MEASURE_Q, axis=0) / _chi2_sample_quantile(len(kept))
        energy = float(np.median(np.sum(coeffs[kept].astype(np.float64) ** 2, axis=1)))
        out[b] = (variances.astype(np.float64), len(kept), float(means[kept].mean()), energy)
    return out


_CHI2_GRID = (np.arange(4000) + 0.5) / 4000
_CHI2_TABLE = (_CHI2_GRID, scipy.stats.chi2.ppf(_CHI2_GRID, 1))  # quantile function of chi-square(1)


@lru_cache(maxsize=4096)
def _chi2_sample_quantile(n: int) -> float:
    """Expected ``np.quantile(x, _MEASURE_Q)`` of n samples of chi-square(1): the Gaussian
    correction of the measured quantile. For few samples it lies well above the distribution's
    quantile (+23 % for 33 samples), because chi-square(1) rises steeply from 0."""
    if n >= 2000:
        return _CHI2_Q
    position = (n - 1) * _MEASURE_Q  # linear interpolation between order statistics k and k + 1
    k = int(np.floor(position))
    frac = position - k
    grid, values = _CHI2_TABLE

    def order_mean(j: int) -> float:  # E[X_(j+1)] = E[F^-1(U)], U ~ Beta(j + 1, n - j)
        weights = scipy.stats.beta.pdf(grid, j + 1, n - j)
        return float(np.sum(values * weights) / np.sum(weights))

    upper = order_mean(min(k + 1, n - 1)) if frac > 0 else 0.0
    return (1 - frac) * order_mean(k) + frac * upper


def _half(plane: np.ndarray) -> np.ndarray:
    h, w = plane.shape[0] // 2 * 2, plane.shape[1] // 2 * 2
    return plane[:h, :w].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))


def _fit_mixture(measured: list[np.ndarray | None]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit ``white * w + grain * m(s) + quantisation`` to the coefficient variances of one grey
    level measured at each pyramid level (None where there were too few blocks), for every grain
    width s of ``_S_GRID`` at once.

    Returns (white variance, grain variance, log-domain misfit), each of shape (len(_S_GRID),).
    """
    n = int(_FIT.sum())
    used = [(depth, v) for depth, v in enumerate(measured) if v is not None]
    v = np.concatenate([m[_FIT] for _, m in used])
    white = np.concatenate([_WHITE[depth][_FIT] for depth, _ in used])  # white noise averages down 4x
    grain = np.concatenate([_MODELS[depth][:, _FIT] for depth, _ in used], axis=1)  # (S, N)
    floor = np.concatenate([np.full(n, _QUANT * 4.0**-depth) for depth, _ in used])
    y = v - floor
    prediction = np.broadcast_to(v, grain.shape)
    for _ in range(3):  # least squares in relative error, reweighted by the prediction
        w2 = 1.0 / np.maximum(prediction, 1e-12) ** 2
        # 2x2 normal equations per s, and the two one-part fits
        aa = np.sum(w2 * white * white, axis=1)
        ab = np.sum(w2 * white * grain, axis=1)
        bb = np.sum(w2 * grain * grain, axis=1)
        ay = np.sum(w2 * white * y, axis=1)
        by = np.sum(w2 * grain * y, axis=1)
        det = np.maximum(aa * bb - ab * ab, 1e-30)
        x_white = (bb * ay - ab * by) / det
        x_grain = (aa * by - ab * ay) / det
        both = (x_white >= 0) & (x_grain >= 0)
        only_white = np.maximum(ay / aa, 0.0)
        only_grain = np.maximum(by / bb, 0.0)
        white_better = (aa * only_white**2 - 2 * ay * only_white) <= (bb * only_grain**2 - 2 * by * only_grain)
        x_white = np.where(both, x_white, np.where(white_better, only_white, 0.0))
        x_grain = np.where(both, x_grain, np.where(white_better, 0.0, only_grain))
        prediction = x_white[:, None] * white + x_grain[:, None] * grain + floor
    misfit = np.mean((np.log(np.maximum(v, 1e-12)) - np.log(prediction)) ** 2, axis=1)
    return x_white, x_grain, misfit


def _equivalent_width(white: float, grain: float, s: float) -> float:
    """Width of the single Gaussian grain whose full-resolution coefficient spectrum is closest
    (in log) to that of ``white`` + ``grain`` (variances) of width ``s``."""
    total = white + grain
    if total <= 0 or grain <= 0.05 * total:
        return 0.0
    index = int(np.argmin(np.abs(_S_GRID - s)))
    mixed = (white * _RAW[0] + grain * _RAW[index]) / total
    # log misfit weighted by the variance: the coefficients that carry the noise decide
    errors = np.sum(mixed[1:] * (np.log(_RAW[:, 1:]) - np.log(mixed[1:])[None]) ** 2, axis=1)
    return float(_S_GRID[int(np.argmin(errors))])


def _plane_noise(plane: np.ndarray, level: np.ndarray) -> _PlaneNoise:
    """Measure the noise of one plane (see the module docstring): a first noise level function
    from the flattest blocks of every grey level, then a second one from the blocks that are
    the flattest of the plane relative to the first."""
    pyramid = [_block_coefficients(plane, level)]
    for _ in range(1, _SCALES):
        plane, level = _half(plane), _half(level)
        pyramid.append(_block_coefficients(plane, level))
    noise = _fit_plane([_level_variances(blocks) for blocks in pyramid])
    if noise.sigma > 0:
        second = _fit_plane([_level_variances(blocks, (noise.c0, noise.c1)) for blocks in pyramid])
        if second.sigma > 0:
            noise = second
    return noise


def _fit_plane(pyramid: list[dict[int, tuple[np.ndarray, int, float, float]]]) -> _PlaneNoise:
    """Noise level function and grain width from per-level coefficient variances."""
    full = pyramid[0]
    common = sorted(full)  # the coarser levels may miss some grey levels (small photos)
    if not common:
        return _NO_NOISE
    counts = np.array([full[b][1] for b in common], np.float64)
    fits = [_fit_mixture([p[b][0] if b in p else None for p in pyramid]) for b in common]
    index = int(np.argmin(np.sum([c * f[2] for c, f in zip(counts, fits)], axis=0)))
    white = np.array([f[0][index] for f in fits])
    grain = np.array([f[1][index] for f in fits])
    # the noise cannot hold more energy than the blocks it was measured on: where the model,
    # extrapolated from the fitted coefficients, predicts more (texture in the low frequencies,
    # JPEG having removed the high ones), it is scaled down to what is there
    predicted = white * _WHITE[0].sum() + grain * _MODELS[0][index].sum()
    measured = np.array([full[b][3] for b in common])
    scale = np.minimum(1.0, measured / np.maximum(predicted, 1e-20))
    white, grain = white * scale, grain * scale
    sigmas = np.sqrt(white + grain)
    levels = np.array([full[b][2] for b in common])
    c0, c1, weights = _lower_envelope(levels, sigmas, counts)
    s = _equivalent_width(float(np.sum(weights * white)), float(np.sum(weights * grain)), float(_S_GRID[index]))
    return _PlaneNoise(sigma=c0 + c1, c0=c0, c1=c1, s=s)


def _lower_envelope(levels: np.ndarray, sigmas: np.ndarray, counts: np.ndarray) -> tuple[float, float, np.ndarray]:
    """Fit sigma(L) = c0 + c1 * 4 L (1 - L), 0 <= c1 <= _MAX_RISE * c0, through the grey levels
    that are not noisier than it (texture); returns (c0, c1, normalised weights of the levels).
    The bound keeps a photo without mid-tone areas from extrapolating a wild mid-tone level."""
    x = 4.0 * levels * (1.0 - levels)
    design = np.stack([np.ones_like(x), x], axis=1)
    weights = counts.copy()
    c = np.array([float(np.average(sigmas, weights=weights)), 0.0])
    for _ in range(6):
        root = np.sqrt(weights)
        if len(levels) >= 2 and np.ptp(x) > 0.05:
            c, *_ = np.linalg.lstsq(design * root[:, None], sigmas * root, rcond=None)
        else:
            c = np.array([float(np.average(sigmas, weights=weights)), 0.0])
        if c[1] < 0:
            c = np.array([float(np.average(sigmas, weights=weights)), 0.0])
        if c[1] > _MAX_RISE * c[0]:  # mid-tones at most 1 + _MAX_RISE times the extremes
            shape = 1.0 + _MAX_RISE * x
            c0 = float(np.sum(weights * sigmas * shape) / np.sum(weights * shape * shape))
            c = np.array([c0, _MAX_RISE * c0])
        weights = counts * np.where(sigmas > _ENVELOPE * (design @ c), 0.05, 1.0)
    return float(c[0]), float(c[1]), weights / weights.sum()


def estimate_noise(image: np.ndarray) -> NoiseEstimate:
    """Measure the film grain (or sensor noise) of a photo.

    Args:
        image: (H, W, 3) float32 RGB with values in [0, 1] (float64 accepted). Three equal
            channels are a gray photo.

    Returns:
        A :class:`NoiseEstimate`: mid-tone luminance and chroma noise std ([0, 1] units), grain
        correlation length (px, 0.5 = white) and per-channel std. Photos under 24 px on a side
        are reported noise-free (too small to measure).

    Raises:
        InputError: not (H, W, 3), not floating point, NaN or values outside [0, 1].

    The estimate is robust to texture (only grey levels that hold flat areas count, see the module
    docstring) and to JPEG blocks; on a photo that has no flat area at all it can read fine
    texture as grain.
    """
    image = check_rgb(image)
    if min(image.shape[:2]) < _MIN_SIDE:
        return NoiseEstimate(0.0, 0.0, 0.5, (0.0, 0.0, 0.0))
    y = weighted_luma(image)
    lum = _plane_noise(y, y)
    correlation = float(np.hypot(lum.s, 0.5))
    if is_gray(image):
        return NoiseEstimate(lum.sigma, 0.0, correlation, (lum.sigma,) * 3)
    cb = np.ascontiguousarray((image[..., 2] - y) * _CB)
    cr = np.ascontiguousarray((image[..., 0] - y) * _CR)
    chroma = float(np.sqrt((_plane_noise(cb, y).sigma ** 2 + _plane_noise(cr, y).sigma ** 2) / 2))
    per_channel = tuple(_plane_noise(np.ascontiguousarray(image[..., c]), y).sigma for c in range(3))
    return NoiseEstimate(lum.sigma, chroma, correlation, per_channel)


# ----------------------------------------------------------------------------------------------
# Removal
# ----------------------------------------------------------------------------------------------


def _check_level(name: str, value, *, upper: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if not (0.0 <= number <= upper):  # also NaN
        raise InputError(f"{name} must be in [0, {upper}], got {value!r}")
    return number


def denoise(
    image: np.ndarray,
    *,
    sigma: float,
    chroma_sigma: float | None = None,
    correlation: float = 0.5,
    workers: int = 1,
) -> np.ndarray:
    """Remove film grain of a known level (see :func:`estimate_noise`).

    Args:
        image: (H, W, 3) float32 RGB with values in [0, 1] (float64 accepted).
        sigma: luminance noise std at mid-tones, in [0, 0.5] ([0, 1] units). Below
            ``SIGMA_FLOOR`` (one 8-bit level) the photo is returned unchanged (a copy).
        chroma_sigma: chroma noise std at mid-tones, in [0, 0.5]; None = ``0.5 * sigma``. Chroma
            below ``SIGMA_FLOOR`` is left as it is.
        correlation: grain correlation length in px, in [0.5, 8] (0.5 = white noise); see
            :class:`NoiseEstimate`. Values under 0.5 are taken as 0.5.
        workers: threads working on horizontal strips, >= 1. More than one pays only where
            numpy's BLAS runs single-threaded (``OPENBLAS_NUM_THREADS=1``); otherwise the two
            thread pools compete.

    Returns:
        (H, W, 3) float32 with values in [0, 1]. A gray photo (three equal channels) comes back
        with three equal channels.

    Raises:
        InputError: a bad image (see ``check_rgb``) or an option out of its range.

    The threshold of every block follows its grey level through the photo's own noise level
    function (grain is weaker in the shadows and highlights), measured here; ``sigma`` sets its
    mid-tone value. Memory: about 40 bytes per pixel beyond the input and output.
    """
    image = check_rgb(image)
    sigma = _check_level("sigma", sigma, upper=0.5)
    chroma_sigma = 0.5 * sigma if chroma_sigma is None else _check_level("chroma_sigma", chroma_sigma, upper=0.5)
    try:
        correlation = float(correlation)
    except (TypeError, ValueError):
        raise InputError(f"correlation must be a number of px, got {correlation!r}") from None
    if not (0.0 <= correlation <= 8.0):
        raise InputError(f"correlation must be in [0.5, 8] px (0.5 = white noise), got {correlation!r}")
    if int(workers) != workers or workers < 1:
        raise InputError(f"workers must be an integer >= 1, got {workers!r}")
    if sigma < SIGMA_FLOOR:
        return image.copy()

    gray = is_gray(image)
    y = weighted_luma(image)
    planes = [y]
    levels = [sigma]
    if not gray and chroma_sigma >= SIGMA_FLOOR:
        planes += [np.ascontiguousarray((image[..., 2] - y) * _CB), np.ascontiguousarray((image[..., 0] - y) * _CR)]
        levels += [_CHROMA_STRENGTH * chroma_sigma] * 2
    profile = _relative_profile(y)
    s = round(min(_grain_width(max(correlation, 0.5)), float(_S_GRID[-1])), 2)
    out = _denoise_pyramid(planes, y, levels, s, profile, int(workers), 0)
    amplitude = _amplitude(y, profile)
    out = [_restore_texture(p, o, sigma * amplitude) for p, o, sigma in zip(planes, out, levels)]
    if gray:
        return np.repeat(np.clip(out[0], 0.0, 1.0)[..., None], 3, axis=2)
    if len(out) == 1:  # luminance only: add the change of Y to the three channels
        return np.clip(image + (out[0] - y)[..., None], 0.0, 1.0)
    y_new, cb, cr = out
    red = y_new + cr / _CR
    blue = y_new + cb / _CB
    green = (y_new - _LUMA[0] * red - _LUMA[2] * blue) / _LUMA[1]
    return np.clip(np.stack([red, green, blue], axis=2), 0.0, 1.0)


def _down(plane: np.ndarray) -> np.ndarray:
    """Half size by 2x2 averaging (an odd last row or column is repeated first)."""
    h, w = plane.shape
    if h % 2 or w % 2:
        plane = cv2.copyMakeBorder(plane, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)
    return _half(plane)


def _up(plane: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Twice the size by bilinear interpolation (pixel centres aligned with ``_down``), cropped to ``shape``."""
    h, w = plane.shape
    return cv2.resize(plane, (2 * w, 2 * h), interpolation=cv2.INTER_LINEAR)[: shape[0], : shape[1]]


def _denoise_pyramid(
    planes: list[np.ndarray],
    level: np.ndarray,
    sigmas: list[float],
    s: float,
    profile: tuple[float, float],
    workers: int,
    depth: int,
) -> list[np.ndarray]:
    """Denoise the planes at this scale, then, while the noise left in the 8x8 block means is
    worth it (grain wider than a pixel or so), at half size, recomposed as in Facciolo et al.:
    the coarse result replaces the coarse content of the fine one."""
    variances = _coefficient_variances(s, depth)
    spectrum = np.sqrt(variances).astype(np.float32).reshape(8, 8)
    fine = _denoise_planes(planes, level, [spectrum * sigma for sigma in sigmas], profile, workers)
    if variances[0] < _COARSE_SHARE * variances.sum() or min(level.shape) < 64:
        return fine
    coarse = _denoise_pyramid([_down(p) for p in planes], _down(level), sigmas, s, profile, workers, depth + 1)
    return [f + _up(c - _down(f), f.shape) for f, c in zip(fine, coarse)]


def _amplitude(level: np.ndarray, profile: tuple[float, float]) -> np.ndarray:
    """Noise std relative to its mid-tone value at every pixel, from the smoothed grey level."""
    a, b = profile
    smooth = cv2.blur(level, (8, 8))
    return np.maximum(a + b * 4.0 * smooth * (1.0 - smooth), _PROFILE_FLOOR)


def _restore_texture(noisy: np.ndarray, clean: np.ndarray, noise_std: np.ndarray) -> np.ndarray:
    """Put back what was removed beyond the noise: a local Wiener gain on the removed signal.

    Where the removed signal (``noisy - clean``) is no stronger than the noise, nothing comes
    back but ``_KEEP`` of it; where it is much stronger (texture mistaken for grain: foliage,
    fabric, hair) most of it does. Variances over a Gaussian window of sigma ``_TEXTURE_WINDOW`` px.
    """
    removed = noisy - clean
    power = cv2.GaussianBlur(removed * removed, (0, 0), _TEXTURE_WINDOW)
    gain = 1.0 - _TEXTURE_MARGIN * noise_std * noise_std / np.maximum(power, 1e-12)
    return clean + np.clip(gain, _KEEP, 1.0) * removed


def _relative_profile(y: np.ndarray) -> tuple[float, float]:
    """The photo's noise level function relative to its mid-tone value: (a, b) with
    ``amplitude(L) = max(a + b * 4 L (1 - L), _PROFILE_FLOOR)``; (1, 0) when unmeasurable."""
    noise = _plane_noise(y, y) if min(y.shape) >= _MIN_SIDE else _NO_NOISE
    if noise.sigma <= 0:
        return 1.0, 0.0
    return noise.c0 / noise.sigma, noise.c1 / noise.sigma


def _denoise_planes(
    planes: list[np.ndarray],
    level: np.ndarray,
    spectra: list[np.ndarray],
    profile: tuple[float, float],
    workers: int,
) -> list[np.ndarray]:
    """Denoise each (H, W) plane with its (8, 8) coefficient stds, strip by strip."""
    h = level.shape[0]
    margin = 16
    strips = [(top, min(top + _STRIP, h)) for top in range(0, h, _STRIP)]
    out = [np.empty_like(p) for p in planes]

    def run(strip: tuple[int, int]) -> None:
        top, bottom = strip
        y0, y1 = max(top - margin, 0), min(bottom + margin, h)
        results = _denoise_crop([p[y0:y1] for p in planes], level[y0:y1], spectra, profile)
        for o, r in zip(out, results):
            o[top:bottom] = r[top - y0 : bottom - y0]

    run_each(run, strips, workers=workers)
    return out


def _blocks_at(padded: np.ndarray, dy: int, dx: int) -> tuple[np.ndarray, int, int]:
    """The 8x8 blocks of ``padded`` on the grid at (dy, dx): a (nby, nbx, 8, 8) view."""
    nby, nbx = (padded.shape[0] - dy) // 8, (padded.shape[1] - dx) // 8
    region = padded[dy : dy + 8 * nby, dx : dx + 8 * nbx]
    return region.reshape(nby, 8, nbx, 8).transpose(0, 2, 1, 3), nby, nbx


def _forward(padded: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """DCT of the 8x8 blocks of ``padded`` on the grid at (dy, dx): (nby, nbx, 8, 8) float32,
    indexed [block row, block column, v (horizontal frequency), u (vertical frequency)].

    Two thin matrix products (rows of 8 samples times the 8x8 DCT matrix) instead of a batch of
    tiny ones: the fast way with numpy (see :func:`_matmul`)."""
    nby, nbx = (padded.shape[0] - dy) // 8, (padded.shape[1] - dx) // 8
    region = padded[dy : dy + 8 * nby, dx : dx + 8 * nbx]
    across = _matmul(region.reshape(-1, 8), _DCT32.T).reshape(nby, 8, nbx, 8)  # (by, r, bx, v)
    down = _matmul(across.transpose(0, 2, 3, 1).reshape(-1, 8), _DCT32.T)
    return down.reshape(nby, nbx, 8, 8)


def _inverse(coeffs: np.ndarray) -> np.ndarray:
    """Blocks from :func:`_forward` coefficients, as a (8 nby, 8 nbx) image."""
    nby, nbx = coeffs.shape[:2]
    rows = _matmul(coeffs.reshape(-1, 8), _DCT32).reshape(nby, nbx, 8, 8)  # (by, bx, v, r)
    pixels = _matmul(rows.transpose(0, 3, 1, 2).reshape(-1, 8), _DCT32)  # (by, r, bx, c)
    return pixels.reshape(8 * nby, 8 * nbx)


def _denoise_crop(
    planes: list[np.ndarray], level: np.ndarray, spectra: list[np.ndarray], profile: tuple[float, float]
) -> list[np.ndarray]:
    """Two-pass sliding DCT denoising of the planes of one crop; ``level`` is its luminance."""
    pad = 8
    padded = [cv2.copyMakeBorder(p, pad, pad, pad, pad, cv2.BORDER_REFLECT) for p in planes]
    lum = cv2.copyMakeBorder(level, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    a, b = profile

    def amplitude(dy: int, dx: int) -> np.ndarray:
        blocks, _, _ = _blocks_at(lum, dy, dx)
        mean = blocks.mean(axis=(2, 3))
        return np.maximum(a + b * 4.0 * mean * (1.0 - mean), _PROFILE_FLOOR)[..., None, None].astype(np.float32)

    every = [(dy, dx) for dy in range(8) for dx in range(8)]
    amplitudes = {shift: amplitude(*shift) for shift in every}
    results = []
    for index, (plane, spectrum) in enumerate(zip(padded, spectra)):
        strides = _STRIDES[0] if index == 0 else _STRIDES[1]
        estimate = _sliding(plane, _HardThreshold(_TAU * spectrum.T, amplitudes), _grid(strides[0]))
        for _ in range(_WIENER_ROUNDS):
            estimate = _sliding(plane, _WienerShrink(estimate, (spectrum * spectrum).T, amplitudes), _grid(strides[1]))
        results.append(estimate[pad:-pad, pad:-pad])
    return results


class _HardThreshold:
    """Pilot pass: keep the coefficients above ``threshold`` (8, 8) (indexed (v, u)) times the
    block's noise amplitude; block weight 1 / kept coefficients."""

    def __init__(self, threshold: np.ndarray, amplitudes: dict) -> None:
        self.threshold, self.amplitudes = threshold, amplitudes

    def __call__(self, coeffs: np.ndarray, shift: tuple[int, int]) -> np.ndarray:
        keep = np.abs(coeffs) > self.threshold * self.amplitudes[shift]
        keep[..., 0, 0] = True
        coeffs *= keep
        return 1.0 / np.count_nonzero(keep, axis=(2, 3)).astype(np.float32)


class _WienerShrink:
    """Second pass: empirical Wiener gain from the pilot's coefficients on the same grid;
    block weight 1 / (sum of squared gains)."""

    def __init__(self, pilot: np.ndarray, variance: np.ndarray, amplitudes: dict) -> None:
        self.pilot, self.variance, self.amplitudes = pilot, variance, amplitudes

    def __call__(self, coeffs: np.ndarray, shift: tuple[int, int]) -> np.ndarray:
        power = _forward(self.pilot, *shift)
        power *= power
        gain = power / (power + self.variance * np.square(self.amplitudes[shift]))
        gain[..., 0, 0] = 1.0
        coeffs *= gain
        gain *= gain
        return 1.0 / gain.sum(axis=(2, 3))


def _grid(stride: float) -> list[tuple[int, int]]:
    """Block grid offsets: every ``stride`` px in both directions; 1.5 = the 32 offsets of a
    checkerboard (quincunx), half of stride 1."""
    if stride == 1.5:
        return [(dy, dx) for dy in range(8) for dx in range(8) if (dy + dx) % 2 == 0]
    step = int(stride)
    return [(dy, dx) for dy in range(0, 8, step) for dx in range(0, 8, step)]


def _sliding(padded: np.ndarray, shrink, shifts) -> np.ndarray:
    """Weighted average of the blocks of every grid in ``shifts``, each shrunk in the DCT domain.

    ``shrink(coeffs (nby, nbx, 8, 8), shift) -> block weights (nby, nbx)`` shrinks ``coeffs`` in
    place. Returns the (padded-size) reconstruction; pixels no block covers keep the input.
    """
    total = np.zeros_like(padded)
    weights = np.zeros_like(padded)
    for dy, dx in shifts:
        coeffs = _forward(padded, dy, dx)
        nby, nbx = coeffs.shape[:2]
        weight = shrink(coeffs, (dy, dx)).astype(np.float32)
        coeffs *= weight[..., None, None]
        total[dy : dy + 8 * nby, dx : dx + 8 * nbx] += _inverse(coeffs)
        weights[dy : dy + 8 * nby, dx : dx + 8 * nbx].reshape(nby, 8, nbx, 8)[...] += weight[:, None, :, None]
    covered = weights > 0
    out = padded.copy()
    out[covered] = total[covered] / weights[covered]
    return out
