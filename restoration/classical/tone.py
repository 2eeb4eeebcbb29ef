"""Faded contrast and colour casts of old photos: estimate them, then correct them (no weights).

What is measured (:func:`estimate_tone`, on a copy reduced to at most 384 px, area-averaged so
that JPEG chroma noise and film grain average out):

* ``kind``: ``"gray"``, ``"toned"`` or ``"colour"``. In CIELAB, the chroma (a*, b*) of every
  pixel is compared with the tone of its lightness (the median chroma of its bin of 5 L*
  units): a monochrome print, neutral or toned (sepia, selenium, gold, cyanotype, and the
  yellowed card it is mounted on), has a chroma that depends on lightness and varies, if at
  all, along the tone's own hue; a colour photo has chroma across it. The photo is
  ``"colour"`` when the residual chroma spreads across the dominant hue axis (the smaller
  principal standard deviation of the residuals, largest 2 % left out, exceeds 2.5 units) or
  when more than 2 % of the pixels are over 20 units off the tone. Otherwise it is ``"gray"``
  when the tone's chroma (median over pixels) is under 2 units (about one just-noticeable
  difference), else ``"toned"``; three equal channels are ``"gray"`` at once. Set on the 135
  real prints of ``../shared/corpus`` and ``../shared/photos`` (all monochrome: spread at most
  1.9, share at most 0.6 %; mounted cards, stains and hand tinting included: 72 gray, 63 toned,
  0 colour) and scikit-image's colour photos (each has a spread of at least 2.8 or a share of
  at least 8 %).
  A washed-out colour photo with little colour left may come out ``"toned"``; its colours are
  then kept as they are (never neutralised), which is the safe side.
* ``black`` / ``white``: the 0.5 % percentile of each pixel's darkest channel and the 99.5 %
  percentile of its brightest channel (for colour photos after the cast is removed), as pixel
  values in [0, 1] (gamma-encoded sRGB); for a gray photo, the gray value's percentiles.
* ``fade`` = (max(black - 0.03, 0) + max(0.95 - white, 0)) / 0.92, clipped to [0, 1]: 0 when the
  blacks reach 0.03 and the whites 0.95 (a well-exposed print; the corpus medians are 0.04
  and 0.96, and 54 of its 127 prints are under ``FADE_MIN``), 1 when the photo is flat.
* ``cast`` (colour photos): the colour (a*, b*) that a mid gray (L* = 60) has in the photo. A
  colour filter (yellowed varnish, a faded dye layer, the wrong light) multiplies linear R, G, B
  by gains, which shifts the log-chromaticity (ln R/G, ln B/G) of every pixel by the same
  amount; the shift is measured there, on the unclipped pixels brighter than L* 20, by two
  estimates that must agree: (1) the neutral mode, the peak of their 2-D histogram (smoothed,
  times a Gaussian prior centred on neutral of sigma 0.3, about 10 CIELAB units, so that a
  near-gray cluster beats a large coloured object), refined as the mean of the pixels within
  0.24 of it and kept only if they are at least 3 % of the pixels (gray points, as Huo et al.);
  (2) the highlights, the median of the brightest 5 % (white patch). When both are larger than
  0.03 and point more than 60 degrees apart (a blue sky against warm sunlit highlights) the
  scene, not a cast, made them and the cast is (0, 0); otherwise the shorter of the two is the
  cast (at most 1.2). On the clean scikit-image colour photos the cast found is 0 to 3.5
  units, but 6 to 8 on the warm scenes chelsea and coffee, which are then cooled a little.
* For gray and toned photos ``cast`` is the median chroma of the photo, and ``tone_hue``
  (toned only) the median chroma of its mid-tones (25th to 75th lightness percentile).

What is done (:func:`correct_tone`, at full resolution, one lookup per value):

* Levels with soft tails. The middle of the range, ``black`` to ``white``, is mapped linearly
  onto target black and white points; the darkest 0.5 % below ``black`` are mapped onto
  [0, target black] and the brightest 0.5 % above ``white`` onto [target white, 1] by
  exponential tails that meet the line with its slope. The curve is monotone, smooth, keeps 0
  at 0 and 1 at 1 and clips no pixel: shadow and highlight detail beyond the percentiles is
  compressed, not lost. The targets are 0.03 and 0.95 with a soft threshold: a black point
  ``lift`` = black - 0.03 above its target moves down by lift^2 / (lift + 0.02) (a small lift
  hardly at all, a large one to within 0.02 of the target), and the white point alike, so
  photos near the threshold do not jump. The slope is at most 2.5 (the grain of a nearly flat
  scan is not amplified without limit); beyond, the targets close in around their centre.
* Gray: the same curve on the three channels, so three equal channels stay exactly equal.
* Colour: the cast is removed by von Kries gains on linear sRGB (the gains that make the cast
  colour at L* 60 neutral at the same luminance), then the curve; together they are one lookup
  table per channel. Values a gain pushes over 1 fall on the curve's soft shoulder.
* Toned, ``keep_tone=True``: the curve acts on the luma Y' (ITU-R BT.601, the I/O layer's
  gray); each pixel's chroma (R - Y', G - Y', B - Y') keeps its direction, so the hue of the
  tone is preserved, and its length is scaled by the curve's local slope, as the same curve on
  every channel would scale it, then reduced only as far as needed to stay within [0, 1].
  ``keep_tone=False``: the corrected luma on three equal channels (at lower strengths the
  chroma is scaled by 1 - strength).
* Thresholds below which nothing is done: ``fade`` < 0.03 (no curve) and ``|cast|`` < 3 CIELAB
  units (no white balance; above it, ``|cast|`` - 3 is removed, again a soft threshold). A
  photo under both (and a toned one whose tone is kept) comes back as an unchanged copy.
* ``strength`` in [0, 1] moves the curve's targets and the cast removed from the photo's own
  values (0, identity) to the full correction (1).

Cost: statistics on <= 384 px, 20-80 ms; the correction of a 3000x2000 photo takes about
0.1 s (gray), 0.2 s (colour) and 0.5-0.9 s (toned) on one core.

References: Land and McCann, "Lightness and retinex theory", JOSA 1971 (white patch);
Buchsbaum, "A spatial processor model for object colour perception", J. Franklin Inst. 1980
(gray world); Huo, Chang, Wang and Wei, "Robust automatic white balance algorithm using gray
color points in images", IEEE Trans. Consumer Electronics 2006 (near-gray pixels); Finlayson,
Drew and Funt, "Color constancy: generalized diagonal transforms suffice", JOSA A 1994 (von
Kries gains); Sharma, Wu and Dalal, "The CIEDE2000 color-difference formula", Color Res. Appl.
2005 (the colour error of the tests); ITU-R BT.601 (luma).
"""

