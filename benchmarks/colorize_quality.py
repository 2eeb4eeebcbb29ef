"""Reference-based colorization quality: colour photos turned gray, coloured again from a reference.

Each colour photo is turned gray (Rec. 601 luma, as a gray scan loads) and coloured by:

* **ours**: the colorize stage, classical engine, ``restore(gray, "colorize",
  RestoreOptions(engine="classical", stages={"colorize": ColorizeOptions(reference=ref)}))``;
* **Reinhard**: global colour transfer (Reinhard et al. 2001: mean and deviation of a*b*
  matched in Lab; the gray photo's L* kept, as ours keeps it), which on a gray photo gives the
  reference's mean colour everywhere;
* **gray input**: the gray photo itself.

Two kinds of reference:

* **(a) similar scene**: a different photo of a similar scene: the right camera of scikit-image's
  stereo motorcycle pair coloured from the left camera (``stereo_motorcycle()[1]`` from ``[0]``),
  and for every photo its right half coloured from its left half (same scene and lighting,
  different content: chelsea's other eye and cheek, the coffee cup's other side, ...);
* **(b) shifted and cropped**: the same photo shifted and cropped (``photo[8 % of the height:,
  10 % of the width : 95 % of the width]``).

Scores against the true colours: mean CIEDE2000 (``skimage.color.deltaE_ciede2000``, Lab of
``skimage.color.rgb2lab``) over the photo, the Hasler-Suesstrunk colourfulness as a share of the
true photo's (100 % = as colourful as the truth), and seconds per megapixel of the whole stage.

The stage's constants (``TransferSettings``) were TUNED (``--tune``) on astronaut, coffee and
rocket; the figures are SCORED on chelsea, grace_hopper and the motorcycle (``SCORE_PHOTOS``).

Usage (from the repository root):

    python benchmarks/colorize_quality.py [--max-side PX] [--per-pair]
    python benchmarks/colorize_quality.py --tune     # the parameter grid on the tuning photos
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from degrade import clean_photos  # noqa: E402

from restoration import RestoreOptions, restore  # noqa: E402
from restoration.classical import colour_transfer  # noqa: E402
from restoration.classical.edge_aware import lab_to_rgb, rgb_to_lab  # noqa: E402
from restoration.stages import colorize  # noqa: E402
from restoration.stages.colorize import ColorizeOptions  # noqa: E402

TUNE_PHOTOS = ("astronaut", "coffee", "rocket")
SCORE_PHOTOS = ("chelsea", "grace_hopper", "motorcycle")
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def gray_of(photo: np.ndarray) -> np.ndarray:
    """(H, W, 3) float32: the Rec. 601 luma over three channels, as a gray scan loads."""
    return np.repeat((photo @ _LUMA)[..., None], 3, axis=2).astype(np.float32)


def colourfulness(rgb: np.ndarray) -> float:
    """Hasler and Suesstrunk (2003) colourfulness M of (H, W, 3) RGB in [0, 1] (8-bit units)."""
    r, g, b = (rgb.astype(np.float64) * 255.0).transpose(2, 0, 1)
    rg, yb = r - g, 0.5 * (r + g) - b
    return float(np.hypot(rg.std(), yb.std()) + 0.3 * np.hypot(rg.mean(), yb.mean()))


def pairs(names: tuple[str, ...], max_side: int) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """(kind, label, true colour target, colour reference) for the named photos."""
    import skimage.data

    photos = clean_photos(max_side)
    result = []
    for name in names:
        photo = photos[name]
        height, width = photo.shape[:2]
        if name == "motorcycle":
            right = skimage.data.stereo_motorcycle()[1].astype(np.float32) / 255.0
            right = cv2.resize(right, (width, height), interpolation=cv2.INTER_AREA)
            result.append(("a", "motorcycle right from left camera", right, photo))
        half = width // 2
        result.append(("a", f"{name} right half from left half", photo[:, half:], photo[:, :half]))
        shifted = photo[int(0.08 * height) :, int(0.10 * width) : int(0.95 * width)]
        result.append(("b", f"{name} from itself shifted and cropped", photo, shifted))
    return result


def ours(gray: np.ndarray, reference: np.ndarray) -> np.ndarray:
    options = RestoreOptions(engine="classical", stages={"colorize": ColorizeOptions(reference=reference)})
    return restore(gray, "colorize", options).image


def reinhard(gray: np.ndarray, reference: np.ndarray) -> np.ndarray:
    lab = rgb_to_lab(gray)
    chroma = colour_transfer.reinhard_transfer(lab[..., 0], lab[..., 1:], reference)
    return np.clip(lab_to_rgb(lab[..., 0], chroma), 0.0, 1.0)


METHODS = {"ours": ours, "Reinhard": reinhard, "gray input": lambda gray, reference: gray}


def score(truth: np.ndarray, coloured: np.ndarray) -> tuple[float, float]:
    """(mean CIEDE2000, colourfulness in % of the truth's)."""
    delta = float(deltaE_ciede2000(rgb2lab(truth), rgb2lab(np.clip(coloured, 0, 1))).mean())
    return delta, 100.0 * colourfulness(coloured) / max(colourfulness(truth), 1e-9)


def evaluate(names: tuple[str, ...], max_side: int, *, per_pair: bool = False, methods=METHODS) -> dict:
    """{(kind, method): [(delta E, colourfulness %, seconds per MP), ...]}; prints per pair if asked."""
    table: dict = {}
    for kind, label, truth, reference in pairs(names, max_side):
        gray = gray_of(truth)
        for method, colour in methods.items():
            started = time.perf_counter()
            coloured = colour(gray, reference)
            seconds = (time.perf_counter() - started) / (gray.shape[0] * gray.shape[1] / 1e6)
            delta, vivid = score(truth, coloured)
            table.setdefault((kind, method), []).append((delta, vivid, seconds))
            if per_pair:
                print(f"  ({kind}) {label:45s} {method:11s} dE00 {delta:6.2f}  colourfulness {vivid:5.0f} %")
    return table


def print_table(table: dict, title: str) -> None:
    print(f"\n{title}\n")
    print("| pairs | method | CIEDE2000 (lower is better) | colourfulness (% of true) | s / MP |")
    print("|---|---|---:|---:|---:|")
    kinds = {"a": "(a) similar scene", "b": "(b) shifted + cropped"}
    for (kind, method), rows in table.items():
        values = np.array(rows)
        print(f"| {kinds[kind]} ({len(rows)}) | {method} | {values[:, 0].mean():.2f} | {values[:, 1].mean():.0f} | "
              f"{values[:, 2].mean():.2f} |")


def tune(max_side: int) -> None:
    """Grid over the transfer settings on the tuning photos; prints mean dE00 and colourfulness."""
    grid = {"position_weight": (15.0, 25.0, 40.0), "temperature": (0.8, 1.3, 2.0), "prior_weight": (0.0, 0.5, 1.0)}
    original = colorize.transfer_chroma
    try:
        for values in itertools.product(*grid.values()):
            settings = dataclasses.replace(colour_transfer.TransferSettings(), **dict(zip(grid, values)))
            colorize.transfer_chroma = lambda lightness, reference, s=settings: original(lightness, reference, s)
            table = evaluate(TUNE_PHOTOS, max_side, methods={"ours": ours})
            figures = {kind: np.array(table[(kind, "ours")]) for kind in ("a", "b")}
            print(
                dict(zip(grid, values)),
                " ".join(f"({k}) dE {f[:, 0].mean():.2f} colour {f[:, 1].mean():.0f}%" for k, f in figures.items()),
                flush=True,
            )
    finally:
        colorize.transfer_chroma = original


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-side", type=int, default=512, help="photos are downsized to this longest side")
    parser.add_argument("--per-pair", action="store_true", help="print every pair's scores")
    parser.add_argument("--tune", action="store_true", help="run the tuning grid on the tuning photos")
    arguments = parser.parse_args(argv)
    cv2.setNumThreads(2)
    if arguments.tune:
        tune(arguments.max_side)
        return 0
    table = evaluate(SCORE_PHOTOS, arguments.max_side, per_pair=arguments.per_pair)
    print_table(table, f"Scored on {', '.join(SCORE_PHOTOS)} (longest side {arguments.max_side} px)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
