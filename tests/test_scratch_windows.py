"""Diffusion windows of the scratch stage follow the damage that needs them
(restoration/stages/scratch.py: needs_diffusion, cover_with_windows, the diffusion repair)."""

import cv2
import numpy as np
import pytest
from helpers import smooth_photo

from restoration import RestoreOptions, ScratchOptions, restore
from restoration.errors import InputError
from restoration.regions import feather_weights, windows_covering
from restoration.stages import scratch


def thin_scratches(shape, count=12, seed=0):
    """``count`` straight 1-3 px scratches in random directions, (H, W) bool."""
    rng = np.random.default_rng(seed)
    canvas = np.zeros(shape, np.uint8)
    h, w = shape
    for _ in range(count):
        x0, y0, x1, y1 = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(0, w), rng.uniform(0, h)
        cv2.line(canvas, (int(x0), int(y0)), (int(x1), int(y1)), 1, thickness=int(rng.integers(1, 4)))
    return canvas.astype(bool)


def vertical_tear(shape, *, x, width):
    """A vertical band ``width`` px wide from top to bottom with its left edge at ``x``, (H, W) bool."""
    mask = np.zeros(shape, bool)
    mask[:, x : x + width] = True
    return mask


def margin_inside(window, y, x, height, width):
    """How far (px) pixel (y, x) lies inside ``window``, not counting sides on the photo's border."""
    sides = [
        y - window.top if window.top > 0 else np.inf,
        window.bottom - 1 - y if window.bottom < height else np.inf,
        x - window.left if window.left > 0 else np.inf,
        window.right - 1 - x if window.right < width else np.inf,
    ]
    return min(sides)


def check_cover(windows, mask, size, overlap):
    height, width = mask.shape
    for window in windows:
        assert (window.height, window.width) == (min(size, height), min(size, width))
        assert 0 <= window.top and window.bottom <= height and 0 <= window.left and window.right <= width
    for y, x in zip(*np.nonzero(mask)):
        best = max(margin_inside(window, y, x, height, width) for window in windows)
        assert best >= overlap // 2, f"pixel {(y, x)} has {best} px of context"


# --- which damage needs the model ----------------------------------------------------------------


def test_thin_scratches_never_need_the_model():
    photo = smooth_photo(300, 400)
    mask = thin_scratches(photo.shape[:2])
    assert mask.any() and not scratch.needs_diffusion(photo, mask).any()


def test_a_wide_tear_needs_the_model_but_the_scratches_crossing_it_do_not():
    photo = smooth_photo(300, 400)
    tear = vertical_tear(photo.shape[:2], x=200, width=24)
    crossing = np.zeros_like(tear)
    crossing[150:152, 20:380] = True  # a 2-px scratch across the tear
    selected = scratch.needs_diffusion(photo, tear | crossing)
    assert selected[tear].all()
    assert not selected[150:152, 20:150].any() and not selected[150:152, 260:380].any()


def test_medium_damage_needs_the_model_only_in_textured_surroundings():
    rng = np.random.default_rng(3)
    smooth = smooth_photo(200, 200)
    textured = np.clip(smooth + rng.normal(0, 0.12, smooth.shape), 0, 1).astype(np.float32)
    band = np.zeros((200, 200), bool)
    band[:, 100:107] = True  # 7 px: wider than a scratch, narrower than a tear
    assert not scratch.needs_diffusion(smooth, band).any()
    assert scratch.needs_diffusion(textured, band)[band].all()


# --- the window cover ----------------------------------------------------------------------------


def test_cover_is_empty_for_no_damage_and_the_whole_photo_when_small():
    assert scratch.cover_with_windows(np.zeros((600, 800), bool), size=512, overlap=64) == []
    small = np.zeros((100, 300), bool)
    small[50, 150] = True
    (window,) = scratch.cover_with_windows(small, size=512, overlap=64)
    assert (window.top, window.left, window.bottom, window.right) == (0, 0, 100, 300)


def test_nearby_damage_shares_one_window_centred_on_it():
    mask = np.zeros((2000, 3000), bool)
    mask[1000:1030, 1400:1430] = True
    mask[1100:1130, 1600:1630] = True  # 200 px apart: fits one 512-px window
    (window,) = scratch.cover_with_windows(mask, size=512, overlap=64)
    check_cover([window], mask, 512, 64)
    # centred on the damage (1000-1130 x 1400-1630): well over the least context on every side
    assert min(1000 - window.top, window.bottom - 1130, 1400 - window.left, window.right - 1630) >= 100


