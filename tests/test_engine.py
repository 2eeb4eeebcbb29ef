"""The shared diffusion engine, with tiny random components loaded through the real code path."""

import contextlib
import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
from diffusers import StableDiffusionInpaintPipeline

from tiny_models import lora_active

from restoration import engine, weights
from restoration.engine import InpaintSettings
from restoration.errors import InputError, WeightsUnavailableError

FAST = InpaintSettings(steps=2, seed=3)
LCM = InpaintSettings(steps=2, seed=3, fast=True, guidance_scale=1.0)


def _photo_and_mask(height=64, width=72):
    rng = np.random.default_rng(0)
    image = rng.random((height, width, 3)).astype(np.float32)
    mask = np.zeros((height, width), np.float32)
    mask[20:40, 16:48] = 1.0
    return image, mask


@contextlib.contextmanager
def _unet_calls(shared):
    """Record every UNet call: latent (h, w), mask channel of the first batch item, LoRA state."""
    calls = []

    def record(module, args, kwargs):
        sample = args[0] if args else kwargs["sample"]
        calls.append({
            "size": tuple(sample.shape[-2:]),
            "mask": sample[0, 4].float().cpu().numpy(),
            "lora": lora_active(module),
        })

    handle = shared.pipeline.unet.register_forward_pre_hook(record, with_kwargs=True)
    try:
        yield calls
    finally:
        handle.remove()


def _record_batches(owner, method: str, monkeypatch):
    """Every item of the batch passed first to ``owner.method`` from now on, as numpy arrays
    (VAE ``encode``: (3, H, W) in [-1, 1]; ``decode``: (4, h, w) unscaled latents)."""
    seen = []
    original = getattr(owner, method)

    def record(batch, *args, **kwargs):
        seen.extend(item.float().cpu().numpy() for item in batch)
        return original(batch, *args, **kwargs)

    monkeypatch.setattr(owner, method, record)
    return seen


def test_resolve_without_weights_fails_fast_naming_file_and_command():
    started = time.perf_counter()
    with pytest.raises(WeightsUnavailableError, match=r"missing model_index\.json.*weights download --model sd15-inpainting"):
        weights.resolve(engine.MODEL_NAME)
    assert time.perf_counter() - started < 1.0


def test_get_engine_without_weights_raises_and_loads_nothing():
    with pytest.raises(WeightsUnavailableError):
        engine.get_engine()
    assert not engine.diffusion_available()


