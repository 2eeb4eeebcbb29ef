"""Classical inpainting (restoration/classical/inpaint.py): contract, bad input and quality."""

import cv2
import numpy as np
import pytest

from restoration.classical.inpaint import inpaint_classical
from restoration.errors import InputError


def gradient(height=96, width=128, *, gray=False):
    """A smooth colour (or gray) photo-like gradient, (H, W, 3) float32 in [0, 1]."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    photo = np.stack(
        [0.2 + 0.6 * x / width, 0.25 + 0.5 * y / height, 0.5 + 0.2 * np.sin(x / 17.0) * np.cos(y / 23.0)], axis=2
    )
    if gray:
        photo = np.repeat(photo.mean(axis=2, keepdims=True), 3, axis=2)
    return np.clip(photo, 0, 1).astype(np.float32)


def crack(shape, *, width, seed=0):
    """A wavy crack ``width`` px wide across the image, (H, W) bool."""
    height, w = shape
    rng = np.random.default_rng(seed)
    xs = np.arange(w)
    ys = height / 2 + height / 6 * np.sin(xs / w * 5 + rng.uniform(0, 6))
    canvas = np.zeros(shape, np.uint8)
    points = np.stack([xs, ys], axis=1).round().astype(np.int32)
    cv2.polylines(canvas, [points], False, 1, thickness=width)
    return canvas.astype(bool)


def damage(image, mask):
    damaged = image.copy()
    damaged[mask] = [1.0, 0.95, 0.9]  # bright paint, far from the truth
    return damaged


def telea(image, mask):
    u8 = np.rint(image * 255).astype(np.uint8)
    bgr = cv2.inpaint(np.ascontiguousarray(u8[..., ::-1]), mask.astype(np.uint8), 3, cv2.INPAINT_TELEA)
    return bgr[..., ::-1].astype(np.float32) / 255


def rmse_in(a, b, mask):
    return float(np.sqrt(((a - b) ** 2)[mask].mean()))


def test_output_shape_dtype_range_and_untouched_outside():
    photo = gradient()
    mask = crack(photo.shape[:2], width=8) | crack(photo.shape[:2], width=2, seed=3)
    out = inpaint_classical(damage(photo, mask), mask)
    assert out.shape == photo.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    assert np.array_equal(out[~mask], photo[~mask])
    assert not np.allclose(out[mask], damage(photo, mask)[mask])  # the paint is gone


def test_float_mask_threshold_and_bit_identical_outside():
    rng = np.random.default_rng(1)
    photo = rng.uniform(0, 1, (64, 80, 3)).astype(np.float32)
    soft = np.zeros((64, 80), np.float32)
    soft[20:30, 10:70] = 0.9  # repainted
    soft[40:44, 10:70] = 0.5  # not above 0.5: kept
    out = inpaint_classical(photo, soft)
    keep = soft <= 0.5
    assert np.array_equal(out[keep], photo[keep])  # bit-identical, not merely close
    assert not np.array_equal(out[~keep], photo[~keep])


def test_gray_stays_exactly_gray():
    photo = gradient(gray=True)
    mask = crack(photo.shape[:2], width=10)
    mask[5:9, 5:120] = True  # a thin scratch too
    out = inpaint_classical(damage(photo, mask), mask)
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 0], out[..., 2])


def test_empty_mask_returns_an_equal_copy():
    photo = gradient()
    out = inpaint_classical(photo, np.zeros(photo.shape[:2], bool))
    assert np.array_equal(out, photo) and out.dtype == np.float32
    assert not np.shares_memory(out, photo)


@pytest.mark.parametrize("where", ["border", "corner"])
def test_border_and_corner_masks(where):
    photo = gradient(80, 100)
    mask = np.zeros(photo.shape[:2], bool)
    if where == "border":
        mask[:6], mask[-6:], mask[:, :6], mask[:, -6:] = True, True, True, True
    else:
        mask[:24, -30:] = True
    out = inpaint_classical(damage(photo, mask), mask)
    assert np.isfinite(out).all() and np.array_equal(out[~mask], photo[~mask])
    # a smooth gradient continues smoothly to the edge
    assert rmse_in(out, photo, mask) < 0.05


def test_workers_do_not_change_the_result():
    photo = gradient(160, 300)
    mask = crack(photo.shape[:2], width=9)
    damaged = damage(photo, mask)
    assert np.array_equal(inpaint_classical(damaged, mask, workers=1), inpaint_classical(damaged, mask, workers=2))


def test_wide_crack_on_gradient_beats_telea():
    photo = gradient()
    mask = crack(photo.shape[:2], width=10)
    damaged = damage(photo, mask)
    ours = rmse_in(inpaint_classical(damaged, mask), photo, mask)
    baseline = rmse_in(telea(damaged, mask), photo, mask)
    assert ours < 0.01
    assert ours < 0.8 * baseline


def test_wide_crack_on_stripes_keeps_the_texture():
    y, x = np.mgrid[0:96, 0:128].astype(np.float32)
    stripes = 0.5 + 0.35 * np.sin(2 * np.pi * (x + 0.3 * y) / 9.0)
    photo = np.repeat(stripes[..., None], 3, axis=2).astype(np.float32)
    mask = crack(photo.shape[:2], width=9, seed=2)
    damaged = damage(photo, mask)
    ours = rmse_in(inpaint_classical(damaged, mask), photo, mask)
    smooth_only = rmse_in(inpaint_classical(damaged, mask, iterations=0), photo, mask)
    assert ours < 0.5 * smooth_only
    assert ours < 0.5 * rmse_in(telea(damaged, mask), photo, mask)


def test_grain_option_matches_the_surrounding_noise_level():
    rng = np.random.default_rng(0)
    photo = np.clip(gradient(gray=True) + rng.normal(0, 0.03, (96, 128, 1)), 0, 1).astype(np.float32)
    mask = crack(photo.shape[:2], width=10)
    damaged = damage(photo, mask)

    def noise_inside_over_outside(out):
        detail = out[..., 0] - cv2.GaussianBlur(out[..., 0], (0, 0), 1.0)
        return detail[mask].std() / detail[~mask].std()

    plain = inpaint_classical(damaged, mask)
    grainy = inpaint_classical(damaged, mask, grain=True, seed=3)
    assert noise_inside_over_outside(plain) < 0.5
    assert 0.8 < noise_inside_over_outside(grainy) < 1.25
    assert np.array_equal(grainy[..., 0], grainy[..., 2]) and np.array_equal(grainy[~mask], photo[~mask])


@pytest.mark.parametrize("shape", [(1, 2), (3, 3), (9, 7), (40, 5)])
def test_tiny_images(shape):
    photo = np.linspace(0.1, 0.9, shape[0] * shape[1] * 3, dtype=np.float32).reshape(*shape, 3)
    mask = np.zeros(shape, bool)
    mask[: max(1, shape[0] // 2), : max(1, shape[1] // 2)] = True
    out = inpaint_classical(photo, mask)
    assert out.shape == photo.shape and np.isfinite(out).all()
    assert np.array_equal(out[~mask], photo[~mask])


def test_rejects_wrong_image_ndim():
    with pytest.raises(InputError, match=r"\(H, W, 3\).*\(32, 32\)"):
        inpaint_classical(np.zeros((32, 32), np.float32), np.zeros((32, 32), bool))


def test_rejects_mask_shape_mismatch():
    with pytest.raises(InputError, match=r"\(32, 40\).*\(40, 32\)"):
        inpaint_classical(np.zeros((32, 40, 3), np.float32), np.zeros((40, 32), bool))


def test_rejects_image_values_out_of_range():
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        inpaint_classical(np.full((16, 16, 3), 1.5, np.float32), np.zeros((16, 16), bool))


def test_rejects_mask_values_out_of_range():
    mask = np.zeros((16, 16), np.uint8)
    mask[4:8, 4:8] = 255
    with pytest.raises(InputError, match="255"):
        inpaint_classical(np.zeros((16, 16, 3), np.float32), mask)


def test_rejects_integer_image():
    with pytest.raises(InputError, match="uint8"):
        inpaint_classical(np.zeros((16, 16, 3), np.uint8), np.zeros((16, 16), bool))


def test_rejects_a_mask_covering_everything():
    with pytest.raises(InputError, match="whole"):
        inpaint_classical(np.zeros((16, 16, 3), np.float32), np.ones((16, 16), bool))


# --- wide tears and paper loss: exemplar fill ---------------------------------------------------


def diagonal_stripes(height=160, width=200):
    """Gray diagonal stripes (period 11 px) over a slow vertical wave, (H, W, 3) float32 in [0, 1]."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    stripes = 0.5 + 0.3 * np.sin(2 * np.pi * (x + 0.6 * y) / 11.0) + 0.1 * np.sin(2 * np.pi * y / 37.0)
    return np.repeat(stripes[..., None], 3, axis=2).astype(np.float32)


