"""Grain, blur and fading repair quality on synthetic degradations, against simple baselines.

Every photo gets each degradation of ``degrade.GLOBAL_DEGRADATIONS`` (clean, correlated film
grain, Gaussian blur, mild motion blur, grain over blur, fading with a colour cast; each at a
random moderate strength drawn from ``default_rng([seed, photo index, row index, *salt])``, then
rounded to 8 bits as a scanner would), and is then restored by:

* **ours**: the denoise stage with the classical engine, ``restoration.pipeline.restore(image,
  "denoise", RestoreOptions(engine="classical"))`` (:func:`_our_stage`);
* **ours, fade 0**: the same with its fading and cast correction off (``DenoiseOptions(fade=0)``,
  the tab's *fade* slider at 0; :func:`grain_and_blur`): the grain and blur repair alone. The
  grain and blur rows' targets are read here: their references keep each print's own fading
  and cast, so with the correction on, every contrast it restores counts against it (the clean
  row shows what it does to each photo);
* **OpenCV NLM**: one ``cv2.fastNlMeansDenoisingColored`` pass (7-px patches, 21-px search)
  with ``h = hColor = NLM_H`` times the estimated noise (our ``estimate_noise``) in 8-bit levels;
  **NLM best h**: the same with the factor of ``NLM_GRID`` that is best on average for the row
  ON THE SCORED PHOTOS (an upper bound for NLM, favouring it);
* **bm3d** (if the ``bm3d`` package is installed; a development-only, non-commercial licence):
  BM3D for correlated noise (Makinen et al.) on the luminance with the noise PSD of the
  estimated grain, and on the chroma with its estimated level; only on the grain rows (slow);
* **unsharp**: unsharp masking, Gaussian radius ``USM_RADIUS`` px, amount ``USM_AMOUNT``;
* **input**: the degraded photo untouched.

Scores: PSNR (dB) and SSIM against the clean photo, over the whole image, and seconds per
megapixel. The baselines' parameters (``NLM_H``, ``USM_RADIUS``, ``USM_AMOUNT``) and the
stage's own constants were TUNED on corpus prints of ``FIT_PRINTS`` (the list of
benchmarks/scratch_quality.py: ``--tune`` on its first 20, the deconvolution kernel on all 40)
and are SCORED on other photos: the bundled clean photos
(``degrade.clean_photos``) and the 40 ``HELD_OUT_PRINTS``, disjoint from ``FIT_PRINTS``. The
corpus prints carry real grain and softness of their own, which stay in the reference: removing
it costs PSNR there, so the bundled photos are the cleaner measure.

A last table times the whole stage on one 1-megapixel photo against one OpenCV NLM pass, side
by side in this process (OpenCV with 2 threads).

Usage (from the repository root):

    python benchmarks/denoise_quality.py [--quick] [--photos N] [--seed S] [--max-side PX]
        [--bm3d-prints N] [--per-photo]
    python benchmarks/denoise_quality.py --tune     # the parameter grids on the fitting prints
    python benchmarks/denoise_quality.py --validation --bm3d-prints 0  # the 47 validation prints

``--validation`` scores the corpus prints in neither list (:func:`validation_prints`): they
decide between rules that score the same on the fitting prints (the deconvolution kernel of
``restoration.classical.sharpen``) and are never reported as scores of the stage.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from degrade import GLOBAL_DEGRADATIONS, add_grain, clean_photos, global_degradation, quantize  # noqa: E402
from scratch_quality import CORPUS, FIT_PRINTS, HELD_OUT_PRINTS, CorpusUnavailable, load_prints, prints_except  # noqa: E402

from restoration import pipeline  # noqa: E402
from restoration.stages.denoise import DenoiseOptions  # noqa: E402
from restoration.classical.grain import NoiseEstimate, denoise, estimate_noise  # noqa: E402
from restoration.classical.sharpen import deblur, estimate_blur  # noqa: E402

from restoration.classical.tone import correct_tone, estimate_tone  # noqa: E402

try:
    import bm3d

    if not hasattr(np, "trapz"):  # bm4d 4.2.5 still calls np.trapz, removed in numpy 2.4
        np.trapz = np.trapezoid
except ImportError:
    bm3d = None

# Tuned with --tune on FIT_PRINTS[:20] at 512 px, seed 0: NLM_H is the best of NLM_GRID on the
# grain row (31.47 dB; 0.45: 31.29, 0.8: 31.03); the unsharp mask has the best sum over the blur
# and motion rows of radius {0.7, 1, 1.5, 2} x amount {0.5, 1, 1.5, 2, 3, 4} (29.22 + 26.73 dB).
NLM_H = 0.6  # h = hColor = NLM_H * estimated noise std in 8-bit levels
USM_RADIUS, USM_AMOUNT = 1.5, 1.0  # unsharp masking
TUNE_PRINTS = FIT_PRINTS[:20]
_SALT = {"bundled": (), "held-out": (1,), "fit": (2,), "validation": (3,)}
_GRAIN_ROWS = ("grain", "grain+blur")
METHODS = ("input", "ours", "ours, fade 0", "OpenCV NLM", "NLM best h", "bm3d", "unsharp")
NLM_GRID = (0.2, 0.3, 0.45, 0.6, 0.8, 1.0)  # h factors of the "NLM best h" column (the best per row, chosen on the scored photos)


# ----------------------------------------------------------------------------------------------
# The methods
# ----------------------------------------------------------------------------------------------


def _our_stage(image: np.ndarray) -> np.ndarray:
    """The denoise stage, classical engine: (H, W, 3) float32 [0, 1] in and out."""
    return pipeline.restore(image, "denoise", pipeline.RestoreOptions(engine="classical")).image


def grain_and_blur(image: np.ndarray) -> np.ndarray:
    """The stage with its fading and cast correction off (fade 0): estimate grain and blur,
    denoise, deblur; (H, W, 3) float32 [0, 1] in and out."""
    options = pipeline.RestoreOptions(engine="classical", stages={"denoise": DenoiseOptions(fade=0.0)})
    return pipeline.restore(image, "denoise", options).image


def validation_prints(corpus: Path) -> list[str]:
    """The corpus prints in neither ``FIT_PRINTS`` nor ``HELD_OUT_PRINTS`` (47 of 127), sorted.

    Raises:
        CorpusUnavailable: the corpus folder is missing.
    """
    return prints_except(corpus, FIT_PRINTS + HELD_OUT_PRINTS)


def _to_bgr8(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR)


def opencv_nlm(image: np.ndarray, noise: NoiseEstimate | None = None, h_factor: float | None = None) -> np.ndarray:
    """One OpenCV colour NLM pass with h from the noise estimate; RGB float32 in and out."""
    noise = estimate_noise(image) if noise is None else noise
    h = max((NLM_H if h_factor is None else h_factor) * noise.sigma * 255.0, 1.0)
    out = cv2.fastNlMeansDenoisingColored(_to_bgr8(image), None, h, h, 7, 21)
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_CB, _CR = 0.5 / (1.0 - 0.114), 0.5 / (1.0 - 0.299)


def bm3d_denoise(image: np.ndarray, noise: NoiseEstimate | None = None) -> np.ndarray:
    """BM3D for correlated noise: luminance with the PSD of the estimated grain (a Gaussian of
    the estimated correlation), chroma with white noise of the estimated chroma level."""
    noise = estimate_noise(image) if noise is None else noise
    y = image @ _LUMA
    cb, cr = (image[..., 2] - y) * _CB, (image[..., 0] - y) * _CR
    h, w = y.shape
    s = float(np.sqrt(max(noise.correlation**2 - 0.25, 0.0)))
    if s > 0.05:
        kernel = cv2.getGaussianKernel(int(round(8 * s + 1)) | 1, s).astype(np.float64)
        kernel = kernel @ kernel.T
        kernel /= np.sqrt(np.sum(kernel**2))
        psd = np.abs(np.fft.fft2(kernel, (h, w))) ** 2 * noise.sigma**2 * h * w
    else:
        psd = noise.sigma
    y = bm3d.bm3d(y.astype(np.float64), psd).astype(np.float32)
    chroma = max(noise.chroma_sigma, 1e-4)
    if noise.chroma_sigma > 1.0 / 255.0:
        cb = bm3d.bm3d(cb.astype(np.float64), chroma).astype(np.float32)
        cr = bm3d.bm3d(cr.astype(np.float64), chroma).astype(np.float32)
    red, blue = y + cr / _CR, y + cb / _CB
    green = (y - _LUMA[0] * red - _LUMA[2] * blue) / _LUMA[1]
    return np.clip(np.stack([red, green, blue], axis=2), 0.0, 1.0).astype(np.float32)


def unsharp(image: np.ndarray, radius: float | None = None, amount: float | None = None) -> np.ndarray:
    """Unsharp masking: ``image + amount * (image - Gaussian(image, radius))``, clipped."""
    radius = USM_RADIUS if radius is None else radius
    amount = USM_AMOUNT if amount is None else amount
    soft = cv2.GaussianBlur(image, (0, 0), radius, borderType=cv2.BORDER_REFLECT)
    return np.clip(image + amount * (image - soft), 0.0, 1.0).astype(np.float32)


# ----------------------------------------------------------------------------------------------
# Scoring
# ----------------------------------------------------------------------------------------------


def quality(reference: np.ndarray, result: np.ndarray) -> tuple[float, float]:
    """(PSNR in dB, SSIM) of ``result`` against ``reference``, both (H, W, 3) float32 in [0, 1]."""
    psnr = peak_signal_noise_ratio(reference, result, data_range=1.0)
    ssim = structural_similarity(reference, result, channel_axis=2, data_range=1.0)
    return float(min(psnr, 99.0)), float(ssim)


def timed(fn: Callable, *args) -> tuple[np.ndarray, float]:
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def case(image: np.ndarray, index: int, row: int, seed: int, salt: Sequence[int]) -> np.ndarray:
    """The degraded version of photo ``index`` for row ``row`` (see the module docstring)."""
    degraded, _ = global_degradation(image, GLOBAL_DEGRADATIONS[row], rng=np.random.default_rng([seed, index, row, *salt]))
    return degraded


def score(
    photos: dict[str, np.ndarray], seed: int, salt: Sequence[int], *, bm3d_limit: int, rows: Sequence[str]
) -> dict[str, dict[str, list[tuple[float, float, float]]]]:
    """row -> method -> one (PSNR, SSIM, s/MP) per photo (NaN where a method did not run)."""
    results: dict[str, dict[str, list[tuple[float, float, float]]]] = {}
    nan3 = (float("nan"),) * 3
    for index, (name, clean) in enumerate(photos.items()):
        mp = clean.shape[0] * clean.shape[1] / 1e6
        for row_name in rows:
            row = GLOBAL_DEGRADATIONS.index(row_name)
            degraded = case(clean, index, row, seed, salt)
            noise = estimate_noise(degraded)
            per = results.setdefault(row_name, {m: [] for m in METHODS})
            per["input"].append((*quality(clean, degraded), 0.0))
            out, seconds = timed(_our_stage, degraded)
            per["ours"].append((*quality(clean, out), seconds / mp))
            out, seconds = timed(grain_and_blur, degraded)
            per["ours, fade 0"].append((*quality(clean, out), seconds / mp))
            out, seconds = timed(opencv_nlm, degraded, noise)
            per["OpenCV NLM"].append((*quality(clean, out), seconds / mp))
            grid = per.setdefault("_nlm_grid", [])
            grid.append([(*quality(clean, opencv_nlm(degraded, noise, f)), seconds / mp) for f in NLM_GRID])
            if bm3d is not None and row_name in _GRAIN_ROWS and index < bm3d_limit:
                out, seconds = timed(bm3d_denoise, degraded, noise)
                per["bm3d"].append((*quality(clean, out), seconds / mp))
            else:
                per["bm3d"].append(nan3)
            out, seconds = timed(unsharp, degraded)
            per["unsharp"].append((*quality(clean, out), seconds / mp))
        print(f"  scored {name}", file=sys.stderr, flush=True)
    for per in results.values():  # NLM with the h factor that is best on average for this row
        grid = per.pop("_nlm_grid")
        best = int(np.argmax(np.mean([[q[0] for q in photo] for photo in grid], axis=0)))
        per["NLM best h"] = [photo[best] for photo in grid]
        per["_nlm_best"] = NLM_GRID[best]
    return results


def _mean(values: list[tuple[float, float, float]], k: int) -> float:
    column = np.array([v[k] for v in values], np.float64)
    column = column[np.isfinite(column)]
    return float(column.mean()) if len(column) else float("nan")


def _count(values: list[tuple[float, float, float]]) -> int:
    return int(np.sum(np.isfinite([v[0] for v in values])))


def fmt(value: float, digits: int = 2) -> str:
    return "n/a" if value != value else f"{value:.{digits}f}"


def quality_table(results: dict[str, dict[str, list[tuple[float, float, float]]]]) -> None:
    """One Markdown row per degradation: mean PSNR / SSIM of each method, and cost."""
    print("| degradation | photos | " + " | ".join(f"{m} PSNR / SSIM" for m in METHODS) + " | ours s/MP | NLM s/MP | bm3d s/MP |")
    print("|---|---|" + "---|" * (len(METHODS) + 3))
    for row_name, per in results.items():
        cells = [row_name, str(len(per["input"]))]
        best = max(_mean(per[m], 0) for m in METHODS if _count(per[m]))
        for method in METHODS:
            n = _count(per[method])
            if not n:
                cells.append("n/a")
                continue
            psnr = fmt(_mean(per[method], 0))
            psnr = f"**{psnr}**" if _mean(per[method], 0) == best else psnr
            partial = f" ({n} photos)" if n != len(per["input"]) else ""
            extra = f" (h x{per['_nlm_best']})" if method == "NLM best h" else ""
            cells.append(f"{psnr} / {fmt(_mean(per[method], 1), 3)}{partial}{extra}")
        cells += [fmt(_mean(per["ours"], 2)), fmt(_mean(per["OpenCV NLM"], 2)), fmt(_mean(per["bm3d"], 2), 1)]
        print("| " + " | ".join(cells) + " |", flush=True)


def per_photo_table(names: Sequence[str], results: dict[str, dict[str, list[tuple[float, float, float]]]]) -> None:
    """PSNR of ours, ours at fade 0, NLM and the input, per photo and degradation."""
    rows = list(results)
    print("| photo | " + " | ".join(f"{r}: ours / fade 0 / NLM / input" for r in rows) + " |")
    print("|---|" + "---|" * len(rows))
    for i, name in enumerate(names):
        cells = [name]
        for r in rows:
            per = results[r]
            cells.append(" / ".join(fmt(per[m][i][0]) for m in ("ours", "ours, fade 0", "OpenCV NLM", "input")))
        print("| " + " | ".join(cells) + " |")


def targets(results: dict[str, dict[str, list[tuple[float, float, float]]]], label: str) -> None:
    """The "done when" checks on one photo set."""

    def m(row: str, method: str) -> float:
        return _mean(results[row][method], 0) if row in results else float("nan")

    lines = [
        ("grain: ours, fade 0 - OpenCV NLM >= 1 dB", m("grain", "ours, fade 0") - m("grain", "OpenCV NLM"), 1.0),
        ("blur: ours, fade 0 - unsharp > 0 dB", m("blur", "ours, fade 0") - m("blur", "unsharp"), 0.0),
        ("grain+blur: ours, fade 0 - input > 0 dB", m("grain+blur", "ours, fade 0") - m("grain+blur", "input"), 0.0),
        ("clean: ours, fade 0 vs the photo >= 40 dB", m("clean", "ours, fade 0"), 40.0),
        ("grain: ours - OpenCV NLM >= 1 dB", m("grain", "ours") - m("grain", "OpenCV NLM"), 1.0),
        ("grain: ours - NLM with its best h on these photos >= 1 dB", m("grain", "ours") - m("grain", "NLM best h"), 1.0),
        ("blur: ours - unsharp > 0 dB", m("blur", "ours") - m("blur", "unsharp"), 0.0),
        ("motion: ours - unsharp > 0 dB", m("motion", "ours") - m("motion", "unsharp"), 0.0),
        ("grain+blur: ours - input > 0 dB", m("grain+blur", "ours") - m("grain+blur", "input"), 0.0),
        ("clean: ours vs the photo >= 40 dB", m("clean", "ours"), 40.0),
    ]
    worst_clean = min((v[0] for v in results.get("clean", {}).get("ours", [])), default=float("nan"))
    worst_mine = min((v[0] for v in results.get("clean", {}).get("ours, fade 0", [])), default=float("nan"))
    print(f"\nTargets, {label}:\n")
    for text, value, bound in lines:
        ok = "yes" if value >= bound else "NO"
        print(f"- {text}: {fmt(value)} ({ok})")
    print(f"- clean, worst photo: ours {fmt(worst_clean)} dB, ours, fade 0 {fmt(worst_mine)} dB")


def cost_table(repeats: int = 2) -> None:
    """Seconds of the whole stage and of its parts on a 1-MP photo, against one NLM pass."""
    import skimage.data

    clean = cv2.resize(skimage.data.astronaut(), (1000, 1000), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
    image = quantize(add_grain(cv2.GaussianBlur(clean, (0, 0), 1.0), rng=np.random.default_rng(0), sigma=0.03, size=1.0))
    noise = estimate_noise(image)

    def parts() -> dict[str, Callable[[], object]]:
        return {
            "one OpenCV NLM pass (fastNlMeansDenoisingColored, 7/21)": lambda: opencv_nlm(image, noise),
            "estimate_noise": lambda: estimate_noise(image),
            "estimate_blur": lambda: estimate_blur(image, noise_sigma=noise.sigma),
            "denoise": lambda: denoise(image, sigma=noise.sigma, chroma_sigma=noise.chroma_sigma, correlation=noise.correlation),
            "deblur": lambda: deblur(image, blur_sigma=1.0, noise_sigma=noise.sigma),
            "estimate_tone + correct_tone": lambda: correct_tone(image, estimate_tone(image)),
            "whole stage (pipeline.restore)": lambda: _our_stage(image),
        }

    best: dict[str, float] = {}
    for _ in range(repeats):  # interleaved, best of the repeats: the machine is shared
        for name, fn in parts().items():
            _, seconds = timed(fn)
            best[name] = min(best.get(name, float("inf")), seconds)
    nlm_seconds = next(iter(best.values()))
    print(f"\nCost on one 1000x1000 photo (grain 0.03 of 1 px over blur 1 px), best of {repeats}, OpenCV threads: 2:\n")
    print("| step | seconds | x one NLM pass |")
    print("|---|---|---|")
    for name, seconds in best.items():
        print(f"| {name} | {seconds:.2f} | {seconds / nlm_seconds:.1f} |")


# ----------------------------------------------------------------------------------------------
# Tuning on the fitting prints
# ----------------------------------------------------------------------------------------------


def tune(prints: dict[str, np.ndarray], seed: int) -> None:
    """Print the parameter grids of the baselines and of the stage on the fitting prints."""
    salt = _SALT["fit"]
    cases = {
        row: [(clean, case(clean, i, GLOBAL_DEGRADATIONS.index(row), seed, salt)) for i, clean in enumerate(prints.values())]
        for row in ("grain", "blur", "motion", "grain+blur")
    }

    def mean_psnr(row: str, fn: Callable[[np.ndarray], np.ndarray]) -> float:
        return float(np.mean([quality(clean, fn(degraded))[0] for clean, degraded in cases[row]]))

    print(f"Tuning on {len(prints)} fitting prints (FIT_PRINTS[:{len(prints)}]), seed {seed}; mean PSNR (dB).\n")
    noises = {id(d): estimate_noise(d) for row in cases.values() for _, d in row}
    print("OpenCV NLM, h = factor x estimated noise (8-bit levels), grain row:\n")
    print("| factor | " + " | ".join(str(f) for f in NLM_GRID) + " |")
    print("|---|" + "---|" * len(NLM_GRID))
    print("| PSNR | " + " | ".join(fmt(mean_psnr("grain", lambda d, f=f: opencv_nlm(d, noises[id(d)], f))) for f in NLM_GRID) + " |")
    print("\nUnsharp masking, blur and motion rows (radius px x amount):\n")
    amounts = (0.5, 1.0, 1.5, 2.0, 3.0, 4.0)
    print("| radius | " + " | ".join(f"amount {a}" for a in amounts) + " |")
    print("|---|" + "---|" * len(amounts))
    for radius in (0.7, 1.0, 1.5, 2.0):
        cells = [
            f"{fmt(mean_psnr('blur', lambda d, r=radius, a=a: unsharp(d, r, a)))} / "
            f"{fmt(mean_psnr('motion', lambda d, r=radius, a=a: unsharp(d, r, a)))}"
            for a in amounts
        ]
        print(f"| {radius} | " + " | ".join(cells) + " |")
    print("\nOurs, for reference:\n")
    print("| row | input | ours | ours, fade 0 |")
    print("|---|---|---|---|")
    for row in cases:
        print(f"| {row} | {fmt(mean_psnr(row, lambda d: d))} | {fmt(mean_psnr(row, _our_stage))} | {fmt(mean_psnr(row, grain_and_blur))} |")


# ----------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 bundled photos and 5 held-out prints at 384 px, bm3d on 1")
    parser.add_argument("--photos", type=int, default=None, help="score only the first N photos of each set")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic degradations (default 0)")
    parser.add_argument("--max-side", type=int, default=512, help="downsize photos to this side (default 512; 0 = full)")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help=f"folder of the corpus prints (default {CORPUS})")
    parser.add_argument("--bm3d-prints", type=int, default=4, help="run bm3d on the first N photos of each set (default 4; slow)")
    parser.add_argument("--per-photo", action="store_true", help="also print PSNR per photo")
    parser.add_argument("--tune", action="store_true", help="print the tuning grids on the fitting prints and stop")
    parser.add_argument(
        "--validation", action="store_true",
        help="score the corpus prints that are neither fitted nor scored (choices between rules that tie on the fitting prints) and stop",
    )
    args = parser.parse_args(argv)
    cv2.setNumThreads(2)
    started = time.perf_counter()
    if args.quick:
        args.photos = 3 if args.photos is None else args.photos
        args.max_side = 384
        args.bm3d_prints = min(args.bm3d_prints, 1)
    max_side = args.max_side or None
    if args.tune:
        try:
            prints = load_prints(args.corpus, TUNE_PRINTS[: args.photos] if args.photos else TUNE_PRINTS, max_side)
        except CorpusUnavailable as error:
            print(f"error: cannot tune: {error}", file=sys.stderr)
            return 2
        tune(prints, args.seed)
        print(f"\n({time.perf_counter() - started:.0f} s)")
        return 0

    rows = list(GLOBAL_DEGRADATIONS)
    notes = []
    if bm3d is None:
        notes.append("bm3d is not installed (pip install bm3d==4.0.3; development only, non-commercial licence)")
    limit = slice(None) if args.photos is None else slice(max(args.photos, 0))
    held_limit = slice(5) if args.quick and args.photos == 3 else limit
    print(f"Synthetic global degradations, seed {args.seed}, max side {args.max_side or 'full'} px, 8-bit.")
    print("Ours = pipeline.restore(image, 'denoise', engine='classical'). Baselines' parameters and the stage's constants tuned on FIT_PRINTS (--tune: the first 20).")
    for note in notes:
        print(f"Note: {note}.")

    def scored_set(title: str, photos: dict, salt) -> dict:
        """Score one set of photos and print its tables under ``title``."""
        print(f"\n## {title}\n")
        results = score(photos, args.seed, salt, bm3d_limit=args.bm3d_prints, rows=rows)
        quality_table(results)
        if args.per_photo:
            print()
            per_photo_table(list(photos), results)
        return results

    if args.validation:
        try:
            names = validation_prints(args.corpus)
            prints = load_prints(args.corpus, names[limit], max_side)
        except CorpusUnavailable as error:
            print(f"error: cannot validate: {error}", file=sys.stderr)
            return 2
        scored_set(f"Validation corpus prints ({len(prints)}, neither in FIT_PRINTS nor in HELD_OUT_PRINTS)", prints, _SALT["validation"])
        print(f"\n({time.perf_counter() - started:.0f} s)")
        return 0

    photos = dict(list(clean_photos(max_side).items())[limit])
    bundled = scored_set(f"Bundled clean photos ({len(photos)}: {', '.join(photos)}; never tuned on)", photos, _SALT["bundled"])
    sets = [("bundled clean photos", bundled)]
    try:
        held = load_prints(args.corpus, HELD_OUT_PRINTS[held_limit], max_side)
    except CorpusUnavailable as error:
        print(f"\nnote: corpus rows skipped: {error}")
    else:
        title = f"Held-out corpus prints ({len(held)} of HELD_OUT_PRINTS; never tuned on; their own grain stays in the reference)"
        sets.append(("held-out corpus prints", scored_set(title, held, _SALT["held-out"])))
    for label, results in sets:
        targets(results, label)
    cost_table()
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