@pytest.mark.parametrize("seed", [0, 1])
def test_cover_reaches_every_damaged_pixel_with_context_using_fewer_windows_than_tiles(seed):
    rng = np.random.default_rng(seed)
    mask = np.zeros((1500, 2200), bool)
    for _ in range(6):  # scattered blotches, some at the border
        y, x = rng.integers(0, 1500), rng.integers(0, 2200)
        mask[max(y - 20, 0) : y + 20, max(x - 30, 0) : x + 30] = True
    mask[:, 2180:] = True  # a tear along the right border
    windows = scratch.cover_with_windows(mask, size=512, overlap=64)
    check_cover(windows, mask, 512, 64)
    assert len(windows) < len(windows_covering(mask, size=512, overlap=64))


def test_cover_works_at_a_tiny_working_size():
    mask = vertical_tear((48, 600), x=290, width=14)
    windows = scratch.cover_with_windows(mask, size=64, overlap=8)
    check_cover(windows, mask, 64, 8)
    assert len(windows) == 1


@pytest.mark.parametrize(("size", "overlap"), [(64, 64), (64, -2)])
def test_cover_rejects_bad_geometry(size, overlap):
    with pytest.raises(InputError, match="overlap"):
        scratch.cover_with_windows(np.ones((10, 10), bool), size=size, overlap=overlap)


def test_a_large_scan_with_thin_scratches_costs_no_window_and_a_tear_a_few():
    photo = smooth_photo(2000, 3000)
    thin = thin_scratches((2000, 3000), count=60, seed=4)
    tiles = windows_covering(thin, size=512, overlap=64)
    thin_windows = scratch.cover_with_windows(scratch.needs_diffusion(photo, thin), size=512, overlap=64)
    # a few places where several scratches cross at shallow angles make a 12-px blob: at most a window or two
    assert len(tiles) >= 20 and len(thin_windows) <= 2
    tear = vertical_tear((2000, 3000), x=1200, width=40)
    selected = scratch.needs_diffusion(photo, thin | tear)
    windows = scratch.cover_with_windows(selected, size=512, overlap=64)
    check_cover(windows, tear, 512, 64)
    assert len(windows) <= 6  # 2000 px of tear in 448-px steps: 5 windows


# --- the stage with the tiny diffusion model -----------------------------------------------------


def _diffusion_with_mask(mask):
    """Diffusion-engine options repairing exactly ``mask`` (no detection), 2 steps, seed 1."""
    scratch_options = ScratchOptions(mask=mask.astype(np.float32), mask_mode="replace")
    return RestoreOptions(engine="diffusion", steps=2, seed=1, stages={"scratch": scratch_options})


def _spy_on_inpaint(monkeypatch):
    from restoration import engine

    crops = []
    original = engine.DiffusionEngine.inpaint

    def spy(self, image, mask, settings, **kwargs):
        crops.append((image.shape, float(np.asarray(mask).max())))
        return original(self, image, mask, settings, **kwargs)

    monkeypatch.setattr(engine.DiffusionEngine, "inpaint", spy)
    return crops


def test_thin_damage_is_repaired_without_the_model(tiny_weights, monkeypatch):
    crops = _spy_on_inpaint(monkeypatch)
    photo = smooth_photo(48, 600)
    mask = np.zeros((48, 600), bool)
    mask[20:22, 40:560] = True
    damaged = photo.copy()
    damaged[mask] = 0.97
    options = _diffusion_with_mask(mask)
    result = restore(damaged, "scratch", options)
    classical = restore(damaged, "scratch", RestoreOptions(engine="classical", stages=options.stages))
    assert result.engine == "diffusion" and result.stages[0].findings["windows"] == 0 and crops == []
    np.testing.assert_array_equal(result.image, classical.image)


def test_a_wide_tear_gets_a_window_and_the_rest_stays_the_input(tiny_weights, monkeypatch):
    from restoration import engine

    crops = _spy_on_inpaint(monkeypatch)
    photo = smooth_photo(48, 600)
    tear = vertical_tear((48, 600), x=290, width=14)
    scratch_line = np.zeros_like(tear)
    scratch_line[10:12, 20:200] = True  # thin, far from the tear: classical only
    mask = tear | scratch_line
    damaged = photo.copy()
    damaged[mask] = 0.95
    options = _diffusion_with_mask(mask)
    result = restore(damaged, "scratch", options)
    classical = restore(damaged, "scratch", RestoreOptions(engine="classical", stages=options.stages))
    working = engine.get_engine().working_size
    windows = result.stages[0].findings["windows"]
    assert windows == len(crops) >= 1 and all(shape == (48, working, 3) for shape, _ in crops)
    assert result.image.shape == damaged.shape and result.image.dtype == np.float32
    far = feather_weights(mask, feather=4) == 0
    np.testing.assert_array_equal(result.image[far], damaged[far])  # outside the damage: the input's own
    np.testing.assert_array_equal(result.image[scratch_line], classical.image[scratch_line])  # thin: classical fill
    assert not np.array_equal(result.image[tear], classical.image[tear])  # the model repainted the tear
