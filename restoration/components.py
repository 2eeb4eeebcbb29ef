"""Connected components of masks, selected by what they hold.

Hysteresis, as Canny's edge detector keeps edges: the 8-connected components of a loose mask
that hold at least one pixel of a strict one. The learned scratch detector makes its mask so
(:class:`restoration.scratch_net.Levels`), and the hand labels of real damage are drawn so
(``benchmarks/real_damage_labels.py``).
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["seeded_components"]


def seeded_components(extent: np.ndarray, seeds: np.ndarray, *, min_area: int = 1) -> np.ndarray:
    """The 8-connected components of ``extent`` that hold a pixel of ``seeds`` and at least
    ``min_area`` pixels.

    Args:
        extent: (H, W) bool, the loose mask.
        seeds: (H, W) bool; its pixels outside ``extent`` seed nothing.
        min_area: smallest component kept, px.

    Returns:
        (H, W) bool, a union of whole components of ``extent``.
    """
    extent = np.asarray(extent, dtype=bool)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(extent.astype(np.uint8), connectivity=8)
    kept = np.zeros(count, bool)
    kept[labels[extent & np.asarray(seeds, dtype=bool)]] = True
    kept &= stats[:, cv2.CC_STAT_AREA] >= min_area
    kept[0] = False
    return kept[labels]