from __future__ import annotations

import logging
import math
import numbers
from dataclasses import dataclass

import cv2
import numpy as np
from skimage.color import lab2xyz, rgb2lab, xyz2lab

from ..errors import InputError
from ..luma import LUMA as _LUMA
from ..validation import check_rgb

__all__ = [
    "CAST_MIN",
    "FADE_MIN",
    "LIFTED_BLACK",
    "KINDS",
    "ToneEstimate",
    "correct_tone",
    "estimate_tone",
]

logger = logging.getLogger(__name__)

KINDS = ("gray", "toned", "colour")
"""The values of :attr:`ToneEstimate.kind`."""
FADE_MIN = 0.03
LIFTED_BLACK = 0.06
"""Black points at or above this count as faded blacks; below it a low white point alone is the
photo's own key (a dark or low-key print, a tintype), and only the blacks are restored."""
"""No contrast correction below this ``fade``."""
CAST_MIN = 3.0
"""No white balance below this cast magnitude, in CIELAB units; above it, ``|cast| - CAST_MIN`` is removed.

Clean photos measure up to about 3 units (their own warmth), one to two just-noticeable differences."""

_STATS_SIDE = 384  # px: statistics are measured on a copy this size at most
_BLACK_PERCENTILE = 0.5
_WHITE_PERCENTILE = 99.5
_TARGET_BLACK = 0.03  # where the black point goes (pixel value); a well-exposed print's 0.5 % level
_TARGET_WHITE = 0.95  # where the white point goes; a well-exposed print's 99.5 % level
_TARGET_WHITE_SOFT = 0.98  # highest white target when gains push values over 1 (room for a shoulder)
_MAX_GAIN = 2.5  # largest slope of the curve
_DEAD_ZONE = 0.02  # see _shrink
_MIN_RANGE = 1e-3  # black-to-white range below which the photo is left alone
_LUT_SIZE = 4097
_LUMINANCE = np.array([0.2126, 0.7152, 0.0722])  # linear sRGB (Rec. 709) luminance

