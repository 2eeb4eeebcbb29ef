"""The ONE shared diffusion engine: Stable Diffusion 1.5 inpainting, loaded once per process.

Only this module touches diffusers. The model is loaded on first use behind a lock and reused
by every stage, tab and request. Derived pipelines (the LCM fast mode) are built with
``from_pipe`` so they share the same parameters. ``diffusers`` and ``torch`` are imported lazily:
importing this module is cheap, and nothing is downloaded here (``weights.resolve`` is local).

Every call takes and returns the project's data contract: images (H, W, 3) float32 RGB in
[0, 1], masks (H, W) float in [0, 1] with 1 = repaint. ``H`` and ``W`` may be any size: the
engine pads every crop by reflection up to at least the model's working size
(:attr:`DiffusionEngine.working_size`, 512 px for SD 1.5) and to a multiple of the VAE scale
factor, runs the model there, and crops back. Callers composite the result into the original
(see :mod:`restoration.regions`), so pixels outside the mask stay the input's own.

Masks reach the UNet at latent resolution (one cell per ``vae_scale_factor`` x
``vae_scale_factor`` pixels). The engine first dilates the mask to whole latent cells, so a
1-px scratch masks every cell it touches and the masked image (gray where masked) agrees with
the mask channel; diffusers' nearest-neighbour shrinking alone would drop thin scratches.

Every path that runs the shared UNet (pipeline call, RePaint, damage prior) sets the LCM-LoRA
state explicitly under one call lock, so a fast call never leaks its LoRA into the next call.

On a ZeroGPU Space, stages run their diffusion work through :func:`restoration.zerogpu.run_on_gpu`,
and the app loads this engine at startup with :func:`restoration.zerogpu.preload_for_zero_gpu`.

References:
    Rombach et al., "High-Resolution Image Synthesis with Latent Diffusion Models", CVPR 2022.
    Meng et al., "SDEdit: Guided Image Synthesis and Editing with Stochastic Differential
    Equations", ICLR 2022 (global refinement: all-white mask, ``strength`` < 1).
    Lugmayr et al., "RePaint: Inpainting using Denoising Diffusion Probabilistic Models",
    CVPR 2022 (resampling, here in latent space).
    Couairon et al., "DiffEdit: Diffusion-based semantic image editing with mask guidance",
    ICLR 2023 (noise-prediction differences between two prompts locate regions).
    Luo et al., "LCM-LoRA: A Universal Stable-Diffusion Acceleration Module", 2023.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import weights
from .errors import InputError, WeightsUnavailableError
from .validation import check_rgb

__all__ = [
    "MODEL_NAME",
    "LCM_LORA_NAME",
    "RESTORE_PROMPT",
    "DAMAGE_PROMPT",
    "NEGATIVE_PROMPT",
    "DiffusionEngine",
    "InpaintSettings",
    "get_engine",
    "reset_engine",
    "diffusion_available",
    "accelerator_available",
    "DAMAGE_PRIOR_FULL_SCALE",
]

logger = logging.getLogger(__name__)

MODEL_NAME = "sd15-inpainting"
LCM_LORA_NAME = "lcm-lora-sdv15"
RESTORE_PROMPT = "a clean, sharp, intact old photograph, fine film grain, natural detail"
DAMAGE_PROMPT = "a damaged old film photograph with scratches, cracks, dust and specks"
NEGATIVE_PROMPT = "scratches, cracks, dust, specks, stains, torn, damaged, blurry, text, watermark, frame"

StepCallback = Callable[[int, int], None]
"""Called as ``callback(step_done, steps_total)`` after every denoising step."""

DAMAGE_PRIOR_FULL_SCALE = 0.25
"""Mean absolute difference between the two prompts' noise predictions that maps to a prior of 1.

