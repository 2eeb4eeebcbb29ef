"""Scratch, crack, dust and speck removal: a mask and local repair.

Following Wan et al. (CVPR 2020), local damage needs a mask and a local repair, unlike grain
and fading. Detection is classical (multi-scale line and speck filters), optionally sharpened
by a DiffEdit-style damage prior from the shared diffusion model. Repair is classical
inpainting (the offline engine), refined with diffusion inpainting on native-resolution
windows around the damage when the diffusion engine runs; every repaired window is pasted
back with a feathered mask, so pixels away from the damage are the input's own.

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
from ..errors import InputError
from ..options import RestoreOptions, check_user_mask
from ..regions import Window, coverage_percent, repaint_in_windows, windows_covering
from ..validation import check_mask_size
from .context import Stage, StageContext, StageOutput

__all__ = [
    "STAGE",
    "MASK_MODES",
    "ScratchOptions",
    "detect",
    "faint_candidates",
    "confirm_with_prior",
    "combine_masks",
    "inpaint_windows",
    "run",
]

logger = logging.getLogger(__name__)

MASK_MODES = ("add", "replace")
_PRIOR_EXTRA_SENSITIVITY = 0.25
_PRIOR_THRESHOLD = 0.5
_REPAIR_STRENGTH = 0.85
_DEFAULT_WINDOW = 512
_WINDOW_OVERLAP_SHARE = 8  # windows overlap by 1/8 of their side (64 px at SD 1.5's 512)
_PRIOR_SAMPLES = 4  # UNet passes per prior window (DiffusionEngine.damage_prior's default)

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

    def __post_init__(self) -> None:
        if not 0.0 <= self.sensitivity <= 1.0:
            raise InputError(f"sensitivity must be between 0 and 1, got {self.sensitivity}")
        if self.mask_mode not in MASK_MODES:
            raise InputError(f"mask mode must be one of {', '.join(MASK_MODES)}; got {self.mask_mode!r}")
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
) -> np.ndarray:
    """Scratch mask of ``image``, optionally confirmed by a damage prior.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1].
        sensitivity: in [0, 1]; higher finds fainter damage (and more false alarms).
        damage_prior: optional per-crop prior (e.g. ``DiffusionEngine.damage_prior``); see
            :func:`confirm_with_prior`.
        window_size: side of the windows the prior runs on, px (the model's working size).

    Returns:
        (H, W) float32 in {0, 1}, 1 = damaged.
    """
    strict, candidates = faint_candidates(image, sensitivity=sensitivity, with_faint=damage_prior is not None)
    if damage_prior is None:
        return strict.astype(np.float32)
    return confirm_with_prior(image, strict, candidates, damage_prior, window_size=window_size)


def faint_candidates(image: np.ndarray, *, sensitivity: float, with_faint: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(strict, faint): (H, W) bool masks of what the detector finds at ``sensitivity``, and
    of what only a more sensitive run finds (all False when ``with_faint`` is False)."""
    strict = detect_classical(image, sensitivity=sensitivity)
    if not with_faint:
        return strict, np.zeros_like(strict)
    loose = detect_classical(image, sensitivity=min(1.0, sensitivity + _PRIOR_EXTRA_SENSITIVITY))
    return strict, loose & ~strict


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
        repaired, findings["windows"] = _refine_with_diffusion(repaired, mask, context, options)
    return StageOutput(repaired, mask, findings)


def _detect(image: np.ndarray, options: ScratchOptions, context: StageContext) -> tuple[np.ndarray, int]:
    """Detection, confirmed by the engine's damage prior (on the GPU) when asked for.

    Returns the (H, W) float32 mask and the number of windows the prior ran on.
    """
    engine = context.engine
    use_prior = options.damage_prior and engine is not None
    strict, faint = faint_candidates(image, sensitivity=options.sensitivity, with_faint=use_prior)
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
    prepared: np.ndarray, mask: np.ndarray, context: StageContext, options: ScratchOptions
) -> tuple[np.ndarray, int]:
    """Diffusion inpainting on windows around the damage, starting from the classical fill."""
    settings = context.inpaint_settings(strength=_REPAIR_STRENGTH, resample=options.resample)
    windows = _windows(mask, context.engine.working_size)
    context.report(0.15, f"repairing {len(windows)} windows with the model ({settings.unet_steps} steps each)")
    result = zerogpu.run_on_gpu(
        inpaint_windows, prepared, mask, windows, settings, windows=len(windows), steps=settings.unet_steps
    )
    return result, len(windows)


def inpaint_windows(image: np.ndarray, mask: np.ndarray, windows: list[Window], settings) -> np.ndarray:
    """Diffusion inpainting of ``mask`` on each of ``windows``, pasted back seamlessly.

    Module-level and free of callbacks, so that ZeroGPU can run it in its GPU worker
    (``zerogpu.run_on_gpu``): the engine is the process-wide one.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1], e.g. the classical fill.
        mask: (H, W) float in [0, 1]; > 0.5 is repainted.
        windows: crops at the model's working size, from :func:`regions.windows_covering`.
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
