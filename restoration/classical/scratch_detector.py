"""Detection of scratches, cracks, dust and specks in old photographs (classical, no weights).

The detector looks for damage that is brighter (paper showing through a scratched print, dust
on a negative) or darker (dirt, dark cracks) than its surroundings, thin (1 to ~8 px) or small,
and line-like or isolated, and it ignores what merely looks like that in textured areas.

Algorithm, for each polarity (bright damage on the minimum over the colour channels, dark damage
on one minus the maximum, so that neutral paint on coloured content stands out):

1. Normalised contrast. A white (black) top-hat of the lightly smoothed image is divided by a
   local threshold: four times the noise sigma plus four times the local texture level (the
   median over ~40 px of the top-hat itself), at least 0.04. On colour photos it is also
   multiplied by a neutrality factor: damage is the background blended toward grey paint, so its
   chroma is the background's, shrunk; a structure with a colour of its own (a red highlight on
   red) is discounted.

2. Candidates, in three channels:

   * thin lines: top-hat with a 5-px disc; pixels above 0.6 that lie on an 8-connected path of at
     least 8 px (a binary path opening in the vertical and horizontal cones, which follows curved
     and jagged cracks where straight line openings fail);
   * wide lines: the same with a 9-px disc and paths of at least 10 px (cracks up to ~8 px);
   * specks: pixels brighter (darker) than every pixel of a ring of radius 5-6 px around them,
     in connected groups of at most 80 px (dust and blotches 2-8 px across).

3. Component tests. Each line candidate is measured: mean normalised and absolute contrast,
   sharpness (share of the contrast a smaller top-hat keeps: painted damage is crisp, a scan's own
   detail is soft), neutrality, length of its longest path, mean width, fill of its bounding box,
   texture around it, polarity, brightness, and the difference between its two sides (a ridge
   along an object's edge is not a scratch). A linear evidence score (log-odds) combines them,
   with weights fitted by logistic regression on synthetic damage (Wan et al.'s degradation
   model, ``benchmarks/degrade.py``) laid over 40 real old prints of the development corpus
   (``FIT_PRINTS`` in ``benchmarks/scratch_quality.py``; ``../shared/corpus``, 512 px).
   ``python benchmarks/scratch_quality.py --fit`` reproduces them; the benchmark scores on other
   photos only (bundled clean photos, 40 other corpus prints, ``examples/``). Specks are kept
   when their peak normalised contrast reaches 3 and their edge is crisp (the steepest step
   between neighbouring pixels is at least 80 % of their contrast: dust sits in focus on the
   print, while a pupil or a button is as soft as the rest of the photo). ``sensitivity`` moves both thresholds; the
   candidates do not depend on it, so a higher sensitivity returns a superset of the mask.
   Components lying mostly within 3 px of the image edge are the print's frame or the scan's
   margin and are dropped.

4. Extent. Kept components grow into the neighbouring pixels (1 px for lines, 2 px for specks)
   whose own top-hat contrast is at least 35 % of the local peak: a conditional dilation that
   covers the soft edges of the damage without swallowing its surroundings.

Cost: about 0.8 s per megapixel on two cores; peak memory about 100 bytes per pixel.

References: Meyer, "Contrast feature extraction" (top-hat transform), 1977; Talbot and Appleton,
"Efficient complete and incomplete path openings and closings", Image Vis. Comput. 2007;
Immerkaer, "Fast noise variance estimation", CVIU 1996; Giakoumis, Nikolaidis and Pitas,
"Digital image processing techniques for the detection and removal of cracks in digitized
paintings", IEEE TIP 2006; Wan et al., "Bringing Old Photos Back to Life", CVPR 2020 (the
degradation model used for fitting and evaluation).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from restoration.errors import InputError
from restoration.validation import check_rgb

__all__ = ["detect_scratches"]

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------

_PRE_SIGMA = 0.7  # px, smoothing before the top-hats (tames grain, keeps 1-px lines)
_BLOCK = 8  # px, block size of the local texture estimate
_MEDIAN_BLOCKS = 5  # the texture estimate is the median over 5 x 5 blocks (~40 px)
_M_TEXTURE = 4.0  # local threshold = max(_T_ABS, _M_TEXTURE * texture + _K_NOISE * noise)
_K_NOISE = 4.0
_T_ABS = 0.04  # [0, 1] units: no damage fainter than this
_CAND = 0.6  # candidate pixels: normalised contrast above this
_FRAC = 0.35  # extent: neighbours with at least this share of the local peak contrast
_K_EXT = 2.0  # extent: and at least this many noise sigmas
_SPECK_RING = (5, 6)  # px, inner and outer radius of the ring a speck must outshine
_SPECK_AREA = 80  # px, largest speck candidate
_SPECK_T = 3.0  # specks: peak normalised contrast needed at sensitivity 0.5
_SPECK_SPAN = 2.0  # ... times 2 at sensitivity 0, halved at sensitivity 1
_SPECK_CRISP = 0.8  # specks: steepest 1-px step at the edge over the contrast (dust is in focus)
_SPECK_GROW = 2  # px: specks are found on the smoothed image, whose core is smaller than the blob
_FRAME = 3  # px: a component lying mostly this close to the image edge is the print's frame
_PAINT = {True: 0.93, False: 0.1}  # typical grey level of bright / dark damage
_NEUTRAL = (0.15, 0.3)  # colour-consistency error mapped to factor 1 (<= 0.15) .. 0 (>= 0.45)


@dataclass(frozen=True)
class _Channel:
    name: str
    se: int  # disc diameter of the main top-hat, px
    small: str  # smaller top-hat for the sharpness measure: "cross3" or "disc5"
    path: int  # minimum path length, px (0 = speck channel)


_CHANNELS = (
    _Channel("thin", 5, "cross3", 8),
    _Channel("wide", 9, "disc5", 10),
    _Channel("speck", 11, "disc5", 0),
)

_FEATURES = ("sc_mean", "th_mean", "sharp", "neutral", "loglen", "width", "fill", "texture", "bright", "val", "asym")

# Logistic-regression weights per line channel: (feature means, feature scales, weights,
# intercept), as printed by ``python benchmarks/scratch_quality.py --fit`` (about 50 s on two
# cores). Fitting set: synthetic damage (benchmarks/degrade.py; seeds 10-13, plus lightly aged,
# unblurred variants with seeds 20-21) over the 40 corpus prints FIT_PRINTS listed in that script
# (../shared/corpus, downsized to 512 px). None of the photos the benchmark scores (bundled clean
# photos, HELD_OUT_PRINTS, examples/) is in it.
_WEIGHTS: dict[str, tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...], float]] = {
    "thin": (
        (1.109, 0.1778, 0.3751, 0.9792, 2.619, 2.446, 0.4608, 3.443, 0.4398, 0.602, 0.6382),
        (0.4163, 0.1031, 0.1855, 0.065, 0.5627, 0.8963, 0.1915, 3.435, 0.4964, 0.1638, 0.747),
        (0.522, 0.376, 0.737, -0.005, 0.214, -0.008, -0.709, -0.116, 0.481, 0.526, -0.551),
        -2.923,
    ),
    "wide": (
        (1.014, 0.2493, 0.5235, 0.9803, 2.865, 3.51, 0.4616, 7.515, 0.4463, 0.6138, 0.5756),
        (0.3688, 0.1317, 0.2172, 0.0665, 0.555, 1.542, 0.1785, 8.333, 0.4971, 0.1641, 0.8047),
        (0.425, 0.062, 0.959, 0.074, 0.188, -0.002, -0.725, -0.17, 0.468, 0.473, -0.455),
        -3.113,
    ),
}

_T0 = 0.1  # evidence threshold at sensitivity 0.5: on the F1 plateau of held-out synthetic damage
_T_SPAN = 4.0  # sensitivity 0 -> _T0 + 2, sensitivity 1 -> _T0 - 2


# --------------------------------------------------------------------------------------------
# Small image helpers
# --------------------------------------------------------------------------------------------


def _disc(d: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (d, d))


def _ring(r_in: int, r_out: int) -> np.ndarray:
    yy, xx = np.mgrid[-r_out : r_out + 1, -r_out : r_out + 1]
    d = np.hypot(yy, xx)
    return ((d >= r_in) & (d <= r_out + 0.5)).astype(np.uint8)


def _noise_sigma(gray: np.ndarray) -> float:
    """Standard deviation of white noise, from the median absolute Laplacian (Immerkaer 1996)."""
    k = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    r = cv2.filter2D(gray, -1, k, borderType=cv2.BORDER_REFLECT)
    return float(np.median(np.abs(r)) * 1.4826 / 6.0)


def _texture(th: np.ndarray) -> np.ndarray:
    """Robust local level of a top-hat: median over ~40 px of 8-px block means."""
    h, w = th.shape
    sh, sw = max(1, h // _BLOCK), max(1, w // _BLOCK)
    small = cv2.resize(th, (sw, sh), interpolation=cv2.INTER_AREA)
    if min(sh, sw) >= _MEDIAN_BLOCKS:
        small = cv2.medianBlur(small, _MEDIAN_BLOCKS)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _path_down(b: np.ndarray) -> np.ndarray:
    """Length of the longest path ending at each pixel, coming from the row above (3 neighbours)."""
    h, w = b.shape
    out = np.empty((h, w), np.int16)
    prev = np.zeros(w + 2, np.int16)
    for r in range(h):
        m = np.maximum(np.maximum(prev[:-2], prev[1:-1]), prev[2:])
        m += 1
        m *= b[r]
        out[r] = m
        prev[1:-1] = m
    return out


def _path_length(b: np.ndarray) -> np.ndarray:
    """Longest 8-connected path through each pixel of a binary image (binary path opening).

    Paths go monotonically down (or right) with one-pixel steps straight or diagonal, which
    covers every direction within 45 degrees of vertical (horizontal); the result is the larger
    of the two. Shape (H, W) int16, 0 off the set.
    """
    b16 = b.astype(np.int16)
    vertical = _path_down(b16) + _path_down(b16[::-1])[::-1] - 1
    bt = np.ascontiguousarray(b16.T)
    horizontal = (_path_down(bt) + _path_down(bt[::-1])[::-1] - 1).T
    return np.maximum(np.maximum(vertical, horizontal), 0)


def _neutral_factor(image: np.ndarray, background: np.ndarray, bright: bool, idx: np.ndarray) -> np.ndarray:
    """How well the pixels at flat indices ``idx`` read as background blended toward neutral paint.

    With background colour B (per-channel opening or closing), paint P (grey) and opacity a,
    a damaged pixel is I = (1 - a) B + a P: its chroma is the background's shrunk by (1 - a).
    The error of that prediction, relative to the pixel's contrast, maps to 1 (consistent)
    down to 0 (the pixel has a colour of its own, e.g. a red highlight on red). Shape (len(idx),).
    """
    pix = image.reshape(-1, 3)[idx]
    bg = background.reshape(-1, 3)[idx]
    mi = pix.mean(axis=1)
    mb = bg.mean(axis=1)
    denom = _PAINT[bright] - mb
    denom = np.where(np.abs(denom) < 0.05, np.where(denom < 0, -0.05, 0.05), denom)
    a = np.clip((mi - mb) / denom, 0.0, 1.0)
    err = np.linalg.norm((pix - mi[:, None]) - (1.0 - a)[:, None] * (bg - mb[:, None]), axis=1)
    rel = err / (np.abs(mi - mb) + 0.02)
    lo, span = _NEUTRAL
    return np.clip(1.0 - (rel - lo) / span, 0.0, 1.0).astype(np.float32)


# --------------------------------------------------------------------------------------------
# Candidates and their measurements
# --------------------------------------------------------------------------------------------


@dataclass
class _Candidates:
    labels: np.ndarray  # (H, W) int32, 0 = background, 1..n = candidate components
    contrast: np.ndarray  # (H, W) float32 top-hat used for the extent step
    features: np.ndarray  # (n, len(_FEATURES)) float64, row i = component i + 1
    on_frame: np.ndarray  # (n,) share of each component's pixels within _FRAME px of the edge
    peak: np.ndarray  # (n,) largest normalised contrast of each component (0: soft-edged speck)


def _candidates(
    src: np.ndarray, image: np.ndarray, bright: bool, channel: _Channel, noise: float, colour: bool
) -> _Candidates:
    """Candidate components of one channel and polarity, with their measurements.

    ``src`` is (H, W) float32 in [0, 1] in which the damage is brighter than its surroundings.
    """
    smooth = cv2.GaussianBlur(src, (0, 0), _PRE_SIGMA)
    th = cv2.morphologyEx(src, cv2.MORPH_TOPHAT, _disc(channel.se))
    th_s = cv2.morphologyEx(smooth, cv2.MORPH_TOPHAT, _disc(channel.se))
    texture = _texture(th_s)
    threshold = np.maximum(_T_ABS, _M_TEXTURE * texture + _K_NOISE * noise)
    if channel.path > 0:
        response = th_s
    else:
        # brighter than every pixel of the surrounding ring
        ring_max = cv2.dilate(smooth, _ring(*_SPECK_RING))  # pixels outside the photo do not count
        ring_max = np.where(ring_max < -1.0, smooth, ring_max)  # ring wholly outside: no evidence
        response = np.maximum(smooth - ring_max, 0.0)
    score = response / threshold
    neutral = None
    if colour:
        # the factor only lowers scores: evaluate it where a candidate could still arise
        background = cv2.morphologyEx(image, cv2.MORPH_OPEN if bright else cv2.MORPH_CLOSE, _disc(channel.se))
        at = np.flatnonzero(score > _CAND)
        neutral = np.ones(score.shape, np.float32)
        neutral.ravel()[at] = _neutral_factor(image, background, bright, at)
        score *= neutral
    binary = score > _CAND
    if channel.path > 0:
        path = _path_length(binary)
        n, labels = cv2.connectedComponents((path >= channel.path).astype(np.uint8), connectivity=8)
    else:
        n, labels, stats, _ = cv2.connectedComponentsWithStats(binary.astype(np.uint8), connectivity=8)
        small = stats[:, cv2.CC_STAT_AREA] <= _SPECK_AREA
        small[0] = False
        remap = np.zeros(n, np.int32)
        remap[small] = np.arange(1, int(small.sum()) + 1)
        labels = remap[labels]
        n = int(small.sum()) + 1
    m = n - 1
    if m == 0:
        return _Candidates(labels, th, np.zeros((0, len(_FEATURES))), np.zeros(0), np.zeros(0))

    idx = np.flatnonzero(labels)
    lab = labels.ravel()[idx] - 1
    count = np.bincount(lab, minlength=m).astype(np.float64)
    ys, xs = np.divmod(idx, labels.shape[1])
    h, w = labels.shape
    framed = (ys < _FRAME) | (ys >= h - _FRAME) | (xs < _FRAME) | (xs >= w - _FRAME)
    on_frame = np.bincount(lab, weights=framed.astype(np.float64), minlength=m) / count
    peak = np.zeros(m)
    np.maximum.at(peak, lab, score.ravel()[idx].astype(np.float64))
    if channel.path == 0:  # specks are judged by their peak and the crispness of their edge
        step = cv2.morphologyEx(src, cv2.MORPH_GRADIENT, cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3)))
        step = cv2.dilate(step, _disc(5))
        edge = np.zeros(m)
        np.maximum.at(edge, lab, step.ravel()[idx].astype(np.float64))
        top = np.zeros(m)
        np.maximum.at(top, lab, th.ravel()[idx].astype(np.float64))
        crisp = edge / np.maximum(top, 1e-4) >= _SPECK_CRISP
        return _Candidates(labels, th, np.zeros((m, len(_FEATURES))), on_frame, np.where(crisp, peak, 0.0))

    def mean(values: np.ndarray) -> np.ndarray:
        return np.bincount(lab, weights=values.ravel()[idx].astype(np.float64), minlength=m) / count

    small_se = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3)) if channel.small == "cross3" else _disc(5)
    th_small = cv2.morphologyEx(src, cv2.MORPH_TOPHAT, small_se)
    longest = np.zeros(m)
    np.maximum.at(longest, lab, path.ravel()[idx].astype(np.float64))
    hi_x, hi_y = np.zeros(m), np.zeros(m)
    lo_x, lo_y = np.full(m, np.inf), np.full(m, np.inf)
    np.maximum.at(hi_x, lab, xs)
    np.maximum.at(hi_y, lab, ys)
    np.minimum.at(lo_x, lab, xs)
    np.minimum.at(lo_y, lab, ys)
    box = (hi_x - lo_x + 1) * (hi_y - lo_y + 1)
    th_mean = mean(th)
    # the two sides of a line: the opening keeps the brighter side, the erosion the darker one
    sides = (src - th) - cv2.erode(src, _disc(channel.se))
    values = {
        "asym": mean(sides) / np.maximum(th_mean, 1e-4),
        "sc_mean": mean(np.minimum(score, 5.0)),
        "th_mean": th_mean,
        "sharp": mean(th_small) / np.maximum(th_mean, 1e-4),
        "neutral": mean(neutral) if neutral is not None else np.ones(m),
        "loglen": np.log(np.maximum(longest, 1.0)),
        "width": count / np.maximum(longest, 1.0),
        "fill": count / np.maximum(box, 1.0),
        "texture": mean(texture) / max(noise, 1e-3),
        "bright": np.full(m, 1.0 if bright else 0.0),
        "val": mean(src),
    }
    feats = np.stack([values[f] for f in _FEATURES], axis=1)
    return _Candidates(labels, th, feats, on_frame, peak)


# --------------------------------------------------------------------------------------------
# Decision and extent
# --------------------------------------------------------------------------------------------


def _evidence(channel: _Channel, features: np.ndarray) -> np.ndarray:
    """Linear evidence score (log-odds) of each candidate component; shape (n,)."""
    if features.shape[0] == 0:
        return np.zeros(0)
    mu, scale, w, b = _WEIGHTS[channel.name]
    return ((features - np.asarray(mu)) / np.asarray(scale)) @ np.asarray(w) + b


def _extent(keep: np.ndarray, contrast: np.ndarray, noise: float, grow: int = 1) -> np.ndarray:
    """Kept pixels plus neighbours (up to ``grow`` px) whose contrast is a fair share of the local peak."""
    peak = cv2.dilate(np.where(keep, contrast, 0.0).astype(np.float32), np.ones((5, 5), np.uint8))
    near = cv2.dilate(keep.astype(np.uint8), _disc(2 * grow + 1) if grow > 1 else np.ones((3, 3), np.uint8)) > 0
    return near & (contrast >= _FRAC * peak) & (contrast > _K_EXT * noise)


def _validate(image: np.ndarray, sensitivity: float) -> np.ndarray:
    if not isinstance(sensitivity, (int, float, np.integer, np.floating)) or not 0.0 <= float(sensitivity) <= 1.0:
        raise InputError(f"sensitivity must be a number in [0, 1], got {sensitivity!r}; 0.5 is the default")
    return check_rgb(image, min_side=3)


def detect_scratches(image: np.ndarray, *, sensitivity: float = 0.5) -> np.ndarray:
    """Find scratches, cracks, dust and specks, bright or dark.

    Args:
        image: (H, W, 3) float RGB with values in [0, 1]; grayscale content as three equal
            channels.
        sensitivity: in [0, 1]. 0.5 (default) is tuned for the best F1 on synthetic damage;
            higher finds more (and fainter) damage, and the mask only grows with it.

    Returns:
        (H, W) bool mask, True = damaged pixel (including the soft edges of the damage).

    Raises:
        InputError: wrong shape, dtype or value range, or sensitivity outside [0, 1].
    """
    image = _validate(image, sensitivity)
    threshold = _T0 + (0.5 - float(sensitivity)) * _T_SPAN
    speck_threshold = _SPECK_T * 2.0 ** ((0.5 - float(sensitivity)) * _SPECK_SPAN)
    r, g, b = image[..., 0], image[..., 1], image[..., 2]
    lowest = np.minimum(np.minimum(r, g), b)
    highest = np.maximum(np.maximum(r, g), b)
    noise = _noise_sigma((r + g + b) / 3.0)
    colour = float(np.max(highest - lowest)) > 0.02
    mask = np.zeros(image.shape[:2], dtype=bool)
    for bright in (True, False):
        src = lowest if bright else 1.0 - highest
        for channel in _CHANNELS:
            cand = _candidates(src, image, bright, channel, noise, colour)
            if channel.path > 0:
                accept = _evidence(channel, cand.features) > threshold
            else:
                accept = cand.peak > speck_threshold
            # lines along the image edge are the print's frame or the scan's margin, not damage
            keep = np.concatenate([[False], accept & (cand.on_frame < 0.5)])
            if keep.any():
                mask |= _extent(keep[cand.labels], cand.contrast, noise, 1 if channel.path > 0 else _SPECK_GROW)
    logger.debug("scratch mask covers %.2f %% (noise sigma %.4f)", 100.0 * mask.mean(), noise)
    return mask
