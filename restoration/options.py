"""Options of one restoration request, validated once, shared by the pipeline and the stages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import InputError

__all__ = ["ENGINES", "MASK_MODES", "RestoreOptions"]

ENGINES = ("auto", "classical", "diffusion")
MASK_MODES = ("add", "replace")
MAX_STEPS = 200


@dataclass(frozen=True)
class RestoreOptions:
    """What the user asked for.

    Attributes:
        engine: ``"auto"`` (diffusion when its weights are here and a GPU is present, else
            classical), ``"classical"`` (no weights needed) or ``"diffusion"``.
        seed: random seed for the diffusion engine, >= 0; same seed and input, same output.
        steps: denoising steps, 1..200, or None for the sampler's default (25; fast mode 4).
        sensitivity: scratch detection sensitivity in [0, 1]; higher finds fainter damage.
        mask: user mask (H, W) float in [0, 1], 1 = damaged, at the photo's size, or None.
        mask_mode: ``"add"`` (union with the detected mask) or ``"replace"`` (skip detection).
        fast: LCM-LoRA fast mode (4-8 steps) for the diffusion engine.
        resample: RePaint resampling rounds per step for diffusion inpainting (1 = off).
        damage_prior: sharpen scratch detection with the diffusion model's damage prior.
    """

    engine: str = "auto"
    seed: int = 0
    steps: int | None = None
    sensitivity: float = 0.5
    mask: np.ndarray | None = None
    mask_mode: str = "add"
    fast: bool = False
    resample: int = 1
    damage_prior: bool = False

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise InputError(f"engine must be one of {', '.join(ENGINES)}; got {self.engine!r}")
        if not isinstance(self.seed, (int, np.integer)) or self.seed < 0:
            raise InputError(f"seed must be a whole number >= 0, got {self.seed!r}")
        if self.steps is not None and not 1 <= self.steps <= MAX_STEPS:
            raise InputError(f"steps must be between 1 and {MAX_STEPS}, got {self.steps}")
        if not 0.0 <= self.sensitivity <= 1.0:
            raise InputError(f"sensitivity must be between 0 and 1, got {self.sensitivity}")
        if self.mask_mode not in MASK_MODES:
            raise InputError(f"mask mode must be one of {', '.join(MASK_MODES)}; got {self.mask_mode!r}")
        if self.mask is not None and (self.mask.ndim != 2 or not np.isfinite(self.mask).all()):
            raise InputError(f"the mask must be a 2-D (H, W) array of values in [0, 1], got shape {self.mask.shape}")
        if self.resample < 1:
            raise InputError(f"resample must be at least 1 (1 = off), got {self.resample}")