# kind
_TONE_BIN = 5.0  # L* units per lightness bin
_TONE_BIN_MIN = 10  # pixels needed for a bin's own median
_GRAY_TONE_CHROMA = 2.0
_COLOUR_MINOR_STD = 2.5
_COLOUR_STRONG_RESIDUAL = 20.0
_COLOUR_STRONG_FRACTION = 0.02

# cast, in log-chromaticity (ln R/G, ln B/G) of linear sRGB; 0.03 there is about 1 CIELAB unit
_CAST_MIN_LUMINANCE = 0.03  # linear luminance (L* about 20): darker pixels are too noisy
_CAST_HIST_LIMIT = 1.2
_CAST_HIST_STEP = 0.02
_CAST_HIST_SIGMA = 0.075
_CAST_PRIOR_SIGMA = 0.3
_CAST_RADIUS = 0.24
_CAST_MIN_SUPPORT = 0.03
_CAST_BRIGHT_PERCENT = 5.0
_CAST_NEUTRAL_LOG = 0.03  # shorter estimate under this: both say "neutral", no angle test
_CAST_MAX_ANGLE = 60.0  # degrees between the two estimates beyond which there is no cast
_CAST_MAX_LOG = 1.2
_CAST_REF_L = 60.0
_REF_LUMINANCE = ((_CAST_REF_L + 16.0) / 116.0) ** 3
_RGB_TO_XYZ = np.array(  # linear sRGB (D65) -> CIE XYZ, IEC 61966-2-1
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)


@dataclass(frozen=True)
class ToneEstimate:
    """What :func:`estimate_tone` measured; :func:`correct_tone` corrects from this alone.

    Attributes:
        black: robust black point in [0, 1] (pixel value): the 0.5 % percentile of each
            pixel's darkest channel (for colour photos after the cast is removed).
        white: robust white point in [0, 1]: the 99.5 % percentile of each pixel's brightest
            channel (for colour photos after the cast is removed; reported as at most 1).
        fade: how faded, in [0, 1]: 0 = blacks at or under 0.03 and whites at or over 0.95,
            1 = flat.
        cast: (a*, b*) in CIELAB units. Colour: the colour a mid gray (L* 60) has in the photo,
            (0, 0) when no reliable estimate (what the white balance removes). Gray and toned:
            the median chroma of the photo (for information; never removed when the tone is
            kept).
        kind: ``"gray"`` (neutral monochrome), ``"toned"`` (monochrome with a deliberate hue:
            sepia, selenium, cyanotype, or a yellowed print) or ``"colour"``.
        tone_hue: (a*, b*) of the tone's mid-tones for ``"toned"``, else None.
    """

    black: float
    white: float
    fade: float
    cast: tuple[float, float]
    kind: str
    tone_hue: tuple[float, float] | None

    def __post_init__(self) -> None:
        for name in ("black", "white", "fade"):
            value = getattr(self, name)
            if not isinstance(value, numbers.Real) or not 0.0 <= float(value) <= 1.0:
                raise InputError(f"ToneEstimate.{name} must be a number in [0, 1], got {value!r}")
        if self.black > self.white:
            raise InputError(f"ToneEstimate.black ({self.black}) must not exceed white ({self.white})")
        if self.kind not in KINDS:
            raise InputError(f"ToneEstimate.kind must be one of {KINDS}, got {self.kind!r}")
        if not _is_pair(self.cast):
            raise InputError(f"ToneEstimate.cast must be a pair of finite numbers (a*, b*), got {self.cast!r}")
        if self.tone_hue is not None and not _is_pair(self.tone_hue):
            raise InputError(f"ToneEstimate.tone_hue must be None or a pair (a*, b*), got {self.tone_hue!r}")


