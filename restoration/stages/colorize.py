"""Colour for black-and-white and sepia photos, taken from a reference photo and colour hints.

The photo's own lightness is kept exactly: only chroma (CIE a*b*) is computed, at a working
size, then upsampled edge-aware against the full-resolution lightness and clamped to the valid
Lab / sRGB gamut, so structure and sharpness are exactly the input's. Sepia and other toned
prints count as monochrome: only their lightness is used.

Classical engine (needs a reference): chroma is matched by local content from a colour
reference photo (:mod:`restoration.classical.colour_transfer`: Welsh et al.'s luminance
statistics on superpixels, a Pik-Fix-style spatial colour-histogram prior), then smoothed with a
guided filter so colours stay inside their objects. Diffusion engine: with a reference, the
transferred colours are harmonised by the shared model (SDEdit-style, low strength, all-white
mask, on tiles at its working size); without one, the model colours the gray photo alone from a
prompt written for old photographs. Either way only the model's chroma is kept. Colour hints
(points or strokes with a colour, "the dress was red") then override locally, spreading along
geodesic distances that stop at edges.

References:
    Welsh, Ashikhmin and Mueller, "Transferring Color to Greyscale Images", SIGGRAPH 2002.
    Xu et al., "Pik-Fix: Restoring and Colorizing Old Photos", WACV 2023.
    Levin, Lischinski and Weiss, "Colorization using Optimization", SIGGRAPH 2004.
    Meng et al., "SDEdit", ICLR 2022.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

from .. import zerogpu
from ..classical.colour_transfer import chroma_spread, resize_long_side, transfer_chroma
from ..classical.edge_aware import (
    clamp_to_gamut,
    guided_filter,
    guided_upsample,
    lab_to_rgb,
    rgb_to_lab,
    spread_hints,
)
from ..errors import InputError
from ..regions import tiles_covering
from ..sdedit import sdedit_tiles
from ..validation import check_rgb
from .context import Stage, StageContext, StageOutput

__all__ = ["STAGE", "ColorizeOptions", "Hint", "parse_hints", "hints_from_painting", "run", "COLOUR_PROMPT", "HARMONY_PROMPT"]

logger = logging.getLogger(__name__)

Hint = tuple[float, float, float, tuple[int, int, int]]
"""A colour hint: (x, y, radius) in the photo's pixels and an (r, g, b) colour in 0..255."""

WORKING_SIDE = 384
"""Longer side (px) of the grid the classical chroma is computed on."""
MIN_REFERENCE_SPREAD = 5.0
"""A reference whose a*b* vary less than this (sqrt(var a* + var b*)) is gray or toned."""
MAX_HINTS = 20000
COLOUR_PROMPT = (
    "a colourised old photograph, natural realistic colours, natural skin tones, "
    "period clothing, soft daylight, detailed"
)
HARMONY_PROMPT = "a colour photograph, natural harmonious colours, natural skin tones, detailed"
COLOUR_NEGATIVE_PROMPT = (
    "black and white, monochrome, grayscale, sepia, oversaturated, neon colours, colour bleeding, "
    "blue tint, purple tint, brown tint, text, watermark"
)
_SMOOTH_RADIUS, _SMOOTH_EPS = 4, 2e-3  # guided filter on the working grid (guide = L*/100)
_UPSAMPLE_EPS = 1e-3
_DIFFUSION_TILES_ACROSS = 1.5  # the model sees the photo at up to 1.5 x its working size
_TILE_OVERLAP_SHARE = 8
_STRENGTH_WITH_REFERENCE, _STRENGTH_ALONE = 0.35, 0.75


