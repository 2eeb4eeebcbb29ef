"""A richer print-damage generator, for training and scoring the learned scratch detector.

Builds on :mod:`degrade` (its aging steps, its scratch, crack and speck geometry, its paint and
its ground-truth rule) and adds the damage that generator does not draw:

* scratch fields: many short, thin, nearly parallel scratches (a print rubbed against a
  surface; the fine networks over skies);
* scuffing: a dense patch of short, faint, nearly parallel strokes (a print rubbed face down;
  the grey scuffs over faces and backdrops of real prints), lighter or darker than the photo,
  each at its own low opacity;
* dusty scans: a field of 1-3 px specks at 0.2-2 % of a large region's pixels (off for the
  benchmarks; the learned detector once read the dark heads of a small crowd under such dust as
  damage);
* crazed emulsion: a network of cell boundaries (a jittered Voronoi tessellation), thin,
  with missing edges;
* folds and creases: a long, nearly straight line 2-6 px wide with a faint soft band on one
  side (the band is shading, not damage to repair: it is not part of the ground truth);
* tears with paper loss: a jagged region 10-60 px wide entering from an edge or a corner,
  showing paper, card or the scanner's dark lid;
* hairs: thin, dark (sometimes white), sinuous curves;
* stains and spots: blotches with a darker rim (water stains, foxing) and round spots
  3-15 px across.

Every kind comes in both polarities where it occurs on real prints. The photo is first aged
(``degrade.degrade`` without scratches: fading, sepia, paper texture, blur, grain), then damaged,
then (sometimes) JPEG-compressed, so a detector learns to tell damage from grain, blur and
compression, and from the thin real structures the prints themselves carry (hair, wires, text,
railings: :func:`paint_structures`; lace, nets and knitwear: :func:`paint_mesh`; the dots of
a halftone reproduction: :func:`paint_halftone`). Ground truth follows :mod:`degrade`: the
pixels whose value the paint changed by at least ``degrade.VISIBLE_CHANGE`` in some channel
(:func:`degrade.changed_mask`).

Images are float32 RGB (H, W, 3) in [0, 1]; masks are (H, W) bool, True = damaged. Every
function is deterministic given its ``rng`` (a ``numpy.random.Generator``).

References: Wan et al., "Bringing Old Photos Back to Life", CVPR 2020 (degradation model).
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from degrade import (  # noqa: E402
    _add_crack,
    _add_scratch,
    _add_speck,
    _border_start,
    _check_image,
    _draw_polyline,
    _smooth_1d,
    _smooth_noise,
    apply_damage,
    changed_mask,
    degrade,
    jpeg,
)

__all__ = [
    "DamageMix", "DEFAULT_MIX", "damage_geometry", "paint_damage", "paint_halo", "paint_halftone", "paint_mesh",
    "paint_signs", "paint_structures", "synthesize",
]


@dataclass(frozen=True)
class DamageMix:
    """How much of each kind of damage :func:`synthesize` draws: each count is drawn uniformly
    in ``[0, value]`` per image (area-scaled: the values are per 512 x 512 px), each ``*_p`` is
    a probability in [0, 1].
    """

    scratches: float = 4.0  # long thin scratches (degrade._add_scratch)
    cracks: float = 2.0  # branching cracks (degrade._add_crack)
    specks: float = 30.0  # dust specks and blotches (degrade._add_speck)
    scratch_field_p: float = 0.35  # a field of short parallel scratches
    crazing_p: float = 0.25  # a crazed-emulsion network over part of the photo
    crease_p: float = 0.2  # one fold or crease
    tear_p: float = 0.2  # one tear with paper loss at an edge or corner
    hairs: float = 1.5  # hairs
    stains: float = 1.0  # stains with a rim
    spots: float = 3.0  # round spots 3-15 px
    clean_p: float = 0.1  # no damage at all (teaches that clean prints stay clean)
    jpeg_p: float = 0.4  # JPEG after the damage (the scan)
    scuffs_p: float = 0.0  # a scuffed patch; at 0 no random number is drawn for it (scored cases keep their damage)
    dust_p: float = 0.0  # a dust field (_dust_field); at 0 no random number is drawn for it, as scuffs_p


DEFAULT_MIX = DamageMix()
DUST_ONLY = DamageMix(
    scratches=0, cracks=0, specks=0, scratch_field_p=0, crazing_p=0, crease_p=0, tear_p=0, hairs=0, stains=0,
    spots=0, clean_p=0, dust_p=1.0,
)
"""One dust field (:func:`_dust_field`) and no other damage: what a detector marks beyond the
dust is the scene read as damage (``scratch_detection.py``, ``train_scratch_net.py --calibrate``)."""


# --------------------------------------------------------------------------------------------
# Geometry of the new kinds
# --------------------------------------------------------------------------------------------


def _scratch_field(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """Short, thin, nearly parallel scratches over a random region (20-60 % of the photo)."""
    h, w = canvas.shape
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    radius = rng.uniform(0.2, 0.6) * max(h, w)
    angle = rng.uniform(0, math.pi)
    count = int(rng.integers(8, 40))
    for _ in range(count):
        x0 = cx + rng.uniform(-radius, radius)
        y0 = cy + rng.uniform(-radius, radius)
        theta = angle + rng.normal(0, 0.25)
        length = rng.uniform(15, 0.4 * max(h, w))
        n = max(2, int(length / 0.5))
        t = np.linspace(0, length, n)
        bend = rng.normal(0, 0.1) * np.linspace(0, 1, n) ** 2
        xs = x0 + t * np.cos(theta + bend)
        ys = y0 + t * np.sin(theta + bend)
        widths = np.full(n, rng.choice([1.0, 1.0, 1.5, 2.0]))
        _draw_polyline(canvas, xs, ys, widths)


def _scuffs(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """Scuffing: 40-400 short strokes (4-40 px, 1-2 px wide, nearly parallel) packed into a
    smooth random region (one stroke per 40-250 px of it); ``canvas`` gets each stroke's own label 1-255
    (a later stroke paints over an earlier one where they cross)."""
    h, w = canvas.shape
    region = _smooth_noise((h, w), rng=rng, cell=max(h, w) / rng.uniform(1.0, 3.0)) > rng.uniform(0.4, 0.85)
    ys, xs = np.nonzero(region)
    if not len(ys):
        return
    angle = rng.uniform(0, math.pi)
    spread = rng.uniform(0.1, 0.5)
    count = int(np.clip(len(ys) / rng.uniform(40, 250), 40, 400))
    for label in range(count):
        k = int(rng.integers(len(ys)))
        theta = angle + rng.normal(0, spread)
        length = math.exp(rng.uniform(math.log(4), math.log(40)))
        n = max(2, int(length / 0.5))
        t = np.linspace(-length / 2, length / 2, n)
        bend = rng.normal(0, 0.15) * (t / length) ** 2
        stroke = np.zeros((h, w), np.uint8)
        _draw_polyline(stroke, xs[k] + t * np.cos(theta + bend), ys[k] + t * np.sin(theta + bend), np.full(n, rng.choice([1.0, 1.0, 1.0, 1.5, 2.0])))
        canvas[stroke > 0] = 1 + label % 255


def _dust_field(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """A dusty scan: specks 1-3 px across (mostly 1) scattered over a smooth random region
    (about a third of the photo to all of it) at 0.2-2 % of its pixels; marked 1 in ``canvas``."""
    h, w = canvas.shape
    region = _smooth_noise((h, w), rng=rng, cell=max(h, w) / rng.uniform(1.0, 3.0)) >= rng.uniform(0.0, 0.6)
    ys, xs = np.nonzero(region)
    count = int(len(ys) * rng.uniform(0.002, 0.02))
    if not count:
        return
    pick = rng.integers(0, len(ys), count)
    sizes = rng.choice(np.array([1, 1, 1, 1, 2, 2, 3]), count)
    for y, x, size in zip(ys[pick], xs[pick], sizes):
        canvas[y : y + size, x : x + size] = 1


def _crazing(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """Crazed emulsion: the edges of a jittered Voronoi tessellation, 1-2 px wide, some missing."""
    h, w = canvas.shape
    cell = rng.uniform(12, 60)
    count = max(4, int(h * w / cell**2))
    seeds = np.full((h, w), 255, np.uint8)
    ys = rng.integers(0, h, count)
    xs = rng.integers(0, w, count)
    seeds[ys, xs] = 0
    _, labels = cv2.distanceTransformWithLabels(seeds, cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL)
    # wobble the boundaries: sample the labels through a smooth displacement field
    amp = rng.uniform(1.0, 0.25 * cell)
    dx = (_smooth_noise((h, w), rng=rng, cell=cell / 2) - 0.5) * 2 * amp
    dy = (_smooth_noise((h, w), rng=rng, cell=cell / 2) - 0.5) * 2 * amp
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    warped = cv2.remap(labels.astype(np.float32), gx + dx, gy + dy, cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT)
    edges = np.zeros((h, w), bool)
    edges[:, 1:] |= warped[:, 1:] != warped[:, :-1]
    edges[1:, :] |= warped[1:, :] != warped[:-1, :]
    # over a random region, with gaps
    region = _smooth_noise((h, w), rng=rng, cell=max(h, w) / rng.uniform(1.5, 4)) > rng.uniform(0.3, 0.6)
    gaps = _smooth_noise((h, w), rng=rng, cell=cell / 3) > rng.uniform(0.0, 0.35)
    lines = (edges & region & gaps).astype(np.uint8)
    if rng.random() < 0.3:
        lines = cv2.dilate(lines, np.ones((2, 2), np.uint8))
    canvas |= lines


def _crease(canvas: np.ndarray, halo: np.ndarray, rng: np.random.Generator) -> None:
    """A fold or crease across the photo: a nearly straight line 2-6 px wide (``canvas``) and a
    soft 4-12 px band along one side (``halo``, painted fainter)."""
    h, w = canvas.shape
    x0, y0, angle = _border_start(h, w, rng)
    length = 1.5 * math.hypot(h, w)
    n = max(2, int(length))
    theta = angle + 0.03 * _smooth_1d(n, rng=rng, period=200)
    xs = x0 + np.cumsum(np.cos(theta))
    ys = y0 + np.cumsum(np.sin(theta))
    width = rng.uniform(2.0, 6.0)
    widths = np.clip(width * (1 + 0.3 * _smooth_1d(n, rng=rng, period=60)), 1.5, 8.0)
    _draw_polyline(canvas, xs, ys, widths)
    side = rng.choice([-1.0, 1.0])
    offset = rng.uniform(4, 12)
    nx, ny = -np.sin(theta) * side, np.cos(theta) * side
    _draw_polyline(halo, xs + nx * offset / 2, ys + ny * offset / 2, np.full(n, offset))


def _tear(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """Paper loss: a jagged region 10-60 px deep entering from an edge or a corner."""
    h, w = canvas.shape
    depth = rng.uniform(10, 60)
    if rng.random() < 0.5:  # a corner torn off
        cx, cy = (0 if rng.random() < 0.5 else w), (0 if rng.random() < 0.5 else h)
        reach = rng.uniform(2, 5) * depth
        angles = np.linspace(0, 2 * math.pi, 360, endpoint=False)
        radius = reach * (1 + 0.25 * _smooth_1d(360, rng=rng, period=20) + 0.08 * rng.uniform(-1, 1, 360))
        pts = np.stack([cx + radius * np.cos(angles), cy + radius * np.sin(angles)], axis=1)
    else:  # a strip torn along one side, or a tear reaching inward
        side = int(rng.integers(4))
        along = max(h, w) if side < 2 else max(h, w)
        length = rng.uniform(0.2, 1.0) * along
        start = rng.uniform(-0.2, 1.0) * along
        n = 200
        t = start + np.linspace(0, length, n)
        profile = depth * (0.55 + 0.35 * _smooth_1d(n, rng=rng, period=25) + 0.1 * rng.uniform(-1, 1, n))
        profile *= np.sin(np.linspace(0, math.pi, n)) ** 0.3
        if side == 0:
            inner = np.stack([t, profile], 1)
            outer = np.array([[t[-1], -5.0], [t[0], -5.0]])
        elif side == 1:
            inner = np.stack([t, h - profile], 1)
            outer = np.array([[t[-1], h + 5.0], [t[0], h + 5.0]])
        elif side == 2:
            inner = np.stack([profile, t], 1)
            outer = np.array([[-5.0, t[-1]], [-5.0, t[0]]])
        else:
            inner = np.stack([w - profile, t], 1)
            outer = np.array([[w + 5.0, t[-1]], [w + 5.0, t[0]]])
        pts = np.concatenate([inner, outer])
    cv2.fillPoly(canvas, [np.round(pts * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)


def _hair(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """A hair: a sinuous curve 1-2 px wide, 30-250 px long."""
    h, w = canvas.shape
    x, y = rng.uniform(0, w), rng.uniform(0, h)
    length = rng.uniform(30, 250)
    n = max(2, int(length))
    theta = rng.uniform(0, 2 * math.pi) + np.cumsum(rng.normal(0, 0.03, n)) + 1.2 * _smooth_1d(n, rng=rng, period=40)
    xs = x + np.cumsum(np.cos(theta))
    ys = y + np.cumsum(np.sin(theta))
    _draw_polyline(canvas, xs, ys, np.full(n, rng.choice([1.0, 1.0, 1.5, 2.0])))


def _stain(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """A stain or blotch 10-60 px across with an irregular outline."""
    h, w = canvas.shape
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    radius = rng.uniform(5, 30)
    angles = np.linspace(0, 2 * math.pi, 90, endpoint=False)
    r = radius * (1 + 0.35 * _smooth_1d(90, rng=rng, period=12))
    pts = np.stack([cx + r * np.cos(angles), cy + r * np.sin(angles)], axis=1)
    cv2.fillPoly(canvas, [np.round(pts * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)


def _spot(canvas: np.ndarray, rng: np.random.Generator) -> None:
    """A round spot 3-15 px across."""
    h, w = canvas.shape
    d = rng.uniform(3, 15)
    cv2.ellipse(
        canvas,
        (int(rng.uniform(0, w) * 16), int(rng.uniform(0, h) * 16)),
        (int(d / 2 * 16), int(d / 2 * rng.uniform(0.6, 1.0) * 16)),
        float(rng.uniform(0, 180)), 0, 360, 1, thickness=-1, shift=4,
    )


# --------------------------------------------------------------------------------------------
# Thin real structures (negatives: part of the scene, never damage)
# --------------------------------------------------------------------------------------------


def _aa_line(alpha: np.ndarray, p0: tuple[float, float], p1: tuple[float, float], width: float) -> None:
    """Add an anti-aliased line of ``width`` px (below 1: fainter 1 px line) to ``alpha`` in place."""
    layer = np.zeros(alpha.shape, np.uint8)
    pts = [(int(round(x * 16)), int(round(y * 16))) for x, y in (p0, p1)]
    cv2.line(layer, pts[0], pts[1], 255, thickness=max(1, int(round(width))), lineType=cv2.LINE_AA, shift=4)
    np.maximum(alpha, layer.astype(np.float32) / 255.0 * min(1.0, width), out=alpha)


def _wires(alpha: np.ndarray, rng: np.random.Generator) -> None:
    """1-4 sagging wires (catenary-like curves) across the photo, 0.6-2 px wide."""
    h, w = alpha.shape
    y_base, sag = rng.uniform(0, h), rng.uniform(0, 0.15) * h
    tilt = rng.uniform(-0.3, 0.3) * h
    for k in range(int(rng.integers(1, 5))):
        width = rng.uniform(0.6, 2.0)
        xs = np.linspace(-5, w + 5, 64)
        t = xs / max(w, 1)
        ys = y_base + k * rng.uniform(3, 15) + tilt * t + sag * (4 * (t - 0.5) ** 2 - 1)
        for i in range(len(xs) - 1):
            _aa_line(alpha, (xs[i], ys[i]), (xs[i + 1], ys[i + 1]), width)


def _railing(alpha: np.ndarray, rng: np.random.Generator) -> None:
    """A railing or fence: parallel bars 1-3 px wide every 4-16 px between one or two rails."""
    h, w = alpha.shape
    top, bottom = sorted(rng.uniform(0, h, 2))
    bottom = max(bottom, top + 12)
    x0, x1 = sorted(rng.uniform(-0.2, 1.2, 2) * w)
    spacing, width = rng.uniform(4, 16), rng.uniform(1.0, 3.0)
    slant = rng.uniform(-0.2, 0.2) * (bottom - top)
    for x in np.arange(x0, x1, spacing):
        _aa_line(alpha, (x, top), (x + slant, bottom), width)
    for y in ((top, bottom) if rng.random() < 0.6 else (top,)):
        _aa_line(alpha, (x0, y), (x1, y + rng.uniform(-3, 3)), rng.uniform(1.0, 3.0))


def _window_grid(alpha: np.ndarray, rng: np.random.Generator) -> None:
    """Window bars or a tiled wall: a grid of thin lines, cells 8-40 px."""
    h, w = alpha.shape
    x0, y0 = rng.uniform(0, w * 0.6), rng.uniform(0, h * 0.6)
    x1, y1 = x0 + rng.uniform(30, w), y0 + rng.uniform(30, h)
    cell, width = rng.uniform(8, 40), rng.uniform(0.8, 2.5)
    for x in np.arange(x0, x1, cell * rng.uniform(0.7, 1.5)):
        _aa_line(alpha, (x, y0), (x, y1), width)
    for y in np.arange(y0, y1, cell):
        _aa_line(alpha, (x0, y), (x1, y), width)


def _twigs(alpha: np.ndarray, rng: np.random.Generator) -> None:
    """Bare branches: a tapering line that forks into thinner twigs (trees against a sky)."""
    h, w = alpha.shape
    stack = [(rng.uniform(0, w), rng.uniform(0.5, 1.0) * h, rng.uniform(-2.4, -0.7), rng.uniform(2.0, 4.0), 0)]
    while stack:
        x, y, angle, width, depth = stack.pop()
        length = rng.uniform(15, 60) * (0.8**depth)
        x1, y1 = x + length * math.cos(angle), y + length * math.sin(angle)
        _aa_line(alpha, (x, y), (x1, y1), width)
        if depth < 5 and width > 0.6:
            for turn in rng.uniform(-0.7, 0.7, int(rng.integers(1, 4))):
                stack.append((x1, y1, angle + turn, width * rng.uniform(0.6, 0.85), depth + 1))


def _lettering(alpha: np.ndarray, rng: np.random.Generator) -> None:
    """A line of lettering (a shop sign, a caption): random capitals 6-30 px tall."""
    h, w = alpha.shape
    layer = np.zeros((h, w), np.uint8)
    text = "".join(rng.choice(list("ABCDEFGHIJKLMNOPRSTUVWY &.,0123456789"), int(rng.integers(3, 16))))
    scale = rng.uniform(0.25, 1.1)
    font = int(rng.choice([cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_PLAIN]))
    org = (int(rng.uniform(-0.2, 0.7) * w), int(rng.uniform(0.1, 1.0) * h))
    cv2.putText(layer, text, org, font, scale, 255, int(rng.integers(1, 3)), cv2.LINE_AA)
    np.maximum(alpha, layer.astype(np.float32) / 255.0, out=alpha)


_STRUCTURES = (_wires, _railing, _window_grid, _twigs, _lettering)


def paint_structures(image: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """Paint 1-3 thin real structures (wires, a railing, window bars, bare twigs, lettering)
    into a clean photo, before it is aged: they take the photo's blur and grain, as scene
    content does, and are never part of the damage ground truth (negatives that look like
    scratches and cracks).

    Args:
        image: (H, W, 3) float32 in [0, 1], the clean photo.
        rng: random generator.

    Returns:
        (H, W, 3) float32 in [0, 1]; each structure dark (70 %) or light against its surroundings.
    """
    out = _check_image(image).copy()
    for _ in range(int(rng.integers(1, 4))):
        alpha = np.zeros(out.shape[:2], np.float32)
        _STRUCTURES[int(rng.integers(len(_STRUCTURES)))](alpha, rng)
        level = rng.uniform(0.0, 0.25) if rng.random() < 0.7 else rng.uniform(0.7, 1.0)
        alpha *= rng.uniform(0.5, 1.0)
        out += (level - out) * alpha[..., None]
    return np.clip(out, 0.0, 1.0)


_SIGN_FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_SCRIPT_COMPLEX,
)  # printed capitals and serifs, and two handwriting-like script faces
_SIGN_CHARACTERS = list("ABCDEFGHIJKLMNOPRSTUVWYabcdefghiklmnoprstuwy    &.,-/0123456789")


def _sign_text(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Lines of writing on a card of ``shape`` (H, W): (H, W) float32 ink coverage in [0, 1].
    1-6 lines, each its own size (letters 5-30 px tall), face (printed, italic or script) and
    stroke (1 px below 12 px tall, else 1-2 px), centred or from the left, some running off the card."""
    h, w = shape
    layer = np.zeros((h, w), np.uint8)
    y = rng.uniform(0.05, 0.3) * h
    for _ in range(int(rng.integers(1, 7))):
        height = math.exp(rng.uniform(math.log(5.0), math.log(30.0)))
        font = int(_SIGN_FONTS[int(rng.integers(len(_SIGN_FONTS)))]) | (cv2.FONT_ITALIC if rng.random() < 0.2 else 0)
        scale = height / 22.0  # Hershey capitals are about 22 px tall at scale 1
        text = "".join(rng.choice(_SIGN_CHARACTERS, int(rng.integers(3, 24)))).strip() or "A"
        thickness = 1 if height < 12 or rng.random() < 0.6 else 2
        (width, _), _ = cv2.getTextSize(text, font, scale, thickness)
        y += height * rng.uniform(1.1, 1.8)
        x = (w - width) / 2 if rng.random() < 0.5 else rng.uniform(0.0, 0.2) * w
        cv2.putText(layer, text, (int(x), int(y)), font, scale, 255, thickness, cv2.LINE_AA)
        if y > h:
            break
    return layer.astype(np.float32) / 255.0