Noise predictions are in units of the unit-variance Gaussian noise, so their difference has an
absolute meaning shared by every window and photo; the prior is that difference divided by this
constant and clipped to [0, 1] (no per-window normalisation: a clean window gives a low prior).
0.25 is a quarter of the noise's standard deviation, chosen on the assumption that two
photo-describing prompts move SD 1.5's prediction far less than that on most pixels, so only
regions one prompt explains much better than the other approach 1. It has NOT been measured
(the development machines have no real weights): calibrate it on real weights with
``benchmarks/scratch_quality.py`` and change it here, in one place.
"""

@dataclass(frozen=True)
class InpaintSettings:
    """Sampler settings for one :meth:`DiffusionEngine.inpaint` call.

    Attributes:
        steps: denoising steps, >= 1 (default sampler: 25; LCM fast mode: 4-8).
        strength: in (0, 1]; 1 repaints from pure noise, < 1 keeps the input's structure (SDEdit).
        guidance_scale: classifier-free guidance, >= 1 (LCM: 1-2).
        seed: random seed; the same seed and input give the same output.
        fast: use the LCM-LoRA fast mode (needs the ``lcm-lora-sdv15`` weights).
        resample: RePaint resampling: each step is repeated this many times (1 = off).
        prompt / negative_prompt: text conditioning.
    """

    steps: int = 25
    strength: float = 1.0
    guidance_scale: float = 7.5
    seed: int = 0
    fast: bool = False
    resample: int = 1
    prompt: str = RESTORE_PROMPT
    negative_prompt: str = NEGATIVE_PROMPT

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise InputError(f"steps must be at least 1, got {self.steps}")
        if not 0.0 < self.strength <= 1.0:
            raise InputError(f"strength must be in (0, 1], got {self.strength}")
        if self.guidance_scale < 1.0:
            raise InputError(f"guidance_scale must be at least 1, got {self.guidance_scale}")
        if self.resample < 1:
            raise InputError(f"resample must be at least 1 (1 = off), got {self.resample}")
        if self.fast and self.resample > 1:
            raise InputError("RePaint resampling (resample > 1) needs the default sampler, not fast mode")

    @property
    def schedule_steps(self) -> int:
        """Steps of the full noise schedule the sampler is set to: ``steps``, raised when a low
        ``strength`` would keep none of them (diffusers keeps ``int(steps * strength)``), so an
        SDEdit call always runs at least one step."""
        return max(self.steps, math.ceil(round(1.0 / self.strength, 9)))

    @property
    def unet_steps(self) -> int:
        """UNet evaluations one :meth:`DiffusionEngine.inpaint` call makes with these settings
        (>= 1): the steps ``strength`` keeps, times ``resample`` for RePaint. Use it as the
        ``steps`` of :func:`restoration.zerogpu.run_on_gpu`."""
        steps = self.schedule_steps
        if self.resample == 1:  # diffusers' img2img rule: int(steps * strength) steps
            return max(1, min(steps, int(steps * self.strength)))
        return (_kept_steps(steps, self.strength) - 1) * self.resample + 1


def accelerator_available() -> bool:
    """True when CUDA or Apple MPS is usable (imports torch only if it is installed)."""
    import torch

    return torch.cuda.is_available() or torch.backends.mps.is_available()


def diffusion_available() -> bool:
    """True when the SD 1.5 inpainting weights are on this machine (local check, no network)."""
    try:
        weights.resolve(MODEL_NAME)
    except WeightsUnavailableError:
        return False
    return True


def _pick_device():
    """(device, dtype): cuda/fp16 > mps/fp32 > cpu/fp32.

    On ZeroGPU, ``import spaces`` (done first by ``zerogpu.preload_for_zero_gpu``) makes CUDA
    report available in the main process, so the startup load lands on "cuda" as the docs ask.
    """
    import torch

    if torch.cuda.is_available():
        return torch.device("cuda"), torch.float16
    if torch.backends.mps.is_available():
        return torch.device("mps"), torch.float32
    return torch.device("cpu"), torch.float32


class DiffusionEngine:
    """Holds the shared inpainting pipeline and the pipelines derived from it.

    Thread-safe: every UNet call, and building the fast pipeline (which adds the LCM-LoRA to the
    shared UNet), runs under one re-entrant call lock.

    Args:
        pipeline: a loaded ``StableDiffusionInpaintPipeline`` whose UNet takes 9 input channels.
        lcm_lora_dir: folder holding ``pytorch_lora_weights.safetensors`` for fast mode, or None.
    """

    def __init__(self, pipeline, *, lcm_lora_dir: Path | None = None) -> None:
        from diffusers import DPMSolverMultistepScheduler

        in_channels = pipeline.unet.config.in_channels
        if in_channels != 9:
            raise InputError(f"the engine needs a 9-channel inpainting UNet, got {in_channels} input channels")
        pipeline.scheduler = DPMSolverMultistepScheduler.from_config(pipeline.scheduler.config)
        pipeline.set_progress_bar_config(disable=True)
        self.pipeline = pipeline
        self.device = pipeline.unet.device
        self.dtype = pipeline.unet.dtype
        self._lcm_lora_dir = lcm_lora_dir
        self._fast_pipeline = None
        # Re-entrant: a fast call builds the fast pipeline while it already holds the lock.
        self._call_lock = threading.RLock()

    @classmethod
    def from_pretrained(cls, model_dir: str | Path, *, variant: str | None = None, lcm_lora_dir: Path | None = None):
        """Load the pipeline from a local folder (a hub snapshot or ``save_pretrained`` output).

        Never touches the network (``local_files_only``). Raises WeightsUnavailableError when a
        component is missing or loads empty (an offline hub tokenizer can come back empty).
        """
        import torch
        from diffusers import StableDiffusionInpaintPipeline

        device, dtype = _pick_device()
        try:
            pipeline = StableDiffusionInpaintPipeline.from_pretrained(
                str(model_dir),
                dtype=dtype,
                variant=variant,
                local_files_only=True,
                safety_checker=None,
                feature_extractor=None,
                requires_safety_checker=False,
                use_safetensors=True,
            )
        except Exception as error:  # loaders raise many types; never return half-loaded components
            raise WeightsUnavailableError(f"could not load the diffusion model from {model_dir}: {error}") from error
        _check_loaded(pipeline)
        with torch.no_grad():
            pipeline.to(device)
        logger.info("diffusion engine loaded from %s on %s (%s)", model_dir, device, dtype)
        return cls(pipeline, lcm_lora_dir=lcm_lora_dir)

    # ------------------------------------------------------------------ geometry

    @property
    def vae_scale_factor(self) -> int:
        """Pixels per latent cell along each side (8 for SD 1.5)."""
        return int(self.pipeline.vae_scale_factor)

    @property
    def working_size(self) -> int:
        """The model's native side in pixels: ``unet.config.sample_size * vae_scale_factor``
        (512 for SD 1.5). Crops smaller than this are padded up to it."""
        sample_size = self.pipeline.unet.config.sample_size
        if isinstance(sample_size, (tuple, list)):
            sample_size = max(sample_size)
        return int(sample_size) * self.vae_scale_factor

    # ------------------------------------------------------------------ derived pipelines

    @property
    def fast_pipeline(self):
        """The LCM fast-mode pipeline: ``from_pipe`` of the main one (shared parameters).

        Built once, under the call lock: loading the LoRA changes the shared UNet, so it must not
        overlap a running call, and concurrent first requests must not load it twice.
        """
        if self._fast_pipeline is None:
            with self._call_lock:
                if self._fast_pipeline is None:
                    self._fast_pipeline = self._build_fast_pipeline()
        return self._fast_pipeline

    def _build_fast_pipeline(self):
        from diffusers import LCMScheduler, StableDiffusionInpaintPipeline

        if self._lcm_lora_dir is None:
            raise WeightsUnavailableError(
                f"fast mode needs the LCM-LoRA weights: `python -m restoration weights download --model {LCM_LORA_NAME}`"
            )
        fast = StableDiffusionInpaintPipeline.from_pipe(
            self.pipeline, scheduler=LCMScheduler.from_config(self.pipeline.scheduler.config)
        )
        fast.load_lora_weights(str(self._lcm_lora_dir), adapter_name="lcm")
        fast.set_progress_bar_config(disable=True)
        fast.disable_lora()  # off until a fast call switches it on
        return fast

    # ------------------------------------------------------------------ public calls

    def inpaint(
        self,
        image: np.ndarray,
        mask: np.ndarray,
        settings: InpaintSettings = InpaintSettings(),
        *,
        callback: StepCallback | None = None,
    ) -> np.ndarray:
        """Repaint the masked part of ``image``.

        The crop is padded by reflection to at least :attr:`working_size` (padding is known
        context, never repainted), the mask is dilated to whole latent cells, and the result is
        cropped back.

        Args:
            image: (H, W, 3) float32 RGB in [0, 1], H and W >= 8; best near :attr:`working_size`.
            mask: (H, W) float in [0, 1]; pixels > 0.5 are repainted, together with the rest of
                every latent cell (``vae_scale_factor`` px square) they touch. An all-ones mask
                with ``strength`` < 1 refines the whole crop (SDEdit).
            settings: sampler settings.
            callback: progress, called after every step.

        Returns:
            (H, W, 3) float32 in [0, 1]: the decoded crop. Unmasked pixels have gone through the
            VAE, so callers composite them back (``regions.composite``).
        """
        _check_pair(image, mask)
        canvas, canvas_mask, window = self._prepare(image, mask)
        with self._unet_session(fast=settings.fast):
            if settings.resample > 1:
                result = self._repaint(canvas, canvas_mask, settings, callback)
            else:
                result = self._pipeline_call(canvas, canvas_mask, settings, callback)
        return np.ascontiguousarray(result[window])

    def damage_prior(
        self,
        image: np.ndarray,
        *,
        noise_level: float = 0.5,
        samples: int = 4,
        seed: int = 0,
        damage_prompt: str = DAMAGE_PROMPT,
        clean_prompt: str = RESTORE_PROMPT,
    ) -> np.ndarray:
        """Where the model thinks the damage is (DiffEdit-style, with the 9-channel UNet).

        The crop (padded to the working size like :meth:`inpaint`) is encoded, noised to
        ``noise_level`` and denoised once with each prompt, with an all-white mask so the UNet
        sees no known pixels (as for SDEdit). The absolute difference of the two noise
        predictions, averaged over latent channels and ``samples`` noise draws, marks regions the
        damage prompt explains better. Noise predictions are in units of the unit-variance noise,
        so the prior is that difference divided by :data:`DAMAGE_PRIOR_FULL_SCALE` and clipped:
        values compare across windows and photos (no per-window normalisation).

        Args:
            image: (H, W, 3) float32 RGB in [0, 1], H and W >= 8.
            noise_level: in (0, 1): fraction of the diffusion schedule to noise to.
            samples: noise draws to average, >= 1.
            seed: random seed; the same seed and crop give the same prior.
            damage_prompt / clean_prompt: the two text conditions compared.

        Returns:
            (H, W) float32 in [0, 1]; 1 means a prediction difference of at least
            ``DAMAGE_PRIOR_FULL_SCALE``.
        """
        if not 0.0 < noise_level < 1.0:
            raise InputError(f"noise_level must be in (0, 1), got {noise_level}")
        if samples < 1:
            raise InputError(f"samples must be at least 1, got {samples}")
        nothing_known = np.zeros(image.shape[:2], np.float32)  # the UNet mask is all-white anyway
        _check_pair(image, nothing_known)
        canvas, _, window = self._prepare(image, nothing_known)
        with self._unet_session(fast=False):
            difference = self._prediction_difference(
                canvas, noise_level=noise_level, samples=samples, seed=seed, prompts=[damage_prompt, clean_prompt]
            )
        return np.clip(difference[window] / DAMAGE_PRIOR_FULL_SCALE, 0.0, 1.0).astype(np.float32)

    # ------------------------------------------------------------------ internals

    def _prepare(self, image: np.ndarray, mask: np.ndarray):
        """Pad to the working size and dilate the mask to whole latent cells.

        Returns (canvas (h, w, 3), canvas mask (h, w) in {0, 1}, window): ``canvas[window]`` is
        the input crop.
        """
        canvas, canvas_mask, window = _pad_to_canvas(
            image, mask, minimum=self.working_size, multiple=self.vae_scale_factor
        )
        return canvas, _dilate_to_cells(canvas_mask, self.vae_scale_factor), window

    @contextlib.contextmanager
    def _unet_session(self, *, fast: bool):
        """Hold the call lock, set the LCM-LoRA state for this call and disable autograd.

        Every path that runs the shared UNet enters here, so the LoRA is on exactly during fast
        calls; it is switched off again when a fast call ends, even by an error.
        """
        import torch

        with self._call_lock:
            if fast:
                self.fast_pipeline  # noqa: B018 - builds it (re-entrant lock) before the state is set
            self._select_lora(fast)
            try:
                with torch.no_grad():
                    yield
            finally:
                if fast:
                    self._select_lora(False)

    def _select_lora(self, fast: bool) -> None:
        """The fast pipeline shares the UNet: its LoRA is active only for fast calls."""
        if self._fast_pipeline is None:
            return
        if fast:
            self._fast_pipeline.enable_lora()
        else:
            self._fast_pipeline.disable_lora()

    def _pipeline_call(self, image, mask, settings: InpaintSettings, callback: StepCallback | None) -> np.ndarray:
        import torch

        pipe = self.fast_pipeline if settings.fast else self.pipeline
        total = settings.unet_steps

        def on_step_end(_pipe, step, _timestep, kwargs):
            if callback is not None:
                callback(step + 1, total)
            return kwargs

        output = pipe(
            prompt=settings.prompt,
            negative_prompt=settings.negative_prompt,
            image=torch.from_numpy(image).permute(2, 0, 1)[None],
            mask_image=torch.from_numpy(mask)[None, None],
            height=image.shape[0],
            width=image.shape[1],
            strength=settings.strength,
            num_inference_steps=settings.schedule_steps,
            guidance_scale=settings.guidance_scale,
            generator=torch.Generator("cpu").manual_seed(settings.seed),
            output_type="np",
            callback_on_step_end=on_step_end,
        )
        return np.clip(output.images[0], 0.0, 1.0).astype(np.float32)

    def _repaint(self, image, mask, settings: InpaintSettings, callback: StepCallback | None) -> np.ndarray:
        """RePaint resampling in latent space with DDIM and the 9-channel UNet.

        ``mask`` is already whole latent cells (see :meth:`_prepare`), so subsampling it gives
        the latent mask exactly. At every step the known region's latents are replaced by the
        input's latents noised to the same level; each step is then re-noised and repeated
        ``settings.resample`` times so the repainted region harmonises with its surroundings.
        """
        import torch
        from diffusers import DDIMScheduler

        scheduler = DDIMScheduler.from_config(self.pipeline.scheduler.config)
        scheduler.set_timesteps(settings.schedule_steps, device=self.device)
        timesteps = _strength_timesteps(scheduler.timesteps, settings.strength)
        generator = torch.Generator("cpu").manual_seed(settings.seed)

        def randn(shape):
            return torch.randn(shape, generator=generator, dtype=self.dtype).to(self.device)

        embeddings = self._text_embeddings([settings.negative_prompt, settings.prompt])
        known = self._encode(image)
        keep = 1.0 - mask[..., None]
        masked_latents = self._encode(image * keep + 0.5 * (1.0 - keep))
        cell = self.vae_scale_factor
        latent_mask = torch.from_numpy(np.ascontiguousarray(mask[::cell, ::cell]))[None, None].to(self.device, self.dtype)
        if settings.strength < 1.0:
            latents = scheduler.add_noise(known, randn(known.shape), timesteps[:1])
        else:
            latents = randn(known.shape) * scheduler.init_noise_sigma
        total = settings.unet_steps  # (len(timesteps) - 1) * resample + 1
        done = 0
        for index, timestep in enumerate(timesteps):
            rounds = settings.resample if index < len(timesteps) - 1 else 1
            for round_index in range(rounds):
                latents = self._repaint_step(
                    scheduler, latents, timestep, known, latent_mask, masked_latents, embeddings, settings, randn
                )
                if round_index < rounds - 1:
                    latents = _renoise(scheduler, latents, timestep, randn)
                done += 1
                if callback is not None:
                    callback(done, total)
        return self._decode(latents)

    def _repaint_step(self, scheduler, latents, timestep, known, latent_mask, masked_latents, embeddings, settings, randn):
        import torch

        unet_input = torch.cat([latents, latent_mask, masked_latents], dim=1)
        prediction = self.pipeline.unet(
            unet_input.repeat(2, 1, 1, 1), timestep, encoder_hidden_states=embeddings
        ).sample
        unconditional, conditional = prediction.chunk(2)
        noise = unconditional + settings.guidance_scale * (conditional - unconditional)
        previous = scheduler.step(noise, timestep, latents).prev_sample
        previous_timestep = timestep - scheduler.config.num_train_timesteps // scheduler.num_inference_steps
        if previous_timestep >= 0:
            known_previous = scheduler.add_noise(known, randn(known.shape), previous_timestep.reshape(1))
        else:
            known_previous = known
        return latent_mask * previous + (1.0 - latent_mask) * known_previous

    def _prediction_difference(self, image, *, noise_level: float, samples: int, seed: int, prompts: list[str]):
        """(H, W) float32 >= 0: mean |eps(prompts[0]) - eps(prompts[1])| over latent channels and
        ``samples`` noise draws, bilinearly upsampled to the image. In noise units."""
        import torch
        import torch.nn.functional as F
        from diffusers import DDIMScheduler

        scheduler = DDIMScheduler.from_config(self.pipeline.scheduler.config)
        embeddings = self._text_embeddings(prompts)
        latents = self._encode(image)
        unknown = torch.ones_like(latents[:, :1])
        gray_latents = self._encode(np.full_like(image, 0.5))
        generator = torch.Generator("cpu").manual_seed(seed)
        timestep = torch.tensor([int(noise_level * scheduler.config.num_train_timesteps)], device=self.device)
        difference = torch.zeros_like(latents[:, 0], dtype=torch.float32)
        for _ in range(samples):
            noise = torch.randn(latents.shape, generator=generator, dtype=latents.dtype).to(self.device)
            noisy = scheduler.add_noise(latents, noise, timestep)
            unet_input = torch.cat([noisy, unknown, gray_latents], dim=1).repeat(2, 1, 1, 1)
            prediction = self.pipeline.unet(unet_input, timestep, encoder_hidden_states=embeddings).sample
            difference += (prediction[0] - prediction[1]).abs().float().mean(dim=0)
        difference = F.interpolate((difference / samples)[None], size=image.shape[:2], mode="bilinear")[0, 0]
        return difference.cpu().numpy()

    def _text_embeddings(self, prompts: list[str]):
        """(len(prompts), 77, D) text embeddings, computed with the pipeline's own encoder."""
        embeddings, _ = self.pipeline.encode_prompt(prompts, self.device, 1, False)
        return embeddings

    def _encode(self, image: np.ndarray):
        """(H, W, 3) in [0, 1] -> (1, 4, H/f, W/f) scaled latents (distribution mean: deterministic)."""
        import torch

        pixels = torch.from_numpy(image).permute(2, 0, 1)[None].to(self.device, self.dtype) * 2.0 - 1.0
        vae = self.pipeline.vae
        return vae.encode(pixels).latent_dist.mean * vae.config.scaling_factor

    def _decode(self, latents) -> np.ndarray:
        """(1, 4, h, w) scaled latents -> (h*f, w*f, 3) float32 RGB in [0, 1]."""
        vae = self.pipeline.vae
        pixels = vae.decode(latents / vae.config.scaling_factor).sample
        return ((pixels[0].permute(1, 2, 0).float().cpu().numpy() + 1.0) / 2.0).clip(0.0, 1.0).astype(np.float32)


