"""Native-resolution windows and tiles, seamless blending and feathered paste-back."""

import numpy as np
import pytest

from restoration.errors import InputError
from restoration.regions import (
    MIN_BLEND_OVERLAP,
    Window,
    blend_weights,
    composite,
    feather_weights,
    process_in_tiles,
    repaint_in_windows,
    tiles_covering,
    windows_covering,
)


def _scratch_mask(height, width):
    mask = np.zeros((height, width), np.float32)
    mask[height // 2, 5 : width - 5] = 1.0
    mask[10:14, 10:14] = 1.0
    return mask


def _coverage_count(windows, height, width):
    count = np.zeros((height, width), int)
    for window in windows:
        count[window.slices] += 1
    return count


def _largest_step(image):
    """Largest difference between horizontally or vertically neighbouring pixels."""
    return max(np.abs(np.diff(image, axis=0)).max(), np.abs(np.diff(image, axis=1)).max())


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


# --- tile geometry -------------------------------------------------------------------------------


def test_small_photo_is_one_tile():
    assert tiles_covering(100, 200, size=512, overlap=64) == [Window(0, 0, 100, 200)]
    assert tiles_covering(512, 512, size=512, overlap=64) == [Window(0, 0, 512, 512)]


def test_tiles_of_a_large_photo_are_exactly_size_and_cover_it_with_the_overlap():
    height, width = 700, 1300
    tiles = tiles_covering(height, width, size=512, overlap=64)
    assert all((tile.height, tile.width) == (512, 512) for tile in tiles)
    assert _coverage_count(tiles, height, width).min() >= 1
    rows = sorted({tile.top for tile in tiles})
    columns = sorted({tile.left for tile in tiles})
    assert len(tiles) == len(rows) * len(columns) == 2 * 3
    assert rows[0] == columns[0] == 0 and rows[-1] == height - 512 and columns[-1] == width - 512
    for starts in (rows, columns):
        overlaps = [512 - (b - a) for a, b in zip(starts, starts[1:])]
        assert min(overlaps) >= 64 and max(overlaps) - min(overlaps) <= 1  # spread evenly


def test_tiles_of_a_long_thin_photo_span_its_short_side():
    tiles = tiles_covering(300, 2000, size=512, overlap=64)
    assert all((tile.top, tile.height, tile.width) == (0, 300, 512) for tile in tiles)
    assert _coverage_count(tiles, 300, 2000).min() >= 1


def test_windows_cover_every_masked_pixel_at_native_size():
    mask = _scratch_mask(700, 1300)
    windows = windows_covering(mask, size=512, overlap=64)
    assert set(windows) <= set(tiles_covering(700, 1300, size=512, overlap=64))
    assert all(w.bottom - w.top <= 512 and w.right - w.left <= 512 for w in windows)
    assert (_coverage_count(windows, 700, 1300)[mask > 0.5] >= 1).all()
    assert windows_covering(np.zeros((700, 1300)), size=512) == []


def test_small_photo_is_one_window():
    windows = windows_covering(_scratch_mask(100, 200), size=512)
    assert [(w.top, w.left, w.bottom, w.right) for w in windows] == [(0, 0, 100, 200)]


def test_window_geometry_is_validated():
    with pytest.raises(InputError, match="must exceed the overlap"):
        windows_covering(np.ones((10, 10)), size=32, overlap=32)


def test_tile_geometry_rejects_a_negative_overlap():
    with pytest.raises(InputError, match="overlap=-1"):
        tiles_covering(100, 100, size=32, overlap=-1)


def test_tile_geometry_rejects_a_size_not_above_the_overlap():
    with pytest.raises(InputError, match="size=16, overlap=16"):
        tiles_covering(100, 100, size=16, overlap=16)


def test_tile_geometry_rejects_fractional_sizes():
    with pytest.raises(InputError, match="size=512.0"):
        tiles_covering(100, 100, size=512.0, overlap=64)


def test_tile_geometry_rejects_an_empty_photo():
    with pytest.raises(InputError, match="height=0, width=5"):
        tiles_covering(0, 5, size=32, overlap=8)


# --- blend weights -----------------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(100, 130), (300, 2000), (40, 40), (97, 61)])
def test_blend_weights_sum_to_one_and_are_one_where_a_tile_is_alone(shape):
    height, width = shape
    tiles = tiles_covering(height, width, size=48, overlap=12)
    weights = blend_weights(tiles, height, width)
    total = np.zeros(shape, np.float32)
    for tile, weight in zip(tiles, weights):
        assert weight.shape == (tile.height, tile.width) and weight.dtype == np.float32
        assert weight.min() > 0 and weight.max() <= 1 + 1e-6
        total[tile.slices] += weight
        alone = _coverage_count(tiles, height, width)[tile.slices] == 1
        assert (weight[alone] == 1.0).all()
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_blend_weights_of_scattered_windows_sum_to_one_where_covered():
    windows = [Window(0, 0, 40, 40), Window(30, 30, 70, 70), Window(0, 60, 40, 100), Window(35, 0, 45, 100)]
    weights = blend_weights(windows, 80, 100)
    total = np.zeros((80, 100), np.float32)
    for window, weight in zip(windows, weights):
        total[window.slices] += weight
    covered = _coverage_count(windows, 80, 100) > 0
    np.testing.assert_allclose(total[covered], 1.0, atol=1e-6)
    assert (total[~covered] == 0).all()


def test_blend_weights_reject_a_window_outside_the_photo():
    with pytest.raises(InputError, match=r"outside the 50 x 60 px photo"):
        blend_weights([Window(0, 0, 50, 61)], 50, 60)


# --- process_in_tiles ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "height, width, size, overlap",
    [(100, 130, 48, 12), (120, 120, 48, 12), (90, 150, 48, 36), (200, 97, 64, 40)],
    ids=["wider-overlaps", "exact-overlaps", "many-tiles-meet", "tall"],
)
def test_process_in_tiles_blends_different_tiles_without_a_step(height, width, size, overlap):
    image = np.full((height, width, 3), 0.25, np.float32)
    tiles = tiles_covering(height, width, size=size, overlap=overlap)
    offsets = np.random.default_rng(3).uniform(-0.2, 0.6, len(tiles)).astype(np.float32)
    calls = []

    def add_offset(tile):
        offset = offsets[len(calls)]
        calls.append(tile.shape)
        return tile + offset

    result = process_in_tiles(image, add_offset, size=size, overlap=overlap)
    assert calls == [(size, size, 3)] * len(tiles) == [(t.height, t.width, 3) for t in tiles]
    spread = float(offsets.max() - offsets.min())
    # A hard paste would step by up to `spread`; the ramps spread it over the whole overlap.
    assert _largest_step(result) <= spread * 2.0 / overlap
    count = _coverage_count(tiles, height, width)
    assert (count == 1).any()
    for tile, offset in zip(tiles, offsets):
        alone = count[tile.slices] == 1  # the tile's own area (none for inner tiles of a dense grid)
        np.testing.assert_array_equal(result[tile.slices][alone], image[tile.slices][alone] + offset)