def _is_pair(value: object) -> bool:
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and all(isinstance(v, numbers.Real) and math.isfinite(v) for v in value)
    )


# ----------------------------------------------------------------------------------------------
# Estimation


def estimate_tone(image: np.ndarray) -> ToneEstimate:
    """Measure how faded ``image`` is, its colour cast, and whether it is gray, toned or colour.

    Args:
        image: (H, W, 3) float32 (float64 accepted) RGB with values in [0, 1]; gray photos have
            three equal channels.

    Returns:
        A :class:`ToneEstimate` (see the module docstring for the method and thresholds).

    Raises:
        InputError: ``image`` is not (H, W, 3) float in [0, 1].
    """
    image = check_rgb(image)
    small = _reduce(image)
    if _channels_equal(small):
        return _monochrome_estimate(small, kind="gray", lab=None)
    lab = rgb2lab(small).reshape(-1, 3)
    kind = _classify(lab)
    if kind != "colour":
        return _monochrome_estimate(small, kind=kind, lab=lab)

    cast = _estimate_cast(small)
    magnitude = math.hypot(*cast)
    balanced = small
    if magnitude >= CAST_MIN:  # as correct_tone will balance it
        scale = 1.0 - CAST_MIN / magnitude
        balanced = _apply_gains(small, _gains((scale * cast[0], scale * cast[1])))
    black = float(np.percentile(balanced.min(axis=2), _BLACK_PERCENTILE))
    white = float(np.percentile(balanced.max(axis=2), _WHITE_PERCENTILE))
    return ToneEstimate(
        black=_unit(black),
        white=_unit(max(white, black)),
        fade=_fade(black, white),
        cast=cast,
        kind="colour",
        tone_hue=None,
    )


def _white_to_restore(estimate: ToneEstimate) -> float:
    """The white point the curve lifts to the target: the measured one when the blacks are
    lifted too (fading raises the blacks as it lowers the whites), else at least the target, so
    a low-key photo or a dark tintype with deep blacks keeps its key."""
    return estimate.white if estimate.black >= LIFTED_BLACK else max(estimate.white, _TARGET_WHITE)


def _reduce(image: np.ndarray) -> np.ndarray:
    height, width = image.shape[:2]
    scale = _STATS_SIDE / max(height, width)
    if scale >= 1.0:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.clip(cv2.resize(image, size, interpolation=cv2.INTER_AREA), 0.0, 1.0)


def _channels_equal(image: np.ndarray) -> bool:
    return bool(np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 0], image[..., 2]))


def _unit(value: float) -> float:
    return float(min(max(value, 0.0), 1.0))


def _fade(black: float, white: float) -> float:
    lifted = max(black - _TARGET_BLACK, 0.0) + max(_TARGET_WHITE - white, 0.0)
    return _unit(lifted / (_TARGET_WHITE - _TARGET_BLACK))


def _monochrome_estimate(small: np.ndarray, *, kind: str, lab: np.ndarray | None) -> ToneEstimate:
    """Estimate for a gray or toned photo; ``lab`` = its (N, 3) CIELAB pixels, None when exactly gray."""
    black = float(np.percentile(small.min(axis=2), _BLACK_PERCENTILE))
    white = max(float(np.percentile(small.max(axis=2), _WHITE_PERCENTILE)), black)
    cast = (0.0, 0.0)
    tone_hue = None
    if lab is not None:
        cast = (float(np.median(lab[:, 1])), float(np.median(lab[:, 2])))
        if kind == "toned":
            low, high = np.percentile(lab[:, 0], [25, 75])
            mid = lab[(lab[:, 0] >= low) & (lab[:, 0] <= high)]
            mid = mid if len(mid) else lab
            tone_hue = (float(np.median(mid[:, 1])), float(np.median(mid[:, 2])))
    return ToneEstimate(
        black=_unit(black), white=_unit(white), fade=_fade(black, white), cast=cast, kind=kind, tone_hue=tone_hue
    )


