"""Native-resolution windows and feathered paste-back."""

import numpy as np
import pytest

from restoration.errors import InputError
from restoration.regions import composite, feather_weights, repaint_in_windows, windows_covering


def _scratch_mask(height, width):
    mask = np.zeros((height, width), np.float32)
    mask[height // 2, 5 : width - 5] = 1.0
    mask[10:14, 10:14] = 1.0
    return mask


def test_feather_weights_are_one_on_mask_and_zero_far_away():
    mask = np.zeros((40, 40), np.float32)
    mask[20, 20] = 1.0
    weights = feather_weights(mask, feather=3)
    assert weights[20, 20] == 1.0
    assert 0.0 < weights[20, 23] < 1.0
    assert weights[20, 27] == 0.0 and weights[0, 0] == 0.0


def test_composite_keeps_original_pixels_exactly_where_weight_is_zero():
    rng = np.random.default_rng(1)
    original, repaired = rng.random((2, 30, 30, 3), dtype=np.float32)
    weights = np.zeros((30, 30), np.float32)
    weights[10:20, 10:20] = 0.5
    result = composite(original, repaired, weights)
    np.testing.assert_array_equal(result[weights == 0], original[weights == 0])
    np.testing.assert_allclose(result[15, 15], (original[15, 15] + repaired[15, 15]) / 2, atol=1e-6)


def test_composite_rejects_mismatched_shapes():
    with pytest.raises(InputError, match="matching shapes"):
        composite(np.zeros((4, 4, 3), np.float32), np.zeros((4, 5, 3), np.float32), np.zeros((4, 4)))


def test_windows_cover_every_masked_pixel_at_native_size():
    mask = _scratch_mask(700, 1300)
    windows = windows_covering(mask, size=512, overlap=64)
    covered = np.zeros(mask.shape, bool)
    for window in windows:
        assert window.bottom - window.top <= 512 and window.right - window.left <= 512
        covered[window.slices] = True
    assert covered[mask > 0.5].all()
    assert windows_covering(np.zeros((700, 1300)), size=512) == []


def test_small_photo_is_one_window():
    windows = windows_covering(_scratch_mask(100, 200), size=512)
    assert [(w.top, w.left, w.bottom, w.right) for w in windows] == [(0, 0, 100, 200)]


def test_repaint_in_windows_touches_only_the_feathered_mask():
    rng = np.random.default_rng(2)
    image = rng.random((600, 900, 3), dtype=np.float32)
    mask = _scratch_mask(600, 900)
    crops = []

    def paint_white(crop, crop_mask):
        crops.append(crop.shape)
        return np.ones_like(crop)

    result = repaint_in_windows(image, mask, paint_white, size=256, overlap=32, feather=2)
    far = feather_weights(mask, feather=2) == 0
    np.testing.assert_array_equal(result[far], image[far])
    assert (result[mask > 0.5] == 1.0).all()
    assert all(h <= 256 and w <= 256 for h, w, _ in crops)
    assert result.shape == image.shape


def test_window_geometry_is_validated():
    with pytest.raises(InputError, match="must exceed the overlap"):
        windows_covering(np.ones((10, 10)), size=32, overlap=32)
