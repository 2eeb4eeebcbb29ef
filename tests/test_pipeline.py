"""restore(): engine choice, stage chaining, masks, grayscale, and what every result reports."""

import numpy as np
import pytest
from helpers import scratched, smooth_photo

from restoration import RestoreOptions, detect_scratches, restore
from restoration.errors import InputError, WeightsUnavailableError
from restoration.pipeline import engine_status, parse_tasks
from restoration.regions import feather_weights


def _error_inside(result_image, clean, mask):
    return float(np.abs(result_image - clean)[mask].mean())


def test_classical_restore_removes_a_scratch_and_leaves_the_rest():
    clean = smooth_photo()
    damaged, truth = scratched(clean)
    progress = []
    result = restore(damaged, "scratch", RestoreOptions(engine="classical"), progress=lambda f, d: progress.append(f))
    assert result.engine == "classical" and result.image.shape == damaged.shape
    assert _error_inside(result.image, clean, truth) < 0.2 * _error_inside(damaged, clean, truth)
    untouched = feather_weights(result.masks["scratch"], feather=0) == 0
    np.testing.assert_array_equal(result.image[untouched], damaged[untouched])
    report = result.stages[0]
    assert report.name == "scratch" and report.seconds >= 0
    assert 0 < report.findings["coverage_percent"] < 10 and report.findings["regions"] >= 1
    assert progress[-1] == 1.0 and progress == sorted(progress)


def test_auto_without_weights_runs_classical_and_says_how_to_get_them():
    result = restore(smooth_photo(), "scratch")
    assert result.engine == "classical"
    assert any("weights download" in notice for notice in result.notices)
    status = engine_status()
    assert status.default_engine == "classical" and not status.diffusion_available


def test_grayscale_photo_stays_grayscale():
    damaged, _ = scratched(smooth_photo(gray=True))
    result = restore(damaged, "scratch", RestoreOptions(engine="classical"))
    assert np.array_equal(result.image[..., 0], result.image[..., 1])
    assert np.array_equal(result.image[..., 1], result.image[..., 2])


def test_user_mask_replaces_or_adds_to_detection():
    clean = smooth_photo()
    damaged, truth = scratched(clean)
    user = np.zeros(truth.shape, np.float32)
    user[5:9, 5:9] = 1.0
    replaced = restore(damaged, "scratch", RestoreOptions(engine="classical", mask=user, mask_mode="replace"))
    np.testing.assert_array_equal(replaced.masks["scratch"], user)
    added = restore(damaged, "scratch", RestoreOptions(engine="classical", mask=user, mask_mode="add"))
    assert added.masks["scratch"][user > 0].all() and added.masks["scratch"][truth].mean() > 0.9


def test_detect_scratches_finds_the_scratch():
    damaged, truth = scratched(smooth_photo())
    mask = detect_scratches(damaged)
    assert mask.shape == truth.shape and mask.dtype == np.float32
    assert mask[truth].mean() > 0.9 and mask[~truth].mean() < 0.05


@pytest.mark.parametrize(
    ("tasks", "message"),
    [("denoise", "not available yet"), ("sharpen", "unknown task"), ("", "no task given")],
)
def test_bad_tasks(tasks, message):
    with pytest.raises(InputError, match=message):
        parse_tasks(tasks)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(engine="gpu"), "engine must be one of"),
        (dict(sensitivity=1.5), "sensitivity must be between 0 and 1"),
        (dict(steps=0), "steps must be between"),
        (dict(seed=-1), "seed must be"),
        (dict(mask_mode="union"), "mask mode"),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(InputError, match=message):
        RestoreOptions(**options)


def test_mask_of_the_wrong_size_is_refused():
    with pytest.raises(InputError, match="the mask is 10x8 but the photo is 128x96"):
        restore(smooth_photo(), "scratch", RestoreOptions(engine="classical", mask=np.zeros((8, 10), np.float32)))


@pytest.mark.parametrize(
    "image",
    [np.zeros((10, 10), np.float32), np.zeros((10, 10, 3), np.uint8), np.full((10, 10, 3), 2.0, np.float32)],
)
def test_bad_images_are_refused(image):
    with pytest.raises(InputError):
        restore(image, "scratch", RestoreOptions(engine="classical"))


def test_diffusion_without_weights_is_a_clear_error():
    with pytest.raises(WeightsUnavailableError, match="weights download"):
        restore(smooth_photo(), "scratch", RestoreOptions(engine="diffusion"))


def test_diffusion_restore_at_native_resolution(tiny_weights, monkeypatch):
    from restoration import engine

    damaged, _ = scratched(smooth_photo(48, 600))
    crops = []
    original_inpaint = engine.DiffusionEngine.inpaint

    def spy(self, image, mask, settings, **kwargs):
        crops.append(image.shape)
        return original_inpaint(self, image, mask, settings, **kwargs)

    monkeypatch.setattr(engine.DiffusionEngine, "inpaint", spy)
    options = RestoreOptions(engine="diffusion", steps=2, seed=7)
    first = restore(damaged, "scratch", options)
    assert first.engine == "diffusion" and first.image.shape == damaged.shape
    assert crops == [(48, 512, 3), (48, 512, 3)]  # two native-resolution windows, never resized
    assert first.stages[0].findings["windows"] == 2
    far = feather_weights(first.masks["scratch"], feather=4) == 0
    np.testing.assert_array_equal(first.image[far], damaged[far])


def test_auto_with_weights_but_no_gpu_stays_classical(tiny_weights, monkeypatch):
    from restoration import engine

    monkeypatch.setattr(engine, "accelerator_available", lambda: False)
    status = engine_status()
    assert status.diffusion_available and status.default_engine == "classical"
    assert "no GPU" in status.message


def test_damage_prior_and_repaint_resampling_through_restore(tiny_weights):
    damaged, truth = scratched(smooth_photo(64, 80))
    strict = detect_scratches(damaged)
    options = RestoreOptions(engine="diffusion", steps=2, resample=2, damage_prior=True)
    result = restore(damaged, "scratch", options)
    assert result.engine == "diffusion" and result.image.shape == damaged.shape
    assert (result.masks["scratch"][strict > 0.5] == 1.0).all()  # the prior only adds candidates