def _classify(lab: np.ndarray) -> str:
    """"gray", "toned" or "colour" from (N, 3) CIELAB pixels (see the module docstring)."""
    minor, strong, tone_chroma = _chroma_features(lab)
    if minor > _COLOUR_MINOR_STD or strong > _COLOUR_STRONG_FRACTION:
        return "colour"
    return "gray" if tone_chroma < _GRAY_TONE_CHROMA else "toned"


def _chroma_features(lab: np.ndarray) -> tuple[float, float, float]:
    """(minor spread, share far off the tone, tone chroma) of (N, 3) CIELAB pixels.

    The tone is the median (a*, b*) of each lightness bin; the residuals are each pixel's
    chroma minus its bin's tone. Minor spread: the smaller principal standard deviation of the
    residuals (largest 2 % left out). Share: of pixels more than 20 units off the tone. Tone
    chroma: median over pixels of the chroma of their bin's tone.
    """
    n_bins = int(100 / _TONE_BIN)
    bins = np.clip((lab[:, 0] / _TONE_BIN).astype(np.int64), 0, n_bins - 1)
    tone = np.full((n_bins, 2), np.nan)
    counts = np.bincount(bins, minlength=n_bins)
    for i in np.flatnonzero(counts >= _TONE_BIN_MIN):
        tone[i] = np.median(lab[bins == i, 1:], axis=0)
    known = ~np.isnan(tone[:, 0])
    if not known.any():  # tiny image: one tone for all
        tone[:] = np.median(lab[:, 1:], axis=0)
    else:
        index = np.arange(n_bins)
        for j in range(2):
            tone[:, j] = np.interp(index, index[known], tone[known, j])
    residual = lab[:, 1:] - tone[bins]
    distance = np.hypot(residual[:, 0], residual[:, 1])
    strong = float((distance > _COLOUR_STRONG_RESIDUAL).mean())
    kept = residual[distance <= np.percentile(distance, 98)]
    minor = 0.0
    if len(kept) >= 3:
        minor = float(np.sqrt(max(np.linalg.eigvalsh(np.cov(kept.T))[0], 0.0)))
    tone_chroma = float(np.median(np.hypot(tone[bins, 0], tone[bins, 1])))
    return minor, strong, tone_chroma


def _estimate_cast(small: np.ndarray) -> tuple[float, float]:
    """The cast (a*, b*) of a colour photo, as the colour of a mid gray (see the module docstring)."""
    flat = small.reshape(-1, 3).astype(np.float64)
    linear = _decode(flat)
    luminance = linear @ _LUMINANCE
    usable = (luminance > _CAST_MIN_LUMINANCE) & (flat.max(axis=1) < 0.99) & (flat.min(axis=1) > 0.004)
    if usable.sum() < 16:
        return 0.0, 0.0
    linear = linear[usable]
    chroma = np.log(linear[:, [0, 2]] / linear[:, [1]])  # (ln R/G, ln B/G): a gain cast is a shift here
    mode = _neutral_mode(chroma)
    if mode is None:
        return 0.0, 0.0
    top = luminance[usable] >= np.percentile(luminance[usable], 100 - _CAST_BRIGHT_PERCENT)
    bright = np.median(chroma[top], axis=0)
    shorter = mode if np.linalg.norm(mode) <= np.linalg.norm(bright) else bright
    if np.linalg.norm(shorter) >= _CAST_NEUTRAL_LOG:
        cosine = float(mode @ bright / (np.linalg.norm(mode) * np.linalg.norm(bright)))
        if cosine < math.cos(math.radians(_CAST_MAX_ANGLE)):
            logger.debug("tone: neutral cluster %s and highlights %s disagree; no cast", mode, bright)
            return 0.0, 0.0
    norm = np.linalg.norm(shorter)
    if norm > _CAST_MAX_LOG:
        shorter = shorter * (_CAST_MAX_LOG / norm)
    return _cast_from_shift(shorter)


