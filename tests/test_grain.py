"""Tests of the film-grain estimate and removal (restoration.classical.grain)."""

import cv2
import numpy as np
import pytest
import skimage.data

from restoration.classical.grain import (
    SIGMA_FLOOR,
    NoiseEstimate,
    denoise,
    estimate_noise,
)
from restoration.errors import InputError


def _scene(side: int = 192) -> np.ndarray:
    """A gray test scene with flat areas at several grey levels, a ramp and a few edges:
    (side, side, 3) float32 in [0.2, 0.8]."""
    y, x = np.mgrid[0:side, 0:side].astype(np.float32) / side
    plane = np.where(x < 0.5, np.where(y < 0.5, 0.3, 0.45), np.where(y < 0.5, 0.6, 0.2 + 0.6 * y))
    plane = plane.astype(np.float32)
    cv2.circle(plane, (side // 4, side // 4), side // 10, 0.7, -1)
    cv2.rectangle(plane, (side // 2 + 10, side // 8), (side - 20, side // 4), 0.35, -1)
    return np.repeat(plane[..., None], 3, axis=2)


def _grain(shape: tuple[int, int], sigma: float, size: float, seed: int = 0) -> np.ndarray:
    """(H, W) float32 noise of std ``sigma``: white (size 0) or white smoothed by a Gaussian of
    ``size`` px and brought back to std ``sigma`` (film grain of that correlation)."""
    noise = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    if size > 0:
        noise = cv2.GaussianBlur(noise, (0, 0), size)
        noise /= noise.std()
    return sigma * noise


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(np.mean((a.astype(np.float64) - b) ** 2), 1e-20)))


def _photo(side: int = 160) -> np.ndarray:
    image = skimage.data.astronaut().astype(np.float32) / 255.0
    return np.clip(cv2.resize(image, (side, side), interpolation=cv2.INTER_AREA), 0.0, 1.0)


# Tolerances, from the spread over seeds on this 192-px scene: sigma within 10 % for white noise,
# 30 % for grain of 1 px and 40 % for 2 px (wider grain: fewer independent samples); the
# correlation within 0.3 px (0.5 for 2-px grain) of sqrt(s**2 + 1/4): 0.5 for white noise, 1.12
# for s = 1, 2.06 for s = 2.
@pytest.mark.parametrize(
    "sigma, size, rel, corr_tol",
    [(0.01, 0.0, 0.1, 0.3), (0.03, 0.0, 0.1, 0.3), (0.02, 1.0, 0.3, 0.3), (0.04, 1.0, 0.3, 0.3), (0.03, 2.0, 0.4, 0.5)],
    ids=["white-0.01", "white-0.03", "grain1px-0.02", "grain1px-0.04", "grain2px-0.03"],
)
def test_estimate_of_known_noise(sigma, size, rel, corr_tol):
    clean = _scene()
    noisy = np.clip(clean + _grain(clean.shape[:2], sigma, size)[..., None], 0.0, 1.0)
    estimate = estimate_noise(noisy)
    assert isinstance(estimate, NoiseEstimate)
    assert estimate.sigma == pytest.approx(sigma, rel=rel)
    assert estimate.correlation == pytest.approx(np.hypot(size, 0.5), abs=corr_tol)
    assert estimate.chroma_sigma == 0.0  # gray
    assert estimate.per_channel == (estimate.sigma,) * 3


def test_estimate_of_colour_noise_separates_luminance_and_chroma():
    clean = _scene()
    rng = np.random.default_rng(3)
    luminance = _grain(clean.shape[:2], 0.03, 1.0, seed=1)[..., None]
    chroma = 0.01 * rng.standard_normal(clean.shape).astype(np.float32)
    estimate = estimate_noise(np.clip(clean + luminance + chroma, 0.0, 1.0))
    assert estimate.sigma == pytest.approx(0.03, rel=0.2)
    assert 0.003 < estimate.chroma_sigma < 0.015
    assert all(s == pytest.approx(0.031, rel=0.25) for s in estimate.per_channel)


def test_clean_scene_reads_almost_no_noise():
    assert estimate_noise(_scene()).sigma < SIGMA_FLOOR


def test_denoise_removes_grain():
    clean = _scene()
    noisy = np.clip(clean + _grain(clean.shape[:2], 0.04, 1.0, seed=2)[..., None], 0.0, 1.0)
    out = denoise(noisy, sigma=0.04, correlation=float(np.hypot(1.0, 0.5)))
    assert _psnr(clean, out) > _psnr(clean, noisy) + 6.0


def test_clean_photo_passes_through():
    photo = _photo()
    estimate = estimate_noise(photo)
    out = denoise(photo, sigma=estimate.sigma, chroma_sigma=estimate.chroma_sigma, correlation=estimate.correlation)
    assert _psnr(photo, out) >= 40.0


def test_below_the_floor_returns_an_identical_copy():
    photo = _photo(64)
    out = denoise(photo, sigma=0.5 * SIGMA_FLOOR)
    assert out is not photo and np.array_equal(out, photo)


def test_gray_stays_gray():
    gray = _scene(128)
    noisy = np.clip(gray + _grain(gray.shape[:2], 0.03, 0.8)[..., None], 0.0, 1.0)
    out = denoise(noisy, sigma=0.03, chroma_sigma=0.02, correlation=1.0)
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 0], out[..., 2])


@pytest.mark.parametrize("shape", [(97, 131), (40, 300)])
def test_shapes_and_dtypes_are_kept(shape):
    rng = np.random.default_rng(0)
    image = np.clip(0.5 + 0.05 * rng.standard_normal((*shape, 3)), 0.0, 1.0)  # float64 in
    out = denoise(image, sigma=0.05, chroma_sigma=0.02)
    assert out.shape == image.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    estimate = estimate_noise(image)
    assert all(isinstance(v, float) for v in (estimate.sigma, estimate.chroma_sigma, estimate.correlation))


def test_tiny_image_reads_noise_free():
    estimate = estimate_noise(np.full((10, 10, 3), 0.5, np.float32))
    assert estimate == NoiseEstimate(0.0, 0.0, 0.5, (0.0, 0.0, 0.0))


def test_wrong_shape_is_refused():
    with pytest.raises(InputError, match=r"\(H, W, 3\)"):
        estimate_noise(np.zeros((32, 32), np.float32))


def test_values_outside_the_range_are_refused():
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        denoise(np.full((32, 32, 3), 2.0, np.float32), sigma=0.02)


def test_negative_sigma_is_refused():
    with pytest.raises(InputError, match="sigma must be in .*-0.1"):
        denoise(np.zeros((32, 32, 3), np.float32), sigma=-0.1)


def test_nan_chroma_sigma_is_refused():
    with pytest.raises(InputError, match="chroma_sigma"):
        denoise(np.zeros((32, 32, 3), np.float32), sigma=0.02, chroma_sigma=float("nan"))


def test_correlation_out_of_range_is_refused():
    with pytest.raises(InputError, match=r"correlation must be in \[0.5, 8\] px .*20"):
        denoise(np.zeros((32, 32, 3), np.float32), sigma=0.02, correlation=20)