def _renoise(scheduler, latents, timestep, randn):
    """Take latents at the previous timestep back up to ``timestep`` (one RePaint jump)."""
    step = scheduler.config.num_train_timesteps // scheduler.num_inference_steps
    alphas = scheduler.alphas_cumprod.to(latents.device)
    alpha_now = alphas[timestep]
    previous = int(timestep) - step
    alpha_previous = alphas[previous] if previous >= 0 else scheduler.final_alpha_cumprod.to(latents.device)
    ratio = (alpha_now / alpha_previous).to(latents.dtype)
    return ratio.sqrt() * latents + (1.0 - ratio).sqrt() * randn(latents.shape)


def _strength_timesteps(timesteps, strength: float):
    """The tail of the schedule that ``strength`` keeps (as diffusers' img2img does)."""
    return timesteps[len(timesteps) - _kept_steps(len(timesteps), strength) :]


def _kept_steps(steps: int, strength: float) -> int:
    """RePaint: how many of ``steps`` scheduled steps ``strength`` keeps, in [1, steps]."""
    return max(1, min(steps, int(round(steps * strength))))


def _check_pair(image: np.ndarray, mask: np.ndarray) -> None:
    check_rgb(image, min_side=8, what="the crop")
    if mask.shape != image.shape[:2]:
        raise InputError(f"mask must have shape {image.shape[:2]} to match the image, got {mask.shape}")


