"""Scratch DETECTION benchmark: the learned detector, the classical one and an OpenCV baseline.

Scored only on photos no detector was trained or fitted on:

* held-out synthetic damage: the 40 ``HELD_OUT_PRINTS`` of ``../shared/corpus``
  (``scratch_quality.py``; never in the learned detector's training set nor the classical
  detector's fitting set), downsized to ``--max-side`` px, under
  (a) the richer generator ``damage_synthesis.synthesize`` (scratches, crack networks, creases,
  tears, dust, hairs, stains, spots, both polarities, aged prints, JPEG), and
  (b) the original generator of ``scratch_quality.py`` (``degrade.scratch_mask`` +
  ``apply_damage``, the classical detector's home ground);
  and the bundled clean photos (``degrade.clean_photos``) under (a);
* dust: the held-out prints at ``--max-side`` px under one dust field and nothing else
  (``DUST_ONLY``: 1-3 px specks at 0.2-2 % of a large region), scored by the recall of the
  dust and the share of pixels marked more than 1 px away from it: the scene read as damage
  (a dusty scan once made the learned detector mark the heads of a small crowd);
* false alarms: the share of pixels each detector marks on the held-out prints as they are
  (undamaged, native resolution) and on the eight photos of ``examples/``. These prints carry
  some real specks and scratches of their own, so this is an upper bound of the false alarms;
* cost: seconds per megapixel of each detector on this machine;
* real damage, when ``--scratched`` holds the photos: four hand-labelled crops of
  ``../shared/scratched``, their masks rebuilt from the recipe of ``real_damage_labels.py``
  (the photos stay outside the repository). Each detector runs on the whole photo and is
  scored inside the box.

Precision, recall and F1 are per pixel (``scratch_quality.prf``), averaged over the damaged photos
(the richer generator leaves about one in ten undamaged; those count in the false-alarm rows).
Two more F1 columns explain the gap to a perfect score: "thin" leaves out damage at least
``scratch_net.WIDE_DAMAGE`` px across (torn corners, paper loss, large stains: the detectors leave
it to the brush), from the truth and the mask alike; "within 1 px" counts a marked pixel as right
when damage lies within 1 px of it, and damage as found when a mark does (the tolerance of crack
detection benchmarks: the edge pixels of a line are ambiguous).
The learned and classical detectors run at their default sensitivity (0.5), the learned one also at 0.75;
"network alone" is the learned detector without the classical detector's evidence
(``scratch_net.classical_evidence``).

Usage (from the repository root):

    python benchmarks/scratch_detection.py [--photos N] [--seed S] [--max-side PX] [--corpus DIR]
        [--scratched ../shared/scratched] [--weights FILE]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from damage_synthesis import DUST_ONLY, synthesize  # noqa: E402
from degrade import clean_photos  # noqa: E402
from real_damage_labels import LabelledCrop, labelled_crops  # noqa: E402
from scratch_quality import (  # noqa: E402
    _HELD_OUT_SALT,
    CORPUS,
    HELD_OUT_PRINTS,
    REAL_PHOTOS,
    CorpusUnavailable,
    baseline_detect,
    load_prints,
    prf,
    synthetic_case,
    timed,
)

from restoration import scratch_net  # noqa: E402
from restoration.classical.scratch_detector import detect_scratches  # noqa: E402
from restoration.imageio import load_photo  # noqa: E402

_RICH_SALT = (2,)  # damage seeds of the richer generator differ from the original generator's
_DUST_SALT = (4,)  # damage seeds of the dust rows
Detector = Callable[[np.ndarray], np.ndarray]


def network_alone(image: np.ndarray, *, model: scratch_net.ScratchNet | None = None) -> np.ndarray:
    """The learned detector without the classical detector's evidence, at sensitivity 0.5."""
    return scratch_net.damage_masks(scratch_net.damage_probability(image, model=model), (0.5,))[0]


def detectors(weights: Path | None = None) -> dict[str, Detector]:
    """The compared detectors, by name: (H, W, 3) float32 in [0, 1] -> (H, W) bool; the learned
    ones with the shipped weights, or with ``weights``."""
    found: dict[str, Detector] = {}
    if scratch_net.weights_available(weights):
        model = scratch_net.load_scratch_net(weights)
        found["learned"] = partial(scratch_net.detect_scratches_learned, model=model)
        found["learned, sensitivity 0.75"] = partial(scratch_net.detect_scratches_learned, sensitivity=0.75, model=model)
        found["network alone"] = partial(network_alone, model=model)
    else:
        print(f"note: no learned weights at {weights or scratch_net.WEIGHTS_PATH}; its rows are skipped", file=sys.stderr)
    found["classical"] = detect_scratches
    found["OpenCV top-hat"] = baseline_detect
    return found


