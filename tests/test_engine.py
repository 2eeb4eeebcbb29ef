"""The shared diffusion engine, with tiny random components loaded through the real code path."""

import threading
import time
from types import SimpleNamespace

import numpy as np
import pytest
from diffusers import StableDiffusionInpaintPipeline

from restoration import engine, weights
from restoration.engine import InpaintSettings
from restoration.errors import InputError, WeightsUnavailableError

FAST = InpaintSettings(steps=2, seed=3)


def _photo_and_mask(height=64, width=72):
    rng = np.random.default_rng(0)
    image = rng.random((height, width, 3)).astype(np.float32)
    mask = np.zeros((height, width), np.float32)
    mask[20:40, 16:48] = 1.0
    return image, mask


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
    fast_result = shared.inpaint(image, mask, InpaintSettings(steps=2, seed=3, fast=True, guidance_scale=1.0))
    after = shared.inpaint(image, mask, FAST)
    np.testing.assert_array_equal(before, after)
    assert not np.allclose(before, fast_result)


def test_inpaint_is_deterministic_per_seed_and_keeps_size(tiny_weights):
    shared = engine.get_engine()
    image, mask = _photo_and_mask(60, 70)
    steps = []
    first = shared.inpaint(image, mask, FAST, callback=lambda done, total: steps.append((done, total)))
    again = shared.inpaint(image, mask, FAST)
    other = shared.inpaint(image, mask, InpaintSettings(steps=2, seed=4))
    assert first.shape == image.shape and first.dtype == np.float32
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first, other)
    assert steps == [(1, 2), (2, 2)]
    np.testing.assert_allclose(first[25:30, 25, 0], again[25:30, 25, 0], atol=1e-6)


def test_repaint_resampling_runs_every_round(tiny_weights):
    shared = engine.get_engine()
    image, mask = _photo_and_mask()
    steps = []
    result = shared.inpaint(image, mask, InpaintSettings(steps=2, resample=2), callback=lambda d, t: steps.append((d, t)))
    assert result.shape == image.shape
    assert steps == [(1, 3), (2, 3), (3, 3)]  # the first step is resampled twice, the last once


def test_damage_prior_shape_and_range(tiny_weights):
    image, _ = _photo_and_mask(50, 66)
    prior = engine.get_engine().damage_prior(image, samples=1)
    assert prior.shape == (50, 66) and prior.dtype == np.float32
    assert 0.0 <= prior.min() and prior.max() == pytest.approx(1.0)


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


def test_inpaint_rejects_mismatched_mask(tiny_weights):
    image, mask = _photo_and_mask()
    with pytest.raises(InputError, match="mask must have shape"):
        engine.get_engine().inpaint(image, mask[:10], FAST)
