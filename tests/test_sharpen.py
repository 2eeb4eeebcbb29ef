"""Tests of the blur estimate and the deconvolution (restoration.classical.sharpen)."""

import cv2
import numpy as np
import pytest
import skimage.data

from restoration.classical.sharpen import (
    _SMOOTHNESS,
    BLUR_FLOOR,
    _smoothness,
    deblur,
    estimate_blur,
)
from restoration.errors import InputError


def _shapes(side: int = 192, seed: int = 0) -> np.ndarray:
    """A perfectly sampled sharp scene: polygons and discs drawn at 8x and area-downsampled,
    (side, side, 3) float32 gray in [0.1, 0.9]."""
    rng = np.random.default_rng(seed)
    scale = 8
    big = np.full((side * scale, side * scale), 0.5, np.float32)
    for _ in range(12):
        points = (rng.random((int(rng.integers(3, 7)), 2)) * side * scale).astype(np.int32)
        cv2.fillPoly(big, [cv2.convexHull(points)], float(rng.uniform(0.1, 0.9)))
    for _ in range(8):
        centre = (int(rng.integers(0, side * scale)), int(rng.integers(0, side * scale)))
        cv2.circle(big, centre, int(rng.integers(8, 40) * scale), float(rng.uniform(0.1, 0.9)), -1)
    small = cv2.resize(big, (side, side), interpolation=cv2.INTER_AREA)
    return np.repeat(small[..., None], 3, axis=2)


def _blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(np.mean((a.astype(np.float64) - b) ** 2), 1e-20)))


def test_sharp_scene_reads_sharp():
    assert estimate_blur(_shapes()) < 0.4


# Tolerance 0.25 px (10-25 %): the calibration of the sharp-edge width holds within 0.05 px on
# such scenes; the rest is the spread of the per-edge estimates.
@pytest.mark.parametrize("sigma", [1.0, 2.0, 3.0])
def test_estimate_of_known_blur(sigma):
    assert estimate_blur(_blur(_shapes(), sigma)) == pytest.approx(sigma, abs=0.25)


def test_estimate_is_robust_to_the_noise_it_is_told_about():
    blurred = _blur(_shapes(), 2.0)
    noise = 0.02 * np.random.default_rng(1).standard_normal(blurred.shape[:2]).astype(np.float32)
    noisy = np.clip(blurred + noise[..., None], 0.0, 1.0)
    assert estimate_blur(noisy, noise_sigma=0.02) == pytest.approx(2.0, abs=0.4)


def test_deblur_restores_a_blurred_scene():
    sharp = _shapes()
    blurred = _blur(sharp, 2.0)
    out = deblur(blurred, blur_sigma=2.0)
    assert _psnr(sharp, out) > _psnr(sharp, blurred) + 2.0


def test_deblur_does_not_sharpen_noise_back_in():
    blurred = _blur(_shapes(128), 1.5)
    noise = 0.03 * np.random.default_rng(2).standard_normal(blurred.shape[:2]).astype(np.float32)
    noisy = np.clip(blurred + noise[..., None], 0.0, 1.0)
    out = deblur(noisy, blur_sigma=1.5, noise_sigma=0.03)
    # high-frequency energy (the Laplacian's std) must not grow: the noise dominates it
    before = np.std(cv2.Laplacian(noisy[..., 0], cv2.CV_32F))
    after = np.std(cv2.Laplacian(out[..., 0], cv2.CV_32F))
    assert after < before


def test_below_the_floor_returns_an_identical_copy():
    image = _shapes(64)
    out = deblur(image, blur_sigma=0.5 * BLUR_FLOOR)
    assert out is not image and np.array_equal(out, image)


def test_gray_stays_gray_and_colours_are_deblurred_with_the_luminance():
    gray = _blur(_shapes(96), 1.5)
    out = deblur(gray, blur_sigma=1.5)
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 0], out[..., 2])
    # colour edges: the red - blue difference is blurred like the luminance and comes back with it
    sharp = np.stack([_shapes(96, seed=1)[..., 0], _shapes(96, seed=2)[..., 0], _shapes(96, seed=3)[..., 0]], axis=2)
    blurred = _blur(sharp, 1.5)
    out = deblur(blurred, blur_sigma=1.5)

    def chroma_error(image: np.ndarray) -> float:
        return float(np.abs((image[..., 0] - image[..., 2]) - (sharp[..., 0] - sharp[..., 2])).mean())

    assert chroma_error(out) < 0.85 * chroma_error(blurred)
    assert np.allclose(out.mean(axis=(0, 1)), blurred.mean(axis=(0, 1)), atol=0.005)  # no colour shift