@dataclass(frozen=True)
class ColorizeOptions:
    """Options of the colorize stage.

    Attributes:
        reference: a colour photo (H, W, 3) float32 RGB in [0, 1] whose colours are transferred;
            None = none (the diffusion engine then colours alone; the classical engine refuses).
        hints: colour hints, each ``(x, y, radius, (r, g, b))`` in the photo's pixels with r, g, b
            in 0..255, or dicts ``{"x", "y", "radius", "colour"}`` / strokes ``{"points":
            [[x, y], ...], "radius", "colour"}`` with the colour as [r, g, b] or "#rrggbb"
            (see :func:`parse_hints`); normalised to a tuple of :data:`Hint`.
        hint_reach: how far a hint's colour spreads inside its object, as a share of the
            photo's longer side, 0.01..1.
        colour_strength: SDEdit strength of the diffusion pass, 0.1..1 (diffusion engine only); None =
            0.35 with a reference, 0.75 without.
    """

    reference: np.ndarray | None = field(default=None, metadata={"input": "reference"})
    hints: tuple = field(default=(), metadata={"input": "hints"})
    hint_reach: float = field(
        default=0.15, metadata={"help": "how far a colour hint spreads inside its object, share of the photo's side (0.01-1)"}
    )
    colour_strength: float | None = field(
        default=None,
        metadata={"help": "diffusion strength, 0.1-1 (diffusion engine; default 0.35 with a reference, 0.75 without)", "type": float},
    )

    def __post_init__(self) -> None:
        if self.reference is not None:
            reference = check_rgb(np.asarray(self.reference), min_side=8, what="the reference photo")
            if chroma_spread(reference) < MIN_REFERENCE_SPREAD:
                raise InputError(
                    "the reference photo has no colours to transfer (it is gray or toned, like sepia); "
                    "choose a colour photo of a similar scene"
                )
            object.__setattr__(self, "reference", reference)
        object.__setattr__(self, "hints", parse_hints(self.hints))
        if not isinstance(self.hint_reach, (int, float)) or not 0.01 <= float(self.hint_reach) <= 1.0:
            raise InputError(f"hint_reach must be between 0.01 and 1, got {self.hint_reach!r}")
        if self.colour_strength is not None and (
            not isinstance(self.colour_strength, (int, float)) or not 0.1 <= float(self.colour_strength) <= 1.0
        ):
            raise InputError(f"colour_strength must be between 0.1 and 1, got {self.colour_strength!r}")

    def diffusion_only(self) -> list[str]:
        """The options set here that only the diffusion engine can honour."""
        return ["colour_strength"] if self.colour_strength is not None else []

    def check(self, common) -> None:
        """Refuse the classical engine without a reference (it has nothing to take colours from)."""
        if common.engine == "classical" and self.reference is None:
            raise InputError(_NO_REFERENCE)


_NO_REFERENCE = (
    "colorize needs a colour reference photo on the classical engine (--reference REF, or the "
    "reference photo box); without a reference, choose the diffusion engine (it needs its weights)"
)


# ---------------------------------------------------------------------------------- hints


def parse_hints(value: object) -> tuple[Hint, ...]:
    """Colour hints in their canonical form: a tuple of ``(x, y, radius, (r, g, b))``.

    Args:
        value: None, or a sequence of hints, each a ``(x, y, radius, (r, g, b))`` tuple/list,
            a point dict ``{"x": 120, "y": 80, "radius": 10, "colour": [200, 30, 30]}`` or a stroke
            dict ``{"points": [[x, y], ...], "radius": 10, "colour": "#c81e1e"}`` ("color" is
            accepted too). Coordinates and radius in the photo's pixels; r, g, b in 0..255. A
            stroke becomes points every half radius along it.

    Returns:
        tuple of hints (x, y, radius as floats; colour as ints).

    Raises:
        InputError: naming the first malformed hint.
    """
    if value is None:
        return ()
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise InputError(f"hints must be a list of hints, got {type(value).__name__}")
    hints: list[Hint] = []
    for number, item in enumerate(value, start=1):
        try:
            hints += _parse_hint(item)
        except (TypeError, ValueError, KeyError, IndexError) as error:
            raise InputError(
                f"colour hint {number} is not understood ({error}); give (x, y, radius, (r, g, b)) or "
                '{"x": 10, "y": 20, "radius": 8, "colour": [200, 30, 30]}'
            ) from None
    if len(hints) > MAX_HINTS:
        raise InputError(f"too many colour hints ({len(hints)}); at most {MAX_HINTS}")
    return tuple(hints)


def _parse_hint(item: object) -> list[Hint]:
    if isinstance(item, Mapping):
        colour = _parse_colour(item["colour"] if "colour" in item else item["color"])
        radius = _positive(item.get("radius", 4.0), "radius")
        if "points" in item:
            return _stroke([(_finite(p[0]), _finite(p[1])) for p in item["points"]], radius, colour)
        return [(_finite(item["x"]), _finite(item["y"]), radius, colour)]
    x, y, radius, colour = item
    return [(_finite(x), _finite(y), _positive(radius, "radius"), _parse_colour(colour))]


def _stroke(points: list[tuple[float, float]], radius: float, colour) -> list[Hint]:
    if not points:
        raise ValueError("a stroke needs at least one point")
    hints = [(points[0][0], points[0][1], radius, colour)]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        steps = max(1, math.ceil(math.hypot(x1 - x0, y1 - y0) / max(radius / 2.0, 0.5)))
        hints += [(x0 + (x1 - x0) * t / steps, y0 + (y1 - y0) * t / steps, radius, colour) for t in range(1, steps + 1)]
    return hints


