"""restore(): engine choice, stage chaining, masks, grayscale, and what every result reports."""

from dataclasses import dataclass, field

import numpy as np
import pytest
from helpers import bundled_photo, scratched, smooth_photo

from restoration import cli, pipeline, zerogpu
from restoration.stages.context import Stage, StageOutput
from restoration import RestoreOptions, ScratchOptions, detect_scratches, restore
from restoration.errors import InputError, WeightsUnavailableError
from restoration.pipeline import engine_status, parse_tasks
from restoration.regions import feather_weights

CLASSICAL = RestoreOptions(engine="classical")


def _scratch(engine="classical", **scratch_options) -> RestoreOptions:
    return RestoreOptions(engine=engine, stages={"scratch": ScratchOptions(**scratch_options)})


def _error_inside(result_image, clean, mask):
    return float(np.abs(result_image - clean)[mask].mean())


def test_classical_restore_removes_a_scratch_and_leaves_the_rest():
    clean = smooth_photo()
    damaged, truth = scratched(clean)
    progress = []
    result = restore(damaged, "scratch", CLASSICAL, progress=lambda f, d: progress.append(f))
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
    result = restore(damaged, "scratch", CLASSICAL)
    assert np.array_equal(result.image[..., 0], result.image[..., 1])
    assert np.array_equal(result.image[..., 1], result.image[..., 2])


def test_user_mask_replaces_or_adds_to_detection():
    clean = smooth_photo()
    damaged, truth = scratched(clean)
    user = np.zeros(truth.shape, np.float32)
    user[5:9, 5:9] = 1.0
    replaced = restore(damaged, "scratch", _scratch(mask=user, mask_mode="replace"))
    np.testing.assert_array_equal(replaced.masks["scratch"], user)
    added = restore(damaged, "scratch", _scratch(mask=user, mask_mode="add"))
    assert added.masks["scratch"][user > 0].all() and added.masks["scratch"][truth].mean() > 0.9


def test_detect_scratches_finds_the_scratch():
    damaged, truth = scratched(smooth_photo())
    mask = detect_scratches(damaged)
    assert mask.shape == truth.shape and mask.dtype == np.float32
    assert mask[truth].mean() > 0.9 and mask[~truth].mean() < 0.05


@pytest.mark.parametrize(
    ("tasks", "message"),
    [("scratch,faces", "unknown task 'faces'"), ("sharpen", "unknown task"), ("", "no task given")],
)
def test_bad_tasks(tasks, message):
    with pytest.raises(InputError, match=message):
        parse_tasks(tasks)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(engine="gpu"), "engine must be one of"),
        (dict(steps=0), "steps must be between"),
        (dict(seed=-1), "seed must be"),
        (dict(stages=["scratch"]), "stages must map stage names"),
    ],
)
def test_bad_common_options(options, message):
    with pytest.raises(InputError, match=message):
        RestoreOptions(**options)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(sensitivity=1.5), "sensitivity must be between 0 and 1"),
        (dict(mask_mode="union"), "mask mode"),
        (dict(resample=0), "resample must be"),
        (dict(mask=np.full((4, 4), 2.0)), r"values must be in \[0, 1\]"),
        (dict(mask=np.zeros((4, 4, 3))), "2-D"),
    ],
)
def test_bad_scratch_options(options, message):
    with pytest.raises(InputError, match=message):
        ScratchOptions(**options)


def test_mask_of_the_wrong_size_is_refused():
    with pytest.raises(InputError, match="the mask is 10x8 but the photo is 128x96"):
        restore(smooth_photo(), "scratch", _scratch(mask=np.zeros((8, 10), np.float32)))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (_scratch("classical", damage_prior=True), "damage_prior need the diffusion engine"),
        (_scratch("classical", resample=3), "resample need the diffusion engine"),
        (RestoreOptions(engine="diffusion", fast=True, stages={"scratch": ScratchOptions(resample=2)}), "not fast mode"),
        (RestoreOptions(engine="classical", stages={"scratch": 0.5}), "takes ScratchOptions"),
        (RestoreOptions(engine="classical", stages={"face": ScratchOptions()}), "face task, which is not requested"),
        (RestoreOptions(engine="classical", stages={"denoise": ScratchOptions()}), "denoise task, which is not requested"),
    ],
)
def test_options_the_request_cannot_honour_are_errors_not_silence(options, message):
    with pytest.raises(InputError, match=message):
        restore(smooth_photo(), "scratch", options)


