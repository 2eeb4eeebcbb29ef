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

import cv2
import numpy as np

from ..classical.inpaint import inpaint_classical
from ..classical.scratch_detector import detect_scratches as detect_classical
from ..errors import InputError
from ..options import MASK_MODES
from ..regions import coverage_percent, repaint_in_windows, windows_covering
from ..validation import check_mask_size
from .context import StageContext, StageOutput

__all__ = ["NAME", "detect", "combine_masks", "run"]

NAME = "scratch"
_PRIOR_EXTRA_SENSITIVITY = 0.25
_PRIOR_THRESHOLD = 0.5


def detect(image: np.ndarray, *, sensitivity: float = 0.5, prior: np.ndarray | None = None) -> np.ndarray:
    """Scratch mask of ``image``.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1].
        sensitivity: in [0, 1]; higher finds fainter damage (and more false alarms).
        prior: optional (H, W) float in [0, 1] from ``DiffusionEngine.damage_prior``. Candidates
            that only a more sensitive detector finds are kept where the prior agrees.

    Returns:
        (H, W) float32 in {0, 1}, 1 = damaged.
    """
    strict = detect_classical(image, sensitivity=sensitivity)
    if prior is None:
        return strict.astype(np.float32)
    loose = detect_classical(image, sensitivity=min(1.0, sensitivity + _PRIOR_EXTRA_SENSITIVITY))
    return (strict | _components_backed_by(loose & ~strict, prior)).astype(np.float32)


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
        raise InputError(f"mask mode must be one of {MASK_MODES}, got {mode!r}")
    if user is None:
        return detected.astype(np.float32)
    check_mask_size(user, detected.shape)
    user = np.clip(user, 0.0, 1.0).astype(np.float32)
    return user if mode == "replace" else np.maximum(detected, user).astype(np.float32)


def run(image: np.ndarray, context: StageContext) -> StageOutput:
    """Detect (unless the user's mask replaces detection) and repair scratches.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1].
        context: options, the engine (None = classical) and progress reporting.

    Returns:
        StageOutput with the repaired (H, W, 3) image, the repaired mask and findings
        (``coverage_percent``, ``regions``, ``windows`` repaired by diffusion).
    """
    options = context.options
    if options.mask is not None and options.mask_mode == "replace":
        mask = combine_masks(np.zeros(image.shape[:2], np.float32), options.mask, "replace")
    else:
        context.report(0.0, "finding scratches")
        prior = _damage_prior(image, context) if options.damage_prior and context.engine else None
        mask = combine_masks(detect(image, sensitivity=options.sensitivity, prior=prior), options.mask, "add")
    damaged = mask > 0.5
    findings = {
        "coverage_percent": coverage_percent(mask),
        "regions": int(cv2.connectedComponents(damaged.astype(np.uint8), connectivity=8)[0] - 1),
    }
    if not damaged.any():
        return StageOutput(image.copy(), mask, findings)
    context.report(0.1, "repairing scratches")
    repaired = inpaint_classical(image, damaged)
    if context.engine is not None:
        repaired, findings["windows"] = _refine_with_diffusion(repaired, mask, context)
    return StageOutput(repaired, mask, findings)


def _damage_prior(image: np.ndarray, context: StageContext) -> np.ndarray:
    """The engine's damage prior, computed window by window at native resolution."""
    prior = np.zeros(image.shape[:2], np.float32)
    for window in windows_covering(prior + 1.0):
        crop_prior = context.engine.damage_prior(image[window.slices], seed=context.options.seed)
        np.maximum(prior[window.slices], crop_prior, out=prior[window.slices])
    return prior


def _refine_with_diffusion(prepared: np.ndarray, mask: np.ndarray, context: StageContext) -> tuple[np.ndarray, int]:
    """Diffusion inpainting on windows around the damage, starting from the classical fill."""
    settings = context.inpaint_settings(strength=0.85)
    windows_done = [0]

    def repair(crop: np.ndarray, crop_mask: np.ndarray) -> np.ndarray:
        return context.engine.inpaint(crop, crop_mask, settings, callback=context.step_reporter("diffusion inpainting"))

    def on_window(done: int, total: int) -> None:
        windows_done[0] = done
        context.report(0.1 + 0.9 * done / total, f"repaired window {done} of {total}")

    result = repaint_in_windows(prepared, mask, repair, on_window=on_window)
    return result, windows_done[0]
