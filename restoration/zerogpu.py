"""ZeroGPU: run the diffusion work, and only it, on a Hugging Face ZeroGPU slice.

From the ZeroGPU documentation (https://huggingface.co/docs/hub/spaces-zerogpu) and the
``spaces`` package: ``@spaces.GPU`` is effect-free off ZeroGPU; ``duration`` may be a callable
that takes the decorated function's own arguments and returns seconds; the model is loaded and
moved to "cuda" at startup in the main process (``import spaces`` patches torch so that works
without a GPU), and each decorated call runs in a forked worker that receives its arguments and
returns its result through pickling. Hence one module-level trampoline decorated once, whose
arguments name the function to run and the work it does; stages pass their diffusion work to
:func:`run_on_gpu` with the number of windows and steps, so the GPU time requested follows the
work, and classical work never asks for a GPU.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

from .engine import diffusion_available, get_engine
from .errors import InputError

__all__ = [
    "GPU_SECONDS_PER_STEP",
    "GPU_SECONDS_PER_WINDOW",
    "GPU_OVERHEAD_SECONDS",
    "GPU_MIN_SECONDS",
    "GPU_MAX_SECONDS",
    "gpu_duration",
    "run_on_gpu",
    "preload_for_zero_gpu",
]

logger = logging.getLogger(__name__)

# ZeroGPU duration model (see gpu_duration). Figures for SD 1.5 in fp16 at 512 x 512 px on the
# default ZeroGPU slice ("large": half of an NVIDIA H200, 70 GB), with a margin of about 2x:
GPU_SECONDS_PER_STEP = 0.25
"""One UNet evaluation (batch 2 with classifier-free guidance). An estimate, not measured here:
SD 1.5 in fp16 at 512 px is commonly quoted at 10-20 steps/s on a full A100/H100-class GPU; half
a card and a 2x margin give 0.25 s. Check it against the Space's logs and adjust."""
GPU_SECONDS_PER_WINDOW = 1.5
"""Per window besides the UNet: two VAE encodes (image, masked image) and one decode at 512 px,
the text encoder, and host/device copies (each well under 0.5 s on that GPU)."""
GPU_OVERHEAD_SECONDS = 15.0
"""Per request: forking the ZeroGPU worker, moving the ~2 GB of fp16 weights onto the GPU on a
cold start, CUDA initialisation, and loading the LCM-LoRA on a first fast call."""
GPU_MIN_SECONDS = 20
"""Smallest request. Shorter requests get higher queue priority; below this the overhead alone
could overrun."""
GPU_MAX_SECONDS = 300
"""Largest request: ZeroGPU refuses longer ones ("illegal duration"); its staff give 5 minutes
as the per-call maximum (zero-gpu-explorers/README discussion #7). Callers with more work should
split it, and note that a visitor's remaining daily quota can be lower still."""



def gpu_duration(windows: int, steps: int) -> int:
    """Seconds of ZeroGPU time to request for diffusion work.

    ``GPU_OVERHEAD_SECONDS + windows * (GPU_SECONDS_PER_WINDOW + steps * GPU_SECONDS_PER_STEP)``,
    rounded up and clamped to [``GPU_MIN_SECONDS``, ``GPU_MAX_SECONDS``]. A tight estimate
    matters: shorter requests get higher queue priority, and a request above the visitor's
    remaining daily quota is refused.

    Args:
        windows: working-size windows the work runs the model on, >= 1.
        steps: UNet evaluations per window, >= 1 (``InpaintSettings.unet_steps``; for
            :meth:`DiffusionEngine.damage_prior`, its ``samples``).

    Returns:
        Seconds, an int in [GPU_MIN_SECONDS, GPU_MAX_SECONDS].
    """
    if windows < 1 or steps < 1:
        raise InputError(f"gpu_duration needs at least 1 window and 1 step, got windows={windows}, steps={steps}")
    seconds = GPU_OVERHEAD_SECONDS + windows * (GPU_SECONDS_PER_WINDOW + steps * GPU_SECONDS_PER_STEP)
    return int(min(GPU_MAX_SECONDS, max(GPU_MIN_SECONDS, math.ceil(seconds))))