def paint_signs(image: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """Paint a sign, label or placard into a clean photo: a card 15-90 % of the photo's sides,
    light (70 %) or dark, turned up to 20 degrees, with a frame a third of the time and lines of
    printed or handwritten writing in the opposite tone (:func:`_sign_text`).
    Writing is part of the scene, never damage (the learned detector read the handwritten price
    cards of a sharp shop-window photo as scratches: the training script leaves a sign crop
    unaged, its writing as crisp as the damage painted over it).

    Args:
        image: (H, W, 3) float32 in [0, 1], the clean photo.
        rng: random generator.

    Returns:
        (H, W, 3) float32 in [0, 1].
    """
    out = _check_image(image).copy()
    h, w = out.shape[:2]
    card_h, card_w = (max(8, int(rng.uniform(0.15, 0.9) * side)) for side in (h, w))
    light_card = rng.random() < 0.7
    card_tone = rng.uniform(0.75, 1.0) if light_card else rng.uniform(0.0, 0.3)
    ink_tone = rng.uniform(0.0, 0.2) if light_card else rng.uniform(0.8, 1.0)
    card = np.ones((card_h, card_w), np.float32)
    ink = _sign_text((card_h, card_w), rng) * rng.uniform(0.8, 1.0)
    if rng.random() < 0.33:
        frame = np.zeros((card_h, card_w), np.uint8)
        inset = int(rng.integers(1, max(2, min(card_h, card_w) // 8)))
        cv2.rectangle(frame, (inset, inset), (card_w - 1 - inset, card_h - 1 - inset), 255, int(rng.integers(1, 3)))
        ink = np.maximum(ink, frame.astype(np.float32) / 255.0)
    # place the card's centre anywhere on the photo, turned about it
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    turn = cv2.getRotationMatrix2D((card_w / 2, card_h / 2), rng.uniform(-20, 20), 1.0)
    turn[:, 2] += (cx - card_w / 2, cy - card_h / 2)
    placed_card, placed_ink = (
        cv2.warpAffine(layer, turn, (w, h), flags=cv2.INTER_LINEAR, borderValue=0.0) for layer in (card, ink)
    )
    out += (card_tone - out) * placed_card[..., None] * rng.uniform(0.85, 1.0)
    out += (ink_tone - out) * placed_ink[..., None]
    return np.clip(out, 0.0, 1.0)


def _threads(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Lace, a net or knitwear: (H, W) float32 coverage in [0, 1] of a lattice of threads 0.6-2 px
    wide, cells 3-16 px; two families of parallel threads at 30-90 degrees (a net, knotted at the
    crossings half the time) or rows of chevrons (knitting), gently warped as cloth drapes."""
    h, w = shape
    cell = math.exp(rng.uniform(math.log(3.0), math.log(16.0)))
    width = rng.uniform(0.6, max(0.7, min(2.0, cell / 2.5)))
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    drape, amp = rng.uniform(20, 80), rng.uniform(0.0, 0.6) * cell
    x = gx + (_smooth_noise((h, w), rng=rng, cell=drape) - 0.5) * 2 * amp
    y = gy + (_smooth_noise((h, w), rng=rng, cell=drape) - 0.5) * 2 * amp
    theta = rng.uniform(0, math.pi)
    phi = theta + rng.uniform(math.pi / 6, math.pi / 2) * rng.choice([-1.0, 1.0])
    u = (x * math.cos(theta) + y * math.sin(theta)) / cell
    v = (x * math.cos(phi) + y * math.sin(phi)) / cell
    if rng.random() < 0.3:  # knitting: one family of threads bent into chevrons row by row
        u = u + rng.uniform(0.3, 0.8) * 2 * np.abs(v - np.floor(v) - 0.5)
        families = [u]
    else:
        families = [u, v]
    offsets = [cell * np.abs(f - np.round(f)) for f in families]  # px from the nearest thread
    coverage = np.max([np.clip(width / 2 + 0.5 - d, 0.0, 1.0) for d in offsets], axis=0)
    if len(families) == 2 and rng.random() < 0.5:
        knot = rng.uniform(0.8, 1.6) * width
        coverage = np.maximum(coverage, np.clip(knot + 0.5 - np.hypot(*offsets), 0.0, 1.0))
    return coverage.astype(np.float32)


def paint_mesh(image: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """Paint a patch of lace, net or knitwear (:func:`_threads`) over a smooth random region of
    a clean photo (a quarter of the photo on median, 4-66 % in nine draws of ten), before it is
    aged: a regular mesh of thin threads that is part of the scene, never damage (the learned
    detector read lace as crazing).

    Args:
        image: (H, W, 3) float32 in [0, 1], the clean photo.
        rng: random generator.

    Returns:
        (H, W, 3) float32 in [0, 1]: inside the region the cloth's ground is pulled towards a
        dark or light tone and its threads drawn in the other (light threads on dark cloth 70 %).
    """
    out = _check_image(image).copy()
    h, w = out.shape[:2]
    region = _smooth_noise((h, w), rng=rng, cell=max(h, w) / rng.uniform(1.0, 2.5))
    region = np.clip((region - rng.uniform(0.4, 0.85)) / 0.1, 0.0, 1.0)[..., None]
    light_threads = rng.random() < 0.7
    ground = rng.uniform(0.05, 0.35) if light_threads else rng.uniform(0.6, 0.95)
    thread = rng.uniform(0.55, 0.95) if light_threads else rng.uniform(0.05, 0.4)
    out += (ground - out) * region * rng.uniform(0.3, 0.9)
    out += (thread - out) * region * _threads((h, w), rng)[..., None] * rng.uniform(0.5, 1.0)
    return np.clip(out, 0.0, 1.0)


def _halftone_screen(shape: tuple[int, int], period: float, angle: float) -> np.ndarray:
    """A round-dot screen: (H, W) float32 threshold in [0, 1] with its lowest values at dot
    centres ``period`` px apart on a grid turned by ``angle`` radians."""
    h, w = shape
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    u = (gx * math.cos(angle) + gy * math.sin(angle)) * (2 * math.pi / period)
    v = (gy * math.cos(angle) - gx * math.sin(angle)) * (2 * math.pi / period)
    return (0.5 - (np.cos(u) + np.cos(v)) / 4).astype(np.float32)


def paint_halftone(image: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """Reprint a clean photo through a halftone screen, as a newspaper, book or postcard
    reproduction of it is (before it is aged): round dots of ink on a grid 2.5-7 px apart,
    turned 0-90 degrees (45 on most screens), their size following the tone, then the scan's
    softness. A regular pattern of small dark dots that is part of the print, never damage (the
    learned detector read a halftone face as crazing and missed the cracks across it).

    Args:
        image: (H, W, 3) float32 in [0, 1], the clean photo.
        rng: random generator.

    Returns:
        (H, W, 3) float32 in [0, 1]: each pixel's colour scaled to the screened tone, mixed
        with the photo as it was at 60-100 % strength.
    """
    out = _check_image(image)
    tone = out.mean(axis=2)
    period = math.exp(rng.uniform(math.log(2.5), math.log(7.0)))
    angle = math.radians(45.0 if rng.random() < 0.6 else rng.uniform(0.0, 90.0))
    ink = np.clip((1.0 - tone - _halftone_screen(tone.shape, period, angle)) / 0.12 + 0.5, 0.0, 1.0)
    dark, paper = rng.uniform(0.0, 0.15), rng.uniform(0.85, 1.0)  # ink and paper
    screened = cv2.GaussianBlur(paper - ink * (paper - dark), (0, 0), rng.uniform(0.3, 0.3 * period))
    ratio = (screened / np.maximum(tone, 1e-3))[..., None]
    strength = rng.uniform(0.6, 1.0)
    return np.clip(out + (np.clip(out * ratio, 0.0, 1.0) - out) * strength, 0.0, 1.0).astype(np.float32)


def _count(value: float, area_scale: float, rng: np.random.Generator) -> int:
    return int(rng.integers(0, int(round(value * area_scale)) + 1))


def damage_geometry(shape: tuple[int, int], *, rng: np.random.Generator, mix: DamageMix = DEFAULT_MIX) -> dict[str, np.ndarray]:
    """Geometry of one photo's damage, one (H, W) uint8 layer per way it is painted, {0, 1}
    except ``scuffs`` (stroke labels 1-255, 0 = none).

    Layers: ``strokes`` (scratches, cracks, scratch fields, crazing, creases, specks, spots, dust
    fields: white or black paint), ``halo`` (the faint band of creases), ``hairs``, ``stains``,
    ``tears`` (paper loss), ``scuffs``. Counts are scaled with the area (``mix`` is per
    512 x 512 px).
    """
    h, w = int(shape[0]), int(shape[1])
    if h < 8 or w < 8:
        raise ValueError(f"shape must be at least 8 x 8 px, got {shape}")
    scale = h * w / 512.0**2
    layers = {name: np.zeros((h, w), np.uint8) for name in ("strokes", "halo", "hairs", "stains", "tears", "scuffs")}
    if rng.random() < mix.clean_p:
        return layers
    strokes = layers["strokes"]
    for _ in range(_count(mix.scratches, max(scale, 0.5), rng)):
        _add_scratch(strokes, rng)
    for _ in range(_count(mix.cracks, max(scale, 0.5), rng)):
        _add_crack(strokes, rng)
    for _ in range(_count(mix.specks, scale, rng)):
        _add_speck(strokes, rng)
    for _ in range(_count(mix.spots, scale, rng)):
        _spot(strokes, rng)
    if rng.random() < mix.scratch_field_p:
        _scratch_field(strokes, rng)
    if rng.random() < mix.crazing_p:
        _crazing(strokes, rng)
    if rng.random() < mix.crease_p:
        _crease(strokes, layers["halo"], rng)
    for _ in range(_count(mix.hairs, scale, rng)):
        _hair(layers["hairs"], rng)
    for _ in range(_count(mix.stains, scale, rng)):
        _stain(layers["stains"], rng)
    if rng.random() < mix.tear_p:
        _tear(layers["tears"], rng)
    if mix.scuffs_p > 0 and rng.random() < mix.scuffs_p:
        _scuffs(layers["scuffs"], rng)
    if mix.dust_p > 0 and rng.random() < mix.dust_p:
        _dust_field(strokes, rng)
    return layers


# --------------------------------------------------------------------------------------------
# Paint of the new kinds
# --------------------------------------------------------------------------------------------


def paint_halo(image: np.ndarray, halo: np.ndarray, *, rng: np.random.Generator) -> np.ndarray:
    """The crease's band: a soft, faint lightening or darkening (4-12 %); shading, not damage."""
    soft = cv2.GaussianBlur(halo.astype(np.float32), (0, 0), 2.0) * rng.uniform(0.04, 0.12)
    target = 1.0 if rng.random() < 0.6 else 0.0
    return image + (target - image) * soft[..., None]


def _paint_hairs(image: np.ndarray, hairs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Hairs: dark (80 %) or white, opacity 0.5-1, edges softened by half a pixel."""
    level = rng.uniform(0.0, 0.15) if rng.random() < 0.8 else rng.uniform(0.85, 1.0)
    alpha = cv2.GaussianBlur(hairs.astype(np.float32), (0, 0), 0.5) * rng.uniform(0.5, 1.0)
    alpha = np.where(hairs > 0, np.maximum(alpha, 0.5), alpha)
    return image + (level - image) * alpha[..., None]


def _paint_stains(image: np.ndarray, stains: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Stains: a brownish or grey tint (multiply 0.55-0.85, or a bleached lift) with a darker
    rim 1-3 px wide, and a mottled inside."""
    out = image.copy()
    count, labels = cv2.connectedComponents(stains, connectivity=8)
    mottle = 0.7 + 0.3 * _smooth_noise(stains.shape, rng=rng, cell=8)
    for label in range(1, count):
        blob = (labels == label).astype(np.uint8)
        rim = blob - cv2.erode(blob, np.ones((3, 3), np.uint8), iterations=int(rng.integers(1, 4)))
        tint = np.array([1.0, rng.uniform(0.85, 0.95), rng.uniform(0.65, 0.85)], np.float32)
        strength = rng.uniform(0.15, 0.45)
        inside = blob > 0
        if rng.random() < 0.75:
            factor = 1 - strength * (1 - tint * 0.9)
            factor_rim = 1 - min(1.0, 1.6 * strength) * (1 - tint * 0.7)
            out[inside] *= (1 - (1 - factor) * mottle[inside, None])
            out[rim > 0] *= factor_rim
        else:  # bleached
            out[inside] += (1 - out[inside]) * strength * mottle[inside, None]
    return out


def _paint_scuffs(image: np.ndarray, scuffs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Scuffs: light (75 %) or dark paint, one level for the patch, each stroke at its own
    opacity 0.15-0.6, only on the stroke's pixels (1-2 px wide, as real scuffs are)."""
    level = rng.uniform(0.8, 1.0) if rng.random() < 0.75 else rng.uniform(0.0, 0.2)
    opacity = rng.uniform(0.15, 0.6, 256).astype(np.float32)
    opacity[0] = 0.0
    return image + (level - image) * opacity[scuffs][..., None]


def _paint_tears(image: np.ndarray, tears: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Paper loss: the region shows paper or card (cream, 0.75-0.97, with fibres) or the
    scanner's dark lid (0.02-0.2); a 1-3 px lighter fringe of torn fibres inside its edge."""
    out = image.copy()
    inside = tears > 0
    h, w = tears.shape
    fibres = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 1.0) * 0.02
    if rng.random() < 0.7:
        base = np.array([1.0, rng.uniform(0.94, 1.0), rng.uniform(0.84, 0.96)], np.float32) * rng.uniform(0.75, 0.97)
    else:
        base = np.full(3, rng.uniform(0.02, 0.2), np.float32)
    fill = np.clip(base + fibres[..., None], 0, 1)
    out[inside] = fill[inside]
    fringe = (tears > 0) & (cv2.erode(tears, np.ones((3, 3), np.uint8), iterations=int(rng.integers(1, 3))) == 0)
    out[fringe] = np.clip(0.5 * out[fringe] + 0.5 * rng.uniform(0.85, 1.0), 0, 1)
    return out


def paint_damage(image: np.ndarray, layers: dict[str, np.ndarray], *, rng: np.random.Generator) -> np.ndarray:
    """Paint every layer of :func:`damage_geometry` into ``image``, only inside its layers.

    Strokes are painted by :func:`degrade.apply_damage` (white or black per stroke; here 35 %
    black), then stains, hairs, tears and scuffs. The crease halos are not painted here (see
    :func:`paint_halo`: shading, not damage).

    Args:
        image: (H, W, 3) float32 in [0, 1], the aged photo.
        layers: from :func:`damage_geometry`.
        rng: random generator.

    Returns:
        (H, W, 3) float32 in [0, 1]; equal to ``image`` outside the layers.
    """
    out = _check_image(image).copy()
    if layers["strokes"].any():
        out = apply_damage(out, layers["strokes"] > 0, rng=rng, dark_fraction=0.35)
    if layers["stains"].any():
        out = _paint_stains(out, layers["stains"], rng)
    if layers["hairs"].any():
        out = _paint_hairs(out, layers["hairs"], rng)
    if layers["tears"].any():
        out = _paint_tears(out, layers["tears"], rng)
    if layers["scuffs"].any():
        out = _paint_scuffs(out, layers["scuffs"], rng)
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def synthesize(
    image: np.ndarray, *, rng: np.random.Generator, mix: DamageMix = DEFAULT_MIX, age: bool = True,
    structures_p: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Age a clean photo, damage it, then (sometimes) JPEG it: one training or scoring case.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1], at least 8 x 8 px.
        rng: random generator; the same state gives the same result.
        mix: how much of each kind of damage (:class:`DamageMix`).
        age: age the photo first (``degrade.degrade`` without scratches or JPEG).
        structures_p: probability of painting thin real structures first
            (:func:`paint_structures`, negatives); at 0 (the benchmarks' default) no random
            number is drawn for them, so scored cases do not change.

    Returns:
        (damaged (H, W, 3) float32 in [0, 1], ground truth (H, W) bool: the pixels the paint
        changed by at least ``degrade.VISIBLE_CHANGE``).
    """
    out = _check_image(image)
    if structures_p > 0 and rng.random() < structures_p:
        out = paint_structures(out, rng=rng)
    if age:
        out, _ = degrade(out, rng=rng, scratches=False, jpeg_p=0.0)
    layers = damage_geometry(out.shape[:2], rng=rng, mix=mix)
    out = np.clip(paint_halo(out, layers["halo"], rng=rng), 0.0, 1.0) if layers["halo"].any() else out
    painted = paint_damage(out, layers, rng=rng)
    truth = changed_mask(out, painted)
    if rng.random() < mix.jpeg_p:
        painted = jpeg(painted, quality=int(rng.integers(50, 95)))
    return painted, truth