def _pad_to_canvas(image: np.ndarray, mask: np.ndarray, *, minimum: int, multiple: int):
    """Pad a crop to at least ``minimum`` px per side and to a multiple of ``multiple``.

    The crop sits near the middle of the canvas, at an offset that is a multiple of ``multiple``
    (so the latent grid of the canvas is the crop's own). The image is padded by reflection;
    where a side needs more padding than one reflection gives (crop side - 1 px), by repeated
    symmetric mirroring (``numpy.pad`` ``"symmetric"``; a 1-px side repeats its edge). The
    mask is padded with 0: the padding is context the model conditions on (a mirror of the
    crop's own pixels, which continues its edges), never content to produce. A reflected mask
    would double holes touching the crop edge and spend the repaint on pixels that are thrown
    away. (Damage touching the crop edge is mirrored into the context; the scratch stage passes
    crops already filled by the classical inpainting, so that context is the repaired photo.)

    Args:
        image: (H, W, 3) float RGB.
        mask: (H, W) float.
        minimum: smallest canvas side, in pixels (the model's working size).
        multiple: canvas sides are multiples of this (the VAE scale factor).

    Returns:
        (canvas (h, w, 3) float32, canvas mask (h, w) float32, window): ``canvas[window]`` is
        the crop; h >= max(H, minimum), w >= max(W, minimum).
    """
    height, width = mask.shape
    (top, bottom), (left, right) = (_padding(height, minimum, multiple), _padding(width, minimum, multiple))
    canvas = image.astype(np.float32)
    canvas = np.pad(canvas, ((top, bottom), (0, 0), (0, 0)), mode=_mirror_mode(height, top, bottom))
    canvas = np.pad(canvas, ((0, 0), (left, right), (0, 0)), mode=_mirror_mode(width, left, right))
    canvas_mask = np.pad(mask.astype(np.float32), ((top, bottom), (left, right)))
    window = (slice(top, top + height), slice(left, left + width))
    return np.ascontiguousarray(canvas), canvas_mask, window