def _neutral_mode(chroma: np.ndarray) -> np.ndarray | None:
    """Densest near-neutral cluster of (N, 2) log-chromaticities, or None when it is too sparse."""
    limit, step = _CAST_HIST_LIMIT, _CAST_HIST_STEP
    n_bins = round(2 * limit / step)
    hist, _, _ = np.histogram2d(chroma[:, 0], chroma[:, 1], bins=n_bins, range=[[-limit, limit], [-limit, limit]])
    hist = cv2.GaussianBlur(hist.astype(np.float32), (0, 0), _CAST_HIST_SIGMA / step)
    centres = -limit + step * (np.arange(n_bins) + 0.5)
    prior = np.exp(-(centres[:, None] ** 2 + centres[None, :] ** 2) / (2 * _CAST_PRIOR_SIGMA**2))
    i, j = np.unravel_index(int(np.argmax(hist * prior)), hist.shape)
    mode = np.array([centres[i], centres[j]])
    for _ in range(5):  # kernel mean around the mode
        near = np.hypot(*(chroma - mode).T) < _CAST_RADIUS
        if not near.any():
            return None
        mode = chroma[near].mean(axis=0)
    return mode if near.mean() >= _CAST_MIN_SUPPORT else None


def _cast_from_shift(shift: np.ndarray) -> tuple[float, float]:
    """(a*, b*) of a mid gray (L* = 60) whose linear (ln R/G, ln B/G) is ``shift``."""
    linear = np.exp(np.array([shift[0], 0.0, shift[1]]))
    linear *= _REF_LUMINANCE / float(linear @ _LUMINANCE)
    lab = xyz2lab((_RGB_TO_XYZ @ linear).reshape(1, 1, 3)).reshape(3)
    return float(lab[1]), float(lab[2])


def _gains(cast: tuple[float, float]) -> np.ndarray:
    """Von Kries gains on linear sRGB that make the colour (L* = 60, ``cast``) neutral, same luminance."""
    xyz = lab2xyz(np.array([[[_CAST_REF_L, cast[0], cast[1]]]])).reshape(3)
    linear = np.clip(np.linalg.solve(_RGB_TO_XYZ, xyz), 1e-4, None)
    return float(linear @ _LUMINANCE) / linear


def _decode(v: np.ndarray) -> np.ndarray:
    """Gamma-encoded sRGB -> linear (IEC 61966-2-1), extended above 1 by the same formula."""
    v = np.asarray(v, dtype=np.float64)
    return np.where(v <= 0.04045, v / 12.92, ((np.maximum(v, 0.04045) + 0.055) / 1.055) ** 2.4)


def _encode(linear: np.ndarray) -> np.ndarray:
    linear = np.asarray(linear, dtype=np.float64)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * np.maximum(linear, 0.0031308) ** (1 / 2.4) - 0.055)


