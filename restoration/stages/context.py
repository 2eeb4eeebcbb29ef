"""What a stage declares (:class:`Stage`), receives (:class:`StageContext`) and returns
(:class:`StageOutput`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..options import RestoreOptions

__all__ = ["INPUT_KINDS", "ProgressCallback", "Stage", "StageContext", "StageOutput"]

ProgressCallback = Callable[[float, str], None]
"""Called as ``progress(fraction in [0, 1], description)``."""

INPUT_KINDS = {
    "mask": "a damage mask at the photo's size (white = damaged)",
    "reference": "a colour reference photo",
    "hints": 'a JSON file of colour hints in photo pixels, e.g. [{"x": 120, "y": 80, "radius": 10, "colour": [200, 30, 30]}]',
}
"""Inputs, besides the photo, that a stage may take from the user (as files on the command line)."""

_DEFAULT_STEPS = 25
_FAST_STEPS = 4
_FAST_GUIDANCE = 1.0


@dataclass(frozen=True)
class StageOutput:
    """One stage's result: image (H, W, 3) float32 in [0, 1], its mask (H, W) or None, findings.

    ``findings["notice"]``, when present, is a message for the user (e.g. "no faces were
    found"); the pipeline adds it to the result's notices."""

    image: np.ndarray
    mask: np.ndarray | None
    findings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Stage:
    """What the rest of the code needs to know about a stage; each stage module defines one.

    Attributes:
        name: task name (``--tasks``, API names, report keys), e.g. ``"scratch"``.
        title: the app's tab title, e.g. ``"Scratches"``.
        description: one line for help texts.
        options: the stage's options dataclass (frozen, validated in ``__post_init__``; fields
            carry ``help``/``choices``/``input`` metadata, see :mod:`restoration.options`).
            ``options()`` gives the defaults. It may define ``diffusion_only() -> list[str]``
            (options that need the diffusion engine and are set) and ``check(common)`` (checks
            against the common :class:`RestoreOptions`, raising InputError).
        run: ``run(image, context) -> StageOutput``, image (H, W, 3) float32 RGB in [0, 1].
        inputs: inputs it takes from the user besides the photo, from :data:`INPUT_KINDS`.
        adds_colour: True only for a stage whose output may gain colour (colorize); the
            pipeline keeps a grayscale photo grayscale through every other stage.
        chained_when: inputs of which at least one must be given for the stage to join the
            default chain (no tasks named); empty = it always does. Colorize joins only with a
            reference or hints: without them the classical engine has no colour to give.
    """

    name: str
    title: str
    description: str
    options: type
    run: Callable[[np.ndarray, "StageContext"], StageOutput]
    inputs: tuple[str, ...] = ()
    adds_colour: bool = False
    chained_when: tuple[str, ...] = ()


@dataclass(frozen=True)
class StageContext:
    """Per-request context handed to a stage.

    Attributes:
        options: the validated request options (engine, seed, steps, fast).
        stage_options: this stage's options object (an instance of ``Stage.options``).
        engine: the shared ``DiffusionEngine``, or None when the classical engine runs.
        progress: overall progress callback, or None.
        span: the (start, end) part of the overall progress this stage owns, in [0, 1].
    """

    options: RestoreOptions
    stage_options: object
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

    @property
    def steps(self) -> int:
        """Denoising steps a diffusion call runs: the user's, or the sampler's default."""
        return self.options.steps or (_FAST_STEPS if self.options.fast else _DEFAULT_STEPS)

    def inpaint_settings(self, *, strength: float = 1.0, resample: int = 1):
        """Sampler settings from the options: the default sampler, or the LCM fast mode.

        Args:
            strength: in (0, 1]; < 1 starts from the image given (SDEdit).
            resample: RePaint resampling rounds per step (1 = off; default sampler only).
        """
        from ..engine import InpaintSettings

        options = self.options
        if options.fast:
            return InpaintSettings(
                steps=self.steps, strength=strength, guidance_scale=_FAST_GUIDANCE, seed=options.seed, fast=True
            )
        return InpaintSettings(steps=self.steps, strength=strength, seed=options.seed, resample=resample)