def _padding(size: int, minimum: int, multiple: int) -> tuple[int, int]:
    """(before, after) padding that takes ``size`` to the smallest multiple of ``multiple`` that
    is >= max(size, minimum); ``before`` is a multiple of ``multiple`` near half the total."""
    target = max(size, minimum)
    target = -(-target // multiple) * multiple
    total = target - size
    before = (total // 2) // multiple * multiple
    return before, total - before


def _mirror_mode(size: int, before: int, after: int) -> str:
    """``"reflect"`` when one reflection covers the padding, else ``"symmetric"`` (repeated)."""
    return "reflect" if max(before, after) <= size - 1 else "symmetric"


def _dilate_to_cells(mask: np.ndarray, cell: int) -> np.ndarray:
    """Mark every ``cell`` x ``cell`` latent cell that holds a pixel > 0.5 (max-pool to latent
    size, nearest-upsample back).

    Args:
        mask: (H, W) float in [0, 1], H and W multiples of ``cell``.
        cell: the VAE scale factor.

    Returns:
        (H, W) float32 in {0, 1}, constant on each cell, covering every pixel > 0.5.
    """
    height, width = mask.shape
    if height % cell or width % cell:
        raise InputError(f"mask sides must be multiples of {cell} to dilate to latent cells, got {mask.shape}")
    cells = (mask > 0.5).reshape(height // cell, cell, width // cell, cell).any(axis=(1, 3))
    return np.repeat(np.repeat(cells, cell, axis=0), cell, axis=1).astype(np.float32)


def _check_loaded(pipeline) -> None:
    """Refuse half-loaded components (an offline hub tokenizer can load with an empty vocabulary)."""
    for name in ("unet", "vae", "text_encoder", "tokenizer"):
        if getattr(pipeline, name, None) is None:
            raise WeightsUnavailableError(f"the diffusion model's {name} is missing; run `python -m restoration weights verify`")
    if not _tokenizer_works(pipeline.tokenizer):
        raise WeightsUnavailableError(
            "the diffusion model's tokenizer loaded empty; run `python -m restoration weights verify`"
        )


def _tokenizer_works(tokenizer) -> bool:
    try:
        return len(tokenizer) > 2 and len(tokenizer("photo").input_ids) > 0
    except Exception:  # an empty vocabulary fails on first use with a bare Exception
        return False


_engine: DiffusionEngine | None = None
_engine_lock = threading.Lock()


def get_engine() -> DiffusionEngine:
    """The process-wide engine, loaded on first call (thread-safe); later calls reuse it.

    Raises WeightsUnavailableError (fast, no network) when the weights are not on this machine.
    """
    global _engine
    with _engine_lock:
        if _engine is None:
            manifest = weights.load_manifest()
            model_dir = weights.resolve(MODEL_NAME, manifest=manifest)
            try:
                lcm_dir = weights.resolve(LCM_LORA_NAME, manifest=manifest)
            except WeightsUnavailableError:
                lcm_dir = None
            _engine = DiffusionEngine.from_pretrained(
                model_dir, variant=manifest[MODEL_NAME].variant, lcm_lora_dir=lcm_dir
            )
        return _engine


def reset_engine() -> None:
    """Forget the loaded engine (tests; frees memory)."""
    global _engine
    with _engine_lock:
        _engine = None