def test_engine_loads_once_for_many_calls_and_threads(tiny_weights, monkeypatch):
    loads = []
    original = StableDiffusionInpaintPipeline.from_pretrained.__func__

    def counting(cls, *args, **kwargs):
        loads.append(args)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(StableDiffusionInpaintPipeline, "from_pretrained", classmethod(counting))
    engines = []
    threads = [threading.Thread(target=lambda: engines.append(engine.get_engine())) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engines.append(engine.get_engine())
    assert len(loads) == 1
    assert all(e is engines[0] for e in engines)
    assert engine.diffusion_available()


def test_loaded_from_the_manifest_snapshot(tiny_weights):
    snapshot = weights.resolve(engine.MODEL_NAME)
    assert snapshot.name == weights.load_manifest()[engine.MODEL_NAME].revision
    loaded = engine.get_engine()
    assert loaded.pipeline.unet.config.in_channels == 9
    assert len(loaded.pipeline.tokenizer) > 2


def test_fast_pipeline_shares_parameters_and_lora_is_scoped(tiny_weights):
    shared = engine.get_engine()
    fast = shared.fast_pipeline
    for name in ("unet", "vae", "text_encoder"):
        main_pointers = {p.data_ptr() for p in getattr(shared.pipeline, name).parameters()}
        fast_pointers = {p.data_ptr() for p in getattr(fast, name).parameters()}
        assert main_pointers <= fast_pointers, name
    image, mask = _photo_and_mask()
    before = shared.inpaint(image, mask, FAST)
    with _unet_calls(shared) as during_fast:
        fast_result = shared.inpaint(image, mask, LCM)
    assert during_fast and all(call["lora"] for call in during_fast)
    assert not lora_active(shared.pipeline.unet)  # off again once the fast call is done
    with _unet_calls(shared) as during_normal:
        after = shared.inpaint(image, mask, FAST)
    assert during_normal and not any(call["lora"] for call in during_normal)
    np.testing.assert_array_equal(before, after)
    assert not np.allclose(before, fast_result)


def test_fast_pipeline_is_built_once_when_threads_race(tiny_weights, monkeypatch):
    loads = []
    original = StableDiffusionInpaintPipeline.load_lora_weights

    def slow_counting_load(self, *args, **kwargs):
        loads.append(args)
        time.sleep(0.2)  # widen the window in which other threads see no fast pipeline yet
        return original(self, *args, **kwargs)

    monkeypatch.setattr(StableDiffusionInpaintPipeline, "load_lora_weights", slow_counting_load)
    shared = engine.get_engine()
    got, errors = [], []

    def ask():
        try:
            got.append(shared.fast_pipeline)
        except Exception as error:  # a second load of the same adapter name raises
            errors.append(error)

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(loads) == 1 and errors == []
    assert len(got) == 4 and all(pipe is got[0] for pipe in got)


def test_inpaint_is_deterministic_per_seed_and_keeps_size(tiny_weights):
    shared = engine.get_engine()
    image, mask = _photo_and_mask(60, 70)
    steps = []
    first = shared.inpaint(image, mask, FAST, callback=lambda done, total: steps.append((done, total)))
    again = shared.inpaint(image, mask, FAST)
    other = shared.inpaint(image, mask, InpaintSettings(steps=2, seed=4))
    assert first.shape == image.shape and first.dtype == np.float32
    assert 0.0 <= first.min() and first.max() <= 1.0
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert steps == [(1, 2), (2, 2)]


def test_working_size_is_the_unet_sample_size_in_pixels(tiny_weights):
    shared = engine.get_engine()
    assert shared.working_size == shared.pipeline.unet.config.sample_size * shared.pipeline.vae_scale_factor == 64


@pytest.mark.parametrize("resample", [1, 2])
def test_small_crops_are_padded_to_the_working_size_and_cropped_back(tiny_weights, resample):
    shared = engine.get_engine()
    working = shared.pipeline.unet.config.sample_size * shared.pipeline.vae_scale_factor
    cell = shared.pipeline.vae_scale_factor
    image, _ = _photo_and_mask(20, 46)  # 20 px: more padding than one reflection gives
    mask = np.ones((20, 46), np.float32)
    with _unet_calls(shared) as calls:
        result = shared.inpaint(image, mask, InpaintSettings(steps=1, resample=resample))
    assert result.shape == image.shape and result.dtype == np.float32
    height, width = calls[0]["size"]
    assert height * cell >= working and width * cell >= working
    # the padding is context, never repainted: only the crop's own cells are masked
    assert calls[0]["mask"].sum() == np.ceil(20 / cell) * np.ceil(46 / cell)


@pytest.mark.parametrize("resample", [1, 2])
def test_unet_mask_covers_every_latent_cell_a_thin_scratch_crosses(tiny_weights, resample, monkeypatch):
    shared = engine.get_engine()
    size = 64  # the tiny model's working size: no padding
    image, _ = _photo_and_mask(size, size)
    mask = np.zeros((size, size), np.float32)
    mask[21, 5:60] = 1.0  # 1 px wide, on a row that nearest-neighbour shrinking skips
    mask[8:50, 33] = 1.0  # and on such a column
    cell = shared.pipeline.vae_scale_factor
    expected = mask.reshape(size // cell, cell, size // cell, cell).max(axis=(1, 3))
    encoded = _record_batches(shared.pipeline.vae, "encode", monkeypatch)
    with _unet_calls(shared) as calls:
        result = shared.inpaint(image, mask, InpaintSettings(steps=1, resample=resample))
    assert result.shape == image.shape
    np.testing.assert_array_equal(calls[0]["mask"], expected)
    # the masked image the UNet is conditioned on is gray (0 in [-1, 1]) on exactly those cells
    gray = [np.all(pixels == 0.0, axis=0) for pixels in encoded]
    gray = [g for g in gray if g.any()]
    assert len(gray) == 1
    np.testing.assert_array_equal(gray[0], np.kron(expected, np.ones((cell, cell))).astype(bool))


def test_repaint_resampling_runs_every_round(tiny_weights):
    shared = engine.get_engine()
    image, mask = _photo_and_mask()
    steps = []
    result = shared.inpaint(image, mask, InpaintSettings(steps=2, resample=2), callback=lambda d, t: steps.append((d, t)))
    assert result.shape == image.shape
    assert steps == [(1, 3), (2, 3), (3, 3)]  # the first step is resampled twice, the last once


def test_repaint_keeps_the_known_latents_and_resampling_changes_the_result(tiny_weights, monkeypatch):
    import torch

    shared = engine.get_engine()
    image, _ = _photo_and_mask(64, 64)  # the working size: no padding, known latents = the input's
    mask = np.zeros((64, 64), np.float32)
    mask[16:32, 16:32] = 1.0
    decoded = _record_batches(shared.pipeline.vae, "decode", monkeypatch)
    once = shared.inpaint(image, mask, InpaintSettings(steps=2, seed=5, resample=1))
    twice = shared.inpaint(image, mask, InpaintSettings(steps=2, seed=5, resample=2))
    thrice = shared.inpaint(image, mask, InpaintSettings(steps=2, seed=5, resample=3))
    with torch.no_grad():
        known = shared._encode(image)[0].float().cpu().numpy()
    cell = shared.pipeline.vae_scale_factor
    outside = mask[::cell, ::cell] == 0
    default_sampler, repaint = decoded[0], decoded[1] * shared.pipeline.vae.config.scaling_factor
    np.testing.assert_allclose(repaint[:, outside], known[:, outside], atol=1e-5)
    assert not np.allclose(repaint[:, ~outside], known[:, ~outside], atol=1e-2)  # the hole was repainted
    assert not np.allclose(default_sampler[:, outside] * shared.pipeline.vae.config.scaling_factor,
                           known[:, outside], atol=1e-2)  # the 9-channel default sampler does not pin them
    assert not np.allclose(once, twice)
    assert not np.allclose(twice, thrice)


def test_damage_prior_shape_range_and_seed(tiny_weights):
    image, _ = _photo_and_mask(50, 66)
    shared = engine.get_engine()
    prior = shared.damage_prior(image, samples=1, seed=1)
    again = shared.damage_prior(image, samples=1, seed=1)
    other = shared.damage_prior(image, samples=1, seed=2)
    assert prior.shape == (50, 66) and prior.dtype == np.float32
    assert 0.0 <= prior.min() and prior.max() <= 1.0
    np.testing.assert_array_equal(prior, again)
    assert not np.array_equal(prior, other)


def test_damage_prior_has_a_fixed_scale_not_a_per_window_one(tiny_weights, monkeypatch):
    """Prompts whose noise predictions differ by 1e-3 everywhere: nothing found, not a full-scale prior."""
    import torch

    shared = engine.get_engine()

    def nearly_identical_predictions(sample, timestep, encoder_hidden_states=None, **kwargs):
        predictions = torch.zeros_like(sample[:, :4])
        predictions[1] += 1e-3  # the batch is (damage prompt, clean prompt)
        return SimpleNamespace(sample=predictions)

    monkeypatch.setattr(shared.pipeline.unet, "forward", nearly_identical_predictions)
    image, _ = _photo_and_mask(64, 64)
    prior = shared.damage_prior(image, samples=2)
    assert 0.0 < prior.min() and prior.max() < 0.05, (prior.min(), prior.max())


def test_damage_prior_runs_without_the_lcm_lora_after_a_fast_call(tiny_weights):
    shared = engine.get_engine()
    image, mask = _photo_and_mask()
    before = shared.damage_prior(image, samples=1)
    shared.inpaint(image, mask, LCM)
    with _unet_calls(shared) as calls:
        after = shared.damage_prior(image, samples=1)
    assert calls and not any(call["lora"] for call in calls)
    np.testing.assert_array_equal(before, after)


def test_damage_prior_of_a_small_crop_runs_at_the_working_size(tiny_weights):
    shared = engine.get_engine()
    working = shared.pipeline.unet.config.sample_size * shared.pipeline.vae_scale_factor
    cell = shared.pipeline.vae_scale_factor
    image, _ = _photo_and_mask(24, 40)
    with _unet_calls(shared) as calls:
        prior = shared.damage_prior(image, samples=1)
    assert prior.shape == (24, 40)
    height, width = calls[0]["size"]
    assert height * cell >= working and width * cell >= working


def test_broken_tokenizer_files_are_refused(tiny_weights):
    snapshot = weights.resolve(engine.MODEL_NAME)
    (snapshot / "tokenizer" / "vocab.json").write_text("{}")
    try:
        with pytest.raises(WeightsUnavailableError, match="tokenizer loaded empty"):
            engine.DiffusionEngine.from_pretrained(snapshot, variant="fp16")
    finally:
        from tiny_models import write_tokenizer_files

        write_tokenizer_files(snapshot / "tokenizer")


class _EmptyTokenizer:
    """What an offline hub tokenizer load returns after its retries: no vocabulary."""

    def __len__(self):
        return 0

    def __call__(self, text):
        return SimpleNamespace(input_ids=[])


def test_empty_tokenizer_is_refused():
    loaded = SimpleNamespace(tokenizer=_EmptyTokenizer(), unet=object(), vae=object(), text_encoder=object())
    with pytest.raises(WeightsUnavailableError, match="tokenizer loaded empty"):
        engine._check_loaded(loaded)


@pytest.mark.parametrize(
    "settings",
    [dict(steps=0), dict(strength=0.0), dict(strength=1.5), dict(guidance_scale=0.5), dict(resample=0),
     dict(fast=True, resample=2)],
)
def test_invalid_settings_are_refused(settings):
    with pytest.raises(InputError):
        InpaintSettings(**settings)


@pytest.mark.parametrize(
    "settings, unet_steps",
    [(dict(steps=25), 25), (dict(steps=10, strength=0.55), 5), (dict(steps=2, resample=2), 3),
     (dict(steps=10, strength=0.5, resample=3), 13)],
)
def test_unet_steps_counts_the_model_evaluations(settings, unet_steps):
    assert InpaintSettings(**settings).unet_steps == unet_steps


def test_inpaint_rejects_mismatched_mask(tiny_weights):
    image, mask = _photo_and_mask()
    with pytest.raises(InputError, match="mask must have shape"):
        engine.get_engine().inpaint(image, mask[:10], FAST)


@pytest.mark.parametrize("steps, strength", [(3, 0.16), (2, 0.3), (1, 0.05)])
def test_a_low_strength_still_runs_at_least_one_step(tiny_weights, steps, strength):
    image, _ = _photo_and_mask()
    settings = InpaintSettings(steps=steps, strength=strength, seed=1)
    assert settings.unet_steps == 1 and settings.schedule_steps * strength >= 1
    calls = []
    result = engine.get_engine().inpaint(image, np.ones(image.shape[:2], np.float32), settings,
                                         callback=lambda done, total: calls.append((done, total)))
    assert result.shape == image.shape and calls == [(1, 1)]
