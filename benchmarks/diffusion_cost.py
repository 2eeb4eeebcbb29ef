"""Compute cost of the real Stable Diffusion 1.5 inpainting model through the project's engine.

Builds the real-size components from ``benchmarks/sd15_configs`` with random weights (the cost
of a forward pass does not depend on the weight values), wraps them in
``StableDiffusionInpaintPipeline`` and :class:`restoration.engine.DiffusionEngine`, and times
``engine.inpaint`` on one square window for two configurations, each in a fresh subprocess so
their peak memory does not mix:

- ``default``: DPM-Solver multistep, guidance 7.5 (UNet batch 2, classifier-free guidance);
- ``lcm``: the LCM-LoRA fast mode, guidance 1.0 (UNet batch 1), with a random LoRA of the
  published LCM-LoRA's shape (rank 64 on the modules that diffusers' LCM-LoRA distillation
  script targets: attention q/k/v/out, transformer proj_in/proj_out and feed-forward, ResNet
  conv1/conv2/conv_shortcut/time_emb_proj, down- and up-sampler convs).

Seconds per denoising step come from the engine's per-step callback timestamps (the first step
also carries prompt encoding and VAE encoding, so it is left out of the mean); UNet forward times
come from hooks on the UNet; VAE encode/decode are timed separately through ``engine._encode``
and ``engine._decode`` after the inpaint call (warm). The total for the default sampler at 25
steps is extrapolated: the measured short call plus the missing steps at the measured per-step
time. The LCM total is the measured call itself. Peak RSS is ``getrusage`` ``ru_maxrss`` of each
subprocess (model build included). Prints a Markdown table.

Usage (from the repository root)::

    python benchmarks/diffusion_cost.py                 # 512 px, 2 threads, fp32
    python benchmarks/diffusion_cost.py --size 256 --steps 30 --lcm-steps 8

References:
    Rombach et al., "High-Resolution Image Synthesis with Latent Diffusion Models", CVPR 2022.
    Luo et al., "LCM-LoRA: A Universal Stable-Diffusion Acceleration Module", 2023.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = Path(__file__).resolve().parent / "sd15_configs"
CONFIGURATIONS = ("default", "lcm")

LCM_LORA_RANK = 64
LCM_LORA_TARGETS = (
    "to_q", "to_k", "to_v", "to_out.0", "proj_in", "proj_out", "ff.net.0.proj", "ff.net.2",
    "conv1", "conv2", "conv_shortcut", "downsamplers.0.conv", "upsamplers.0.conv", "time_emb_proj",
)
"""The default ``lora_target_modules`` of diffusers' ``train_lcm_distill_lora_sd_wds.py``."""

_TEXT_CONFIG_METADATA = ("architectures", "torch_dtype", "dtype", "transformers_version", "_name_or_path")


# --------------------------------------------------------------------------------------------
# Building the real-size model with random weights
# --------------------------------------------------------------------------------------------


