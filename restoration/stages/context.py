"""What every stage receives (options, engine, progress) and returns (image, mask, findings)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..options import RestoreOptions

__all__ = ["ProgressCallback", "StageContext", "StageOutput"]

ProgressCallback = Callable[[float, str], None]
"""Called as ``progress(fraction in [0, 1], description)``."""

_DEFAULT_STEPS = 25
_FAST_STEPS = 4
_FAST_GUIDANCE = 1.0


@dataclass(frozen=True)
class StageOutput:
    """One stage's result: image (H, W, 3) float32 in [0, 1], its mask (H, W) or None, findings."""

    image: np.ndarray
    mask: np.ndarray | None
    findings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class StageContext:
    """Per-request context handed to a stage.

    Attributes:
        options: the validated request options.
        engine: the shared ``DiffusionEngine``, or None when the classical engine runs.
        progress: overall progress callback, or None.
        span: the (start, end) part of the overall progress this stage owns, in [0, 1].
    """

    options: RestoreOptions
    engine: object | None = None
    progress: ProgressCallback | None = None
    span: tuple[float, float] = (0.0, 1.0)

    def report(self, fraction: float, description: str) -> None:
        """Report ``fraction`` in [0, 1] of this stage as done."""
        if self.progress is not None:
            start, end = self.span
            self.progress(start + (end - start) * min(max(fraction, 0.0), 1.0), description)

    def step_reporter(self, description: str) -> Callable[[int, int], None] | None:
        """A ``callback(step, total)`` for the engine that reports steps as progress text."""
        if self.progress is None:
            return None
        return lambda step, total: self.progress(self.span[0], f"{description}: step {step} of {total}")

    def inpaint_settings(self, *, strength: float = 1.0):
        """Sampler settings from the options: default sampler, or LCM fast mode."""
        from ..engine import InpaintSettings

        options = self.options
        if options.fast:
            return InpaintSettings(
                steps=options.steps or _FAST_STEPS, strength=strength, guidance_scale=_FAST_GUIDANCE,
                seed=options.seed, fast=True,
            )
        return InpaintSettings(
            steps=options.steps or _DEFAULT_STEPS, strength=strength, seed=options.seed, resample=options.resample
        )
