"""How many diffusion windows the scratch stage spends on a large scan, before and after
windows followed the damage that needs them.

A 3000x2000 scan (a held-out corpus print, or scikit-image's astronaut without the corpus,
enlarged) gets synthetic damage: thin scratches (``degrade.scratch_mask``, 1-3 px wide) until
they cover about 2 % of the pixels, then the same plus wide tears and a torn corner
(``wide_tears.tear_mask``, 10-60 px wide). For each, the table gives:

* ``tiles``: the windows of the former rule, one per 512-px tile holding any damage
  (``regions.windows_covering`` of the whole mask);
* ``now``: the windows of ``scratch.cover_with_windows`` over ``scratch.needs_diffusion``
  (wide or textured damage only; thin scratches keep the classical fill), and the share of the
  damage they repaint;
* seconds taken by the selection and the cover (no model runs here; a window costs the
  engine's steps, see ``benchmarks/diffusion_cost.py``).

Usage (from the repository root):

    python benchmarks/scratch_windows.py [--size 3000x2000] [--coverage 2.0] [--seed S]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from degrade import scratch_mask
from scratch_quality import HELD_OUT_PRINTS, CorpusUnavailable, load_prints
from wide_tears import WIDTH_RANGES, tear_mask

from restoration.regions import windows_covering
from restoration.stages.scratch import cover_with_windows, needs_diffusion

WINDOW = 512  # SD 1.5's working size, px
OVERLAP = WINDOW // 8  # the scratch stage's window overlap


def thin_scratches(shape: tuple[int, int], coverage: float, rng: np.random.Generator) -> np.ndarray:
    """Thin scratches only, added in batches until they cover ``coverage`` % of the pixels."""
    mask = np.zeros(shape, bool)
    while 100.0 * mask.mean() < coverage:
        mask |= scratch_mask(shape, rng=rng, scratches=4, cracks=0, specks=0)
    return mask


def scan(size: tuple[int, int], corpus: Path) -> tuple[np.ndarray, str]:
    """The photo enlarged to ``size`` (H, W): (H, W, 3) float32 in [0, 1] and its name."""
    try:
        name = HELD_OUT_PRINTS[3]
        photo = load_prints(corpus, [name], None)[name]
    except CorpusUnavailable:
        import skimage.data

        name, photo = "astronaut", skimage.data.astronaut().astype(np.float32) / 255.0
    return np.clip(cv2.resize(photo, (size[1], size[0]), interpolation=cv2.INTER_CUBIC), 0, 1), name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="3000x2000", help="scan size WxH, px")
    parser.add_argument("--coverage", type=float, default=2.0, help="thin-scratch coverage, %% of the pixels")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "corpus")
    args = parser.parse_args(argv)
    try:
        width, height = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        print(f"error: --size must look like 3000x2000, got {args.size!r}", file=sys.stderr)
        return 2
    rng = np.random.default_rng(args.seed)
    photo, name = scan((height, width), args.corpus)
    thin = thin_scratches((height, width), args.coverage, rng)
    tears = np.zeros_like(thin)
    for band in WIDTH_RANGES[::2]:  # a 10-20 px and a 40-60 px tear, each with a torn corner
        tears |= tear_mask((height, width), band, rng)
    print(f"{width}x{height} scan ({name} enlarged), windows of {WINDOW} px overlapping by >= {OVERLAP} px\n")
    print("| damage | coverage % | tiles (before) | now | damage repainted by the model % | select + cover s |")
    print("|---|---|---|---|---|---|")
    for label, mask in (("thin scratches", thin), ("thin scratches + 2 wide tears", thin | tears)):
        start = time.perf_counter()
        refine = needs_diffusion(photo, mask)
        windows = cover_with_windows(refine, size=WINDOW, overlap=OVERLAP)
        seconds = time.perf_counter() - start
        before = windows_covering(mask, size=WINDOW, overlap=OVERLAP)
        share = 100.0 * refine.sum() / max(mask.sum(), 1)
        print(f"| {label} | {100 * mask.mean():.2f} | {len(before)} | {len(windows)} | {share:.1f} | {seconds:.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
