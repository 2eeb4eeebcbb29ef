"""The scratch STAGE end to end, with each detector: how close the repaired photo comes to the
photo before the damage.

``scratch_detection.py`` scores the masks and ``scratch_quality.py`` the repair on the TRUE
mask; this benchmark runs what a user gets: ``pipeline.restore(image, "scratch")`` with the
classical engine, detection and repair together, once per detector at its default sensitivity,
and the OpenCV baseline (``scratch_quality.baseline_detect``: top-hat and Otsu, then Telea
inpainting). Missed damage stays in the photo and false alarms get repainted; both cost PSNR.

Scored only on the 40 ``HELD_OUT_PRINTS`` of ``../shared/corpus`` (never trained or fitted on),
downsized to ``--max-side`` px and aged (``degrade``, without scratches or JPEG: the reference),
then:

* original damage: ``scratch_quality.synthetic_case`` (the same cases as the other benchmarks);
* richer damage: ``damage_synthesis.synthesize(aged, age=False)`` (cracks, crazing, creases,
  hairs, spots, tears, both polarities, then JPEG sometimes; its own damage seeds);
* dust: a dust field alone (``damage_synthesis.DUST_ONLY``: 1-3 px specks at 0.2-2 % of a
  large region), where a detector that reads the scene as damage repaints it;
* no damage: the aged print as it is, where every repainted pixel is a false alarm.

Per set and detector: PSNR over the whole photo, inside the true damage and outside it (dB; the
squared error pooled over all photos of the set, so an untouched photo counts as zero error
rather than an infinite PSNR), SSIM inside the true damage (``scratch_quality.masked_quality``,
averaged over the damaged photos), the share of pixels the stage repainted, and seconds per
megapixel of the stage. The first row of each set is the damaged photo left as it is.

Usage (from the repository root):

    python benchmarks/scratch_stage.py [--photos N] [--seed S] [--max-side PX] [--corpus DIR]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from damage_synthesis import DEFAULT_MIX, DUST_ONLY, DamageMix, synthesize  # noqa: E402
from degrade import degrade  # noqa: E402
from scratch_quality import (  # noqa: E402
    _HELD_OUT_SALT,
    CORPUS,
    HELD_OUT_PRINTS,
    CorpusUnavailable,
    baseline_detect,
    load_prints,
    masked_quality,
    synthetic_case,
    telea,
)

from restoration.options import RestoreOptions  # noqa: E402
from restoration.pipeline import restore  # noqa: E402
from restoration.stages.scratch import DETECTORS, ScratchOptions  # noqa: E402

_RICH_SALT = (3,)  # damage seeds of this benchmark's richer cases (scratch_detection.py uses 2)
Case = tuple[np.ndarray, np.ndarray, np.ndarray]  # (reference, damaged, truth): (H, W, 3), (H, W, 3), (H, W) bool


def _aged(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The clean print aged (fading, paper, blur, grain), without scratches or JPEG: the reference."""
    return degrade(image, rng=rng, scratches=False, jpeg_p=0.0)[0]


def richer_case(image: np.ndarray, seed: int, index: int, mix: DamageMix = DEFAULT_MIX) -> Case:
    """(aged print, the same print under the richer generator's ``mix``, true mask) for one clean print."""
    rng = np.random.default_rng([seed, index, *_RICH_SALT])
    aged = _aged(image, rng)
    damaged, truth = synthesize(aged, rng=rng, age=False, mix=mix)
    return aged, damaged, truth


def undamaged_case(image: np.ndarray, seed: int, index: int) -> Case:
    """(aged print, the same aged print, an empty mask)."""
    aged = _aged(image, np.random.default_rng([seed, index, *_RICH_SALT]))
    return aged, aged, np.zeros(aged.shape[:2], bool)


def scratch_stage(image: np.ndarray, detector: str) -> np.ndarray:
    """The scratch stage as the app runs it offline (classical engine, default sensitivity)."""
    options = RestoreOptions(engine="classical", stages={"scratch": ScratchOptions(detector=detector)})
    return restore(image, "scratch", options).image


