"""ZeroGPU: the duration requested follows the work; only module-level diffusion work crosses to
the GPU worker; the model is preloaded at startup on a ZeroGPU Space and never elsewhere."""

import functools
import sys
import types

import numpy as np
import pytest

from tiny_models import lora_active

from restoration import engine, zerogpu
from restoration.engine import InpaintSettings
from restoration.errors import InputError



def _double(value, *, plus=0):
    """Module-level, as ``run_on_gpu`` needs: the ZeroGPU worker receives it pickled."""
    return 2 * value + plus


def _fake_spaces(monkeypatch):
    """Install a stand-in ``spaces`` package; returns the durations its GPU wrapper is asked for."""
    requested = []

    def GPU(task=None, *, duration=None, **kwargs):
        def decorate(function):
            def run(*args, **kwargs):
                requested.append(duration(*args, **kwargs) if callable(duration) else duration)
                return function(*args, **kwargs)

            return run

        return decorate if task is None else decorate(task)

    monkeypatch.setitem(sys.modules, "spaces", types.SimpleNamespace(GPU=GPU))
    return requested


def test_gpu_duration_grows_with_the_work_and_is_clamped():
    assert zerogpu.gpu_duration(2, 25) > zerogpu.gpu_duration(1, 25)
    assert zerogpu.gpu_duration(4, 30) > zerogpu.gpu_duration(4, 25)
    assert isinstance(zerogpu.gpu_duration(3, 25), int)
    assert zerogpu.gpu_duration(1, 1) == zerogpu.GPU_MIN_SECONDS
    assert zerogpu.gpu_duration(10_000, 50) == zerogpu.GPU_MAX_SECONDS


@pytest.mark.parametrize("windows, steps", [(0, 25), (1, 0)])
def test_gpu_duration_refuses_no_work(windows, steps):
    with pytest.raises(InputError, match="at least 1"):
        zerogpu.gpu_duration(windows, steps)


def test_run_on_gpu_calls_directly_without_spaces(monkeypatch):
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    monkeypatch.setitem(sys.modules, "spaces", None)  # `import spaces` raises ImportError
    assert zerogpu.run_on_gpu(_double, 4, plus=1, windows=2, steps=25) == 9


def test_run_on_gpu_calls_directly_off_zero_gpu(monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    requested = _fake_spaces(monkeypatch)
    assert zerogpu.run_on_gpu(_double, 4, windows=2, steps=25) == 8
    assert requested == []


def test_run_on_gpu_goes_through_spaces_gpu_with_the_computed_duration(monkeypatch):
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    requested = _fake_spaces(monkeypatch)
    assert zerogpu.run_on_gpu(_double, 4, plus=1, windows=3, steps=25) == 9
    assert zerogpu.run_on_gpu(_double, 1, windows=12, steps=50) == 2
    assert requested == [zerogpu.gpu_duration(3, 25), zerogpu.gpu_duration(12, 50)]


def _apply(function, value):
    return function(value)


def test_run_on_gpu_refuses_functions_the_worker_cannot_import(monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)

    def local(value):
        return value

    with pytest.raises(TypeError, match="module-level function"):
        zerogpu.run_on_gpu(lambda: 1, windows=1, steps=1)
    with pytest.raises(TypeError, match="module-level function"):
        zerogpu.run_on_gpu(local, 1, windows=1, steps=1)
    with pytest.raises(TypeError, match="arguments that are functions"):
        zerogpu.run_on_gpu(_apply, local, 1, windows=1, steps=1)
    with pytest.raises(TypeError, match="module-level function"):
        zerogpu.run_on_gpu(InpaintSettings().__repr__, windows=1, steps=1)  # a bound method


def test_run_on_gpu_accepts_what_pickles_by_reference(monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert zerogpu.run_on_gpu(_apply, _double, 3, windows=1, steps=1) == 6
    assert zerogpu.run_on_gpu(functools.partial(_double, plus=1), 3, windows=1, steps=1) == 7
    assert zerogpu.run_on_gpu(_apply, np.float32, 3, windows=1, steps=1) == 3  # classes cross too


def test_preload_does_nothing_off_zero_gpu(tiny_weights, monkeypatch):
    monkeypatch.delenv("SPACES_ZERO_GPU", raising=False)
    assert zerogpu.preload_for_zero_gpu() is False
    assert engine._engine is None


def test_preload_without_weights_returns_false(monkeypatch):
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    _fake_spaces(monkeypatch)
    assert zerogpu.preload_for_zero_gpu() is False


def test_preload_loads_the_local_engine_and_its_lora_on_zero_gpu(tiny_weights, monkeypatch):
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    _fake_spaces(monkeypatch)
    assert zerogpu.preload_for_zero_gpu() is True
    assert engine._engine is not None and engine._engine._fast_pipeline is not None
    assert not lora_active(engine._engine.pipeline.unet)


def test_preload_never_raises(tiny_weights, monkeypatch):
    monkeypatch.setenv("SPACES_ZERO_GPU", "true")
    _fake_spaces(monkeypatch)

    def broken(*args, **kwargs):
        raise RuntimeError("CUDA error: out of memory")

    monkeypatch.setattr(engine.DiffusionEngine, "from_pretrained", broken)
    assert zerogpu.preload_for_zero_gpu() is False
