"""Synthetic degradations of clean photos, for benchmarks with a known ground truth.

Structured damage (scratches, branching cracks, dust and blotches) and unstructured damage
(film grain, Gaussian and motion blur, JPEG, fading, sepia and dye colour casts, paper texture,
8-bit rounding; :func:`global_degradation` draws one of them for a benchmark row), in the spirit
of the degradation model of Wan et al. Every function is plain and deterministic given its
``rng`` (a ``numpy.random.Generator``). Images are float32 RGB arrays of shape (H, W, 3) with
values in [0, 1]; masks are bool arrays of shape (H, W), True = damaged.

Ground truth of the scratch damage: :func:`scratch_mask` gives the geometry, :func:`apply_damage`
paints inside it and changes no pixel outside it; the ground-truth mask returned by
:func:`degrade` is :func:`changed_mask` of the image just before and just after painting, i.e.
the geometry pixels whose value the paint changed by at least ``VISIBLE_CHANGE`` (2/100) in some
channel. Pixels where the paint happens to match the photo (white on a white wall) are not damage.
Degradations applied after the paint (JPEG only) may alter the neighbours of the damage by a few
levels; that ringing is not part of the ground truth.

References: Wan et al., "Bringing Old Photos Back to Life", CVPR 2020 (degradation model).
"""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np

__all__ = [
    "VISIBLE_CHANGE",
    "scratch_mask",
    "apply_damage",
    "changed_mask",
    "add_grain",
    "gaussian_blur",
    "motion_blur",
    "jpeg",
    "fade",
    "sepia",
    "paper_texture",
    "colour_cast",
    "quantize",
    "global_degradation",
    "GLOBAL_DEGRADATIONS",
    "degrade",
    "clean_photos",
]

VISIBLE_CHANGE = 0.02
"""Smallest change (in [0, 1] units, any channel) that makes a painted pixel part of the ground truth."""


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def _smooth_noise(shape: tuple[int, int], *, rng: np.random.Generator, cell: float) -> np.ndarray:
    """Smooth random field, (H, W) float32 with values in [0, 1] and features about ``cell`` px."""
    h, w = shape
    gh, gw = max(2, int(math.ceil(h / cell)) + 2), max(2, int(math.ceil(w / cell)) + 2)
    grid = rng.random((gh, gw)).astype(np.float32)
    field = cv2.resize(grid, (int(gw * cell), int(gh * cell)), interpolation=cv2.INTER_CUBIC)
    oy = int(rng.integers(0, max(1, field.shape[0] - h)))
    ox = int(rng.integers(0, max(1, field.shape[1] - w)))
    field = field[oy : oy + h, ox : ox + w]
    lo, hi = float(field.min()), float(field.max())
    return ((field - lo) / max(hi - lo, 1e-6)).astype(np.float32)


def _smooth_1d(n: int, *, rng: np.random.Generator, period: float) -> np.ndarray:
    """Smooth random sequence of length ``n`` in about [-1, 1], wiggling every ``period`` samples."""
    knots = max(2, int(n / max(period, 1.0)) + 2)
    values = rng.uniform(-1.0, 1.0, knots)
    return np.interp(np.linspace(0, knots - 1, n), np.arange(knots), values)


