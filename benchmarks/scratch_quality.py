"""Scratch detection and repair quality on synthetic damage, against OpenCV baselines.

The detector's component weights are FITTED on one set of photos and SCORED on others:

* fitting set (``--fit``): 40 real old prints of the development corpus (``FIT_PRINTS``, from
  ``../shared/corpus``, outside the repository), downsized to 512 px, under synthetic damage;
* scored, never fitted on: the bundled clean photos (``degrade.clean_photos``: scikit-image,
  matplotlib and, when installed, scikit-learn samples; available in any clone), 40 OTHER
  corpus prints (``HELD_OUT_PRINTS``, disjoint from ``FIT_PRINTS``) and, for false alarms, the
  eight real photos in ``examples/`` (copies of ``../shared/photos``, kept apart from the corpus).

The two corpus lists were drawn once: ``numpy.random.default_rng(2020).permutation`` of the 127
corpus file names in sorted order; the first 40 are ``FIT_PRINTS``, the next 40
``HELD_OUT_PRINTS`` (both then sorted). The other 47 prints are in neither list; they served
as a validation set while choosing the fitting recipe, so no choice was made on the scored sets.

Synthetic damage: each photo is aged (``degrade.degrade`` without scratches and without JPEG:
fading, sepia, paper texture, blur and grain, each at random), then scratches, cracks and specks
are painted on it (``scratch_mask`` and ``apply_damage``); the ground truth is the set of pixels
the paint changed visibly (``changed_mask``). The corpus prints carry real grain, tone and some
real specks and stains: real damage the detector finds there counts against its precision. Then:

* detection: precision, recall and F1 of our detector
  (``restoration.classical.scratch_detector.detect_scratches`` at its default sensitivity) and
  of a naive OpenCV baseline (white and black morphological top-hat with a 9-px disc on the
  grey image, the larger of the two, Otsu threshold);
* repair on the SAME ground-truth masks, so that repair is measured independently of
  detection: OpenCV Telea inpainting (radius 3) and our ``inpaint_classical``; PSNR and SSIM
  against the aged photo before the paint, computed INSIDE the mask (PSNR over the masked
  pixels; the SSIM map averaged over them);
* cost: seconds per megapixel of each detector and each repair.

A further table gives the share of each real photo in ``examples/`` that the detectors mark;
those photos carry no strong scratches, so low coverage means few false alarms (real dust and
specks are fair finds).

Usage (from the repository root):

    python benchmarks/scratch_quality.py [--photos N] [--seed S] [--max-side PX] [--corpus DIR] [--per-photo]
    python benchmarks/scratch_quality.py --fit    # refit the detector's weights (prints them)

Without the corpus the bundled photos and ``examples/`` are still scored, and one line says
that the corpus rows were skipped; ``--fit`` needs the corpus and stops with one error line.

``--fit`` reproduces ``scratch_detector._WEIGHTS``: logistic regression on the candidate
components of synthetic damage over ``FIT_PRINTS`` (seeds 10-13, plus lightly aged, unblurred
variants with seeds 20-21); a component is damage when more than half its pixels are within
one pixel of the ground truth; components are weighted by their area.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from degrade import _downsize, apply_damage, changed_mask, clean_photos, degrade, scratch_mask  # noqa: E402

from restoration.classical import scratch_detector  # noqa: E402
from restoration.classical.inpaint import inpaint_classical  # noqa: E402
from restoration.classical.scratch_detector import detect_scratches  # noqa: E402
from restoration.imageio import load_photo  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
REAL_PHOTOS = ROOT / "examples"  # copies of ../shared/photos: never fitted on
CORPUS = ROOT.parent / "shared" / "corpus"  # 127 real old prints (jantic/DeOldify test_images/, see its PROVENANCE.md)

# numpy.random.default_rng(2020).permutation of the 127 sorted corpus names: first 40 (sorted)
FIT_PRINTS = (
    "1880Paris.jpg", "1890sPingPong.jpg", "1890sTouristsEgypt.png", "1892WaterLillies.jpg",
    "1895BikeMaidens.jpg", "1899SodaFountain.jpg", "1900sDaytonaBeach.png", "1907Cowboys.jpg",
    "1909Chicago.jpg", "1909ParisFirstFemaleTaxisDriver.jpg", "1910Bike.jpg", "1920sDancing.jpg",
    "1920sGuadalope.jpg", "AppalachianLoggers1901.jpg", "Apsaroke1908.png", "AthleticClubParis1913.jpg",
    "AustinSaloonEarly1900s.jpg", "Deadwood1860s.png", "DeepSeaDiver1915.png", "Donegal1907Yarn.jpg",
    "Edinburgh1920s.jpg", "GreekImmigrants1905.jpg", "HomeIreland1924.jpg", "InuitWoman1903.png",
    "Killarney1910.jpg", "Locomotive1880s.jpg", "LondonKidsEarly1900s.jpg", "Mormons1870s.jpg",
    "MuffinManlLondon1910.jpg", "NativeWoman1926.jpg", "OregonTrail1870s.jpg", "PaddingtonStationLondon1907.jpg",
    "PaddysMarketCork1900s.jpg", "Paris1899StreetDig.jpg", "Paris1920Cart.jpg", "ParisLadies1910.jpg",
    "ParisLate1800s.jpg", "Sami1880s.jpg", "SecondHandClothesLondonLate1800s.jpg", "SoccerMotorcycles1923London.jpg",
)
# ... and the next 40 (sorted): scored, never fitted on
HELD_OUT_PRINTS = (
    "1850Geography.jpg", "1860sSamauris.png", "1864UnionSoldier.jpg", "1880sBrooklynBridge.jpg",
    "1890Surfer.png", "1890sMedStudents.png", "1890sShoeShopOhio.jpg", "1897BlindmansBluff.jpg",
    "1916Sweeden.jpg", "Agamemnon1919.jpg", "ArkansasCowboys1880s.jpg", "Ballet1890Russia.jpg",
    "BoulevardDuTemple1838.jpg", "BritishTeaBombay1890s.png", "ChinaOpiumc1880.jpg", "Cork1905.jpg",
    "EgyptianWomenLate1800s.jpg", "GalwayIreland1902.jpg", "Greece1911.jpg", "HerbSeller1899Paris.jpg",
    "HydeParkLondon1920s.jpg", "IceManLondon1919.jpg", "JerseyShore1905.jpg", "LibraryOfCongress1910.jpg",
    "London1918WartimeClothesManufacture.jpg", "LondonFireBrigadeMember1926.jpg", "LondonGarbageTruck1910.jpg",
    "LondonsSmallestShop1900.jpg", "MaioreWoman1895NZ.jpg", "MementoMori1865.jpg",
    "MetropolitanDistrictRailway1869London.jpg", "NYStreetClean1906.jpg", "NativeCouple1912.jpg",
    "NewZealand1860s.jpg", "Paris1926.jpg", "SchoolKidsConnemaraIreland1901.jpg", "SoapBoxRacerParis1920s.jpg",
    "TheatreGroupBombay1875.jpg", "WaterfordIreland1909.jpg", "ZebraCarriageLondon1900.jpg",
)
_HELD_OUT_SALT = (1,)  # damage seeds of the held-out prints differ from the bundled photos' ones


class CorpusUnavailable(Exception):
    """The corpus folder or one of the listed prints is missing (one-line message)."""


def prints_except(folder: Path, excluded: Iterable[str]) -> list[str]:
    """Sorted names of the corpus prints (.jpg, .jpeg, .png) in ``folder`` that are not in ``excluded``.

    Raises CorpusUnavailable when the folder is missing.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CorpusUnavailable(f"the corpus of real old prints is not at {folder}; pass --corpus DIR")
    excluded = set(excluded)
    return sorted(p.name for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png") and p.name not in excluded)


def load_prints(folder: Path, names: Sequence[str], max_side: int | None = 512) -> dict[str, np.ndarray]:
    """Listed prints of the corpus, by name, as (H, W, 3) float32 RGB in [0, 1], longest side <= ``max_side``.

    Read with ``restoration.imageio.load_photo`` (EXIF orientation applied; gray prints have
    three equal channels). Raises CorpusUnavailable when the folder or a print is missing.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise CorpusUnavailable(
            f"the corpus of real old prints is not at {folder} (expected ../shared/corpus beside the "
            "repository: 127 prints from jantic/DeOldify test_images/); pass --corpus DIR"
        )
    missing = [name for name in names if not (folder / name).is_file()]
    if missing:
        raise CorpusUnavailable(
            f"{len(missing)} of the {len(names)} listed prints are missing from {folder} (first: {missing[0]}); "
            "pass --corpus DIR"
        )
    return {name: _downsize(np.array(load_photo(folder / name).pixels, dtype=np.float32), max_side) for name in names}


def baseline_detect(image: np.ndarray) -> np.ndarray:
    """Naive detector: max of white and black top-hat (9-px disc) on grey, Otsu threshold.

    (H, W, 3) float32 [0, 1] -> (H, W) bool.
    """
    grey = cv2.cvtColor((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2GRAY)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    response = np.maximum(
        cv2.morphologyEx(grey, cv2.MORPH_TOPHAT, disc), cv2.morphologyEx(grey, cv2.MORPH_BLACKHAT, disc)
    )
    _, mask = cv2.threshold(response, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return mask > 0


def telea(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """OpenCV Telea inpainting, radius 3; (H, W, 3) float32 [0, 1] and (H, W) bool in, RGB out."""
    bgr = cv2.cvtColor((np.clip(image, 0, 1) * 255 + 0.5).astype(np.uint8), cv2.COLOR_RGB2BGR)
    out = cv2.inpaint(bgr, mask.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def prf(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float, float]:
    """Pixel precision, recall and F1 of a bool mask against the bool ground truth."""
    tp = float(np.sum(pred & truth))
    p = tp / max(float(pred.sum()), 1.0)
    r = tp / max(float(truth.sum()), 1.0)
    return p, r, 2 * p * r / max(p + r, 1e-12)


def masked_quality(reference: np.ndarray, result: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """PSNR (dB) over the masked pixels and the SSIM map averaged over them."""
    if not mask.any():
        return float("nan"), float("nan")
    psnr = peak_signal_noise_ratio(reference[mask], result[mask], data_range=1.0)
    _, ssim_map = structural_similarity(reference, result, channel_axis=2, data_range=1.0, full=True)
    return float(psnr), float(ssim_map[mask].mean())


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def synthetic_case(
    image: np.ndarray, seed: int, index: int, salt: Sequence[int] = (), **aging
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(aged photo before the paint, damaged photo, ground-truth mask) for one clean photo.

    ``image`` is (H, W, 3) float32 in [0, 1]; the damage is drawn from ``default_rng([seed, index, *salt])``;
    ``aging`` are extra options of ``degrade`` (e.g. ``blur_p=0.0``). Returns two (H, W, 3)
    float32 images in [0, 1] and an (H, W) bool mask.
    """
    rng = np.random.default_rng([seed, index, *salt])
    aged, _ = degrade(image, rng=rng, scratches=False, jpeg_p=0.0, **aging)
    damaged = apply_damage(aged, scratch_mask(aged.shape[:2], rng=rng), rng=rng)
    return aged, damaged, changed_mask(aged, damaged)


def fmt(value: float, digits: int = 3) -> str:
    return "n/a" if value != value else f"{value:.{digits}f}"


# metrics of one photo, in this order (see score_photos)
_METRICS = (
    "ours P", "ours R", "ours F1", "base P", "base R", "base F1", "Telea PSNR", "Telea SSIM", "ours PSNR",
    "ours SSIM", "detect s/MP ours", "detect s/MP base", "repair s/MP Telea", "repair s/MP ours",
)
_DIGITS = (3, 3, 3, 3, 3, 3, 2, 3, 2, 3, 2, 2, 2, 2)


def score_photos(
    photos: dict[str, np.ndarray], seed: int, salt: Sequence[int] = (), *, repair: bool = True
) -> list[tuple[str, str, float, np.ndarray]]:
    """Detection (and repair) scores of each photo under synthetic damage.

    Args:
        photos: name -> (H, W, 3) float32 RGB in [0, 1].
        seed, salt: the damage of the i-th photo comes from ``default_rng([seed, i, *salt])``.
        repair: also run the two repairs on the ground-truth mask (else their columns are NaN).

    Returns:
        One ``(name, "WxH", damage %, metrics)`` per photo; ``metrics`` is float64 of shape
        (len(_METRICS),), precision/recall/F1/SSIM in [0, 1], PSNR in dB, cost in s per megapixel.
    """
    rows = []
    for index, (name, image) in enumerate(photos.items()):
        aged, damaged, truth = synthetic_case(image, seed, index, salt)
        mp = truth.size / 1e6
        ours, t_ours = timed(detect_scratches, damaged)
        base, t_base = timed(baseline_detect, damaged)
        nan2 = (float("nan"), float("nan"))
        q_telea, q_ours, t_telea, t_fix = nan2, nan2, float("nan"), float("nan")
        if repair:
            fixed_telea, t_telea = timed(telea, damaged, truth)
            q_telea = masked_quality(aged, fixed_telea, truth)
            fixed_ours, t_fix = timed(inpaint_classical, damaged, truth)
            q_ours = masked_quality(aged, fixed_ours, truth)
        metrics = (*prf(ours, truth), *prf(base, truth), *q_telea, *q_ours)
        metrics += (t_ours / mp, t_base / mp, t_telea / mp, t_fix / mp)
        h, w = truth.shape
        rows.append((name, f"{w}x{h}", 100 * float(truth.mean()), np.array(metrics, dtype=np.float64)))
    return rows


def _cells(values: np.ndarray) -> list[str]:
    return [fmt(v, d) for v, d in zip(values, _DIGITS)]


def per_photo_table(rows: list[tuple[str, str, float, np.ndarray]]) -> None:
    """Print one Markdown row per photo and a mean row."""
    header = "| photo | size | damage % | " + " | ".join(_METRICS) + " |"
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    for name, size, damage, metrics in rows:
        print("| " + " | ".join([name, size, fmt(damage, 2), *_cells(metrics)]) + " |", flush=True)
    if rows:
        mean = _nanmean_quiet(np.stack([r[3] for r in rows]))
        print("| " + " | ".join(["**mean**", "", "", *_cells(mean)]) + " |")


def summary_table(sets: list[tuple[str, list[tuple[str, str, float, np.ndarray]]]]) -> None:
    """Print one Markdown row per photo set: means over its photos (and the worst F1)."""
    idx = {name: i for i, name in enumerate(_METRICS)}
    print(
        "| measured on | photos | ours P | ours R | ours F1 | ours F1 worst | base P | base R | base F1 "
        "| ours repair PSNR / SSIM | Telea PSNR / SSIM | detect s/MP ours |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for label, rows in sets:
        values = np.stack([r[3] for r in rows])
        mean = _nanmean_quiet(values)
        worst = values[:, idx["ours F1"]].min()
        m = {name: mean[i] for name, i in idx.items()}
        repair = f"{fmt(m['ours PSNR'], 2)} dB / {fmt(m['ours SSIM'])}" if m["ours PSNR"] == m["ours PSNR"] else ""
        telea_q = f"{fmt(m['Telea PSNR'], 2)} dB / {fmt(m['Telea SSIM'])}" if m["Telea PSNR"] == m["Telea PSNR"] else ""
        cells = [label, str(len(rows)), fmt(m["ours P"]), fmt(m["ours R"]), f"**{fmt(m['ours F1'])}**", fmt(worst)]
        cells += [fmt(m["base P"]), fmt(m["base R"]), fmt(m["base F1"]), repair, telea_q, fmt(m["detect s/MP ours"], 2)]
        print("| " + " | ".join(cells) + " |")


def _nanmean_quiet(values: np.ndarray) -> np.ndarray:
    """Column means ignoring NaN; NaN for all-NaN columns (without numpy's warning)."""
    finite = np.isfinite(values)
    total = np.where(finite, values, 0.0).sum(axis=0)
    count = finite.sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def real_table() -> tuple[float, float] | None:
    """Coverage of our detector and the baseline on each real photo in ``examples/``.

    Prints a Markdown table; returns (mean, max) of our coverage in %, or None without photos.
    """
    files = sorted(REAL_PHOTOS.glob("*.jpg"))
    if not files:
        print(f"\n(no real photos found in {REAL_PHOTOS})")
        return None
    print(f"\nFalse alarms on the {len(files)} real photos in examples/", end=" ")
    print("(full size, never fitted on; no strong scratches):\n")
    print("| real photo | size | ours coverage % | baseline coverage % | ours s/MP |")
    print("|---|---|---|---|---|")
    ours_cov, base_cov = [], []
    for path in files:
        image = np.asarray(load_photo(path).pixels, dtype=np.float32)
        mask, seconds = timed(detect_scratches, image)
        base = baseline_detect(image)
        ours_cov.append(100 * mask.mean())
        base_cov.append(100 * base.mean())
        h, w = mask.shape
        per_mp = seconds / (mask.size / 1e6)
        print(f"| {path.name} | {w}x{h} | {ours_cov[-1]:.2f} | {base_cov[-1]:.2f} | {per_mp:.2f} |", flush=True)
    print(f"| **mean** | | {np.mean(ours_cov):.2f} | {np.mean(base_cov):.2f} | |")
    print(f"| **max** | | {np.max(ours_cov):.2f} | {np.max(base_cov):.2f} | |")
    return float(np.mean(ours_cov)), float(np.max(ours_cov))


# (damage seeds, rng salt, degrade() options) of the fitting set, applied to every print of FIT_PRINTS
_FIT_PLANS = (
    (range(10, 14), (30,), {}),
    (range(20, 22), (31,), dict(blur_p=0.0, grain_p=0.3)),  # lightly aged, unblurred
)


def fit_cases(prints: dict[str, np.ndarray]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (damaged (H, W, 3) float32 in [0, 1], ground truth (H, W) bool) pairs of the fitting set.

    ``prints`` are the FIT_PRINTS (see the module docstring); each is aged and damaged once per
    seed of each plan in ``_FIT_PLANS``.
    """
    for seeds, salt, aging in _FIT_PLANS:
        for seed in seeds:
            for index, image in enumerate(prints.values()):
                _, damaged, truth = synthetic_case(image, seed, index, salt, **aging)
                yield damaged, truth


def fit_weights(cases) -> str:
    """Fit the per-channel logistic weights of the detector on (damaged, truth) pairs; returns
    the ``_WEIGHTS`` source (with a comment naming the fitting set)."""
    from scipy.optimize import minimize

    sd = scratch_detector
    data: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for damaged, truth in cases:
        image = damaged.astype(np.float32)
        noise = sd._noise_sigma(np.ascontiguousarray(image.mean(axis=2)))
        colour = float(np.max(np.ptp(image, axis=2))) > 0.02
        near = cv2.dilate(truth.astype(np.uint8), np.ones((3, 3), np.uint8)).ravel() > 0
        for bright in (True, False):
            src = np.ascontiguousarray(image.min(axis=2) if bright else 1.0 - image.max(axis=2))
            for channel in sd._CHANNELS:
                if channel.path == 0:
                    continue
                cand = sd._candidates(src, image, bright, channel, noise, colour)
                n = cand.features.shape[0]
                if n:
                    lab = cand.labels.ravel()
                    area = np.bincount(lab, minlength=n + 1)[1:].astype(np.float64)
                    hits = np.bincount(lab, weights=near.astype(np.float64), minlength=n + 1)[1:]
                    data.setdefault(channel.name, []).append((cand.features, hits / np.maximum(area, 1), area))
    lines = [
        "# Fitted by `python benchmarks/scratch_quality.py --fit`: synthetic damage over the 40 corpus prints",
        "# FIT_PRINTS (../shared/corpus, 512 px; seeds 10-13, lightly aged 20-21); scored on other photos.",
        "_WEIGHTS: dict[str, tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...], float]] = {",
    ]
    for name, parts in data.items():
        x = np.concatenate([p[0] for p in parts])
        y = (np.concatenate([p[1] for p in parts]) > 0.5).astype(np.float64)
        w = np.concatenate([p[2] for p in parts])
        w = w / w.mean()
        mu, scale = x.mean(axis=0), x.std(axis=0) + 1e-9
        z = np.hstack([(x - mu) / scale, np.ones((len(x), 1))])

        def loss(beta: np.ndarray) -> tuple[float, np.ndarray]:
            p = 1.0 / (1.0 + np.exp(-(z @ beta)))
            value = -(w * (y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12))).mean()
            grad = z.T @ (w * (p - y)) / len(y)
            value += 1e-2 * float(beta[:-1] @ beta[:-1])
            grad[:-1] += 2e-2 * beta[:-1]
            return value, grad

        beta = minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B").x
        lines.append(f'    "{name}": (')
        for row in (np.round(mu, 4), np.round(scale, 4), np.round(beta[:-1], 3)):
            lines.append("        (" + ", ".join(f"{v:.4g}" for v in row) + "),")
        lines.append(f"        {round(float(beta[-1]), 3)},")
        lines.append("    ),")
    lines.append("}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=None, help="score only the first N photos of each set")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic damage (default 0)")
    parser.add_argument(
        "--max-side", type=int, default=512, help="downsize scored photos to this side (default 512; 0 = full size)"
    )
    parser.add_argument("--corpus", type=Path, default=CORPUS, help=f"folder of the corpus prints (default {CORPUS})")
    parser.add_argument("--per-photo", action="store_true", help="also print one row per held-out corpus print")
    parser.add_argument(
        "--in-sample", action="store_true", help="also score the fitting prints (seed --seed; shows the in-sample gap)"
    )
    parser.add_argument(
        "--fit", action="store_true", help="refit the detector's component weights on FIT_PRINTS and print them"
    )
    args = parser.parse_args(argv)
    cv2.setNumThreads(2)
    started = time.perf_counter()
    if args.fit:
        try:
            prints = load_prints(args.corpus, FIT_PRINTS)
        except CorpusUnavailable as error:
            print(f"error: cannot fit: {error}", file=sys.stderr)
            return 2
        print(fit_weights(fit_cases(prints)))
        print(f"(fitted in {time.perf_counter() - started:.0f} s)", file=sys.stderr)
        return 0
    max_side = args.max_side or None
    limit = slice(None) if args.photos is None else slice(max(args.photos, 0))
    photos = dict(list(clean_photos(max_side).items())[limit])
    side = args.max_side or "full"
    print(f"Synthetic damage, seed {args.seed}, max side {side} px; repair on the ground-truth masks.\n")
    print(f"Bundled clean photos ({len(photos)}, never fitted on):\n")
    bundled = score_photos(photos, args.seed)
    per_photo_table(bundled)
    sets = [(f"bundled clean photos ({', '.join(photos)}; never fitted on)", bundled)]
    try:
        held_out = load_prints(args.corpus, HELD_OUT_PRINTS[limit], max_side)
        in_sample = load_prints(args.corpus, FIT_PRINTS[limit], max_side) if args.in_sample else {}
    except CorpusUnavailable as error:
        print(f"note: corpus rows skipped: {error}", file=sys.stderr)
    else:
        held_rows = score_photos(held_out, args.seed, _HELD_OUT_SALT)
        if args.per_photo:
            print(f"\nHeld-out corpus prints ({len(held_rows)}, HELD_OUT_PRINTS, never fitted on):\n")
            per_photo_table(held_rows)
        sets.append(("held-out corpus prints (HELD_OUT_PRINTS, never fitted on)", held_rows))
        if in_sample:
            fit_rows = score_photos(in_sample, args.seed, _HELD_OUT_SALT, repair=False)
            sets.append(("fitting corpus prints (FIT_PRINTS, IN-SAMPLE, other damage seeds)", fit_rows))
    print(f"\nSummary: means over each set, synthetic damage seed {args.seed}, max side {side} px:\n")
    summary_table(sets)
    real_table()
    print(f"\n({time.perf_counter() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