def build_pipeline(folder: Path, *, configs: Path = CONFIGS, seed: int = 0):
    """The SD 1.5 inpainting pipeline from the published configs, random fp32 weights, on CPU.

    The tokenizer is the project's tiny test tokenizer (written into ``folder``): prompts are
    always padded to 77 tokens, so its vocabulary does not change the cost; the text encoder
    keeps the real 49408-token embedding.
    """
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    from tests.tiny_models import write_tokenizer_files

    def load(name):
        return json.loads((configs / name).read_text())

    torch.manual_seed(seed)
    unet = UNet2DConditionModel.from_config(load("unet_config.json"))
    vae = AutoencoderKL.from_config(load("vae_config.json"))
    text_fields = {k: v for k, v in load("text_encoder_config.json").items() if k not in _TEXT_CONFIG_METADATA}
    text_encoder = CLIPTextModel(CLIPTextConfig(**text_fields))
    scheduler = DDIMScheduler.from_config(load("scheduler_config.json"))
    tokenizer = CLIPTokenizer.from_pretrained(str(write_tokenizer_files(folder / "tokenizer")))
    for model in (unet, vae, text_encoder):
        model.eval().requires_grad_(False)
        if model.dtype != torch.float32:
            raise RuntimeError(f"{type(model).__name__} was built in {model.dtype}, the benchmark measures float32")
    return StableDiffusionInpaintPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def save_random_lcm_lora(unet, folder: Path, *, rank: int = LCM_LORA_RANK, seed: int = 1) -> int:
    """Write a random LoRA for ``unet`` as ``folder/pytorch_lora_weights.safetensors``.

    Same layout as a PEFT LoRA saved by diffusers (``unet.<module>.lora_A/B.weight``), built
    directly from the module shapes so the 3.4 GB UNet is not copied. Returns the LoRA's
    parameter count.
    """
    import torch
    from diffusers import StableDiffusionInpaintPipeline

    generator = torch.Generator().manual_seed(seed)
    layers = {}
    for name, module in unet.named_modules():
        if not any(name == target or name.endswith("." + target) for target in LCM_LORA_TARGETS):
            continue
        if isinstance(module, torch.nn.Linear):
            down_shape, up_shape, fan_in = (rank, module.in_features), (module.out_features, rank), module.in_features
        elif isinstance(module, torch.nn.Conv2d):
            down_shape = (rank, module.in_channels, *module.kernel_size)
            up_shape, fan_in = (module.out_channels, rank, 1, 1), module.in_channels * int(np.prod(module.kernel_size))
        else:
            continue
        layers[f"{name}.lora_A.weight"] = torch.randn(down_shape, generator=generator) / fan_in**0.5
        layers[f"{name}.lora_B.weight"] = torch.randn(up_shape, generator=generator) * (0.01 / rank**0.5)
    StableDiffusionInpaintPipeline.save_lora_weights(folder, unet_lora_layers=layers, safe_serialization=True)
    return sum(tensor.numel() for tensor in layers.values())