def opencv_baseline(image: np.ndarray) -> np.ndarray:
    """Top-hat and Otsu detection, then Telea inpainting: the naive OpenCV pipeline."""
    return telea(image, baseline_detect(image))


def pooled_psnr(errors: list[float], counts: list[int]) -> float:
    """PSNR (dB, data range 1) of the squared errors summed over photos (``errors``) per pixel
    value (``counts``); infinite when nothing differs, NaN when there are no pixels."""
    if not sum(counts):
        return float("nan")
    mse = sum(errors) / sum(counts)
    return float("inf") if mse == 0 else float(10 * np.log10(1.0 / mse))


def score(cases: list[Case], repair) -> tuple[float, float, float, float, float, float]:
    """(PSNR whole, inside the truth, outside it, SSIM inside the truth, % of pixels changed,
    s/MP) of ``repair`` (``damaged -> repaired``, or None to leave the damaged photo) over
    ``cases``; SSIM is NaN when no case has damage."""
    sums = {"whole": ([], []), "inside": ([], []), "outside": ([], [])}
    ssims: list[float] = []
    changed, pixels, seconds = 0, 0, 0.0
    for reference, damaged, truth in cases:
        started = time.perf_counter()
        repaired = damaged if repair is None else repair(damaged)
        seconds += time.perf_counter() - started
        squared = ((repaired.astype(np.float64) - reference) ** 2).sum(axis=2)
        for name, where in (("whole", np.ones_like(truth)), ("inside", truth), ("outside", ~truth)):
            sums[name][0].append(float(squared[where].sum()))
            sums[name][1].append(int(where.sum()) * 3)
        if truth.any():
            ssims.append(masked_quality(reference, repaired, truth)[1])
        changed += int((np.abs(repaired - damaged).max(axis=2) > 1 / 255).sum())
        pixels += truth.size
    whole, inside, outside = (pooled_psnr(*sums[name]) for name in ("whole", "inside", "outside"))
    ssim = float(np.mean(ssims)) if ssims else float("nan")
    return whole, inside, outside, ssim, 100 * changed / pixels, seconds / (pixels / 1e6)


def _cell(value: float, digits: int = 2) -> str:
    return "n/a" if value != value else f"{value:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=None, help="only the first N held-out prints")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic damage (default 0)")
    parser.add_argument("--max-side", type=int, default=512, help="downsize the prints to this side (default 512)")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help=f"folder of the corpus prints (default {CORPUS})")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    names = HELD_OUT_PRINTS[: args.photos] if args.photos is not None else HELD_OUT_PRINTS
    try:
        prints = list(load_prints(args.corpus, names, args.max_side).values())
    except CorpusUnavailable as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    sets = {
        "original damage": [synthetic_case(image, args.seed, i, _HELD_OUT_SALT) for i, image in enumerate(prints)],
        "richer damage": [richer_case(image, args.seed, i) for i, image in enumerate(prints)],
        "dust": [richer_case(image, args.seed, i, DUST_ONLY) for i, image in enumerate(prints)],
        "no damage": [undamaged_case(image, args.seed, i) for i, image in enumerate(prints)],
    }
    print(f"Scratch stage, classical engine, default sensitivity; {len(prints)} held-out prints at {args.max_side} px, seed {args.seed}:\n")
    repairs = {"none (the damaged photo)": None}
    repairs |= {detector: (lambda image, d=detector: scratch_stage(image, d)) for detector in DETECTORS}
    repairs["OpenCV top-hat + Telea"] = opencv_baseline
    print("| set | detector | PSNR whole dB | inside the damage | SSIM inside | outside it | repainted % | s/MP |")
    print("|---|---|---|---|---|---|---|---|")
    for set_name, cases in sets.items():
        for label, repair in repairs.items():
            whole, inside, outside, ssim, changed, cost = score(cases, repair)
            print(f"| {set_name} | {label} | {_cell(whole)} | {_cell(inside)} | {_cell(ssim, 3)} | {_cell(outside)} | "
                  f"{changed:.2f} | {_cell(cost) if repair else 'n/a'} |", flush=True)
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
