"""Scratch detection and repair quality on synthetic damage, against OpenCV baselines.

For each clean photo (``degrade.clean_photos``) the script ages the photo (``degrade.degrade``
without scratches and without JPEG: fading, sepia, paper texture, blur and grain, each at
random), paints scratches, cracks and specks on it (``scratch_mask`` and ``apply_damage``), and
takes as ground truth the pixels the paint changed visibly (``changed_mask``). Then:

* detection: precision, recall and F1 of our detector
  (``restoration.classical.scratch_detector.detect_scratches`` at its default sensitivity) and
  of a naive OpenCV baseline (white and black morphological top-hat with a 9-px disc on the
  grey image, the larger of the two, Otsu threshold);
* repair on the SAME ground-truth masks, so that repair is measured independently of
  detection: OpenCV Telea inpainting (radius 3) and our ``inpaint_classical``; PSNR and SSIM
  against the aged photo before the paint, computed INSIDE the mask (PSNR over the masked
  pixels; the SSIM map averaged over them);
* cost: seconds per megapixel of each detector and each repair.

A second table gives the share of each real photo in ``examples/`` (copies of shared/photos) that the
detectors mark; those photos carry no strong scratches, so low coverage means few false alarms
(real dust and specks are fair finds).

Usage (from the repository root):

    python benchmarks/scratch_quality.py [--photos N] [--seed S] [--max-side PX]
    python benchmarks/scratch_quality.py --fit    # refit the detector's weights (prints them)

``--fit`` reproduces the component weights of ``scratch_detector._WEIGHTS``: logistic regression
on the candidate components of synthetic damage over the same clean photos with seeds 10-19
(the benchmark uses seed 0), over eleven other scikit-image pictures (textures, microscopy,
astronomy, text; seeds 10-15), and over lightly aged, unblurred variants of all of them (seeds
20-23); a component is damage when more than half its pixels are within one pixel of the
ground truth; components are weighted by their area.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from degrade import apply_damage, changed_mask, clean_photos, degrade, scratch_mask  # noqa: E402

from restoration.classical import scratch_detector  # noqa: E402
from restoration.classical.scratch_detector import detect_scratches  # noqa: E402

from restoration.classical.inpaint import inpaint_classical  # noqa: E402

REAL_PHOTOS = Path(__file__).resolve().parent.parent / "examples"  # copies of ../shared/photos


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


def synthetic_case(image: np.ndarray, seed: int, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(aged photo before the paint, damaged photo, ground-truth mask) for one clean photo."""
    rng = np.random.default_rng([seed, index])
    aged, _ = degrade(image, rng=rng, scratches=False, jpeg_p=0.0)
    damaged = apply_damage(aged, scratch_mask(aged.shape[:2], rng=rng), rng=rng)
    return aged, damaged, changed_mask(aged, damaged)


def fmt(value: float, digits: int = 3) -> str:
    return "n/a" if value != value else f"{value:.{digits}f}"


def synthetic_table(photos: dict[str, np.ndarray], seed: int) -> None:
    header = (
        "| photo | size | damage % | ours P | ours R | ours F1 | base P | base R | base F1 "
        "| Telea PSNR | Telea SSIM | ours PSNR | ours SSIM | detect s/MP ours | detect s/MP base "
        "| repair s/MP Telea | repair s/MP ours |"
    )
    print(header)
    print("|" + "---|" * (header.count("|") - 1))
    rows = []
    for index, (name, image) in enumerate(photos.items()):
        aged, damaged, truth = synthetic_case(image, seed, index)
        mp = truth.size / 1e6
        ours, t_ours = timed(detect_scratches, damaged)
        base, t_base = timed(baseline_detect, damaged)
        fixed_telea, t_telea = timed(telea, damaged, truth)
        q_telea = masked_quality(aged, fixed_telea, truth)
        fixed_ours, t_fix = timed(inpaint_classical, damaged, truth)
        q_ours = masked_quality(aged, fixed_ours, truth)
        row = (
            *prf(ours, truth),
            *prf(base, truth),
            *q_telea,
            *q_ours,
            t_ours / mp,
            t_base / mp,
            t_telea / mp,
            t_fix / mp,
        )
        rows.append(row)
        h, w = truth.shape
        cells = [name, f"{w}x{h}", fmt(100 * truth.mean(), 2)]
        cells += [fmt(v) for v in row[:6]] + [fmt(row[6], 2), fmt(row[7]), fmt(row[8], 2), fmt(row[9])]
        cells += [fmt(v, 2) for v in row[10:]]
        print("| " + " | ".join(cells) + " |", flush=True)
    mean = np.nanmean(np.array(rows, dtype=np.float64), axis=0) if rows else []
    if len(rows):
        cells = ["**mean**", "", ""] + [fmt(v) for v in mean[:6]]
        cells += [fmt(mean[6], 2), fmt(mean[7]), fmt(mean[8], 2), fmt(mean[9])] + [fmt(v, 2) for v in mean[10:]]
        print("| " + " | ".join(cells) + " |")


