"""Scratch, crack, dust and speck removal: a mask and local repair.

Following Wan et al. (CVPR 2020), local damage needs a mask and a local repair, unlike grain
and fading. Detection is classical (multi-scale line and speck filters), optionally sharpened
by a DiffEdit-style damage prior from the shared diffusion model. Repair is classical
inpainting (the offline engine). When the diffusion engine runs, it refines only the damage
where the classical fill is weak, wide tears and paper loss or damage in textured surroundings
(:func:`needs_diffusion`); thin scratches keep the classical fill. That damage is covered with
the fewest native-resolution windows (:func:`cover_with_windows`), and every repaired window is
pasted back with a feathered mask, so pixels away from the damage are the input's own.

References:
    Wan et al., "Bringing Old Photos Back to Life", CVPR 2020.
    Couairon et al., "DiffEdit", ICLR 2023. Lugmayr et al., "RePaint", CVPR 2022.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from .. import engine as diffusion
from .. import zerogpu
from ..classical.inpaint import inpaint_classical
from ..classical.scratch_detector import detect_scratches as detect_classical
from ..errors import InputError, WeightsUnavailableError
from ..luma import luma as luma_of
from ..options import RestoreOptions, check_user_mask
from ..regions import Window, coverage_percent, repaint_in_windows, windows_covering
from ..validation import check_mask_size
from .context import Stage, StageContext, StageOutput

__all__ = [
    "STAGE",
    "MASK_MODES",
    "DETECTORS",
    "DEFAULT_DETECTOR",
    "ScratchOptions",
    "detect",
    "faint_candidates",
    "confirm_with_prior",
    "combine_masks",
    "inpaint_windows",
    "needs_diffusion",
    "cover_with_windows",
    "run",
]

logger = logging.getLogger(__name__)

MASK_MODES = ("add", "replace")
DETECTORS = ("learned", "classical")  # the network (restoration.scratch_net), or hand-made features
DEFAULT_DETECTOR = "learned"  # finds more damage and repaints less of clean prints (README, "Which detector")
_PRIOR_EXTRA_SENSITIVITY = 0.25
_PRIOR_THRESHOLD = 0.5
_REPAIR_STRENGTH = 0.85
_DEFAULT_WINDOW = 512
_WINDOW_OVERLAP_SHARE = 8  # windows overlap by 1/8 of their side (64 px at SD 1.5's 512)
_PRIOR_SAMPLES = 4  # UNet passes per prior window (DiffusionEngine.damage_prior's default)
# Which damage the diffusion engine refines (needs_diffusion); widths as in inpaint_classical:
# a w-px wide line has its centre (w + 1) / 2 px from the nearest undamaged pixel.
_WIDE_DAMAGE = 10.0  # px; damage at least this wide gets diffusion anywhere (the fill invents content)
_TEXTURED_DAMAGE = 5.0  # px; damage at least this wide gets diffusion in textured surroundings
_TEXTURE_LEVEL = 0.04  # RMS of the luma detail (finer than _TEXTURE_SIGMA) that makes surroundings textured
_TEXTURE_SIGMA = 2.0  # px
_SURROUNDINGS = 8  # px; texture is measured within twice this; the repaired region reaches this past the cores
_COVER_CELL = 16  # px; the window cover works on cells of this side and windows move in these steps

DamagePrior = Callable[[np.ndarray], np.ndarray]
"""``prior(crop (h, w, 3) float32 in [0, 1]) -> (h, w) float32 in [0, 1]``, comparable across crops."""


@dataclass(frozen=True, eq=False)
class ScratchOptions:
    """Options of the scratch stage.

    Attributes:
        sensitivity: detection sensitivity in [0, 1]; higher finds fainter damage.
        mask: the user's mask (H, W) float in [0, 1] at the photo's size, 1 = damaged, or None.
        mask_mode: ``"add"`` (union with the detected mask) or ``"replace"`` (skip detection).
        resample: RePaint resampling rounds per step for diffusion inpainting (1 = off); needs
            the diffusion engine's default sampler.
        damage_prior: confirm faint candidates with the diffusion model's damage prior
            (DiffEdit-style); needs the diffusion engine.
        detector: ``"learned"`` (default: the small U-Net of :mod:`restoration.scratch_net`, its
            probability map made a mask at ``scratch_net.levels_for(sensitivity)``;
            :func:`restoration.scratch_net.learned_masks`; the classical detector answers when
            its weights are missing) or ``"classical"`` (hand-made features, about a third of
            the time). On held-out prints the stage with the learned detector comes closer to the
            undamaged print and repaints less of undamaged ones (README).
    """

    sensitivity: float = field(default=0.5, metadata={"help": "scratch detection sensitivity, 0-1; higher finds fainter damage"})
    mask: np.ndarray | None = field(default=None, metadata={"input": "mask"})
    mask_mode: str = field(
        default="add",
        metadata={"help": "add the given mask to the detected one, or use it alone", "choices": MASK_MODES},
    )
    resample: int = field(default=1, metadata={"help": "RePaint resampling rounds per step (diffusion engine; 1 = off)"})
    damage_prior: bool = field(
        default=False, metadata={"help": "confirm faint scratches with the diffusion model's damage prior (diffusion engine)"}
    )
    detector: str = field(
        default=DEFAULT_DETECTOR,
        metadata={"help": "scratch detector: the learned network (default), or the classical one (fewer real scratches, about a third of the time)", "choices": DETECTORS},
    )

    def __post_init__(self) -> None:
        if not 0.0 <= self.sensitivity <= 1.0:
            raise InputError(f"sensitivity must be between 0 and 1, got {self.sensitivity}")
        if self.mask_mode not in MASK_MODES:
            raise InputError(f"mask mode must be one of {', '.join(MASK_MODES)}; got {self.mask_mode!r}")
        if self.detector not in DETECTORS:
            raise InputError(f"detector must be one of {', '.join(DETECTORS)}; got {self.detector!r}")
        if not isinstance(self.resample, (int, np.integer)) or self.resample < 1:
            raise InputError(f"resample must be a whole number >= 1 (1 = off), got {self.resample!r}")
        check_user_mask(self.mask)

    def diffusion_only(self) -> list[str]:
        """The options set here that only the diffusion engine can honour."""
        return [name for name, used in (("resample", self.resample > 1), ("damage_prior", self.damage_prior)) if used]

    def check(self, common: RestoreOptions) -> None:
        """Refuse combinations with the common options: RePaint needs the default sampler."""
        if common.fast and self.resample > 1:
            raise InputError(
                f"resample={self.resample} (RePaint) needs the default sampler, not fast mode; drop one of them"
            )


def detect(
    image: np.ndarray,
    *,
    sensitivity: float = 0.5,
    damage_prior: DamagePrior | None = None,
    window_size: int = _DEFAULT_WINDOW,
    detector: str = DEFAULT_DETECTOR,
) -> np.ndarray:
    """Scratch mask of ``image``, optionally confirmed by a damage prior.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1].
        sensitivity: in [0, 1]; higher finds fainter damage (and more false alarms).
        damage_prior: optional per-crop prior (e.g. ``DiffusionEngine.damage_prior``); see
            :func:`confirm_with_prior`.
        window_size: side of the windows the prior runs on, px (the model's working size).
        detector: one of ``DETECTORS`` (see :class:`ScratchOptions`).

    Returns:
        (H, W) float32 in {0, 1}, 1 = damaged.
    """
    strict, candidates = faint_candidates(
        image, sensitivity=sensitivity, with_faint=damage_prior is not None, detector=detector
    )
    if damage_prior is None:
        return strict.astype(np.float32)
    return confirm_with_prior(image, strict, candidates, damage_prior, window_size=window_size)


def faint_candidates(
    image: np.ndarray, *, sensitivity: float, with_faint: bool = True, detector: str = DEFAULT_DETECTOR
) -> tuple[np.ndarray, np.ndarray]:
    """(strict, faint): (H, W) bool masks of what ``detector`` finds at ``sensitivity``, and
    of what only a more sensitive run finds (all False when ``with_faint`` is False)."""
    levels = (sensitivity, min(1.0, sensitivity + _PRIOR_EXTRA_SENSITIVITY)) if with_faint else (sensitivity,)
    strict, *loose = _masks_at(image, levels, detector)
    if not loose:
        return strict, np.zeros_like(strict)
    return strict, loose[0] & ~strict


def _masks_at(image: np.ndarray, sensitivities: tuple[float, ...], detector: str) -> list[np.ndarray]:
    """(H, W) bool masks of ``detector`` at each sensitivity. The learned detector's probability
    map is computed once; without its weights the classical detector answers (logged)."""
    if detector not in DETECTORS:
        raise InputError(f"detector must be one of {', '.join(DETECTORS)}; got {detector!r}")
    if detector == "learned":
        from .. import scratch_net  # torch is imported on first use, not with the stage

        try:
            return scratch_net.learned_masks(image, tuple(sensitivities))
        except WeightsUnavailableError as error:
            logger.warning("%s; using the classical scratch detector", error)
    return [detect_classical(image, sensitivity=level) for level in sensitivities]


def confirm_with_prior(
    image: np.ndarray,
    strict: np.ndarray,
    faint: np.ndarray,
    damage_prior: DamagePrior,
    *,
    window_size: int = _DEFAULT_WINDOW,
) -> np.ndarray:
    """``strict`` plus the faint candidates that the damage prior backs.

    The prior runs only on the windows of ``window_size`` px that contain faint candidates
    (:func:`regions.windows_covering`), never on the rest of the photo; a candidate is kept
    where the prior's mean over it reaches 0.5.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1].
        strict, faint: (H, W) bool, from :func:`faint_candidates`.
        damage_prior: per-crop prior, values comparable across crops.

    Returns:
        (H, W) float32 in {0, 1}, 1 = damaged.
    """
    prior = np.zeros(faint.shape, np.float32)
    for window in _windows(faint, window_size):
        np.maximum(prior[window.slices], damage_prior(image[window.slices]), out=prior[window.slices])
    return (strict | _components_backed_by(faint, prior)).astype(np.float32)


def _components_backed_by(candidates: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """The connected components of ``candidates`` whose mean prior reaches the threshold."""
    count, labels = cv2.connectedComponents(candidates.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros_like(candidates)
    sums = np.bincount(labels.ravel(), weights=prior.ravel(), minlength=count)
    sizes = np.bincount(labels.ravel(), minlength=count)
    backed = sums / np.maximum(sizes, 1) >= _PRIOR_THRESHOLD
    backed[0] = False
    return backed[labels]


def combine_masks(detected: np.ndarray, user: np.ndarray | None, mode: str) -> np.ndarray:
    """The mask to repair: the detected one, the user's, or their union.

    Args:
        detected: (H, W) float in [0, 1].
        user: (H, W) float in [0, 1] or None.
        mode: ``"add"`` (union) or ``"replace"`` (the user's mask alone).

    Returns:
        (H, W) float32 in [0, 1].
    """
    if mode not in MASK_MODES:
        raise InputError(f"mask mode must be one of {', '.join(MASK_MODES)}; got {mode!r}")
    if user is None:
        return detected.astype(np.float32)
    check_mask_size(user, detected.shape)
    user = np.clip(user, 0.0, 1.0).astype(np.float32)
    return user if mode == "replace" else np.maximum(detected, user).astype(np.float32)


def run(image: np.ndarray, context: StageContext) -> StageOutput:
    """Detect (unless the user's mask replaces detection) and repair scratches.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1].
        context: options (``context.stage_options`` is a :class:`ScratchOptions`), the engine
            (None = classical) and progress reporting.

    Returns:
        StageOutput with the repaired (H, W, 3) image, the repaired mask and findings
        (``coverage_percent``, ``regions``; with diffusion, ``windows`` repaired and
        ``prior_windows`` the damage prior ran on).
    """
    options: ScratchOptions = context.stage_options
    findings: dict = {}
    if options.mask is not None and options.mask_mode == "replace":
        mask = combine_masks(np.zeros(image.shape[:2], np.float32), options.mask, "replace")
    else:
        context.report(0.0, "finding scratches")
        detected, prior_windows = _detect(image, options, context)
        mask = combine_masks(detected, options.mask, "add")
        if options.damage_prior and context.engine is not None:
            findings["prior_windows"] = prior_windows
    damaged = mask > 0.5
    findings = {
        "coverage_percent": coverage_percent(mask),
        "regions": int(cv2.connectedComponents(damaged.astype(np.uint8), connectivity=8)[0] - 1),
    } | findings
    if not damaged.any():
        return StageOutput(image.copy(), mask, findings)
    context.report(0.1, "repairing scratches")
    repaired = inpaint_classical(image, damaged)
    if context.engine is not None:
        repaired, findings["windows"] = _refine_with_diffusion(image, repaired, mask, context, options)
    return StageOutput(repaired, mask, findings)


def _detect(image: np.ndarray, options: ScratchOptions, context: StageContext) -> tuple[np.ndarray, int]:
    """Detection, confirmed by the engine's damage prior (on the GPU) when asked for.

    Returns the (H, W) float32 mask and the number of windows the prior ran on.
    """
    engine = context.engine
    use_prior = options.damage_prior and engine is not None
    strict, faint = faint_candidates(
        image, sensitivity=options.sensitivity, with_faint=use_prior, detector=options.detector
    )
    windows = len(_windows(faint, engine.working_size)) if use_prior else 0
    if not windows:
        return strict.astype(np.float32), 0
    context.report(0.05, f"checking faint scratches with the model ({windows} windows)")
    prior = functools.partial(_engine_damage_prior, seed=context.options.seed)
    mask = zerogpu.run_on_gpu(
        confirm_with_prior, image, strict, faint, prior, window_size=engine.working_size,
        windows=windows, steps=_PRIOR_SAMPLES,
    )
    return mask, windows


def _engine_damage_prior(crop: np.ndarray, *, seed: int) -> np.ndarray:
    """The shared engine's damage prior of one crop (module-level: it may run in a GPU worker)."""
    return diffusion.get_engine().damage_prior(crop, samples=_PRIOR_SAMPLES, seed=seed)


def _windows(mask: np.ndarray, size: int) -> list[Window]:
    """Windows of ``size`` px (the model's working size) covering ``mask``'s damage."""
    return windows_covering(mask, size=size, overlap=size // _WINDOW_OVERLAP_SHARE)


def _refine_with_diffusion(
    image: np.ndarray, prepared: np.ndarray, mask: np.ndarray, context: StageContext, options: ScratchOptions
) -> tuple[np.ndarray, int]:
    """Diffusion inpainting of the damage that needs it, starting from the classical fill.

    Returns the repaired image and the number of windows the model ran on (0: no model call).
    """
    refine = needs_diffusion(image, mask > 0.5)
    size = context.engine.working_size
    windows = cover_with_windows(refine, size=size, overlap=size // _WINDOW_OVERLAP_SHARE)
    if not windows:
        return prepared, 0
    settings = context.inpaint_settings(strength=_REPAIR_STRENGTH, resample=options.resample)
    context.report(0.15, f"repairing {len(windows)} windows with the model ({settings.unet_steps} steps each)")
    result = zerogpu.run_on_gpu(
        inpaint_windows,
        prepared,
        refine.astype(np.float32),
        windows,
        settings,
        windows=len(windows),
        steps=settings.unet_steps,
    )
    return result, len(windows)


def needs_diffusion(image: np.ndarray, damaged: np.ndarray) -> np.ndarray:
    """The damage the classical fill repairs poorly, which the diffusion engine should refine.

    Damage is measured pixel by pixel with its width there (twice the distance to the nearest
    undamaged pixel, less one). Its wide parts, at least ``_WIDE_DAMAGE`` px wide (tears,
    paper loss, big spots: the fill has to invent content), and its parts at least
    ``_TEXTURED_DAMAGE`` px wide in textured surroundings (the RMS of the undamaged luma detail
    finer than ``_TEXTURE_SIGMA`` px within ``2 * _SURROUNDINGS`` px reaches ``_TEXTURE_LEVEL``)
    are selected, with the damage up to ``_SURROUNDINGS`` px beyond them (their own borders,
    the first pixels of a scratch running into a tear). Thin scratches and cracks, which the
    classical fill repairs as well as the model, are never selected, even where they cross a tear.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1], the damaged photo.
        damaged: (H, W) bool, the damage mask.

    Returns:
        (H, W) bool, a subset of ``damaged``.
    """
    if not damaged.any():
        return np.zeros_like(damaged)
    width = 2.0 * cv2.distanceTransform(damaged.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE) - 1.0
    cores = width >= _WIDE_DAMAGE
    candidates = (width >= _TEXTURED_DAMAGE) & ~cores
    if candidates.any():
        luma = luma_of(image)
        known = (~damaged).astype(np.float32)
        energy = (luma - cv2.GaussianBlur(luma, (0, 0), _TEXTURE_SIGMA)) ** 2 * known
        box = (4 * _SURROUNDINGS + 1,) * 2
        texture = np.sqrt(cv2.blur(energy, box) / np.maximum(cv2.blur(known, box), 1e-6))
        cores |= candidates & (texture >= _TEXTURE_LEVEL)
    if not cores.any():
        return np.zeros_like(damaged)
    reach = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * _SURROUNDINGS + 1,) * 2)
    return damaged & (cv2.dilate(cores.astype(np.uint8), reach) > 0)


def cover_with_windows(mask: np.ndarray, *, size: int, overlap: int) -> list[Window]:
    """The fewest ``size``-px windows (greedy) that cover ``mask`` with context around it.

    Greedy cover on cells of ``_COVER_CELL`` px: each step takes the first damaged cell not yet
    covered (raster order) and, among the windows (corners on the cell grid, or flush with the
    photo's far edge) that hold it at least ``overlap / 2`` px inside their sides (except along
    the photo's border), the one holding the most uncovered damaged cells that way; ties go to
    the window best centred on them. So every damaged pixel has at least that much context in
    some window, and windows that meet overlap by at least ``overlap`` px. Unlike a fixed
    tiling, nearby damage shares a window and a window sits on the damage.

    Args:
        mask: (H, W) bool or float in [0, 1]; > 0.5 is damage.
        size: window side in pixels (the model's working size), > ``overlap``.
        overlap: least overlap of neighbouring windows, px, >= 0.

    Returns:
        Windows in raster order, each ``min(size, H)`` x ``min(size, W)`` px; empty for an empty
        mask; one window, the whole photo, for a photo no larger than ``size``.
    """
    damaged = np.asarray(mask) > 0.5
    if damaged.ndim != 2:
        raise InputError(f"a mask must have shape (H, W), got {damaged.shape}")
    if size <= overlap or overlap < 0:
        raise InputError(f"window size must exceed the overlap >= 0, got size={size}, overlap={overlap}")
    if not damaged.any():
        return []
    height, width = damaged.shape
    cell = max(1, min(_COVER_CELL, (size - overlap) // 2))  # a window serves at least one whole cell
    rows, cols = -(-height // cell), -(-width // cell)
    padded = np.zeros((rows * cell, cols * cell), bool)
    padded[:height, :width] = damaged
    todo = padded.reshape(rows, cell, cols, cell).any(axis=(1, 3))
    spans = [_window_spans(length, min(size, length), overlap // 2, cell) for length in (height, width)]
    (tops, row_from, row_to), (lefts, col_from, col_to) = spans
    centre_rows = (row_from + row_to - 1) / 2.0
    centre_cols = (col_from + col_to - 1) / 2.0
    chosen = []
    cell_rows, cell_cols = np.mgrid[0:rows, 0:cols].astype(np.float64)
    while todo.any():
        counts, sum_rows, sum_cols = (
            _box_sums(values, row_from, row_to, col_from, col_to)
            for values in (todo.astype(np.float64), todo * cell_rows, todo * cell_cols)
        )
        # the windows serving the first uncovered cell (raster order), so that a long tear is
        # tiled from one end without gaps; among them the one serving the most
        first_row, first_col = np.argwhere(todo)[0]
        serving = ((row_from <= first_row) & (first_row < row_to))[:, None] & (
            (col_from <= first_col) & (first_col < col_to)
        )[None, :]
        counts[~serving] = 0
        best = counts.max()
        if best <= 0:  # cannot happen: every cell lies inside some window's served span
            raise RuntimeError("window cover left damage uncovered")
        with np.errstate(invalid="ignore", divide="ignore"):
            row_error = (sum_rows / counts - centre_rows[:, None]) ** 2
            off_centre = row_error + (sum_cols / counts - centre_cols[None, :]) ** 2
        off_centre[counts < best] = np.inf
        i, j = np.unravel_index(np.argmin(off_centre), off_centre.shape)
        todo[row_from[i] : row_to[i], col_from[j] : col_to[j]] = False
        top, left = int(tops[i]), int(lefts[j])
        chosen.append(Window(top, left, top + min(size, height), left + min(size, width)))
    return sorted(chosen, key=lambda window: (window.top, window.left))


def _window_spans(length: int, size: int, margin: int, cell: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Window starts along one side and, for each, the cells it serves, [from, to).

    Starts step by ``cell`` px and include ``length - size`` (flush with the far edge). A window
    serves the cells lying wholly at least ``margin`` px inside it, or reaching the photo's edge."""
    starts = np.unique(np.append(np.arange(0, length - size + 1, cell), length - size))
    first = np.where(starts > 0, starts + margin, 0)
    last = np.where(starts + size < length, starts + size - margin, length)
    cells = -(-length // cell)
    served_from = -(-first // cell)
    served_to = np.where(last >= length, cells, last // cell)
    return starts, served_from, np.maximum(served_to, served_from)


def _box_sums(values: np.ndarray, row_from, row_to, col_from, col_to) -> np.ndarray:
    """Sums of ``values`` (R, C) over every box rows [row_from[i], row_to[i]) x cols [col_from[j], col_to[j])."""
    table = np.zeros((values.shape[0] + 1, values.shape[1] + 1))
    table[1:, 1:] = values.cumsum(axis=0).cumsum(axis=1)
    return (
        table[np.ix_(row_to, col_to)] - table[np.ix_(row_from, col_to)]
        - table[np.ix_(row_to, col_from)] + table[np.ix_(row_from, col_from)]
    )


def inpaint_windows(image: np.ndarray, mask: np.ndarray, windows: list[Window], settings) -> np.ndarray:
    """Diffusion inpainting of ``mask`` on each of ``windows``, pasted back seamlessly.

    Module-level and free of callbacks, so that ZeroGPU can run it in its GPU worker
    (``zerogpu.run_on_gpu``): the engine is the process-wide one.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1], e.g. the classical fill.
        mask: (H, W) float in [0, 1]; > 0.5 is repainted.
        windows: crops at the model's working size, e.g. from :func:`cover_with_windows`.
        settings: ``engine.InpaintSettings``.

    Returns:
        (H, W, 3) float32 in [0, 1]; pixels away from the mask are ``image``'s own.
    """
    engine = diffusion.get_engine()

    def repair(crop: np.ndarray, crop_mask: np.ndarray) -> np.ndarray:
        return engine.inpaint(crop, crop_mask, settings)

    def on_window(done: int, total: int) -> None:
        logger.info("repaired window %d of %d", done, total)

    return repaint_in_windows(image, mask, repair, windows=windows, on_window=on_window)


STAGE = Stage(
    name="scratch",
    title="Scratches",
    description="find and remove scratches, cracks, dust and specks",
    options=ScratchOptions,
    run=run,
    inputs=("mask",),
)