def run_on_gpu(function: Callable[..., Any], /, *args: Any, windows: int, steps: int, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)``, on a ZeroGPU GPU when running on a ZeroGPU Space.

    On ZeroGPU (``SPACES_ZERO_GPU`` set and ``spaces`` importable) the call goes through
    ``spaces.GPU`` with ``duration = gpu_duration(windows, steps)``; elsewhere ``function`` runs
    directly in this process. Pass only diffusion work here (classical work and file I/O do not
    need the GPU and would spend the visitor's quota).

    ZeroGPU runs the call in a forked worker process, so: ``function`` must be a module-level
    function (it is pickled by reference), ``args``/``kwargs`` and the return value must be
    picklable (numpy arrays, dataclasses such as ``InpaintSettings``; no closures, locks, the
    engine itself or CUDA tensors), and the function gets the engine with :func:`get_engine`.

    Args:
        function: a module-level function.
        windows, steps: the work, for :func:`gpu_duration`; not passed to ``function``.

    Raises:
        TypeError: ``function``, or a function among the arguments, is not module-level
            (checked everywhere, so the mistake shows up in tests and the CLI, not only on the
            Space, where pickling would fail).
    """
    _check_importable(function)
    _check_arguments(args, kwargs)
    gpu_duration(windows, steps)  # refuse bad figures before any work
    runner = _zero_gpu_runner() if _on_zero_gpu() else None
    if runner is None:
        return function(*args, **kwargs)
    return runner(function, args, kwargs, windows, steps)


def preload_for_zero_gpu() -> bool:
    """On a ZeroGPU Space, load the engine now, in the main process, onto "cuda".

    Call once at startup (the app's ``__main__``, before ``launch``). ZeroGPU wants the model
    loaded and ``.to("cuda")``-ed outside the GPU functions, at startup: ``import spaces`` patches
    torch so that CUDA placement works without a GPU attached, and every forked GPU worker then
    inherits the loaded weights instead of loading them per request. Also decorates the GPU
    trampoline now, and loads the LCM-LoRA when its weights are present.

    Loads local weights only (never downloads). Does nothing off ZeroGPU or without the weights.
    Never raises: problems are logged, and the app then loads lazily or runs classical.

    Returns:
        True when the engine is loaded, else False.
    """
    if not _on_zero_gpu():
        return False
    try:
        if _zero_gpu_runner() is None:
            return False
        if not diffusion_available():
            logger.info("ZeroGPU: no local diffusion weights; the app runs the classical engine")
            return False
        loaded = get_engine()
    except Exception:  # startup must go on: log the cause, the app falls back to classical
        logger.exception("ZeroGPU: could not preload the diffusion engine")
        return False
    if loaded._lcm_lora_dir is not None:
        try:
            loaded.fast_pipeline  # noqa: B018 - the LoRA is loaded once here, not in every worker
        except Exception:  # fast mode then loads on first use, or reports its own error
            logger.exception("ZeroGPU: could not preload the LCM-LoRA fast mode")
    return True


def _on_zero_gpu() -> bool:
    """True on a ZeroGPU Space: ``SPACES_ZERO_GPU`` is 1/t/true, as the ``spaces`` package reads it."""
    return os.environ.get("SPACES_ZERO_GPU", "").strip().lower() in ("1", "t", "true")


_gpu_runner: tuple[Any, Callable[..., Any]] | None = None
_gpu_runner_lock = threading.Lock()


def _zero_gpu_runner() -> Callable[..., Any] | None:
    """:func:`_gpu_task` decorated by ``spaces.GPU`` with a dynamic duration (once per
    ``spaces`` module), or None when ``spaces`` is not installed."""
    global _gpu_runner
    try:
        import spaces
    except ImportError:
        logger.warning("SPACES_ZERO_GPU is set but the `spaces` package is not installed; running without ZeroGPU")
        return None
    with _gpu_runner_lock:
        if _gpu_runner is None or _gpu_runner[0] is not spaces:
            _gpu_runner = (spaces, spaces.GPU(_gpu_task, duration=_gpu_task_duration))
        return _gpu_runner[1]


def _gpu_task(function, args, kwargs, windows, steps):
    """The one ``spaces.GPU`` function: runs ``function(*args, **kwargs)`` in the GPU worker."""
    return function(*args, **kwargs)


def _gpu_task_duration(function, args, kwargs, windows, steps) -> int:
    """ZeroGPU's dynamic duration: called with :func:`_gpu_task`'s own arguments."""
    return gpu_duration(windows, steps)


def _check_importable(function, *, what: str = "run_on_gpu needs a module-level function") -> None:
    """Refuse what the ZeroGPU worker cannot receive: pickle sends functions (and classes) by
    module and qualified name, so closures, lambdas and bound methods cannot cross. A
    ``functools.partial`` crosses when its function and arguments do."""
    if isinstance(function, functools.partial):
        for part in (function.func, *function.args, *function.keywords.values()):
            if callable(part):
                _check_importable(part, what=what)
        return
    module = sys.modules.get(getattr(function, "__module__", None) or "")
    found = module
    for part in (getattr(function, "__qualname__", "") or "<none>").split("."):
        found = getattr(found, part, None)
    if found is not function:
        raise TypeError(
            f"{what} (it is pickled to the ZeroGPU worker), got {function!r}; "
            "move it to module level and pass its data as arguments (get the engine with get_engine() inside)"
        )


def _check_arguments(args: tuple, kwargs: dict) -> None:
    """Callables among the arguments must cross to the worker too (e.g. no local closures)."""
    for value in (*args, *kwargs.values()):
        if callable(value) and not isinstance(value, type):
            _check_importable(value, what="run_on_gpu arguments that are functions must be module-level functions")
