"""Film grain, soft focus and fading: estimate the degradation, then repair it globally.

Following Wan et al. (CVPR 2020), grain, blur and fading are global degradations that need a
global repair, unlike scratches. The stage estimates them from the photo (noise level and grain
size, Gaussian blur, faded range, colour cast and whether the print is gray, toned or colour),
reports the estimates, and then, classically: denoises luminance and chroma, deconvolves the
estimated blur without sharpening grain back in, and restores contrast and white balance while a
toned print keeps its tone (``keep_tone``). With the diffusion engine the classical result is
refined SDEdit-style on overlapping tiles at the model's working size (all-white mask, a low
``strength`` tied to the estimated degradation), blended seamlessly, and only the refinement's
fine detail is kept: the low frequencies are the classical result's, so the model cannot move
shapes or tones; the findings say how far the output drifted from the classical result.

References:
    Wan et al., "Bringing Old Photos Back to Life", CVPR 2020.
    Meng et al., "SDEdit: Guided Image Synthesis and Editing with Stochastic Differential
    Equations", ICLR 2022.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from .. import zerogpu
from ..classical.grain import NoiseEstimate, denoise, estimate_noise
from ..classical.sharpen import deblur, estimate_blur
from ..classical.tone import ToneEstimate, correct_tone, estimate_tone
from ..errors import InputError
from ..regions import keep_fine_change, tiles_covering
from ..sdedit import sdedit_tiles
from .context import Stage, StageContext, StageOutput

__all__ = ["STAGE", "DenoiseOptions", "Degradation", "estimate", "keep_low_frequencies", "run"]

logger = logging.getLogger(__name__)

LEVELS = 255.0
"""Noise levels are shown to users in 8-bit levels (standard deviation x 255)."""
MAX_GRAIN_LEVELS = 50.0
MAX_GRAIN_SCALE = 2.0
MAX_SHARPEN_SIGMA = 5.0
MAX_STRENGTH = 0.6
_TILE_OVERLAP_SHARE = 8  # tiles overlap by 1/8 of their side (64 px at SD 1.5's 512)
_DETAIL_SIGMA = 3.0  # px: the refinement keeps only detail finer than this; coarser is classical
_STRENGTH_FLOOR, _STRENGTH_CEILING = 0.15, 0.4


@dataclass(frozen=True)
class DenoiseOptions:
    """Options of the denoise stage; None means "estimated from the photo".

    Attributes:
        grain: noise to remove, in 8-bit levels (standard deviation), 0..50; 0 = off.
        grain_scale: without ``grain``, the share of the measured grain to remove, 0..2 (1 = as
            measured, 0 = keep the grain); the result is capped at ``MAX_GRAIN_LEVELS``.
        sharpen: blur to undo, as a Gaussian sigma in px, 0..5; 0 = off.
        fade: fading and colour-cast correction, 0 (none) .. 1 (full); None = 1, which does
            nothing to a photo with a full range and no cast.
        keep_tone: keep a toned (sepia, selenium, cyanotype) print's tone; False neutralises it.
        strength: diffusion refinement strength, 0.05..0.6 (diffusion engine only); None =
            tied to the estimated degradation (0.15..0.4).
    """

    grain: float | None = field(
        default=None, metadata={"help": "grain/noise to remove, in 8-bit levels (0 = off; default: estimated)", "type": float}
    )
    grain_scale: float = field(
        default=1.0, metadata={"help": "without --grain, the share of the measured grain to remove, 0-2 (1 = as measured)"}
    )
    sharpen: float | None = field(
        default=None, metadata={"help": "blur to undo, Gaussian sigma in px (0 = off; default: estimated)", "type": float}
    )
    fade: float | None = field(
        default=None, metadata={"help": "fading and colour-cast correction, 0-1 (default: 1, a no-op on unfaded photos)", "type": float}
    )
    keep_tone: bool = field(default=True, metadata={"help": "keep a sepia or other toned print's tone"})
    strength: float | None = field(
        default=None,
        metadata={"help": "diffusion refinement strength, 0.05-0.6 (diffusion engine; default: from the degradation)", "type": float},
    )

    def __post_init__(self) -> None:
        _check_range("grain", self.grain, 0.0, MAX_GRAIN_LEVELS, "8-bit levels")
        _check_range("grain_scale", self.grain_scale, 0.0, MAX_GRAIN_SCALE, "")
        _check_range("sharpen", self.sharpen, 0.0, MAX_SHARPEN_SIGMA, "px")
        _check_range("fade", self.fade, 0.0, 1.0, "")
        _check_range("strength", self.strength, 0.05, MAX_STRENGTH, "")

    def diffusion_only(self) -> list[str]:
        """The options set here that only the diffusion engine can honour."""
        return ["strength"] if self.strength is not None else []


def _check_range(name: str, value: float | None, low: float, high: float, unit: str) -> None:
    if value is None:
        return
    if not isinstance(value, (int, float, np.number)) or not low <= float(value) <= high:
        raise InputError(f"{name} must be between {low:g} and {high:g}{' ' + unit if unit else ''}, got {value!r}")


@dataclass(frozen=True)
class Degradation:
    """What the stage measured on a photo.

    Attributes:
        noise: grain level (luminance and chroma, in [0, 1] units), grain size and per channel.
        blur_sigma: Gaussian blur of the sharpest structure, px (about 0 for a sharp photo).
        tone: black and white points, fade in [0, 1], colour cast, gray / toned / colour.
    """

    noise: NoiseEstimate
    blur_sigma: float
    tone: ToneEstimate

    def findings(self) -> dict:
        """JSON-serialisable estimates, in the units the app and CLI show."""
        return {
            "noise_levels": round(self.noise.sigma * LEVELS, 2),
            "chroma_noise_levels": round(self.noise.chroma_sigma * LEVELS, 2),
            "grain_size_px": round(self.noise.correlation, 2),
            "blur_sigma_px": round(self.blur_sigma, 2),
            "fade": round(self.tone.fade, 3),
            "cast_ab": [round(float(v), 2) for v in self.tone.cast],
            "black_point": round(self.tone.black, 3),
            "white_point": round(self.tone.white, 3),
            "tone": self.tone.kind,
        }


def estimate(image: np.ndarray) -> Degradation:
    """Grain, blur and fading of ``image`` (H, W, 3) float32 RGB in [0, 1]."""
    noise = estimate_noise(image)
    return Degradation(noise=noise, blur_sigma=estimate_blur(image, noise_sigma=noise.sigma), tone=estimate_tone(image))


def run(image: np.ndarray, context: StageContext) -> StageOutput:
    """Estimate grain, blur and fading, repair them, and refine with diffusion when it runs.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1].
        context: options (``context.stage_options`` is a :class:`DenoiseOptions`), the engine
            (None = classical) and progress reporting.

    Returns:
        StageOutput with the (H, W, 3) result, no mask, and findings: the estimates (see
        :meth:`Degradation.findings`), ``applied`` (the grain, sharpen and fade used), and with
        diffusion ``tiles``, ``strength`` and ``drift_levels`` (mean absolute difference from the
        classical result, 8-bit levels).
    """
    options: DenoiseOptions = context.stage_options
    context.report(0.0, "measuring grain, blur and fading")
    measured = estimate(image)
    if options.grain is None:
        grain = min(measured.noise.sigma * options.grain_scale, MAX_GRAIN_LEVELS / LEVELS)
    else:
        grain = options.grain / LEVELS
    sharpen = measured.blur_sigma if options.sharpen is None else options.sharpen
    fade = 1.0 if options.fade is None else options.fade
    context.report(0.1, "removing grain")
    chroma = measured.noise.chroma_sigma * (grain / measured.noise.sigma if measured.noise.sigma > 0 else 1.0)
    result = denoise(image, sigma=grain, chroma_sigma=chroma, correlation=measured.noise.correlation)
    context.report(0.4, "sharpening")
    result = deblur(result, blur_sigma=sharpen, noise_sigma=grain)
    context.report(0.55, "restoring contrast and colour balance")
    result = correct_tone(result, measured.tone, strength=fade, keep_tone=options.keep_tone)
    findings = measured.findings() | {
        "applied": {"grain_levels": round(grain * LEVELS, 2), "sharpen_sigma_px": round(sharpen, 2), "fade": fade}
    }
    if context.engine is not None:
        result, findings["tiles"], findings["strength"], findings["drift_levels"] = _refine(result, measured, context, options)
    return StageOutput(np.clip(result, 0.0, 1.0).astype(np.float32), None, findings)


def _refine(classical: np.ndarray, measured: Degradation, context: StageContext, options: DenoiseOptions):
    """SDEdit refinement of the classical result on seamless tiles, keeping its low frequencies.

    Returns (image, tiles, strength, drift in 8-bit levels).
    """
    strength = options.strength if options.strength is not None else _strength_for(measured)
    settings = context.inpaint_settings(strength=strength)
    size = context.engine.working_size
    overlap = size // _TILE_OVERLAP_SHARE
    tiles = len(tiles_covering(*classical.shape[:2], size=size, overlap=overlap))
    context.report(0.6, f"refining {tiles} tiles with the model ({settings.unet_steps} steps each)")
    refined = zerogpu.run_on_gpu(
        sdedit_tiles, classical, settings, size=size, overlap=overlap, windows=tiles, steps=settings.unet_steps
    )
    result = keep_low_frequencies(refined, classical)
    drift = float(np.abs(result - classical).mean() * LEVELS)
    return result, tiles, round(strength, 3), round(drift, 2)


def _strength_for(measured: Degradation) -> float:
    """SDEdit strength from the degradation: 0.15 for a clean photo, up to 0.4 for heavy grain or blur."""
    grain_levels = measured.noise.sigma * LEVELS
    amount = _STRENGTH_FLOOR + 0.01 * grain_levels + 0.05 * measured.blur_sigma
    return float(min(_STRENGTH_CEILING, max(_STRENGTH_FLOOR, amount)))


def keep_low_frequencies(refined: np.ndarray, reference: np.ndarray, *, sigma: float = _DETAIL_SIGMA) -> np.ndarray:
    """``reference`` plus the detail of ``refined`` finer than ``sigma`` px.

    The model's output is trusted only for fine detail (grain-free texture, crisp edges); the
    tones, shapes and colours, everything coarser than ``sigma``, stay the reference's.

    Args:
        refined, reference: (H, W, 3) float32 RGB in [0, 1].
        sigma: Gaussian sigma of the split between kept and replaced frequencies, px > 0.

    Returns:
        (H, W, 3) float32 in [0, 1].
    """
    if refined.shape != reference.shape:
        raise InputError(f"keep_low_frequencies needs matching shapes, got {refined.shape} and {reference.shape}")
    return np.clip(reference + keep_fine_change(refined - reference, sigma=sigma), 0.0, 1.0).astype(np.float32)


STAGE = Stage(
    name="denoise",
    title="Denoise / Deblur",
    description="remove film grain, sharpen soft focus, restore faded contrast and colour casts",
    options=DenoiseOptions,
    run=run,
)