def test_process_in_tiles_identity_returns_a_gradient_unchanged():
    rows, columns = np.mgrid[0:300, 0:410].astype(np.float32)
    image = np.stack([rows / 299, columns / 409, (rows + columns) / 708], axis=-1).astype(np.float32)
    progress = []
    result = process_in_tiles(image, lambda tile: tile, size=128, overlap=32, on_tile=lambda *p: progress.append(p))
    assert result.shape == image.shape and result.dtype == np.float32
    np.testing.assert_allclose(result, image, atol=1e-6)
    total = len(tiles_covering(300, 410, size=128, overlap=32))
    assert progress == [(done, total) for done in range(1, total + 1)]


def test_process_in_tiles_identity_returns_noise_unchanged_and_accepts_gray():
    image = np.random.default_rng(4).random((90, 70), dtype=np.float32)
    np.testing.assert_allclose(process_in_tiles(image, lambda t: t, size=32, overlap=8), image, atol=1e-6)


def test_process_in_tiles_runs_a_small_photo_as_one_tile():
    image = np.random.default_rng(5).random((60, 80, 3), dtype=np.float32)
    seen = []
    result = process_in_tiles(image, lambda tile: seen.append(tile.shape) or 1.0 - tile, size=512, overlap=64)
    assert seen == [(60, 80, 3)]
    np.testing.assert_array_equal(result, 1.0 - image)


def test_process_in_tiles_does_not_modify_the_input():
    image = np.random.default_rng(6).random((70, 70, 3), dtype=np.float32)
    before = image.copy()

    def scribble(tile):
        tile[:] = 0.0
        return tile

    process_in_tiles(image, scribble, size=32, overlap=8)
    np.testing.assert_array_equal(image, before)


def test_process_in_tiles_rejects_a_negative_overlap():
    with pytest.raises(InputError, match="overlap=-4"):
        process_in_tiles(np.zeros((64, 64, 3), np.float32), lambda t: t, size=32, overlap=-4)


def test_process_in_tiles_rejects_a_size_not_above_the_overlap():
    with pytest.raises(InputError, match="size=32, overlap=40"):
        process_in_tiles(np.zeros((64, 64, 3), np.float32), lambda t: t, size=32, overlap=40)