def _parse_colour(colour: object) -> tuple[int, int, int]:
    if isinstance(colour, str):
        text = colour.strip().lstrip("#")
        if len(text) != 6:
            raise ValueError(f"colour {colour!r} is not #rrggbb")
        return tuple(int(text[i : i + 2], 16) for i in (0, 2, 4))
    values = [float(v) for v in colour]
    if len(values) != 3 or not all(0.0 <= v <= 255.0 for v in values):
        raise ValueError(f"colour {colour!r} is not three values in 0..255")
    return tuple(int(round(v)) for v in values)


def _finite(value: object) -> float:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def _positive(value: object, name: str) -> float:
    number = _finite(value)
    if number <= 0:
        raise ValueError(f"{name} must be > 0, got {value!r}")
    return number


def hints_from_painting(
    layer: np.ndarray, box: tuple[int, int, int, int], photo_size: tuple[int, int], *, max_points: int = 4000
) -> tuple[Hint, ...]:
    """Colour hints from strokes painted on an editor canvas over the photo.

    Args:
        layer: (h, w, 4) uint8 RGBA canvas layer; painted pixels have alpha > 0, their RGB is the
            hint colour.
        box: (left, top, width, height) of the photo on the canvas, in canvas pixels.
        photo_size: (W, H) of the photo in pixels.
        max_points: painted pixels are subsampled on a regular grid to at most about this many.

    Returns:
        tuple of :data:`Hint` in photo pixels (empty when nothing is painted).
    """
    layer = np.asarray(layer)
    if layer.ndim != 3 or layer.shape[2] != 4:
        raise InputError(f"the hint layer must be an (h, w, 4) RGBA image, got shape {layer.shape}")
    left, top, width, height = box
    inside = layer[top : top + height, left : left + width]
    painted = inside[..., 3] > 0
    count = int(painted.sum())
    if not count:
        return ()
    stride = max(1, math.ceil(math.sqrt(count / max_points)))
    grid = np.zeros_like(painted)
    grid[::stride, ::stride] = True
    rows, columns = np.nonzero(painted & grid)
    scale = photo_size[0] / width
    radius = max(1.0, stride * scale * 0.75)
    return tuple(
        (
            float(np.clip((column + 0.5) * scale - 0.5, 0.0, photo_size[0] - 1.0)),
            float(np.clip((row + 0.5) * photo_size[1] / height - 0.5, 0.0, photo_size[1] - 1.0)),
            radius,
            tuple(int(v) for v in inside[row, column, :3]),
        )
        for row, column in zip(rows, columns)
    )


def _hint_seeds(hints: tuple[Hint, ...], full_shape, working_shape) -> list[tuple[np.ndarray, np.ndarray]]:
    """Hints rasterised on the working grid: one (seed mask, sRGB colour in [0, 1]) per distinct colour."""
    height, width = full_shape
    outside = [(x, y) for x, y, _, _ in hints if not (0 <= x < width and 0 <= y < height)]
    if outside:
        x, y = outside[0]
        raise InputError(f"colour hint at ({x:g}, {y:g}) is outside the {width}x{height} photo")
    scale = working_shape[1] / width
    masks: dict[tuple[int, int, int], np.ndarray] = {}
    for x, y, radius, colour in hints:
        mask = masks.setdefault(colour, np.zeros(working_shape, np.uint8))
        centre = (int(round((x + 0.5) * scale - 0.5)), int(round((y + 0.5) * scale - 0.5)))
        cv2.circle(mask, centre, max(0, int(round(radius * scale))), 1, thickness=-1)
    return [(mask.astype(bool), np.array(colour, np.float32) / 255.0) for colour, mask in masks.items()]


# ---------------------------------------------------------------------------------- stage