def _test_window(size: int) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random (size, size, 3) float32 image in [0, 1] and a centred square mask (1/4 area)."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0.0, 1.0, size, dtype=np.float32)
    image = np.stack([ramp[None, :].repeat(size, 0), ramp[:, None].repeat(size, 1), np.full((size, size), 0.5)], -1)
    image = np.clip(image + 0.05 * rng.standard_normal(image.shape), 0.0, 1.0).astype(np.float32)
    mask = np.zeros((size, size), np.float32)
    mask[size // 4 : 3 * size // 4, size // 4 : 3 * size // 4] = 1.0
    return image, mask


# --------------------------------------------------------------------------------------------
# One configuration, in its own process
# --------------------------------------------------------------------------------------------


def _maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def _log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def measure(configuration: str, *, size: int, steps: int, threads: int) -> dict:
    """Time one ``engine.inpaint`` call of ``steps`` steps at ``size`` px and the VAE alone."""
    import diffusers
    import torch
    import transformers

    from restoration.engine import DiffusionEngine, InpaintSettings

    # The tiny test tokenizer splits the prompt into characters and warns that it truncates at 77.
    transformers.logging.set_verbosity_error()
    diffusers.utils.logging.set_verbosity_error()
    torch.set_num_threads(threads)
    result: dict = {"configuration": configuration, "size": size, "steps": steps, "threads": torch.get_num_threads()}
    with tempfile.TemporaryDirectory(prefix="diffusion-cost-") as scratch:
        scratch = Path(scratch)
        started = time.perf_counter()
        pipeline = build_pipeline(scratch)
        result["build_s"] = time.perf_counter() - started
        result["params"] = {
            name: sum(p.numel() for p in getattr(pipeline, name).parameters())
            for name in ("unet", "vae", "text_encoder")
        }
        result["maxrss_after_build"] = _maxrss_bytes()
        _log(f"{configuration}: model built in {result['build_s']:.1f} s")

        lora_dir = None
        if configuration == "lcm":
            lora_dir = scratch / "lcm-lora"
            result["params"]["lcm_lora"] = save_random_lcm_lora(pipeline.unet, lora_dir)
        engine = DiffusionEngine(pipeline, lcm_lora_dir=lora_dir)
        if configuration == "lcm":
            started = time.perf_counter()
            engine.fast_pipeline  # from_pipe + load_lora_weights, as on the first fast call
            result["lora_load_s"] = time.perf_counter() - started
            _log(f"lcm: LoRA loaded in {result['lora_load_s']:.1f} s")
        result["maxrss_before_call"] = _maxrss_bytes()

        unet_calls: list[dict] = []

        def before_unet(_module, args, kwargs):
            sample = args[0] if args else kwargs["sample"]
            unet_calls.append({"batch": int(sample.shape[0]), "start": time.perf_counter()})

        def after_unet(_module, _args, _kwargs, _output):
            unet_calls[-1]["seconds"] = time.perf_counter() - unet_calls[-1]["start"]

        hooks = [
            pipeline.unet.register_forward_pre_hook(before_unet, with_kwargs=True),
            pipeline.unet.register_forward_hook(after_unet, with_kwargs=True),
        ]
        if configuration == "lcm":
            settings = InpaintSettings(steps=steps, guidance_scale=1.0, fast=True)
        else:
            settings = InpaintSettings(steps=steps)
        image, mask = _test_window(size)
        stamps: list[float] = []
        cpu_stamps: list[float] = []

        def on_step(_done, _total):
            stamps.append(time.perf_counter())
            cpu_stamps.append(time.process_time())

        _log(f"{configuration}: inpaint {size}x{size}, {steps} steps, guidance {settings.guidance_scale}")
        result["load_before_call"] = os.getloadavg()[0]
        started, cpu_started = time.perf_counter(), time.process_time()
        output = engine.inpaint(image, mask, settings, callback=on_step)
        result["call_s"] = time.perf_counter() - started
        result["call_cpu_s"] = time.process_time() - cpu_started
        result["load_after_call"] = os.getloadavg()[0]
        for hook in hooks:
            hook.remove()
        result["maxrss_after_call"] = _maxrss_bytes()
        result["step_stamps_s"] = [stamp - started for stamp in stamps]
        result["step_s"] = float(np.mean(np.diff(stamps))) if len(stamps) > 1 else None
        result["step_cpu_s"] = float(np.mean(np.diff(cpu_stamps))) if len(cpu_stamps) > 1 else None
        result["first_step_s"] = stamps[0] - started
        result["unet_batches"] = sorted({call["batch"] for call in unet_calls})
        result["unet_forward_s"] = [call["seconds"] for call in unet_calls]
        result["output_finite"] = bool(np.isfinite(output).all())
        _log(f"{configuration}: call {result['call_s']:.1f} s, steps at {result['step_stamps_s']}")

        with torch.no_grad():
            started = time.perf_counter()
            latents = engine._encode(image)
            result["vae_encode_s"] = time.perf_counter() - started
            started = time.perf_counter()
            engine._decode(latents)
            result["vae_decode_s"] = time.perf_counter() - started
            started = time.perf_counter()
            engine._text_embeddings([settings.negative_prompt, settings.prompt])
            result["text_encode_s"] = time.perf_counter() - started
        _log(f"{configuration}: VAE encode {result['vae_encode_s']:.1f} s, decode {result['vae_decode_s']:.1f} s")
    result["maxrss"] = _maxrss_bytes()
    return result


def run_in_subprocess(configuration: str, *, size: int, steps: int, threads: int) -> dict:
    """Run :func:`measure` in a fresh Python process (its own peak RSS) and return its result."""
    with tempfile.TemporaryDirectory(prefix="diffusion-cost-result-") as folder:
        out = Path(folder) / "result.json"
        command = [
            sys.executable, str(Path(__file__).resolve()), "--worker", configuration, "--result", str(out),
            "--size", str(size), "--steps", str(steps), "--threads", str(threads),
        ]
        env = os.environ | {"HF_HUB_OFFLINE": "1", "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        subprocess.run(command, check=True, env=env)
        return json.loads(out.read_text())


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def _gib(value: int) -> str:
    return f"{value / 2**30:.2f} GiB"


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} s"


def _millions(value: int) -> str:
    return f"{value / 1e6:,.1f} M ({value:,})"


def table(results: dict[str, dict], *, total_steps: int) -> str:
    """The Markdown table: one column per configuration, a last column saying how each row was got."""
    default, lcm = results.get("default"), results.get("lcm")
    columns = [name for name in CONFIGURATIONS if name in results]
    titles = {
        "default": "default (DPM-Solver multistep, guidance 7.5)",
        "lcm": "fast (LCM-LoRA r64, guidance 1.0)",
    }

    def total(result: dict) -> str:
        if result["configuration"] == "lcm":
            return f"{result['call_s']:.1f} s at {result['steps']} steps (measured)"
        if result["step_s"] is None:
            return "n/a (needs >= 2 measured steps)"
        estimate = result["call_s"] + (total_steps - result["steps"]) * result["step_s"]
        return f"{estimate:.1f} s at {total_steps} steps (extrapolated)"

    rows = [
        ("UNet batch", lambda r: ", ".join(map(str, r["unet_batches"])), "hook on the UNet forward"),
        ("engine.inpaint call, measured", lambda r: f"{r['call_s']:.1f} s ({r['steps']} steps)",
         "wall time of one call (first call in the process)"),
        ("seconds per denoising step", lambda r: _seconds(r["step_s"]),
         "mean gap between per-step callbacks after the first"),
        ("CPU seconds per step (all threads)", lambda r: _seconds(r["step_cpu_s"]),
         "process CPU time between callbacks; wall x threads if uncontended"),
        ("UNet forward per step", lambda r: _seconds(float(np.mean(r["unet_forward_s"][1:] or r["unet_forward_s"]))),
         "UNet hooks, first call left out"),
        ("first step incl. prompt + VAE encode", lambda r: _seconds(r["first_step_s"]), "call start to first callback"),
        ("VAE encode", lambda r: _seconds(r["vae_encode_s"]), "engine._encode, after the call (warm)"),
        ("VAE decode", lambda r: _seconds(r["vae_decode_s"]), "engine._decode, after the call (warm)"),
        ("text encoder (2 prompts)", lambda r: _seconds(r["text_encode_s"]), "engine._text_embeddings, warm"),
        ("total for one window", total,
         f"default: measured call + ({total_steps} - measured steps) x per-step; LCM: the measured call"),
        ("CPU share during the call", lambda r: f"{r['call_cpu_s'] / (r['call_s'] * r['threads']):.0%}",
         "process CPU s / (wall s x threads); well below 100% means other load slowed the run"),
        ("1-min load average, before / after call", lambda r: f"{r['load_before_call']:.1f} / {r['load_after_call']:.1f}",
         f"os.getloadavg(); the machine has {os.cpu_count()} cores"),
        ("peak RSS", lambda r: _gib(r["maxrss"]), "ru_maxrss of the configuration's own process"),
        ("RSS peak after model build", lambda r: _gib(r["maxrss_after_build"]), "ru_maxrss before LoRA and call"),
        ("model build (random init)", lambda r: _seconds(r["build_s"]), "not part of a real load"),
    ]
    if lcm is not None:
        rows.append(("LoRA load (from_pipe + load_lora_weights)",
                     lambda r: _seconds(r.get("lora_load_s")) if "lora_load_s" in r else "-", "first fast call only"))
    size = next(iter(results.values()))["size"]
    header = [f"{size}x{size} px, fp32"] + [titles[name] for name in columns] + ["how"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for label, cell, how in rows:
        lines.append("| " + " | ".join([label] + [cell(results[name]) for name in columns] + [how]) + " |")

    params = (default or lcm)["params"]
    lines += ["", "| parameters | count |", "|---|---|"]
    for name, label in (("unet", "UNet (9-channel)"), ("vae", "VAE"), ("text_encoder", "CLIP text encoder")):
        lines.append(f"| {label} | {_millions(params[name])} |")
    if lcm is not None:
        lines.append(f"| LCM-LoRA (random, rank {LCM_LORA_RANK}, {len(LCM_LORA_TARGETS)} module kinds) | "
                     f"{_millions(lcm['params']['lcm_lora'])} |")
    return "\n".join(lines)


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=512, help="square window side in px (default 512)")
    parser.add_argument("--steps", type=int, default=25, help="default-sampler steps for the extrapolated total")
    parser.add_argument("--measure-steps", type=int, default=3,
                        help="default-sampler steps actually run (>= 2 for a per-step time; default 3)")
    parser.add_argument("--lcm-steps", type=int, default=4, help="LCM steps, run and measured (default 4)")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--configurations", default=",".join(CONFIGURATIONS),
                        help="comma-separated subset of: " + ", ".join(CONFIGURATIONS))
    parser.add_argument("--worker", choices=CONFIGURATIONS, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker:
        sys.path.insert(0, str(ROOT))
        result = measure(args.worker, size=args.size, steps=args.steps, threads=args.threads)
        args.result.write_text(json.dumps(result))
        return

    configurations = [name.strip() for name in args.configurations.split(",") if name.strip()]
    unknown = sorted(set(configurations) - set(CONFIGURATIONS))
    if unknown:
        parser.error(f"unknown configuration(s) {unknown}; choose from {', '.join(CONFIGURATIONS)}")
    if args.size % 8 or args.size < 64:
        parser.error(f"--size must be a multiple of 8 and at least 64, got {args.size}")
    if args.measure_steps < 2 or args.lcm_steps < 1 or args.steps < 1:
        parser.error("--measure-steps must be >= 2, --lcm-steps and --steps >= 1")

    import diffusers
    import torch

    started = time.perf_counter()
    load_at_start = os.getloadavg()[0]
    results = {}
    for name in configurations:
        steps = args.lcm_steps if name == "lcm" else args.measure_steps
        results[name] = run_in_subprocess(name, size=args.size, steps=steps, threads=args.threads)
    print(f"Command: `python {shlex.join(sys.argv)}`")
    print(f"Date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(f"torch {torch.__version__}, diffusers {diffusers.__version__}, "
          f"{next(iter(results.values()))['threads']} CPU threads (torch.set_num_threads), {_cpu_name()}")
    print("Random weights in the real SD 1.5 inpainting configuration (cost does not depend on weights); "
          f"each configuration ran in a fresh process. Benchmark wall time {time.perf_counter() - started:.0f} s; "
          f"1-min load average at start {load_at_start:.1f} on {os.cpu_count()} cores; process niceness {os.nice(0)}.")
    print()
    print(table(results, total_steps=args.steps))
    for name, result in results.items():
        share = result["call_cpu_s"] / (result["call_s"] * result["threads"])
        if share < 0.8:
            print(f"\nWarning: {name} got only {share:.0%} of its {result['threads']} threads during the call "
                  f"(1-min load average {result['load_before_call']:.1f} on {os.cpu_count()} cores): other processes "
                  "shared the CPU, so its wall times are inflated. Re-run on an idle machine.")
        if not result["output_finite"]:
            print(f"\nNote: {name} produced non-finite pixels (random weights); timings are unaffected.")


if __name__ == "__main__":
    main()
