"""Repair of wide tears and paper loss (10-60 px wide): our classical fill against OpenCV.

Wide damage is where a smooth fill smears: a 40-px band filled by diffusion of its borders
becomes a blurred streak across texture and edges. This benchmark paints synthetic tears on
held-out corpus prints (``scratch_quality.HELD_OUT_PRINTS``, the first ``--photos``; nothing
here is fitted) and scores the repair INSIDE the true mask (PSNR over the masked pixels, the SSIM
map averaged over them) for:

* ``ours``: ``inpaint_classical`` as the scratch stage runs it (exemplar fill of wide regions);
* ``refine``: ``inpaint_classical(exemplar=False)``, the former repair: the smooth fill refined
  in place with patches, which smears across wide holes;
* ``smooth``: ``inpaint_classical(iterations=0)``, its biharmonic fill alone;
* OpenCV Telea and Navier-Stokes inpainting (radius 3).

A tear is a band crossing the print from one border to the opposite one, its centre line and
width wandering smoothly and its edges jagged (torn paper fibres); a torn corner is a jagged
triangle of paper lost at one corner. Widths are drawn in three ranges (10-20, 20-40 and
40-60 px); the prints are downsized to ``--max-side`` px first (a 512-px print is a typical
postcard scan at 150 dpi). Cost is seconds per megapixel of the whole photo.

Usage (from the repository root):

    python benchmarks/wide_tears.py [--photos N] [--max-side PX] [--corpus DIR] [--out DIR]

``--out`` writes, per photo and width range, the damaged photo and each repair side by side
(PNG), to look at them at 100 %.
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

from scratch_quality import (
    HELD_OUT_PRINTS,
    CorpusUnavailable,
    load_prints,
    masked_quality,
)

from restoration.classical.inpaint import inpaint_classical

WIDTH_RANGES = ((10, 20), (20, 40), (40, 60))  # tear widths, px
_PAPER = (0.93, 0.90, 0.82)  # colour of the bare paper (or the scanner lid) showing through a tear
_JAG = 3.0  # px, amplitude of the torn-fibre jaggedness of a tear's edges


def _wander(n: int, rng: np.random.Generator, *, period: float, amplitude: float) -> np.ndarray:
    """(n,) smooth random curve, zero mean, about ``amplitude`` px, varying over ``period`` samples."""
    knots = rng.normal(0.0, amplitude, max(2, int(n / period) + 2))
    return np.interp(np.arange(n) / period, np.arange(len(knots)), knots).astype(np.float32)


def tear_mask(shape: tuple[int, int], width: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """A tear crossing the photo (vertical or horizontal) plus a torn corner, (H, W) bool.

    Args:
        shape: (H, W) of the photo.
        width: (low, high) px range of the tear's mean width; the torn corner's depth is about
            twice the tear's width.
        rng: source of the geometry.
    """
    h, w = shape
    vertical = bool(rng.integers(2))
    length, across = (h, w) if vertical else (w, h)
    mean_width = rng.uniform(*width)
    centre = rng.uniform(0.3, 0.7) * across + _wander(length, rng, period=80.0, amplitude=across * 0.05)
    half = mean_width / 2 * (1 + 0.25 * np.tanh(_wander(length, rng, period=60.0, amplitude=1.0)))
    lower = centre - half + rng.normal(0, _JAG / 2, length)
    upper = centre + half + rng.normal(0, _JAG / 2, length)
    positions = np.arange(across)[None, :]
    band = (positions >= lower[:, None]) & (positions <= upper[:, None])  # (length, across)
    mask = band if vertical else band.T
    # torn corner: the paper lost beyond a jagged line across one corner
    depth = 2.0 * mean_width
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    corner = int(rng.integers(4))
    dy = y if corner < 2 else h - 1 - y
    dx = x if corner % 2 == 0 else w - 1 - x
    jag = cv2.resize(rng.normal(0, _JAG, (h // 4 + 1, w // 4 + 1)).astype(np.float32), (w, h))
    return mask | (dx + dy + jag < depth * 1.4)


def damage(photo: np.ndarray, mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``photo`` with the paper (slightly mottled) showing through ``mask``."""
    out = photo.copy()
    mottle = rng.normal(0, 0.02, mask.shape).astype(np.float32)
    out[mask] = np.clip(np.array(_PAPER, np.float32)[None, :] + mottle[mask][:, None], 0, 1)
    return out


def opencv(method: int):
    def repair(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        bgr = cv2.cvtColor((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR)
        out = cv2.inpaint(bgr, mask.astype(np.uint8) * 255, 3, method)
        return cv2.cvtColor(out, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0

    return repair


METHODS = {
    "ours": lambda image, mask: inpaint_classical(image, mask),
    "refine": lambda image, mask: inpaint_classical(image, mask, exemplar=False),
    "smooth": lambda image, mask: inpaint_classical(image, mask, iterations=0),
    "Telea": opencv(cv2.INPAINT_TELEA),
    "NS": opencv(cv2.INPAINT_NS),
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=12, help="held-out corpus prints to score (max 40)")
    parser.add_argument("--max-side", type=int, default=512, help="downsize the prints to this longest side, px")
    parser.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "corpus")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated subset of " + ",".join(METHODS))
    parser.add_argument("--out", type=Path, default=None, help="write side-by-side PNGs here")
    args = parser.parse_args(argv)
    methods = [name.strip() for name in args.methods.split(",") if name.strip()]
    unknown = [name for name in methods if name not in METHODS]
    if unknown:
        print(f"error: unknown method {unknown[0]!r}; choose from {', '.join(METHODS)}", file=sys.stderr)
        return 2
    try:
        prints = load_prints(args.corpus, HELD_OUT_PRINTS[: max(1, min(args.photos, 40))], args.max_side)
    except CorpusUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)

    scores = {(name, r): [] for name in methods for r in WIDTH_RANGES}  # (psnr, ssim, s/MP)
    for index, (print_name, photo) in enumerate(prints.items()):
        for band, width in enumerate(WIDTH_RANGES):
            rng = np.random.default_rng([10, index, band])
            mask = tear_mask(photo.shape[:2], width, rng)
            damaged = damage(photo, mask, rng)
            panels = [damaged]
            for name in methods:
                start = time.perf_counter()
                result = METHODS[name](damaged, mask)
                seconds = time.perf_counter() - start
                psnr, ssim = masked_quality(photo, result, mask)
                scores[(name, width)].append((psnr, ssim, seconds / (mask.size / 1e6)))
                panels.append(result)
            if args.out is not None:
                row = (np.clip(np.concatenate(panels, axis=1), 0, 1) * 255 + 0.5).astype(np.uint8)
                stem = Path(print_name).stem
                cv2.imwrite(str(args.out / f"{stem}_{width[0]}-{width[1]}px.png"), row[..., ::-1])

    print(f"Wide tears on {len(prints)} held-out corpus prints at {args.max_side} px (mean over prints; "
          "PSNR dB / SSIM inside the true mask; s/MP of the whole photo)\n")
    header = "| method | " + " | ".join(f"{lo}-{hi} px PSNR | SSIM" for lo, hi in WIDTH_RANGES) + " | s/MP |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for name in methods:
        cells = []
        seconds = []
        for width in WIDTH_RANGES:
            values = np.array(scores[(name, width)])
            cells += [f"{values[:, 0].mean():.2f}", f"{values[:, 1].mean():.3f}"]
            seconds.append(values[:, 2])
        print(f"| {name} | " + " | ".join(cells) + f" | {np.concatenate(seconds).mean():.2f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