def _check_image(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
    return image.astype(np.float32, copy=False)


def _draw_disc(canvas: np.ndarray, x: float, y: float, width: float) -> None:
    """Paint a filled disc of diameter ``width`` px (at least one pixel) at sub-pixel (x, y)."""
    shift = 4
    radius = max(width / 2.0 - 0.5, 0.0)
    cv2.circle(
        canvas,
        (int(round(x * (1 << shift))), int(round(y * (1 << shift)))),
        int(round(radius * (1 << shift))),
        1,
        thickness=-1,
        lineType=cv2.LINE_8,
        shift=shift,
    )


def _draw_polyline(canvas: np.ndarray, xs: np.ndarray, ys: np.ndarray, widths: np.ndarray) -> None:
    """Paint a stroke through the points (xs, ys) with a width (px) per point."""
    for i in range(len(xs)):
        _draw_disc(canvas, xs[i], ys[i], widths[i])


def _border_start(h: int, w: int, rng: np.random.Generator) -> tuple[float, float, float]:
    """A point just outside a random image border and an angle pointing into the image."""
    side = int(rng.integers(4))
    spread = rng.uniform(-0.6, 0.6)
    if side == 0:  # top
        return rng.uniform(0, w), -2.0, math.pi / 2 + spread
    if side == 1:  # bottom
        return rng.uniform(0, w), h + 1.0, -math.pi / 2 + spread
    if side == 2:  # left
        return -2.0, rng.uniform(0, h), spread
    return w + 1.0, rng.uniform(0, h), math.pi + spread


# --------------------------------------------------------------------------------------------
# Structured damage: geometry
# --------------------------------------------------------------------------------------------


def _add_scratch(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """One long thin scratch: 1-3 px wide, slightly curved, width varying, with gaps."""
    h, w = canvas.shape
    diag = math.hypot(h, w)
    if rng.random() < 0.4:
        x0, y0, angle = _border_start(h, w, rng)
    else:
        x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
        # film and print scratches are often near-vertical
        angle = math.pi / 2 + rng.normal(0, 0.2) if rng.random() < 0.5 else rng.uniform(0, math.pi)
        if rng.random() < 0.5:
            angle += math.pi
    length = rng.uniform(0.25, 0.9) * diag
    step = 0.5
    n = max(2, int(length / step))
    bend = rng.normal(0, 0.35)  # total turning over the whole scratch, radians
    wobble = 0.06 * _smooth_1d(n, rng=rng, period=rng.uniform(60, 200) / step)
    theta = angle + bend * np.linspace(0, 1, n) ** rng.uniform(1, 2) + wobble
    xs = x0 + np.cumsum(step * np.cos(theta))
    ys = y0 + np.cumsum(step * np.sin(theta))
    base = rng.choice([1.0, 1.5, 2.0, 2.5, 3.0], p=[0.25, 0.2, 0.25, 0.15, 0.15])
    widths = np.clip(base + 0.7 * _smooth_1d(n, rng=rng, period=rng.uniform(40, 160) / step), 1.0, 3.2)
    # intermittent: alternate drawn and skipped runs
    keep = np.ones(n, dtype=bool)
    if rng.random() < 0.6:
        i = int(rng.integers(0, 40))
        while i < n:
            i += int(rng.exponential(120) / step) + 10
            gap = int(rng.uniform(3, 25) / step)
            keep[i : i + gap] = False
            i += gap
    inside = (xs > -4) & (xs < w + 4) & (ys > -4) & (ys < h + 4)
    sel = keep & inside
    _draw_polyline(canvas, xs[sel], ys[sel], widths[sel])


def _add_crack(
    canvas: np.ndarray,
    rng: np.random.Generator,
    *,
    start: tuple[float, float, float] | None = None,
    length: float | None = None,
    width: float | None = None,
    depth: int = 0,
) -> None:
    """A branching crack: a random walk with momentum, irregular width, side branches."""
    h, w = canvas.shape
    diag = math.hypot(h, w)
    if start is None:
        if rng.random() < 0.5:
            start = _border_start(h, w, rng)
        else:
            start = (rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0, 2 * math.pi))
    x, y, heading = start
    if length is None:
        length = rng.uniform(0.15, 0.5) * diag
    if width is None:
        width = rng.uniform(1.0, 4.0) if rng.random() < 0.7 else rng.uniform(4.0, 8.0)
    step = 1.0
    n = max(2, int(length / step))
    profile = np.clip(width * (1 + 0.45 * _smooth_1d(n, rng=rng, period=rng.uniform(10, 40))), 1.0, 10.0)
    theta = heading
    xs, ys = np.empty(n), np.empty(n)
    branches: list[tuple[float, float, float, float]] = []
    for i in range(n):
        theta += rng.normal(0, 0.22) + 0.08 * (heading - theta)
        x += step * math.cos(theta)
        y += step * math.sin(theta)
        xs[i], ys[i] = x, y
        if depth < 2 and i > 10 and rng.random() < 0.012:
            side = 1 if rng.random() < 0.5 else -1
            branches.append((x, y, theta + side * rng.uniform(0.4, 1.2), profile[i]))
    jag = rng.uniform(-0.5, 0.5, n) * (profile > 2)
    _draw_polyline(canvas, xs, ys, np.clip(profile + jag, 1.0, 10.0))
    for bx, by, bt, bw in branches:
        _add_crack(
            canvas,
            rng,
            start=(bx, by, bt),
            length=length * rng.uniform(0.15, 0.5),
            width=max(1.0, bw * rng.uniform(0.4, 0.8)),
            depth=depth + 1,
        )


def _add_speck(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """A dust speck or blotch: a small irregular blob 2-8 px across."""
    h, w = canvas.shape
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    size = rng.uniform(2.0, 8.0)
    lobes = 1 if size < 4 else int(rng.integers(1, 4))
    shift = 4
    for _ in range(lobes):
        ax = max(0.5, size / 2 * rng.uniform(0.5, 1.0) - 0.5)
        ay = max(0.5, ax * rng.uniform(0.5, 1.0))
        ox, oy = (rng.normal(0, size / 5, 2) if lobes > 1 else (0.0, 0.0))
        cv2.ellipse(
            canvas,
            (int(round((cx + ox) * (1 << shift))), int(round((cy + oy) * (1 << shift)))),
            (int(round(ax * (1 << shift))), int(round(ay * (1 << shift)))),
            float(rng.uniform(0, 180)),
            0,
            360,
            1,
            thickness=-1,
            lineType=cv2.LINE_8,
            shift=shift,
        )


def scratch_mask(
    shape: tuple[int, int],
    *,
    rng: np.random.Generator,
    scratches: int = 6,
    cracks: int = 2,
    specks: int = 30,
) -> np.ndarray:
    """Geometry of synthetic print damage.

    Args:
        shape: (H, W) of the image, in pixels.
        rng: random generator; the same state gives the same mask.
        scratches: number of long thin scratches (1-3 px wide, slightly curved, width varying,
            often interrupted, 40 % of them crossing a border).
        cracks: number of branching cracks (random walks with side branches, width 1-6 px,
            about a third of them 4-8 px and locally up to 10 px; half start at a border).
        specks: number of dust specks and blotches (irregular blobs 2-8 px across).

    Returns:
        (H, W) bool array, True where damage is painted.
    """
    h, w = int(shape[0]), int(shape[1])
    if h < 1 or w < 1:
        raise ValueError(f"shape must be positive (H, W), got {shape}")
    canvas = np.zeros((h, w), dtype=np.uint8)
    for _ in range(scratches):
        _add_scratch(canvas, rng)
    for _ in range(cracks):
        _add_crack(canvas, rng)
    for _ in range(specks):
        _add_speck(canvas, rng)
    return canvas.astype(bool)


# --------------------------------------------------------------------------------------------
# Structured damage: paint
# --------------------------------------------------------------------------------------------


def apply_damage(
    image: np.ndarray, mask: np.ndarray, *, rng: np.random.Generator, dark_fraction: float = 0.25
) -> np.ndarray:
    """Paint damage into ``image`` inside ``mask``, and nowhere else.

    Each connected stroke of the mask gets one colour: near-white (0.85-1.0, slightly tinted,
    as scratches and cracks on prints look) or, with probability ``dark_fraction``, near-black
    (0.02-0.2). The opacity varies smoothly along the stroke (0.45-1.0) and is halved on the
    outer ring of strokes wider than 2 px (a soft 1-px edge, still inside the mask); the paint
    carries a little noise of its own.

    Args:
        image: (H, W, 3) float32 in [0, 1].
        mask: (H, W) bool, True = damage (see :func:`scratch_mask`).
        rng: random generator.
        dark_fraction: probability in [0, 1] that a stroke is dark.

    Returns:
        (H, W, 3) float32 in [0, 1]; equal to ``image`` outside ``mask``. The ground truth of
        what changed visibly is ``changed_mask(image, result)``.
    """
    image = _check_image(image)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != image.shape[:2]:
        raise ValueError(f"mask shape {mask.shape} does not match image shape {image.shape[:2]}")
    out = image.copy()
    if not mask.any():
        return out
    m8 = mask.astype(np.uint8)
    n_labels, labels = cv2.connectedComponents(m8, connectivity=8)
    dark = rng.random(n_labels) < dark_fraction
    level = np.where(dark, rng.uniform(0.02, 0.2, n_labels), rng.uniform(0.85, 1.0, n_labels))
    tint = rng.uniform(-0.03, 0.03, (n_labels, 3))
    colour = np.clip(level[:, None] + tint, 0.0, 1.0).astype(np.float32)
    cross = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
    interior = cv2.erode(m8, cross)
    edge = (m8 > 0) & (interior == 0) & (cv2.dilate(interior, cross) > 0)
    alpha = 0.45 + 0.55 * _smooth_noise(mask.shape, rng=rng, cell=rng.uniform(15, 40))
    alpha = np.where(edge, 0.5 * alpha, alpha)
    ys, xs = np.nonzero(mask)
    paint = colour[labels[ys, xs]] + rng.normal(0, 0.015, (len(ys), 3)).astype(np.float32)
    a = alpha[ys, xs, None].astype(np.float32)
    out[ys, xs] = np.clip(image[ys, xs] * (1 - a) + paint * a, 0.0, 1.0)
    return out


def changed_mask(before: np.ndarray, after: np.ndarray, *, tol: float = VISIBLE_CHANGE) -> np.ndarray:
    """Pixels whose value changed by at least ``tol`` in some channel.

    Args:
        before, after: (H, W, 3) float32 in [0, 1], same shape.
        tol: threshold in [0, 1] units.

    Returns:
        (H, W) bool.
    """
    return np.abs(np.asarray(after, np.float32) - np.asarray(before, np.float32)).max(axis=2) >= tol


# --------------------------------------------------------------------------------------------
# Unstructured degradations
# --------------------------------------------------------------------------------------------


def add_grain(
    image: np.ndarray, *, rng: np.random.Generator, sigma: float = 0.03, size: float = 0.8, chroma: float = 0.25
) -> np.ndarray:
    """Film grain: luminance noise, stronger in mid-tones, with grains about ``size`` px.

    Args:
        image: (H, W, 3) float32 in [0, 1].
        rng: random generator.
        sigma: standard deviation in mid-tones, [0, 1] units.
        size: grain size in px (Gaussian smoothing sigma of the noise; 0 = per-pixel).
        chroma: strength of independent per-channel noise relative to ``sigma``.

    Returns:
        (H, W, 3) float32 in [0, 1].
    """
    image = _check_image(image)
    h, w = image.shape[:2]
    noise = rng.standard_normal((h, w, 4)).astype(np.float32)
    if size > 0.3:
        noise = np.stack([cv2.GaussianBlur(noise[..., i], (0, 0), size) for i in range(4)], axis=2)
        noise /= noise.reshape(-1, 4).std(axis=0) + 1e-6
    lum = image @ np.array([0.299, 0.587, 0.114], np.float32)
    amp = sigma * (0.5 + 2.0 * lum * (1.0 - lum))
    grain = noise[..., 3:4] + chroma * noise[..., :3]
    return np.clip(image + amp[..., None] * grain, 0.0, 1.0).astype(np.float32)


def gaussian_blur(image: np.ndarray, *, sigma: float = 1.0) -> np.ndarray:
    """Gaussian blur with standard deviation ``sigma`` px; (H, W, 3) float32 [0, 1] in and out."""
    image = _check_image(image)
    if sigma <= 0:
        return image.copy()
    return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def motion_blur(image: np.ndarray, *, length: float = 7.0, angle: float = 0.0) -> np.ndarray:
    """Linear motion blur over ``length`` px at ``angle`` degrees; (H, W, 3) float32 [0, 1] in and out."""
    image = _check_image(image)
    k = max(1, int(math.ceil(length)) | 1)
    kernel = np.zeros((k, k), np.float32)
    c = k // 2
    dx, dy = math.cos(math.radians(angle)), -math.sin(math.radians(angle))
    cv2.line(
        kernel,
        (int(round((c - dx * length / 2) * 16)), int(round((c - dy * length / 2) * 16))),
        (int(round((c + dx * length / 2) * 16)), int(round((c + dy * length / 2) * 16))),
        1.0,
        thickness=1,
        lineType=cv2.LINE_AA,
        shift=4,
    )
    kernel /= max(float(kernel.sum()), 1e-6)
    return np.clip(cv2.filter2D(image, -1, kernel, borderType=cv2.BORDER_REFLECT), 0.0, 1.0)


def jpeg(image: np.ndarray, *, quality: int = 60) -> np.ndarray:
    """JPEG compression round trip at ``quality`` (1-100); (H, W, 3) float32 [0, 1] in and out."""
    image = _check_image(image)
    u8 = (np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(u8, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def fade(image: np.ndarray, *, amount: float = 0.3, paper: float = 0.85) -> np.ndarray:
    """Fading: contrast pulled toward the paper tone ``paper`` by ``amount`` in [0, 1] (blacks lift most)."""
    image = _check_image(image)
    return np.clip(image * (1 - amount) + amount * paper, 0.0, 1.0).astype(np.float32)


_SEPIA = np.array([[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]], np.float32)


def sepia(image: np.ndarray, *, amount: float = 1.0) -> np.ndarray:
    """Sepia cast blended in by ``amount`` in [0, 1]; (H, W, 3) float32 [0, 1] in and out."""
    image = _check_image(image)
    toned = np.clip(image @ _SEPIA.T, 0.0, 1.0)
    return (image * (1 - amount) + toned * amount).astype(np.float32)


def paper_texture(image: np.ndarray, *, rng: np.random.Generator, strength: float = 0.06) -> np.ndarray:
    """Paper texture: large faint stains times fine fibre noise, of relative ``strength``.

    Args:
        image: (H, W, 3) float32 in [0, 1].
        rng: random generator.
        strength: relative amplitude (0.06 = 6 % brightness variation).

    Returns:
        (H, W, 3) float32 in [0, 1].
    """
    image = _check_image(image)
    h, w = image.shape[:2]
    stains = _smooth_noise((h, w), rng=rng, cell=max(h, w) / rng.uniform(3, 8)) - 0.5
    fibres = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 1.2)
    fibres /= fibres.std() + 1e-6
    gain = 1.0 + strength * (stains + 0.15 * fibres)
    warm = np.array([1.0, 0.98, 0.94], np.float32)
    toned = image * gain[..., None] * (1 - strength * (1 - warm))
    return np.clip(toned, 0.0, 1.0).astype(np.float32)


def colour_cast(image: np.ndarray, *, shift: tuple[float, float, float] = (0.04, 0.0, -0.06)) -> np.ndarray:
    """Colour cast of faded dyes: each channel scaled by ``1 + shift[c]`` (mid-grey moves by
    ``shift / 2``); (H, W, 3) float32 [0, 1] in and out."""
    image = _check_image(image)
    gains = 1.0 + np.asarray(shift, np.float32)
    return np.clip(image * gains, 0.0, 1.0).astype(np.float32)


def quantize(image: np.ndarray, *, bits: int = 8) -> np.ndarray:
    """Round to ``bits``-bit levels, as a scanner writes a file; (H, W, 3) float32 [0, 1] in and out."""
    image = _check_image(image)
    top = float(2**bits - 1)
    return (np.round(np.clip(image, 0.0, 1.0) * top) / top).astype(np.float32)


GLOBAL_DEGRADATIONS = ("clean", "grain", "blur", "motion", "grain+blur", "fade+cast")
"""Names accepted by :func:`global_degradation`, one benchmark row each."""


def global_degradation(image: np.ndarray, kind: str, *, rng: np.random.Generator) -> tuple[np.ndarray, dict]:
    """One unstructured degradation of a clean photo, at a random moderate strength, then 8-bit.

    Args:
        image: (H, W, 3) float32 in [0, 1], the clean photo.
        kind: one of ``GLOBAL_DEGRADATIONS``:
            ``clean``: only the 8-bit rounding;
            ``grain``: correlated film grain (:func:`add_grain`), mid-tone std 0.02-0.05 (5-13
            levels), grain size 0.6-1.6 px, stronger in mid-tones, a quarter of it per channel;
            ``blur``: Gaussian blur, sigma 0.8-2.0 px;
            ``motion``: mild linear motion blur, 3-6 px long, any direction;
            ``grain+blur``: Gaussian blur 0.7-1.5 px, then grain 0.015-0.04 of 0.6-1.4 px;
            ``fade+cast``: fading toward a paper tone by 0.15-0.35, then a dye colour cast
            (per-channel gains within +-8 %).
        rng: random generator; the same state gives the same result.

    Returns:
        (degraded (H, W, 3) float32 in [0, 1] on 8-bit levels, the parameters drawn).
    """
    image = _check_image(image)
    if kind == "clean":
        params: dict = {}
        out = image
    elif kind == "grain":
        params = {"sigma": rng.uniform(0.02, 0.05), "size": rng.uniform(0.6, 1.6)}
        out = add_grain(image, rng=rng, **params)
    elif kind == "blur":
        params = {"sigma": rng.uniform(0.8, 2.0)}
        out = gaussian_blur(image, **params)
    elif kind == "motion":
        params = {"length": rng.uniform(3.0, 6.0), "angle": rng.uniform(0.0, 180.0)}
        out = motion_blur(image, **params)
    elif kind == "grain+blur":
        params = {"blur": rng.uniform(0.7, 1.5), "sigma": rng.uniform(0.015, 0.04), "size": rng.uniform(0.6, 1.4)}
        out = add_grain(gaussian_blur(image, sigma=params["blur"]), rng=rng, sigma=params["sigma"], size=params["size"])
    elif kind == "fade+cast":
        params = {"amount": rng.uniform(0.15, 0.35), "shift": tuple(float(v) for v in rng.uniform(-0.08, 0.08, 3))}
        out = colour_cast(fade(image, amount=params["amount"]), shift=params["shift"])
    else:
        raise ValueError(f"unknown degradation {kind!r}; choose from {', '.join(GLOBAL_DEGRADATIONS)}")
    return quantize(out), params


def degrade(
    image: np.ndarray,
    *,
    rng: np.random.Generator,
    scratches: bool = True,
    fade_p: float = 0.5,
    sepia_p: float = 0.3,
    paper_p: float = 0.4,
    blur_p: float = 0.6,
    grain_p: float = 0.8,
    jpeg_p: float = 0.5,
    n_scratches: int = 6,
    n_cracks: int = 2,
    n_specks: int = 30,
) -> tuple[np.ndarray, np.ndarray]:
    """A random old-photo degradation, in the order it happens to a print and its scan.

    Fading, sepia, paper texture, blur (Gaussian, or motion with probability 0.3), grain,
    then the scratch damage (on the print surface, over everything before), then JPEG (the
    scan). Each ``*_p`` is the probability that the step is applied; its strength is random in
    a moderate range.

    Args:
        image: (H, W, 3) float32 in [0, 1], the clean photo.
        rng: random generator; the same state gives the same result.
        scratches: paint scratches, cracks and specks (:func:`scratch_mask`, :func:`apply_damage`).
        fade_p, sepia_p, paper_p, blur_p, grain_p, jpeg_p: probabilities in [0, 1].
        n_scratches, n_cracks, n_specks: counts passed to :func:`scratch_mask`.

    Returns:
        (degraded, mask): (H, W, 3) float32 in [0, 1] and the (H, W) bool ground truth of the
        scratch damage (:func:`changed_mask` of the paint step; all False without scratches).
    """
    out = _check_image(image).copy()
    if rng.random() < fade_p:
        out = fade(out, amount=rng.uniform(0.1, 0.35))
    if rng.random() < sepia_p:
        out = sepia(out, amount=rng.uniform(0.5, 1.0))
    if rng.random() < paper_p:
        out = paper_texture(out, rng=rng, strength=rng.uniform(0.03, 0.1))
    if rng.random() < blur_p:
        if rng.random() < 0.3:
            out = motion_blur(out, length=rng.uniform(2, 6), angle=rng.uniform(0, 180))
        else:
            out = gaussian_blur(out, sigma=rng.uniform(0.4, 1.2))
    if rng.random() < grain_p:
        out = add_grain(out, rng=rng, sigma=rng.uniform(0.01, 0.04), size=rng.uniform(0.0, 1.0))
    mask = np.zeros(out.shape[:2], dtype=bool)
    if scratches:
        geometry = scratch_mask(out.shape[:2], rng=rng, scratches=n_scratches, cracks=n_cracks, specks=n_specks)
        painted = apply_damage(out, geometry, rng=rng)
        mask = changed_mask(out, painted)
        out = painted
    if rng.random() < jpeg_p:
        out = jpeg(out, quality=int(rng.integers(50, 95)))
    return out, mask


# --------------------------------------------------------------------------------------------
# Clean sources
# --------------------------------------------------------------------------------------------


def _to_rgb_float(array: np.ndarray) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim == 2:
        array = np.repeat(array[..., None], 3, axis=2)
    array = array[..., :3]
    if array.dtype == np.uint8:
        return array.astype(np.float32) / 255.0
    return np.clip(array.astype(np.float32), 0.0, 1.0)


def _downsize(image: np.ndarray, max_side: int | None) -> np.ndarray:
    h, w = image.shape[:2]
    if max_side is None or max(h, w) <= max_side:
        return image
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.clip(cv2.resize(image, size, interpolation=cv2.INTER_AREA), 0.0, 1.0)


def clean_photos(max_side: int | None = 512) -> dict[str, np.ndarray]:
    """Clean photos available without a download, by name.

    scikit-image's bundled photos (astronaut, camera and coins as 3-channel gray, chelsea,
    coffee, rocket, motorcycle), plus matplotlib's grace_hopper.jpg and scikit-learn's china.jpg
    and flower.jpg when those packages are importable.

    Args:
        max_side: the longest side is downsized (area interpolation) to this many px if larger;
            None keeps the full size.

    Returns:
        dict name -> (H, W, 3) float32 in [0, 1], in a fixed order.
    """
    import skimage.data

    photos: dict[str, np.ndarray] = {
        "astronaut": skimage.data.astronaut(),
        "camera": skimage.data.camera(),
        "chelsea": skimage.data.chelsea(),
        "coffee": skimage.data.coffee(),
        "rocket": skimage.data.rocket(),
        "motorcycle": skimage.data.stereo_motorcycle()[0],
        "coins": skimage.data.coins(),
    }
    try:
        import matplotlib.cbook
        from PIL import Image

        with Image.open(Path(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))) as im:
            photos["grace_hopper"] = np.asarray(im.convert("RGB"))
    except (ImportError, OSError, ValueError):
        pass
    try:
        from sklearn.datasets import load_sample_images

        for name, img in zip(("china", "flower"), load_sample_images().images):
            photos[name] = img
    except ImportError:
        pass
    return {name: _downsize(_to_rgb_float(img), max_side) for name, img in photos.items()}
