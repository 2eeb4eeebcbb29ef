"""Options of one restoration request: what is common to every stage, plus one options object
per stage (declared by the stage module), validated once and shared by the pipeline and stages.

A stage's options class is a frozen dataclass that validates its own values in
``__post_init__``. Its fields describe themselves through ``dataclasses.field(metadata=...)``:
``help`` (one line for the command line and the app), ``choices`` for a string option, ``type``
for an option whose default is None (None = "estimate it from the photo"), or ``input``
(``"mask"`` or ``"reference"``) for an array the user supplies as a file. The command
line derives its flags from these fields (:func:`option_fields`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from .errors import InputError

__all__ = ["ENGINES", "MAX_STEPS", "OptionField", "RestoreOptions", "option_fields", "check_user_mask"]

ENGINES = ("auto", "classical", "diffusion")
MAX_STEPS = 200


@dataclass(frozen=True)
class RestoreOptions:
    """What the user asked for.

    Attributes:
        engine: ``"auto"`` (diffusion when its weights are here and a GPU is present, else
            classical), ``"classical"`` (no weights needed) or ``"diffusion"``.
        seed: random seed for the diffusion engine, >= 0; same seed and input, same output.
        steps: denoising steps, 1..200, or None for the sampler's default (25; fast mode 4).
        fast: LCM-LoRA fast mode (4-8 steps) for the diffusion engine.
        stages: per-stage options by stage name, e.g. ``{"scratch": ScratchOptions(sensitivity=0.6)}``;
            a stage that is not named here runs with its defaults. Naming a stage that is not
            requested is an error (see :func:`restoration.pipeline.restore`).

    Example:
        >>> from restoration.stages.scratch import ScratchOptions
        >>> options = RestoreOptions(engine="classical", stages={"scratch": ScratchOptions(sensitivity=0.6)})
    """

    engine: str = "auto"
    seed: int = 0
    steps: int | None = None
    fast: bool = False
    stages: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise InputError(f"engine must be one of {', '.join(ENGINES)}; got {self.engine!r}")
        if not isinstance(self.seed, (int, np.integer)) or isinstance(self.seed, bool) or self.seed < 0:
            raise InputError(f"seed must be a whole number >= 0, got {self.seed!r}")
        if self.steps is not None and not 1 <= self.steps <= MAX_STEPS:
            raise InputError(f"steps must be between 1 and {MAX_STEPS}, got {self.steps}")
        if not isinstance(self.stages, Mapping):
            raise InputError(f"stages must map stage names to their options, got {type(self.stages).__name__}")
        object.__setattr__(self, "stages", MappingProxyType(dict(self.stages)))


@dataclass(frozen=True)
class OptionField:
    """One user-facing option of a stage, read from its options dataclass.

    Attributes:
        name: the dataclass field name (``mask_mode``); the command-line flag is ``--mask-mode``.
        default: the default value.
        kind: ``bool``, ``int``, ``float`` or ``str`` (the ``type`` metadata, else the default's type).
        help: one line for the command line and the app.
        choices: allowed values of a string option, or None.
    """

    name: str
    default: object
    kind: type
    help: str
    choices: tuple[str, ...] | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def option_fields(options_class: type) -> list[OptionField]:
    """The options of ``options_class`` that a user sets by value (fields with ``help`` metadata).

    Fields with ``input`` metadata (arrays supplied as files) are not included.
    """
    fields = []
    for item in dataclasses.fields(options_class):
        if "help" not in item.metadata:
            continue
        fields.append(
            OptionField(
                name=item.name,
                default=item.default,
                kind=item.metadata.get("type", type(item.default)),
                help=item.metadata["help"],
                choices=tuple(item.metadata["choices"]) if "choices" in item.metadata else None,
            )
        )
    return fields


def input_fields(options_class: type) -> dict[str, str]:
    """The fields of ``options_class`` supplied as files (``input`` metadata): field name ->
    input kind (``"mask"``, ``"reference"``, ``"hints"``; see ``stages.context.INPUT_KINDS``)."""
    return {item.name: item.metadata["input"] for item in dataclasses.fields(options_class) if "input" in item.metadata}


def check_user_mask(mask: np.ndarray | None) -> None:
    """Refuse a user mask that is not a finite (H, W) array of values in [0, 1] (None passes)."""
    if mask is None:
        return
    mask = np.asarray(mask)
    if mask.ndim != 2 or not np.issubdtype(mask.dtype, np.number) and mask.dtype != bool:
        raise InputError(f"the mask must be a 2-D (H, W) array of values in [0, 1], got shape {mask.shape}")
    if mask.size and not (np.isfinite(mask).all() and mask.min() >= 0 and mask.max() <= 1):
        raise InputError("the mask's values must be in [0, 1] (1 = damaged); divide an 8-bit mask by 255")