def test_process_in_tiles_rejects_an_overlap_too_narrow_to_blend():
    with pytest.raises(InputError, match=f"at least {MIN_BLEND_OVERLAP} px.*overlap=2"):
        process_in_tiles(np.zeros((64, 64, 3), np.float32), lambda t: t, size=32, overlap=2)


def test_process_in_tiles_rejects_a_function_returning_the_wrong_shape():
    with pytest.raises(InputError, match=r"tile's shape \(32, 32, 3\), got shape \(16, 16, 3\)"):
        process_in_tiles(np.zeros((64, 64, 3), np.float32), lambda t: t[::2, ::2], size=32, overlap=8)


def test_process_in_tiles_rejects_an_image_of_the_wrong_rank():
    with pytest.raises(InputError, match=r"got shape \(64,\)"):
        process_in_tiles(np.zeros(64, np.float32), lambda t: t, size=32, overlap=8)


# --- repaint_in_windows --------------------------------------------------------------------------------


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


def test_overlapping_windows_blend_smoothly_inside_the_mask():
    height, width, size, overlap, feather = 64, 100, 64, 24, 2
    image = np.random.default_rng(7).random((height, width, 3), dtype=np.float32)
    mask = np.zeros((height, width), np.float32)
    mask[20:44, 3:97] = 1.0  # one band crossing both windows' overlap
    windows = windows_covering(mask, size=size, overlap=overlap)
    assert len(windows) == 2 and windows[0].right - windows[1].left >= overlap
    constants = [np.float32(0.1), np.float32(0.9)]
    calls = []

    def paint_constant(crop, crop_mask):
        calls.append(crop.shape)
        return np.full_like(crop, constants[len(calls) - 1])

    result = repaint_in_windows(image, mask, paint_constant, size=size, overlap=overlap, feather=feather)
    inside = result[20:44, 3:97]
    # Before, the second window overwrote the first: a step of 0.8 at its left edge.
    assert _largest_step(inside) <= 0.8 * 2.0 / overlap
    first_only = slice(3, windows[1].left)
    second_only = slice(windows[0].right, 97)
    np.testing.assert_allclose(result[20:44, first_only], constants[0], atol=1e-6)
    np.testing.assert_allclose(result[20:44, second_only], constants[1], atol=1e-6)
    far = feather_weights(mask, feather=feather) == 0
    np.testing.assert_array_equal(result[far], image[far])


def test_repaint_in_windows_uses_given_windows_and_later_windows_see_earlier_repairs():
    image = np.zeros((40, 60, 3), np.float32)
    mask = np.zeros((40, 60), np.float32)
    mask[18:22, 5:55] = 1.0
    windows = [Window(0, 0, 40, 36), Window(0, 24, 40, 60)]
    seen = []

    def record(crop, crop_mask):
        seen.append(crop.copy())
        return np.full_like(crop, 0.5)

    progress = []
    result = repaint_in_windows(
        image, mask, record, feather=1, windows=windows, on_window=lambda *p: progress.append(p)
    )
    assert [c.shape[:2] for c in seen] == [(40, 36), (40, 36)]
    assert (seen[1][18:22, :12] == 0.5).all()  # the first window's repair, in the overlap
    assert progress == [(1, 2), (2, 2)]
    np.testing.assert_allclose(result[mask > 0.5], 0.5, atol=1e-6)


def test_repaint_in_windows_leaves_masked_pixels_outside_given_windows_alone():
    image = np.random.default_rng(8).random((40, 60, 3), dtype=np.float32)
    mask = np.zeros((40, 60), np.float32)
    mask[18:22, 5:55] = 1.0
    result = repaint_in_windows(image, mask, lambda c, m: np.ones_like(c), feather=2, windows=[Window(0, 0, 40, 30)])
    np.testing.assert_array_equal(result[:, 30:], image[:, 30:])
    assert (result[18:22, 5:30] == 1.0).all()


def test_repaint_in_windows_rejects_a_mask_of_another_size():
    with pytest.raises(InputError, match=r"image \(40, 60, 3\) and mask \(40, 50\)"):
        repaint_in_windows(np.zeros((40, 60, 3), np.float32), np.zeros((40, 50)), lambda c, m: c)


def test_repaint_in_windows_rejects_a_repair_returning_the_wrong_shape():
    mask = np.ones((40, 60), np.float32)
    with pytest.raises(InputError, match=r"crop's shape \(40, 60, 3\), got shape \(40, 60\)"):
        repaint_in_windows(np.zeros((40, 60, 3), np.float32), mask, lambda c, m: m)