def test_no_jump_at_the_floor():
    blurred = _blur(_shapes(), 1.0)
    just_over = deblur(blurred, blur_sigma=BLUR_FLOOR + 0.02)
    assert _psnr(blurred, just_over) > 40.0  # the kernel rises from nothing over the floor


def test_a_sharp_photo_is_measured_sharp_and_left_almost_alone():
    photo = skimage.data.astronaut().astype(np.float32) / 255.0  # sharp, with soft edges of its own
    blur = estimate_blur(photo, noise_sigma=2.0 / 255.0)
    assert blur < 0.8  # the 85th percentile read ~1 px here, and its kernel drew white rims round the hair
    out = deblur(photo, blur_sigma=blur, noise_sigma=2.0 / 255.0)
    assert _psnr(photo, out) > 40.0


def test_an_out_of_focus_background_is_not_taken_for_blur_to_undo():
    photo = skimage.data.astronaut().astype(np.float32) / 255.0
    width = photo.shape[1]
    scene = photo.copy()  # its right quarter out of focus, as behind a portrait sitter
    scene[:, 3 * width // 4 :] = _blur(photo, 2.5)[:, 3 * width // 4 :]
    blurred = _blur(scene, 1.0)
    blur = estimate_blur(blurred, noise_sigma=1.0 / 255.0)
    assert blur == pytest.approx(1.0, abs=0.3)  # the 85th percentile read 1.8 px here
    out = deblur(blurred, blur_sigma=blur, noise_sigma=1.0 / 255.0)
    assert _psnr(scene, out) > _psnr(scene, blurred) + 1.0  # the 1.8 px kernel made it worse


def test_motion_blur_gets_the_stronger_cap():
    sharp = _shapes(160)[..., 0]
    kernel = np.zeros((11, 11), np.float32)
    kernel[5, :] = 1.0 / 11.0  # 11-px horizontal motion
    motion = cv2.filter2D(sharp, -1, kernel, borderType=cv2.BORDER_REFLECT)
    round_blur = _blur(sharp, 1.5)
    assert _smoothness(motion, 0.0) > _smoothness(round_blur, 0.0)
    assert _smoothness(round_blur, 0.0) == pytest.approx(_SMOOTHNESS[0])


@pytest.mark.parametrize("shape", [(97, 131), (20, 300)])
def test_shapes_and_dtypes_are_kept(shape):
    image = np.clip(_blur(np.random.default_rng(0).random((*shape, 3)), 1.5), 0.0, 1.0)  # float64 in
    out = deblur(image, blur_sigma=1.5, noise_sigma=0.01)
    assert out.shape == image.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert isinstance(estimate_blur(image), float)


def test_flat_or_tiny_image_reads_zero_blur():
    assert estimate_blur(np.full((64, 64, 3), 0.5, np.float32)) == 0.0
    assert estimate_blur(np.full((8, 8, 3), 0.5, np.float32)) == 0.0


def test_wrong_shape_is_refused():
    with pytest.raises(InputError, match=r"\(H, W, 3\)"):
        estimate_blur(np.zeros((32, 32, 4), np.float32))


def test_integer_image_is_refused():
    with pytest.raises(InputError, match="float32"):
        deblur(np.zeros((32, 32, 3), np.uint8), blur_sigma=1.0)


def test_negative_blur_is_refused():
    with pytest.raises(InputError, match=r"blur_sigma must be in \[0, 8\], got -1"):
        deblur(np.zeros((32, 32, 3), np.float32), blur_sigma=-1.0)


def test_noise_out_of_range_is_refused():
    with pytest.raises(InputError, match=r"noise_sigma must be in \[0, 0.5\], got 3"):
        estimate_blur(np.zeros((32, 32, 3), np.float32), noise_sigma=3)
