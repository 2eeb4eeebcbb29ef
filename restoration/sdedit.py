"""SDEdit of a whole photo with the shared engine, on seamless tiles at its working size.

Global refinement (denoise) and automatic or harmonised colour (colorize) both run the
inpainting model with an all-white mask and ``strength`` < 1 (Meng et al., "SDEdit", ICLR 2022)
on overlapping tiles, blended by :func:`restoration.regions.process_in_tiles`.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import engine as diffusion
from .regions import process_in_tiles

__all__ = ["sdedit_tiles"]


def sdedit_tiles(image: np.ndarray, settings, *, size: int, overlap: int) -> np.ndarray:
    """SDEdit every tile of ``image`` with the shared engine (all-white mask) and blend them.

    Module-level and free of callbacks, so that ZeroGPU can run it in its GPU worker
    (``zerogpu.run_on_gpu``). Each tile gets its own seed (``settings.seed`` + its index), so
    the noise pattern does not repeat across the overlaps.

    Args:
        image: (H, W, 3) float32 RGB in [0, 1].
        settings: ``engine.InpaintSettings`` with ``strength`` < 1 (and the stage's prompts).
        size, overlap: tile geometry (the model's working size and the blend width), px.

    Returns:
        (H, W, 3) float32 in [0, 1], the decoded tiles blended with smooth ramps.
    """
    engine = diffusion.get_engine()
    done = [0]

    def refine(tile: np.ndarray) -> np.ndarray:
        tile_settings = dataclasses.replace(settings, seed=settings.seed + done[0])
        done[0] += 1
        return engine.inpaint(tile, np.ones(tile.shape[:2], np.float32), tile_settings)

    return process_in_tiles(image, refine, size=size, overlap=overlap)