def test_auto_running_classical_says_which_options_went_unused():
    result = restore(smooth_photo(), "scratch", _scratch("auto", damage_prior=True))
    assert result.engine == "classical"
    assert any("damage_prior (scratch) not used" in notice for notice in result.notices)


@pytest.mark.parametrize(
    "image",
    [np.zeros((10, 10), np.float32), np.zeros((10, 10, 3), np.uint8), np.full((10, 10, 3), 2.0, np.float32)],
)
def test_bad_images_are_refused(image):
    with pytest.raises(InputError):
        restore(image, "scratch", CLASSICAL)


def test_a_value_just_above_1_is_shown_as_above_1():
    image = smooth_photo()
    image[0, 0, 0] = np.nextafter(np.float32(1.0), np.float32(2.0))  # 1.0000001, "1" at 4 digits
    with pytest.raises(InputError, match=r"got the range \[[0-9.]+, 1\.00000\d+\]; clip or rescale"):
        restore(image, "scratch", CLASSICAL)


def test_diffusion_without_weights_is_a_clear_error():
    with pytest.raises(WeightsUnavailableError, match="weights download"):
        restore(smooth_photo(), "scratch", RestoreOptions(engine="diffusion"))


def test_diffusion_restore_at_native_resolution_in_one_gpu_call(tiny_weights, monkeypatch):
    from restoration import engine

    damaged, _ = scratched(smooth_photo(48, 600))
    tear = np.zeros(damaged.shape[:2], np.float32)
    tear[17:31, 40:560] = 1.0  # 14 px wide: damage the model repaints (thin scratches keep the classical fill)
    crops, gpu_calls = [], []
    original_inpaint, original_run_on_gpu = engine.DiffusionEngine.inpaint, zerogpu.run_on_gpu

    def inpaint_spy(self, image, mask, settings, **kwargs):
        crops.append(image.shape)
        return original_inpaint(self, image, mask, settings, **kwargs)

    def gpu_spy(function, *args, windows, steps, **kwargs):
        gpu_calls.append((function.__name__, windows, steps))
        return original_run_on_gpu(function, *args, windows=windows, steps=steps, **kwargs)

    monkeypatch.setattr(engine.DiffusionEngine, "inpaint", inpaint_spy)
    monkeypatch.setattr(zerogpu, "run_on_gpu", gpu_spy)
    options = RestoreOptions(
        engine="diffusion", steps=2, seed=7, stages={"scratch": ScratchOptions(mask=tear, mask_mode="replace")}
    )
    first = restore(damaged, "scratch", options)
    assert first.engine == "diffusion" and first.image.shape == damaged.shape
    working = engine.get_engine().working_size
    windows = first.stages[0].findings["windows"]
    assert windows >= 2 and crops == [(48, working, 3)] * windows  # windows at the working size, never resized
    assert gpu_calls == [("inpaint_windows", windows, 1)]  # steps=2 at strength 0.85 -> 1 UNet step
    far = feather_weights(first.masks["scratch"], feather=4) == 0
    np.testing.assert_array_equal(first.image[far], damaged[far])
    np.testing.assert_array_equal(restore(damaged, "scratch", options).image, first.image)


def test_classical_requests_never_enter_the_gpu_function(monkeypatch):

    calls = []
    monkeypatch.setattr(zerogpu, "run_on_gpu", lambda *args, **kwargs: calls.append(args))
    damaged, _ = scratched(smooth_photo())
    assert restore(damaged, "scratch", CLASSICAL).engine == "classical"
    assert restore(damaged, "scratch").engine == "classical"  # auto without weights
    assert calls == []