def _grown(mask: np.ndarray, pixels: int) -> np.ndarray:
    """``mask`` (H, W) bool dilated by a square of ``pixels`` px each side."""
    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * pixels + 1,) * 2, np.uint8)) > 0


def wide_truth(truth: np.ndarray) -> np.ndarray:
    """The parts of the true damage at least ``scratch_net.WIDE_DAMAGE`` px across, with a 2 px rim,
    measured as ``scratch_net.wide_regions`` measures them on a probability map: (H, W) bool."""
    return scratch_net.wide_regions(truth.astype(np.float32))


def f1_thin(pred: np.ndarray, truth: np.ndarray) -> float:
    """F1 with :func:`wide_truth` left out of the truth and the mask alike; NaN when no thin damage is left."""
    care = ~wide_truth(truth)
    return prf(pred & care, truth & care)[2] if (truth & care).any() else float("nan")


def f1_within(pred: np.ndarray, truth: np.ndarray, pixels: int = 1) -> float:
    """F1 with a tolerance: a marked pixel is right when damage lies within ``pixels`` px of it,
    a damaged pixel is found when a mark does."""
    precision = float((pred & _grown(truth, pixels)).sum()) / max(float(pred.sum()), 1.0)
    recall = float((truth & _grown(pred, pixels)).sum()) / max(float(truth.sum()), 1.0)
    return 2 * precision * recall / max(precision + recall, 1e-12)


def score_synthetic(cases: list[tuple[np.ndarray, np.ndarray]], named: dict[str, Detector]) -> dict[str, np.ndarray]:
    """Per detector: (P, R, F1, F1 thin, F1 within 1 px, s/MP) averaged over the (damaged, truth)
    cases that hold damage (F1 thin over those that hold thin damage).

    The generator leaves about one case in ten undamaged (``DamageMix.clean_p``); F1 has no
    meaning there (even a detector marking nothing would score 0), so those cases are left out
    of the means; what detectors mark on undamaged prints is measured by :func:`coverage`."""
    rows = {}
    for name, detect in named.items():
        values = []
        for damaged, truth in cases:
            if not truth.any():
                continue
            mask, seconds = timed(detect, damaged)
            values.append((*prf(mask, truth), f1_thin(mask, truth), f1_within(mask, truth), seconds / (truth.size / 1e6)))
        rows[name] = np.nanmean(values, axis=0)
    return rows


def damaged_count(cases: list[tuple[np.ndarray, np.ndarray]]) -> str:
    """'N of M damaged' for a table title."""
    return f"{sum(bool(truth.any()) for _, truth in cases)} of {len(cases)} damaged"


def coverage(photos: dict[str, np.ndarray], named: dict[str, Detector]) -> dict[str, tuple[float, float, float]]:
    """Per detector: (mean %, max %, s/MP) of the pixels it marks on undamaged photos."""
    rows = {}
    for name, detect in named.items():
        shares, costs = [], []
        for image in photos.values():
            mask, seconds = timed(detect, image)
            shares.append(100 * float(mask.mean()))
            costs.append(seconds / (mask.size / 1e6))
        rows[name] = (float(np.mean(shares)), float(np.max(shares)), float(np.mean(costs)))
    return rows


def marked_beside(mask: np.ndarray, truth: np.ndarray, pixels: int = 1) -> float:
    """% of the pixels of ``mask`` (H, W) bool that lie more than ``pixels`` px from ``truth``."""
    return 100 * float((mask & ~_grown(truth, pixels)).mean())


def beside_dust(cases: list[tuple[np.ndarray, np.ndarray]], named: dict[str, Detector]) -> dict[str, tuple[float, float, float]]:
    """Per detector: (recall of the dust, mean %, max % of the pixels marked more than 1 px away
    from it) over (dusty photo, dust) cases."""
    rows = {}
    for name, detect in named.items():
        recalls, beside = [], []
        for damaged, truth in cases:
            mask = detect(damaged)
            recalls.append(prf(mask, truth)[1])
            beside.append(marked_beside(mask, truth))
        rows[name] = (float(np.mean(recalls)), float(np.mean(beside)), float(np.max(beside)))
    return rows


def score_real_damage(crops: list[LabelledCrop], named: dict[str, Detector]) -> list[tuple[str, str, tuple]]:
    """(crop, detector, (P, R, F1)) for every hand-labelled crop; each detector runs on the whole photo."""
    rows = []
    for crop in crops:
        x0, y0, x1, y1 = crop.box
        for name, detect in named.items():
            rows.append((crop.name, name, prf(detect(crop.image)[y0:y1, x0:x1], crop.truth[y0:y1, x0:x1])))
    return rows


