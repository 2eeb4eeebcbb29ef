"""``restore(image, tasks, options)``: chains the stages with one engine choice.

The pipeline picks the engine once per request (``auto`` -> diffusion when its weights are on
this machine and a GPU is present, else classical), runs the requested stages in their fixed
order, keeps a grayscale photo grayscale, and reports what ran: the engine, each stage's
seconds and findings, and notices for the user.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

import numpy as np

from . import engine as diffusion
from .errors import InputError
from .options import RestoreOptions
from .stages import scratch
from .stages.context import ProgressCallback, StageContext
from .validation import check_mask_size, check_rgb

__all__ = [
    "TASKS",
    "RestoreOptions",
    "StageReport",
    "RestorationResult",
    "EngineStatus",
    "restore",
    "detect_scratches",
    "engine_status",
    "parse_tasks",
]

logger = logging.getLogger(__name__)

_STAGES = {scratch.NAME: scratch.run}
TASKS = tuple(_STAGES)
"""Available tasks, in the order they run."""

_PLANNED_TASKS = ("denoise", "face", "colorize")
_WEIGHTS_HINT = "python -m restoration weights download"


@dataclass(frozen=True)
class StageReport:
    """What one stage did: its name, wall-clock seconds and findings (JSON-serialisable)."""

    name: str
    seconds: float
    findings: dict


@dataclass
class RestorationResult:
    """Output of :func:`restore`.

    Attributes:
        image: (H, W, 3) float32 RGB in [0, 1], same size as the input.
        engine: the engine that ran: ``"classical"`` or ``"diffusion"``.
        masks: per-stage masks, e.g. ``{"scratch": (H, W) float32 in [0, 1]}``.
        stages: one report per stage run, in order.
        notices: messages for the user (e.g. why the classical engine ran).
    """

    image: np.ndarray
    engine: str
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    stages: list[StageReport] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        """JSON-serialisable account of the run: ``engine``, ``stages`` (name, seconds, findings), ``notices``."""
        return {"engine": self.engine, "stages": [asdict(stage) for stage in self.stages], "notices": list(self.notices)}


@dataclass(frozen=True)
class EngineStatus:
    """Which engine ``auto`` picks on this machine, and a Markdown notice saying so."""

    default_engine: str
    diffusion_available: bool
    message: str


def parse_tasks(tasks: str | Iterable[str]) -> tuple[str, ...]:
    """Validate tasks (a comma-separated string or names) and put them in running order."""
    names = [t.strip() for t in (tasks.split(",") if isinstance(tasks, str) else tasks) if t.strip()]
    if not names:
        raise InputError(f"no task given; choose from {', '.join(TASKS)}")
    for name in names:
        if name in _PLANNED_TASKS:
            raise InputError(f"the {name!r} task is not available yet; available: {', '.join(TASKS)}")
        if name not in _STAGES:
            raise InputError(f"unknown task {name!r}; choose from {', '.join(TASKS)}")
    return tuple(name for name in TASKS if name in names)


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
    """(engine name, DiffusionEngine or None, notices) for the requested engine."""
    if requested == "classical":
        return "classical", None, []
    if requested == "diffusion":
        return "diffusion", diffusion.get_engine(), []
    status = engine_status()
    if status.default_engine == "diffusion":
        return "diffusion", diffusion.get_engine(), []
    return "classical", None, [status.message.replace("**", "")]


def restore(
    image: np.ndarray,
    tasks: str | Iterable[str] = TASKS,
    options: RestoreOptions = RestoreOptions(),
    *,
    progress: ProgressCallback | None = None,
) -> RestorationResult:
    """Restore ``image`` with the requested stages.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1] (``imageio.Photo.pixels``).
        tasks: stage names or a comma-separated string; they run in the order of ``TASKS``.
        options: engine, seed, steps, sensitivity, user mask, ...
        progress: called as ``progress(fraction in [0, 1], description)``.

    Returns:
        RestorationResult with an image of the input's size. A grayscale input (three equal
        channels) comes back grayscale.

    Raises:
        InputError: bad image, task or option. WeightsUnavailableError: ``engine="diffusion"``
        without weights.
    """
    image = check_rgb(image)
    names = parse_tasks(tasks)
    if options.mask is not None:
        check_mask_size(options.mask, image.shape)
    grayscale = _is_gray(image)
    engine_name, engine, notices = _select_engine(options.engine)
    result = RestorationResult(image=image.astype(np.float32, copy=True), engine=engine_name, notices=notices)
    for index, name in enumerate(names):
        span = (index / len(names), (index + 1) / len(names))
        context = StageContext(options=options, engine=engine, progress=progress, span=span)
        started = time.perf_counter()
        output = _STAGES[name](result.image, context)
        seconds = time.perf_counter() - started
        result.image = _gray(output.image) if grayscale else output.image
        if output.mask is not None:
            result.masks[name] = output.mask
        result.stages.append(StageReport(name, round(seconds, 3), output.findings))
        logger.info("%s stage (%s engine) took %.2f s: %s", name, engine_name, seconds, output.findings)
    if progress is not None:
        progress(1.0, "done")
    return result


def detect_scratches(image: np.ndarray, *, sensitivity: float = 0.5) -> np.ndarray:
    """Scratch mask of ``image`` (H, W, 3) float32 in [0, 1] -> (H, W) float32 in {0, 1}."""
    return scratch.detect(image, sensitivity=sensitivity)


def _is_gray(image: np.ndarray) -> bool:
    return bool(np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2]))


def _gray(image: np.ndarray) -> np.ndarray:
    """Three equal channels: the Rec. 601 luma of ``image``."""
    luma = image @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.repeat(luma[..., None], 3, axis=2).astype(np.float32)