def test_auto_falls_back_to_classical_when_the_weights_fail_to_load(tiny_weights, monkeypatch):
    from diffusers import StableDiffusionInpaintPipeline

    from restoration import engine

    def broken(*args, **kwargs):
        raise OSError("unet/diffusion_pytorch_model.fp16.safetensors: header too large")

    monkeypatch.setattr(engine, "accelerator_available", lambda: True)
    monkeypatch.setattr(StableDiffusionInpaintPipeline, "from_pretrained", broken)
    damaged, truth = scratched(smooth_photo())
    for _ in range(2):  # every request, not only the first
        result = restore(damaged, "scratch")
        assert result.engine == "classical"
        assert any("could not be loaded" in n and "header too large" in n for n in result.notices)
    with pytest.raises(WeightsUnavailableError, match="header too large"):
        restore(damaged, "scratch", RestoreOptions(engine="diffusion"))


def test_auto_with_weights_but_no_gpu_stays_classical(tiny_weights, monkeypatch):
    from restoration import engine

    monkeypatch.setattr(engine, "accelerator_available", lambda: False)
    status = engine_status()
    assert status.diffusion_available and status.default_engine == "classical"
    assert "no GPU" in status.message


def _textured_photo() -> np.ndarray:
    """A crop of scikit-image's astronaut: real texture, where a more sensitive detector finds
    faint candidates that the default one does not."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[256:384, :320] / 255.0, dtype=np.float32)


def test_damage_prior_runs_only_on_windows_with_faint_candidates(tiny_weights, monkeypatch):
    from restoration import engine
    from restoration.stages import scratch

    damaged = _textured_photo()
    crops = []
    original = engine.DiffusionEngine.damage_prior

    def spy(self, image, **kwargs):
        crops.append(image.shape)
        return original(self, image, **kwargs)

    monkeypatch.setattr(engine.DiffusionEngine, "damage_prior", spy)
    # the classical detector leaves some windows of this synthetic texture without faint candidates
    scratch_options = ScratchOptions(damage_prior=True, detector="classical")
    options = RestoreOptions(engine="diffusion", steps=2, stages={"scratch": scratch_options})
    result = restore(damaged, "scratch", options)
    _, faint = scratch.faint_candidates(damaged, sensitivity=0.5, detector="classical")
    size = engine.get_engine().working_size
    expected = scratch.windows_covering(faint, size=size, overlap=size // 8)
    assert result.stages[0].findings["prior_windows"] == len(expected) == len(crops) >= 1
    assert len(crops) < len(scratch.windows_covering(np.ones_like(faint), size=size, overlap=size // 8))

    crops.clear()
    clean = restore(smooth_photo(64, 300), "scratch", options)  # nothing faint: the prior never runs
    assert crops == [] and clean.stages[0].findings["prior_windows"] == 0


def test_damage_prior_adds_what_it_backs_and_repaint_changes_the_repair(tiny_weights, monkeypatch):
    from restoration import engine

    damaged = _textured_photo()
    strict = detect_scratches(damaged)
    monkeypatch.setattr(engine.DiffusionEngine, "damage_prior", lambda self, image, **kw: np.ones(image.shape[:2], np.float32))
    backed = restore(damaged, "scratch", RestoreOptions(engine="diffusion", steps=2, stages={"scratch": ScratchOptions(damage_prior=True)}))
    assert backed.stages[0].findings["prior_windows"] >= 1
    assert (backed.masks["scratch"][strict > 0.5] == 1.0).all()
    assert backed.masks["scratch"].sum() > strict.sum()  # a prior of 1 everywhere backs every faint candidate
    monkeypatch.setattr(engine.DiffusionEngine, "damage_prior", lambda self, image, **kw: np.zeros(image.shape[:2], np.float32))
    unbacked = restore(damaged, "scratch", RestoreOptions(engine="diffusion", steps=2, stages={"scratch": ScratchOptions(damage_prior=True)}))
    np.testing.assert_array_equal(unbacked.masks["scratch"], strict)

    damaged, _ = scratched(smooth_photo(64, 80))
    tear = np.zeros(damaged.shape[:2], np.float32)
    tear[25:39, 10:70] = 1.0  # wide enough for the model (a thin scratch keeps the classical fill)
    plain = restore(damaged, "scratch", RestoreOptions(engine="diffusion", steps=4, stages={"scratch": ScratchOptions(mask=tear, mask_mode="replace")}))
    resampled = restore(damaged, "scratch", RestoreOptions(
        engine="diffusion", steps=4, stages={"scratch": ScratchOptions(mask=tear, mask_mode="replace", resample=2)}
    ))
    assert resampled.engine == "diffusion" and resampled.image.shape == damaged.shape
    assert not np.array_equal(plain.image, resampled.image)


# ------------------------------------------------------------------ a stage is a module and one list entry


@dataclass(frozen=True)
class _TintOptions:
    warmth: float = field(default=0.1, metadata={"help": "how much red to add"})


def _run_tint(image, context):
    tinted = image.copy()
    tinted[..., 0] = np.clip(tinted[..., 0] + context.stage_options.warmth, 0.0, 1.0)
    return StageOutput(tinted, None, {"warmth": context.stage_options.warmth})


_TINT = Stage(name="tint", title="Tint", description="add warmth", options=_TintOptions, run=_run_tint, adds_colour=True)
_GRAYING_TINT = Stage(name="tint", title="Tint", description="add warmth", options=_TintOptions, run=_run_tint)


def test_a_new_stage_needs_only_its_module_and_one_list_entry(monkeypatch):
    monkeypatch.setattr(pipeline, "STAGES", (*pipeline.STAGES, _TINT))
    assert parse_tasks("tint,scratch") == ("scratch", "tint")
    gray = smooth_photo(gray=True)
    options = RestoreOptions(engine="classical", stages={"tint": _TintOptions(warmth=0.2)})
    result = restore(gray, "scratch,tint", options)
    assert [report.name for report in result.stages] == ["scratch", "tint"]
    assert result.stages[1].findings == {"warmth": 0.2}
    assert (result.image[..., 0] > result.image[..., 1]).any()  # the colour-adding stage keeps its colour
    parser = cli.build_parser()
    arguments = parser.parse_args(["restore", "x.jpg", "--output", "o", "--tasks", "tint", "--warmth", "0.3"])
    assert cli._stage_options_from(arguments, ("tint",)) == {"tint": _TintOptions(warmth=0.3)}


def test_gray_stays_gray_through_a_stage_that_does_not_add_colour(monkeypatch):
    monkeypatch.setattr(pipeline, "STAGES", (*pipeline.STAGES, _GRAYING_TINT))
    result = restore(smooth_photo(gray=True), "tint", RestoreOptions(engine="classical"))
    assert np.array_equal(result.image[..., 0], result.image[..., 1])


def test_options_for_a_stage_that_is_not_requested_are_an_error(monkeypatch):
    monkeypatch.setattr(pipeline, "STAGES", (*pipeline.STAGES, _TINT))
    options = RestoreOptions(engine="classical", stages={"tint": _TintOptions()})
    with pytest.raises(InputError, match="options were given for the tint task, which is not requested"):
        restore(smooth_photo(), "scratch", options)


def test_the_default_chain_adds_colorize_only_with_a_reference_and_stage_notices_reach_the_result():
    from restoration.pipeline import default_tasks
    from restoration.stages.colorize import ColorizeOptions

    assert default_tasks() == ("scratch", "denoise", "face")
    assert default_tasks({"reference"}) == ("scratch", "denoise", "face", "colorize")
    reference = bundled_photo("chelsea", 96)
    gray = smooth_photo(gray=True)
    result = restore(gray, None, RestoreOptions(engine="classical", stages={"colorize": ColorizeOptions(reference=reference)}))
    assert [stage.name for stage in result.stages] == ["scratch", "denoise", "face", "colorize"]
    assert any("face" in notice.lower() for notice in result.notices)  # a gradient has no face
    assert not np.array_equal(result.image[..., 0], result.image[..., 2])  # colour was added