def real_table() -> None:
    files = sorted(REAL_PHOTOS.glob("*.jpg"))
    if not files:
        print(f"\n(no real photos found in {REAL_PHOTOS})")
        return
    print("\n| real photo | size | ours coverage % | baseline coverage % | ours s/MP |")
    print("|---|---|---|---|---|")
    ours_cov, base_cov = [], []
    for path in files:
        with Image.open(path) as im:
            image = np.asarray(im.convert("RGB"), dtype=np.float32) / 255.0
        mask, seconds = timed(detect_scratches, image)
        base = baseline_detect(image)
        ours_cov.append(100 * mask.mean())
        base_cov.append(100 * base.mean())
        h, w = mask.shape
        per_mp = seconds / (mask.size / 1e6)
        print(f"| {path.name} | {w}x{h} | {ours_cov[-1]:.2f} | {base_cov[-1]:.2f} | {per_mp:.2f} |", flush=True)
    print(f"| **mean** | | {np.mean(ours_cov):.2f} | {np.mean(base_cov):.2f} | |")


_FIT_EXTRA = (
    "immunohistochemistry", "hubble_deep_field", "retina", "moon", "brick", "grass",
    "gravel", "clock", "cell", "page", "text",
)


def _fit_cases(max_side: int = 512):
    """Yield (damaged, ground truth) pairs of the fitting set described in the module docstring."""
    import skimage.data

    from degrade import _downsize, _to_rgb_float

    bench = list(clean_photos(max_side).values())
    extra = [_downsize(_to_rgb_float(getattr(skimage.data, name)()), max_side) for name in _FIT_EXTRA]
    plans = [(bench, range(10, 20), (), {}), (extra, range(10, 16), (7,), {})]
    plans.append((bench + extra, range(20, 24), (11,), dict(blur_p=0.0, grain_p=0.3)))
    for photos, seeds, salt, options in plans:
        for seed in seeds:
            for index, image in enumerate(photos):
                rng = np.random.default_rng([seed, index, *salt])
                aged, _ = degrade(image, rng=rng, scratches=False, jpeg_p=0.0, **options)
                damaged = apply_damage(aged, scratch_mask(aged.shape[:2], rng=rng), rng=rng)
                yield damaged, changed_mask(aged, damaged)


def fit_weights() -> str:
    """Fit the per-channel logistic weights of the detector; returns the ``_WEIGHTS`` source."""
    from scipy.optimize import minimize

    sd = scratch_detector
    data: dict[str, list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = {}
    for damaged, truth in _fit_cases():
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
    lines = ["_WEIGHTS: dict[str, tuple[tuple[float, ...], tuple[float, ...], tuple[float, ...], float]] = {"]
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
    parser.add_argument("--photos", type=int, default=None, help="use the first N clean photos (default: all)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic damage (default 0)")
    parser.add_argument(
        "--max-side", type=int, default=512, help="downsize clean photos to this side (default 512; 0 = full size)"
    )
    parser.add_argument("--fit", action="store_true", help="refit the detector's component weights and print them")
    args = parser.parse_args(argv)
    cv2.setNumThreads(2)
    if args.fit:
        print(fit_weights())
        return 0
    photos = clean_photos(args.max_side or None)
    if args.photos is not None:
        photos = dict(list(photos.items())[: max(args.photos, 0)])
    side = args.max_side or "full"
    print(f"Synthetic damage, seed {args.seed}, max side {side} px; repair on the ground-truth masks.\n")
    synthetic_table(photos, args.seed)
    real_table()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
