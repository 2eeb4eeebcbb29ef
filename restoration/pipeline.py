"""``restore(image, tasks, options)``: chains the stages with one engine choice.

The pipeline picks the engine once per request (``auto`` -> diffusion when its weights are on
this machine and a GPU is present, else classical), runs the requested stages in their fixed
order, keeps a grayscale photo grayscale, and reports what ran: the engine, each stage's
seconds and findings, and notices for the user.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field

import numpy as np

from . import engine as diffusion
from .errors import InputError, WeightsUnavailableError
from .luma import is_gray, luma
from .options import RestoreOptions, input_fields
from .stages import colorize, denoise, face, scratch
from .stages.context import ProgressCallback, Stage, StageContext
from .validation import check_mask_size, check_rgb

__all__ = [
    "STAGES",
    "TASKS",
    "RestoreOptions",
    "StageReport",
    "RestorationResult",
    "EngineStatus",
    "restore",
    "detect_scratches",
    "engine_status",
    "parse_tasks",
    "default_tasks",
    "stage_named",
]

logger = logging.getLogger(__name__)

StageCallback = Callable[[str, "np.ndarray | None"], None]
"""Called as ``on_stage(name, None)`` when a stage starts, ``on_stage(name, image)`` when it ends."""

STAGES: tuple[Stage, ...] = (scratch.STAGE, denoise.STAGE, face.STAGE, colorize.STAGE)
"""Every stage, in the order they run. A new stage is its module and one entry here."""

TASKS = tuple(stage.name for stage in STAGES)
"""Available tasks, in the order they run (the names of ``STAGES``; code reads ``STAGES``)."""

_WEIGHTS_HINT = "python -m restoration weights download"
_CHANGED_LEVEL = 0.5 / 255.0  # a pixel counts as changed once it would round to another 8-bit value
_CHANGED_STRIP_ROWS = 128


@dataclass(frozen=True)
class StageReport:
    """What one stage did: its name, wall-clock seconds, findings (JSON-serialisable) and the
    share of pixels it changed (``changed_percent`` in [0, 100]: pixels with a channel that
    moved by half an 8-bit level or more; 0 for a stage that changed nothing)."""

    name: str
    seconds: float
    findings: dict
    changed_percent: float = 0.0


@dataclass
class RestorationResult:
    """Output of :func:`restore`.

    Attributes:
        image: (H, W, 3) float32 RGB in [0, 1], same size as the input.
        engine: the engine that ran: ``"classical"`` or ``"diffusion"``.
        masks: per-stage masks, e.g. ``{"scratch": (H, W) float32 in [0, 1]}``.
        stages: one report per stage run, in order.
        notices: messages for the user (e.g. why the classical engine ran).
        options: the request's options with every stage's options as run (defaults filled
            in), for the output's provenance (:mod:`restoration.provenance`).
    """

    image: np.ndarray
    engine: str
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    stages: list[StageReport] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    options: RestoreOptions = field(default_factory=RestoreOptions)

    def summary(self) -> dict:
        """JSON-serialisable account of the run: ``engine``, ``stages`` (name, seconds, findings,
        changed_percent), ``notices``."""
        return {"engine": self.engine, "stages": [asdict(stage) for stage in self.stages], "notices": list(self.notices)}


@dataclass(frozen=True)
class EngineStatus:
    """Which engine ``auto`` picks on this machine, and a Markdown notice saying so."""

    default_engine: str
    diffusion_available: bool
    message: str


def stage_named(name: str) -> Stage:
    """The stage called ``name``; InputError naming the available ones otherwise."""
    for stage in STAGES:
        if stage.name == name:
            return stage
    available = ", ".join(stage.name for stage in STAGES)
    raise InputError(f"unknown task {name!r}; choose from {available}")


def default_tasks(given_inputs: Iterable[str] = ()) -> tuple[str, ...]:
    """The tasks run when none are named: every stage, in order, but a stage with
    ``chained_when`` inputs only when one of them is among ``given_inputs`` (names from
    ``INPUT_KINDS``, e.g. ``{"reference"}``)."""
    given = set(given_inputs)
    return tuple(stage.name for stage in STAGES if not stage.chained_when or given & set(stage.chained_when))


def _inputs_given(options: RestoreOptions) -> set[str]:
    """Input kinds (``INPUT_KINDS``) set on the stage options of ``options``."""
    return {
        kind
        for stage_options in options.stages.values()
        if dataclasses.is_dataclass(stage_options)
        for name, kind in input_fields(type(stage_options)).items()
        if _is_given(getattr(stage_options, name))
    }


def _is_given(value: object) -> bool:
    """An input option is given when it is set and, for a sequence (hints), not empty."""
    return value is not None and not (isinstance(value, (tuple, list)) and len(value) == 0)


def parse_tasks(tasks: str | Iterable[str]) -> tuple[str, ...]:
    """Validate tasks (a comma-separated string or names) and put them in running order."""
    names = [t.strip() for t in (tasks.split(",") if isinstance(tasks, str) else tasks) if t.strip()]
    if not names:
        raise InputError(f"no task given; choose from {', '.join(stage.name for stage in STAGES)}")
    for name in names:
        stage_named(name)
    return tuple(stage.name for stage in STAGES if stage.name in names)


def engine_status() -> EngineStatus:
    """What ``engine="auto"`` will use here, checked locally (no network, no model load)."""
    available = diffusion.diffusion_available()
    if available and diffusion.accelerator_available():
        return EngineStatus("diffusion", True, "Running the **diffusion engine** (Stable Diffusion 1.5 inpainting).")
    if available:
        return EngineStatus(
            "classical",
            True,
            "Running the **classical engine**: the diffusion weights are here but there is no GPU "
            "(choose *diffusion* under Advanced to use them anyway; it is slow on a CPU).",
        )
    return EngineStatus(
        "classical",
        False,
        "Running the **classical engine** (no diffusion weights on this machine). "
        f"To use the diffusion model, run `{_WEIGHTS_HINT}` and restart.",
    )


def _select_engine(requested: str) -> tuple[str, object | None, list[str]]:
    """(engine name, DiffusionEngine or None, notices) for the requested engine.

    ``auto`` falls back to the classical engine, with a notice naming the problem, when the
    weights are here but fail to load; ``diffusion`` raises instead.
    """
    if requested == "classical":
        return "classical", None, []
    if requested == "diffusion":
        return "diffusion", diffusion.get_engine(), []
    status = engine_status()
    if status.default_engine != "diffusion":
        return "classical", None, [_plain(status.message)]
    try:
        return "diffusion", diffusion.get_engine(), []
    except WeightsUnavailableError as error:
        logger.warning("auto engine: the diffusion model did not load, running the classical engine: %s", error)
        return "classical", None, [f"The diffusion model could not be loaded ({error}); the classical engine ran instead."]


def _plain(markdown: str) -> str:
    return markdown.replace("**", "")


def _stage_options(names: tuple[str, ...], options: RestoreOptions, image_shape: tuple[int, ...]) -> dict[str, object]:
    """Each requested stage's options (given or default), checked against the request.

    Raises InputError for options of a stage that is not requested, options of the wrong
    type, a user mask of the wrong size, combinations a stage refuses, and options that need
    the diffusion engine when the classical one was chosen.
    """
    for name in options.stages:
        stage = stage_named(name)
        if name not in names:
            raise InputError(
                f"options were given for the {name} task, which is not requested ({', '.join(names)}); "
                f"add {name} to the tasks or drop its options"
            )
        if not isinstance(options.stages[name], stage.options):
            raise InputError(
                f"the {name} task takes {stage.options.__name__}, got {type(options.stages[name]).__name__}"
            )
    chosen = {}
    for name in names:
        stage_options = options.stages.get(name) or stage_named(name).options()
        mask = getattr(stage_options, "mask", None)
        if mask is not None:
            check_mask_size(mask, image_shape)
        if hasattr(stage_options, "check"):
            stage_options.check(options)
        if options.engine == "classical" and _diffusion_only(stage_options):
            raise InputError(
                f"{', '.join(_diffusion_only(stage_options))} need the diffusion engine, but the classical "
                "engine was chosen; choose diffusion (or auto) or drop them"
            )
        chosen[name] = stage_options
    return chosen


def _diffusion_only(stage_options: object) -> list[str]:
    return stage_options.diffusion_only() if hasattr(stage_options, "diffusion_only") else []


def restore(
    image: np.ndarray,
    tasks: str | Iterable[str] | None = None,
    options: RestoreOptions = RestoreOptions(),
    *,
    progress: ProgressCallback | None = None,
    on_stage: StageCallback | None = None,
) -> RestorationResult:
    """Restore ``image`` with the requested stages.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1] (``imageio.Photo.pixels``).
        tasks: stage names or a comma-separated string, or None for the default chain (every
            stage; colorize only when its options carry a reference or hints, see
            :func:`default_tasks`); they run in the order of ``STAGES``.
        options: engine, seed, steps, fast, and per-stage options (``options.stages``).
        progress: called as ``progress(fraction in [0, 1], description)``.
        on_stage: called as ``on_stage(name, None)`` when a stage starts and
            ``on_stage(name, image)`` when it ends, ``image`` its output (H, W, 3) float32 in
            [0, 1] (read it, do not keep or change it: the next stage starts from it).

    Returns:
        RestorationResult with an image of the input's size. A grayscale input (three equal
        channels) stays grayscale through every stage but one that adds colour (colorize).

    Raises:
        InputError: bad image, task or option. WeightsUnavailableError: ``engine="diffusion"``
        without weights (``auto`` falls back to the classical engine with a notice).
    """
    image = check_rgb(image)
    names = parse_tasks(default_tasks(_inputs_given(options)) if tasks is None else tasks)
    stage_options = _stage_options(names, options, image.shape)
    engine_name, engine, notices = _select_engine(options.engine)
    if engine is None:
        notices += _unused_diffusion_options(stage_options)
    result = RestorationResult(
        image=image.astype(np.float32, copy=True),
        engine=engine_name,
        notices=notices,
        options=dataclasses.replace(options, stages=stage_options),
    )
    grayscale = is_gray(image)
    for index, name in enumerate(names):
        stage = stage_named(name)
        context = StageContext(
            options=options,
            stage_options=stage_options[name],
            engine=engine,
            progress=progress,
            span=(index / len(names), (index + 1) / len(names)),
        )
        if on_stage is not None:
            on_stage(name, None)
        started = time.perf_counter()
        before = result.image
        output = stage.run(before, context)
        seconds = time.perf_counter() - started
        if grayscale and not stage.adds_colour:
            result.image = _gray(output.image)
        else:
            result.image, grayscale = output.image, is_gray(output.image)
        if output.mask is not None:
            result.masks[name] = output.mask
        changed = _changed_percent(before, result.image)
        result.stages.append(StageReport(name, round(seconds, 3), output.findings, changed))
        if on_stage is not None:
            on_stage(name, result.image)
        if output.findings.get("notice"):
            result.notices.append(output.findings["notice"])
        logger.info("%s stage (%s engine) took %.2f s: %s", name, engine_name, seconds, output.findings)
    if progress is not None:
        progress(1.0, "done")
    return result


def _unused_diffusion_options(stage_options: dict[str, object]) -> list[str]:
    """Notices for options that only the diffusion engine honours, when ``auto`` ran classical."""
    return [
        f"{', '.join(_diffusion_only(value))} ({name}) not used: the classical engine ran"
        for name, value in stage_options.items()
        if _diffusion_only(value)
    ]


def detect_scratches(image: np.ndarray, *, sensitivity: float = 0.5, detector: str = scratch.DEFAULT_DETECTOR) -> np.ndarray:
    """Scratch mask of ``image`` (H, W, 3) float32 in [0, 1] -> (H, W) float32 in {0, 1}, by
    ``detector`` (one of ``scratch.DETECTORS``)."""
    return scratch.detect(check_rgb(image), sensitivity=sensitivity, detector=detector)


def _changed_percent(before: np.ndarray, after: np.ndarray) -> float:
    """Percentage of pixels (H, W, 3 in [0, 1]) with a channel that moved by half an 8-bit level or more.

    Counted in strips of rows, which keeps the temporaries in cache (12 MP: 0.25 s, against
    2.7 s for one whole-image pass).
    """
    moved = 0
    for start in range(0, before.shape[0], _CHANGED_STRIP_ROWS):
        rows = slice(start, start + _CHANGED_STRIP_ROWS)
        far = np.abs(after[rows] - before[rows]) >= _CHANGED_LEVEL
        moved += int(np.count_nonzero(far[..., 0] | far[..., 1] | far[..., 2]))
    return round(100.0 * moved / max(1, before.shape[0] * before.shape[1]), 3)


def _gray(image: np.ndarray) -> np.ndarray:
    """Three equal channels: the Rec. 601 luma of ``image`` (a gray image's own channel)."""
    return np.repeat(luma(image)[..., None], 3, axis=2).astype(np.float32)
