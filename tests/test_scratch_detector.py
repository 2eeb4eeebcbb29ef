"""Tests of the classical scratch, crack and speck detector."""

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import bundled_photo

from restoration.classical.scratch_detector import detect_scratches
from restoration.errors import InputError


def _photo(name: str = "astronaut", side: int = 320) -> np.ndarray:
    return bundled_photo(name, side)


def _grain(image: np.ndarray, sigma: float = 0.015, seed: int = 0) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, sigma, image.shape[:2]).astype(np.float32)
    return np.clip(image + noise[..., None], 0.0, 1.0)


def _paint(image: np.ndarray, lines, *, value: float, width: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Draw straight lines ``[(x0, y0, x1, y1), ...]`` of grey ``value``; return (damaged, mask)."""
    mask = np.zeros(image.shape[:2], np.uint8)
    for x0, y0, x1, y1 in lines:
        cv2.line(mask, (x0, y0), (x1, y1), 1, width)
    damaged = image.copy()
    damaged[mask > 0] = value
    return damaged, mask > 0


def _f1(pred: np.ndarray, truth: np.ndarray) -> float:
    tp = float(np.sum(pred & truth))
    precision, recall = tp / max(pred.sum(), 1), tp / max(truth.sum(), 1)
    return 2 * precision * recall / max(precision + recall, 1e-9)


def test_shape_and_dtype_for_colour_and_gray_input():
    colour = _grain(_photo("astronaut", 160))
    gray = np.repeat(colour.mean(axis=2, keepdims=True), 3, axis=2)
    for image in (colour, gray, colour.astype(np.float64)):
        mask = detect_scratches(image)
        assert mask.shape == image.shape[:2] and mask.dtype == bool


def test_wrong_ndim_is_refused():
    with pytest.raises(InputError, match=r"\(H, W, 3\)"):
        detect_scratches(np.zeros((32, 32), np.float32))


def test_wrong_value_range_is_refused():
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        detect_scratches(np.full((32, 32, 3), 255.0, np.float32))


def test_sensitivity_outside_the_range_is_refused_quoting_it():
    with pytest.raises(InputError, match="1.5"):
        detect_scratches(np.zeros((32, 32, 3), np.float32), sensitivity=1.5)


def test_finds_scratches_on_a_photo():
    clean = _grain(_photo("astronaut"))
    bright, bright_mask = _paint(clean, [(40, 20, 300, 310), (310, 40, 120, 300)], value=0.95, width=2)
    damaged, dark_mask = _paint(bright, [(20, 160, 300, 200)], value=0.08, width=1)
    truth = bright_mask | dark_mask
    mask = detect_scratches(damaged)
    assert mask[truth].mean() > 0.85
    # measured 0.73: the rest of the mask is sharp specular highlights of the helmet and badge
    assert _f1(mask, truth) > 0.6


def test_finds_a_speck_and_a_crack():
    damaged = _grain(np.full((120, 160, 3), 0.55, np.float32))
    truth = np.zeros(damaged.shape[:2], np.uint8)
    cv2.circle(damaged, (40, 40), 3, (0.05, 0.05, 0.05), -1)
    cv2.circle(truth, (40, 40), 3, 1, -1)
    rng = np.random.default_rng(1)
    x, y, angle = 80.0, 20.0, np.pi / 2
    for _ in range(90):  # a wiggly bright crack
        angle += rng.normal(0, 0.25) + 0.1 * (np.pi / 2 - angle)
        nx, ny = x + 1.2 * np.cos(angle), y + 1.2 * np.sin(angle)
        cv2.line(damaged, (round(x), round(y)), (round(nx), round(ny)), (0.95, 0.95, 0.95), 2)
        cv2.line(truth, (round(x), round(y)), (round(nx), round(ny)), 1, 2)
        x, y = nx, ny
    truth = truth > 0
    mask = detect_scratches(damaged)
    assert mask[35:46, 35:46].sum() >= 0.8 * truth[35:46, 35:46].sum()
    assert mask[truth].mean() > 0.8 and mask[~truth].mean() < 0.005


def test_finds_almost_nothing_on_clean_photos():
    names = ("astronaut", "camera", "coffee", "chelsea", "rocket", "coins")
    coverage = {name: detect_scratches(_grain(_photo(name))).mean() for name in names}
    assert max(coverage.values()) < 0.015, coverage  # measured at most 1.0 % (sharp highlights)
    assert np.mean(list(coverage.values())) < 0.008, coverage  # measured 0.5 %


def test_mask_grows_with_sensitivity():
    damaged, _ = _paint(_grain(_photo("camera")), [(30, 30, 280, 250)], value=0.9, width=1)
    masks = [detect_scratches(damaged, sensitivity=s) for s in (0.0, 0.25, 0.5, 0.75, 1.0)]
    for weaker, stronger in zip(masks, masks[1:]):
        assert not (weaker & ~stronger).any()
    assert masks[-1].sum() > masks[2].sum() > masks[0].sum()


def test_finds_a_scratch_crossing_the_border():
    clean = _grain(_photo("chelsea"))
    h, w = clean.shape[:2]
    damaged, truth = _paint(clean, [(w - 60, -5, w + 20, h // 2)], value=0.95, width=2)
    mask = detect_scratches(damaged)
    rows, cols = np.indices(truth.shape)
    near_border = truth & ((rows < 10) | (cols >= w - 10))
    assert near_border.sum() > 20
    assert mask[truth].mean() > 0.85
    assert mask[near_border].mean() > 0.8


def _benchmark():
    """benchmarks/scratch_quality.py as a module (it is a script, not part of the package)."""
    path = Path(__file__).resolve().parent.parent / "benchmarks" / "scratch_quality.py"
    spec = importlib.util.spec_from_file_location("scratch_quality", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_weights_are_fitted_on_photos_the_benchmark_does_not_score():
    bench = _benchmark()
    fit, held_out = set(bench.FIT_PRINTS), set(bench.HELD_OUT_PRINTS)
    assert len(fit) == len(bench.FIT_PRINTS) == 40 and len(held_out) == len(bench.HELD_OUT_PRINTS) == 40
    assert not fit & held_out
    examples = {path.name for path in bench.REAL_PHOTOS.glob("*.jpg")}
    assert examples and not examples & (fit | held_out)


def test_benchmark_without_the_corpus_says_so_in_one_line(tmp_path):
    bench = _benchmark()
    with pytest.raises(bench.CorpusUnavailable, match="pass --corpus DIR") as caught:
        bench.load_prints(tmp_path / "no-corpus", bench.FIT_PRINTS)
    assert "\n" not in str(caught.value)