def run(image: np.ndarray, context: StageContext) -> StageOutput:
    """Colour ``image`` from the reference, the model and the hints; its lightness is kept.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1]; gray, gray-in-RGB, toned or colour (only its
            lightness is used).
        context: options (``context.stage_options`` is a :class:`ColorizeOptions`), the engine
            (None = classical) and progress reporting.

    Returns:
        StageOutput with the (H, W, 3) colour result (L* equal to the input's), no mask, and
        findings: ``reference`` (bool), ``hints`` (points), ``hinted_percent``, ``working_size``
        ([w, h]), ``mean_chroma`` (C* of the result), ``gamut_limited_percent``, ``input_tone``,
        and with diffusion ``tiles`` and ``strength``.

    Raises:
        InputError: no reference on the classical engine; a hint outside the photo.
    """
    options: ColorizeOptions = context.stage_options
    if options.reference is None and context.engine is None:
        raise InputError(_NO_REFERENCE)
    context.report(0.0, "reading the photo's lightness")
    lightness = rgb_to_lab(image)[..., 0]
    working = resize_long_side(lightness, WORKING_SIDE)
    guide = working / 100.0
    findings: dict = {
        "reference": options.reference is not None,
        "hints": len(options.hints),
        "working_size": [int(working.shape[1]), int(working.shape[0])],
        "input_tone": _tone_of(image),
    }
    chroma = np.zeros((*working.shape, 2), np.float32)
    if options.reference is not None:
        context.report(0.1, "matching colours from the reference")
        reference = _resized_like(options.reference, working.shape)
        chroma = guided_filter(guide, transfer_chroma(working, reference), radius=_SMOOTH_RADIUS, eps=_SMOOTH_EPS)
    if context.engine is not None:
        chroma, findings["tiles"], findings["strength"] = _model_chroma(lightness, chroma, working.shape, context, options)
    context.report(0.8, "spreading the colour hints")
    seeds = _hint_seeds(options.hints, lightness.shape, working.shape)
    reach = options.hint_reach * max(working.shape)
    chroma, hinted = spread_hints(working, chroma, seeds, reach=reach)
    findings["hinted_percent"] = round(100.0 * float((hinted > 0.5).mean()), 2)
    context.report(0.9, "applying the colour to the full-resolution photo")
    full = guided_upsample(lightness / 100.0, guide, chroma, radius=_SMOOTH_RADIUS, eps=_UPSAMPLE_EPS)
    clamped = clamp_to_gamut(lightness, full)
    findings["gamut_limited_percent"] = round(
        100.0 * float((np.hypot(*(full - clamped).transpose(2, 0, 1)) > 1.0).mean()), 2
    )
    findings["mean_chroma"] = round(float(np.hypot(clamped[..., 0], clamped[..., 1]).mean()), 2)
    result = np.clip(lab_to_rgb(lightness, clamped), 0.0, 1.0).astype(np.float32)
    return StageOutput(result, None, findings)


def _tone_of(image: np.ndarray) -> str:
    """"gray", "toned" (a constant tint, e.g. sepia) or "colour"."""
    chroma = rgb_to_lab(resize_long_side(image, 256))[..., 1:]
    if float(np.hypot(chroma[..., 0], chroma[..., 1]).mean()) < 2.0:
        return "gray"
    return "toned" if chroma_spread(image) < MIN_REFERENCE_SPREAD else "colour"


def _resized_like(reference: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The reference resized (area) to about as many pixels as the working grid ``shape``."""
    scale = math.sqrt(shape[0] * shape[1] / (reference.shape[0] * reference.shape[1]))
    size = (max(8, round(reference.shape[1] * scale)), max(8, round(reference.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return np.clip(cv2.resize(reference.astype(np.float32), size, interpolation=interpolation), 0.0, 1.0)


# ---------------------------------------------------------------------------------- diffusion


def _model_chroma(lightness, chroma, working_shape, context: StageContext, options: ColorizeOptions):
    """The model's chroma on the working grid: SDEdit of the transferred colours (or of the
    gray photo) on tiles at the model's working size. Returns (chroma, tiles, strength)."""
    with_reference = options.reference is not None
    strength = options.colour_strength or (_STRENGTH_WITH_REFERENCE if with_reference else _STRENGTH_ALONE)
    settings = dataclasses.replace(
        context.inpaint_settings(strength=strength),
        prompt=HARMONY_PROMPT if with_reference else COLOUR_PROMPT,
        negative_prompt=COLOUR_NEGATIVE_PROMPT,
    )
    size = context.engine.working_size
    model_lightness = resize_long_side(lightness, int(size * _DIFFUSION_TILES_ACROSS))
    model_chroma = cv2.resize(chroma, (model_lightness.shape[1], model_lightness.shape[0]), interpolation=cv2.INTER_LINEAR)
    start = np.clip(lab_to_rgb(model_lightness, clamp_to_gamut(model_lightness, model_chroma)), 0.0, 1.0)
    overlap = size // _TILE_OVERLAP_SHARE
    tiles = len(tiles_covering(*start.shape[:2], size=size, overlap=overlap))
    context.report(0.3, f"colouring {tiles} tiles with the model ({settings.unet_steps} steps each)")
    coloured = zerogpu.run_on_gpu(sdedit_tiles, start, settings, size=size, overlap=overlap, windows=tiles, steps=settings.unet_steps)
    predicted = rgb_to_lab(coloured)[..., 1:]
    result = cv2.resize(predicted, (working_shape[1], working_shape[0]), interpolation=cv2.INTER_AREA)
    return result.astype(np.float32), tiles, round(float(strength), 3)


STAGE = Stage(
    name="colorize",
    title="Colorize",
    description="colour a black-and-white or sepia photo from a colour reference photo and colour hints",
    options=ColorizeOptions,
    run=run,
    inputs=("reference", "hints"),
    adds_colour=True,
    chained_when=("reference", "hints"),
)