def _table(title: str, rows: dict[str, np.ndarray]) -> None:
    print(f"\n{title}\n")
    print("| detector | precision | recall | **F1** | F1 thin | F1 within 1 px | s/MP |")
    print("|---|---|---|---|---|---|---|")
    for name, (p, r, f1, thin, within, cost) in rows.items():
        print(f"| {name} | {p:.3f} | {r:.3f} | **{f1:.3f}** | {thin:.3f} | {within:.3f} | {cost:.2f} |", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=None, help="only the first N photos of each set")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic damage (default 0)")
    parser.add_argument("--max-side", type=int, default=512, help="downsize damaged photos to this side (default 512)")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help=f"folder of the corpus prints (default {CORPUS})")
    parser.add_argument(
        "--scratched", type=Path, default=CORPUS.parent / "scratched",
        help="folder of the real scratched photos the hand labels belong to (skipped when missing)",
    )
    parser.add_argument("--weights", type=Path, default=None, help="learned detector's weights (default: the shipped ones)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    named = detectors(args.weights)
    limit = slice(None) if args.photos is None else slice(max(args.photos, 0))
    try:
        held_out = load_prints(args.corpus, HELD_OUT_PRINTS[limit], args.max_side)
        held_native = load_prints(args.corpus, HELD_OUT_PRINTS[limit], None)
    except CorpusUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    rich = [
        synthesize(image, rng=np.random.default_rng([args.seed, i, *_RICH_SALT])) for i, image in enumerate(held_out.values())
    ]
    _table(
        f"Held-out corpus prints ({damaged_count(rich)}, {args.max_side} px), richer synthetic damage (damage_synthesis), seed {args.seed}:",
        score_synthetic(rich, named),
    )
    original = [synthetic_case(image, args.seed, i, _HELD_OUT_SALT)[1:] for i, image in enumerate(held_out.values())]
    _table(
        f"Held-out corpus prints ({damaged_count(original)}, {args.max_side} px), original synthetic damage (scratch_quality), seed {args.seed}:",
        score_synthetic(original, named),
    )
    bundled = dict(list(clean_photos(args.max_side).items())[limit])
    bundled_cases = [
        synthesize(image, rng=np.random.default_rng([args.seed, i, *_RICH_SALT])) for i, image in enumerate(bundled.values())
    ]
    _table(
        f"Bundled clean photos ({damaged_count(bundled_cases)}: {', '.join(bundled)}), richer synthetic damage, seed {args.seed}:",
        score_synthetic(bundled_cases, named),
    )
    dusty = [
        synthesize(image, rng=np.random.default_rng([args.seed, i, *_DUST_SALT]), mix=DUST_ONLY) for i, image in enumerate(held_out.values())
    ]
    print(f"\nHeld-out corpus prints ({len(dusty)}, {args.max_side} px) under a dust field alone (DUST_ONLY), seed {args.seed}:\n")
    print("| detector | recall of the dust | marked beyond 1 px of the dust: mean % | max % |")
    print("|---|---|---|---|")
    for name, (recall, mean, most) in beside_dust(dusty, named).items():
        print(f"| {name} | {recall:.3f} | {mean:.2f} | {most:.2f} |", flush=True)
    examples = {p.name: np.asarray(load_photo(p).pixels, dtype=np.float32) for p in sorted(REAL_PHOTOS.glob("*.jpg"))[limit]}
    print("\nMarked pixels on undamaged photos (false alarms, upper bound: real specks count too):\n")
    print("| detector | held-out prints as they are, native size: mean % | max % | s/MP | examples/: mean % | max % |")
    print("|---|---|---|---|---|---|")
    prints_cov, examples_cov = coverage(held_native, named), coverage(examples, named)
    for name in named:
        (pm, px, cost), (em, ex, _) = prints_cov[name], examples_cov[name]
        print(f"| {name} | {pm:.2f} | {px:.2f} | {cost:.2f} | {em:.2f} | {ex:.2f} |", flush=True)
    try:
        crops = labelled_crops(args.scratched)
    except FileNotFoundError as error:
        print(f"\nnote: no hand-labelled crops ({error}); skipped", file=sys.stderr)
        crops = []
    if crops:
        print(f"\nHand-labelled crops of real damage ({args.scratched}, real_damage_labels.py; never trained on):\n")
        print("| crop | detector | precision | recall | F1 |")
        print("|---|---|---|---|---|")
        for crop, name, (p, r, f1) in score_real_damage(crops, named):
            print(f"| {crop} | {name} | {p:.3f} | {r:.3f} | {f1:.3f} |", flush=True)
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