def fine_detail(image):
    """Luma minus its Gaussian blur (sigma 2 px), (H, W)."""
    luma = image.mean(axis=2)
    return luma - cv2.GaussianBlur(luma, (0, 0), 2.0)


def test_a_wide_tear_continues_the_texture_instead_of_smearing_it():
    photo = diagonal_stripes()
    mask = crack(photo.shape[:2], width=30, seed=2)
    damaged = damage(photo, mask)
    ours = inpaint_classical(damaged, mask)
    smeared = inpaint_classical(damaged, mask, exemplar=False)  # the smooth fill refined in place
    # as much fine detail deep inside the tear as around it (a smear keeps about half)
    core = cv2.erode(mask.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
    around = fine_detail(photo)[~mask].std()
    assert fine_detail(ours)[core].std() > 0.8 * around
    assert fine_detail(smeared)[core].std() < 0.6 * around
    # and the stripes are continued where they were
    assert rmse_in(ours, photo, mask) < 0.5 * rmse_in(smeared, photo, mask)
    assert rmse_in(ours, photo, mask) < 0.5 * rmse_in(telea(damaged, mask), photo, mask)
    assert np.array_equal(ours[~mask], photo[~mask])


def test_a_torn_corner_of_a_gradient_keeps_the_gradient():
    photo = gradient(120, 160)
    mask = np.zeros(photo.shape[:2], bool)
    mask[:50, -60:] = True
    damaged = damage(photo, mask)
    ours = rmse_in(inpaint_classical(damaged, mask), photo, mask)
    assert ours < 0.06
    assert ours < 1.5 * rmse_in(inpaint_classical(damaged, mask, exemplar=False), photo, mask)


def test_a_wide_tear_in_a_gray_photo_stays_exactly_gray():
    photo = gradient(gray=True)
    mask = crack(photo.shape[:2], width=20)
    out = inpaint_classical(damage(photo, mask), mask)
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 0], out[..., 2])
    assert np.array_equal(out[~mask], photo[~mask])


def test_exemplar_fill_is_deterministic_and_independent_of_workers():
    photo = diagonal_stripes(120, 300)
    mask = crack(photo.shape[:2], width=24, seed=5)
    damaged = damage(photo, mask)
    first = inpaint_classical(damaged, mask, workers=1)
    assert np.array_equal(first, inpaint_classical(damaged, mask, workers=2))
    assert np.array_equal(first, inpaint_classical(damaged, mask, workers=1))