def _apply_gains(image: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Gains on linear light, values may exceed 1 (small images only)."""
    return _encode(_decode(image) * gains).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Correction


def correct_tone(
    image: np.ndarray, estimate: ToneEstimate, *, strength: float = 1.0, keep_tone: bool = True
) -> np.ndarray:
    """Restore the contrast of a faded photo and remove its colour cast.

    Args:
        image: (H, W, 3) float32 (float64 accepted) RGB with values in [0, 1], the photo that
            ``estimate`` was measured on (or the same photo at another size).
        estimate: from :func:`estimate_tone`.
        strength: in [0, 1]; 0 returns an unchanged copy, 1 the full correction, values between
            move the curve's targets and the cast removed proportionally.
        keep_tone: for ``"toned"`` photos, True keeps the hue of the tone and restores the
            lightness range (the tone's chroma follows the contrast, as on a less faded
            print); False makes the photo neutral gray (three equal channels at strength 1).
            Ignored for gray photos (three equal channels stay exactly equal) and colour photos
            (the cast is removed).

    Returns:
        (H, W, 3) float32 in [0, 1], a new array. An unchanged copy when ``fade`` < FADE_MIN
        (0.03) and there is no cast to remove (colour: ``|cast|`` < CAST_MIN, 3 CIELAB units;
        gray; toned with ``keep_tone=True``).

    Raises:
        InputError: bad ``image``, ``estimate``, ``strength`` or ``keep_tone``.
    """
    image = check_rgb(image)
    if not isinstance(estimate, ToneEstimate):
        raise InputError(
            f"estimate must be a ToneEstimate from estimate_tone(image), got {type(estimate).__name__}"
        )
    if isinstance(strength, bool) or not isinstance(strength, numbers.Real) or not 0.0 <= strength <= 1.0:
        raise InputError(f"strength must be a number in [0, 1] (0 = no change, 1 = full correction), got {strength!r}")
    if not isinstance(keep_tone, (bool, np.bool_)):
        raise InputError(f"keep_tone must be True or False, got {keep_tone!r}")
    strength = float(strength)

    neutralise = estimate.kind == "toned" and not keep_tone
    cast = (0.0, 0.0)
    magnitude = math.hypot(*estimate.cast)
    if estimate.kind == "colour" and magnitude >= CAST_MIN:  # soft threshold: |cast| - CAST_MIN is removed
        scale = strength * (1.0 - CAST_MIN / magnitude)
        cast = (scale * estimate.cast[0], scale * estimate.cast[1])
    gains = _gains(cast) if any(cast) else np.ones(3)
    white = _white_to_restore(estimate)
    do_curve = _fade(estimate.black, white) >= FADE_MIN
    if strength == 0.0 or not (do_curve or any(cast) or neutralise):
        return image.copy()

    top = float(_encode(gains.max())) if any(cast) else 1.0  # highest value after the gains
    grid = np.linspace(0.0, top, _LUT_SIZE)
    curve = _levels_curve(grid, estimate.black, white, strength=strength if do_curve else 0.0, top=top)
    logger.debug(
        "tone: kind %s, fade %.3f, black %.3f, white %.3f, cast (%.1f, %.1f), strength %.2f",
        estimate.kind, estimate.fade, estimate.black, estimate.white, *estimate.cast, strength,
    )
    if estimate.kind == "toned":
        return _correct_luma(image, grid, curve, chroma_scale=1.0 - strength if neutralise else 1.0)
    if estimate.kind == "gray" or not any(cast):
        if _channels_equal(image):
            channel = _lookup(image[..., 0], grid, curve)
            return np.repeat(channel[..., None], 3, axis=2)
        return _lookup(image, grid, curve)
    out = np.empty_like(image)
    unit = np.linspace(0.0, 1.0, _LUT_SIZE)
    for c in range(3):  # gains then curve: one table per channel
        table = np.interp(_encode(_decode(unit) * gains[c]), grid, curve)
        out[..., c] = _lookup(image[..., c], unit, table)
    return out


def _levels_curve(grid: np.ndarray, black: float, white: float, *, strength: float, top: float) -> np.ndarray:
    """The tone curve sampled on ``grid`` (values in [0, top]), mapping [0, top] onto [0, 1].

    Linear from (black, target black) to (white, target white); exponential toe and shoulder
    meeting the line with its slope, monotone, ending at (0, 0) and (top, 1).
    """
    white = min(white, top)
    if black < 0.0 or white - black < _MIN_RANGE:  # flat: nothing to stretch
        return np.clip(grid, 0.0, 1.0)
    soft_white = _TARGET_WHITE_SOFT if top > 1.0 else 1.0
    target_black = black - _shrink(black - _TARGET_BLACK)
    target_white = min(white + _shrink(_TARGET_WHITE - white), soft_white)
    target_black = black + strength * (target_black - black)
    target_white = min(white + strength * (target_white - white), soft_white)
    slope = (target_white - target_black) / (white - black)
    if slope > _MAX_GAIN:
        centre = 0.5 * (target_black + target_white)
        half = 0.5 * _MAX_GAIN * (white - black)
        target_black, target_white, slope = centre - half, centre + half, _MAX_GAIN
    out = target_black + slope * (grid - black)
    low = grid < black
    if black > 0.0 and low.any():
        out[low] = target_black * _tail(grid[low] / black, slope * black / max(target_black, 1e-9))
    high = grid > white
    if top > white and high.any():
        room = 1.0 - target_white
        out[high] = 1.0 - room * _tail((top - grid[high]) / (top - white), slope * (top - white) / max(room, 1e-9))
    return np.clip(out, 0.0, 1.0)


def _shrink(lift: float) -> float:
    """How much of a black (white) point's distance ``lift`` past its target is corrected.

    lift^2 / (lift + 0.02): a small lift is mostly left alone, a large one corrected but for
    at most 0.02 (continuous, so photos near the threshold do not jump).
    """
    return lift * lift / (lift + _DEAD_ZONE) if lift > 0.0 else 0.0


def _tail(t: np.ndarray, end_slope: float) -> np.ndarray:
    """phi(t) on [0, 1]: phi(0) = 0, phi(1) = 1, phi'(1) = end_slope; (e^(rho t) - 1) / (e^rho - 1)."""
    rho = _tail_rate(end_slope)
    if abs(rho) < 1e-6:
        return t
    return np.expm1(rho * t) / np.expm1(rho)


def _tail_rate(end_slope: float) -> float:
    """rho with rho / (1 - e^-rho) = end_slope (the end slope of the exponential tail), by bisection."""
    def slope_of(rho: float) -> float:
        return 1.0 if abs(rho) < 1e-9 else rho / -math.expm1(-rho)

    low, high = -60.0, 60.0
    end_slope = min(max(end_slope, slope_of(low)), slope_of(high))
    for _ in range(80):
        mid = 0.5 * (low + high)
        if slope_of(mid) < end_slope:
            low = mid
        else:
            high = mid
    return 0.5 * (low + high)


def _lookup(values: np.ndarray, grid: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Piecewise-linear table lookup on a uniform ``grid``, float32 in [0, 1] (a fast np.interp)."""
    return np.clip(_lookup_unclipped(values, grid, table), 0.0, 1.0)


def _lookup_unclipped(values: np.ndarray, grid: np.ndarray, table: np.ndarray) -> np.ndarray:
    step = (grid[-1] - grid[0]) / (len(grid) - 1)
    position = (values - np.float32(grid[0])) * np.float32(1.0 / step)
    np.clip(position, 0.0, len(grid) - 1.0, out=position)
    index = np.minimum(position.astype(np.int32), len(grid) - 2)
    position -= index.astype(np.float32)  # now the fraction between two entries
    table = np.asarray(table, dtype=np.float32)
    rise = np.diff(table)
    out = table[index]
    out += position * rise[index]
    return out


def _correct_luma(image: np.ndarray, grid: np.ndarray, curve: np.ndarray, *, chroma_scale: float) -> np.ndarray:
    """Curve on the luma Y'; the chroma (x - Y') follows the curve's slope, times ``chroma_scale``.

    The hue (direction of x - Y') is kept; its length is scaled as the same curve applied to
    every channel would scale it to first order (the local slope), and reduced further only as
    far as needed to stay inside [0, 1].
    """
    luma = np.clip(image @ _LUMA, 0.0, 1.0)
    new_luma = _lookup(luma, grid, curve)
    if chroma_scale == 0.0:
        return np.repeat(new_luma[..., None], 3, axis=2)
    slope = np.gradient(curve, grid) * chroma_scale
    scale = _lookup_unclipped(luma, grid, slope)
    # largest scale keeping every channel in [0, 1]: Y'' + s (x - Y') within bounds
    above = image.max(axis=2) - luma  # >= 0: the channel furthest above the luma
    below = luma - image.min(axis=2)  # >= 0: the channel furthest below
    with np.errstate(divide="ignore", invalid="ignore"):
        np.minimum(scale, np.where(above > 1e-6, (1.0 - new_luma) / above, np.inf), out=scale)
        np.minimum(scale, np.where(below > 1e-6, new_luma / below, np.inf), out=scale)
    out = image - luma[..., None]
    out *= scale[..., None]
    out += new_luma[..., None]
    return np.clip(out, 0.0, 1.0, out=out)
