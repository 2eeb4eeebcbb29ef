"""Tiny random diffusion components, saved where the real weights would be.

The development and CI machines reach no model hub, so tests build a Stable Diffusion
inpainting pipeline from small configs (9-channel UNet with ``block_out_channels=(32, 64)``,
a small AutoencoderKL, a tiny CLIP text model and a CLIP tokenizer written from a made-up
vocabulary), save it in the hub cache layout under the manifest's repository and revision, and
let the app load it through the real code path (``weights.resolve`` -> ``from_pretrained``).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from restoration import weights

_TOKENIZER_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789,.!-' "


def tiny_inpaint_pipeline(seed: int = 0):
    """A random StableDiffusionInpaintPipeline small enough to run 64 px images in a second."""
    from diffusers import AutoencoderKL, PNDMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=1,
        sample_size=32,
        in_channels=9,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=(2, 4),
        norm_num_groups=16,
    )
    vae = AutoencoderKL(
        block_out_channels=(32, 64),
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 2,
        up_block_types=("UpDecoderBlock2D",) * 2,
        latent_channels=4,
        norm_num_groups=16,
    )
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
            hidden_size=32,
            intermediate_size=37,
            layer_norm_eps=1e-05,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=len(_tokenizer_vocabulary()),
            max_position_embeddings=77,
        )
    )
    scheduler = PNDMScheduler(skip_prk_steps=True, steps_offset=1)
    return StableDiffusionInpaintPipeline(
        unet=unet,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=_tiny_tokenizer(),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def _tokenizer_vocabulary() -> dict[str, int]:
    tokens = ["<|startoftext|>", "<|endoftext|>"]
    tokens += list(_TOKENIZER_ALPHABET.strip()) + [c + "</w>" for c in _TOKENIZER_ALPHABET.strip()]
    return {token: index for index, token in enumerate(tokens)}


def write_tokenizer_files(folder: Path) -> Path:
    """Write a tiny CLIP tokenizer in the published SD 1.5 layout (vocab.json, merges.txt,
    special_tokens_map.json, tokenizer_config.json) and return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("tokenizer*.json"):
        stale.unlink()
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
               "pad_token": "<|endoftext|>"}
    (folder / "vocab.json").write_text(json.dumps(_tokenizer_vocabulary()))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    (folder / "special_tokens_map.json").write_text(json.dumps(special))
    config = special | {"tokenizer_class": "CLIPTokenizer", "model_max_length": 77, "do_lower_case": True}
    (folder / "tokenizer_config.json").write_text(json.dumps(config))
    return folder


def _tiny_tokenizer():
    import tempfile

    from transformers import CLIPTokenizer

    return CLIPTokenizer.from_pretrained(str(write_tokenizer_files(Path(tempfile.mkdtemp(prefix="tiny-clip-")))))


def save_to_hub_cache(pipeline, cache: Path, name: str = "sd15-inpainting") -> Path:
    """Save ``pipeline`` as the manifest's ``name`` in the hub cache layout under ``cache``.

    Returns the snapshot folder. Every file the manifest lists must be written, which also
    checks that the manifest's file list matches what diffusers saves.
    """
    entry = weights.load_manifest()[name]
    snapshot = _snapshot_folder(cache, entry)
    pipeline.save_pretrained(snapshot, variant=entry.variant, safe_serialization=True)
    write_tokenizer_files(snapshot / "tokenizer")
    missing = [f.path for f in entry.files if not (snapshot / f.path).is_file()]
    if missing:
        raise AssertionError(f"the saved pipeline lacks manifest files: {missing}")
    return snapshot


def save_lora_to_hub_cache(unet, cache: Path, name: str = "lcm-lora-sdv15", seed: int = 1) -> Path:
    """Save a random LoRA for ``unet`` (left unchanged) as the manifest's LCM-LoRA entry."""
    import copy

    from diffusers import StableDiffusionInpaintPipeline
    from diffusers.utils import convert_state_dict_to_diffusers
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    torch.manual_seed(seed)
    adapted = copy.deepcopy(unet)
    adapted.add_adapter(LoraConfig(r=4, lora_alpha=4, init_lora_weights="gaussian",
                                   target_modules=["to_q", "to_k", "to_v", "to_out.0"]))
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(adapted))
    snapshot = _snapshot_folder(cache, weights.load_manifest()[name])
    StableDiffusionInpaintPipeline.save_lora_weights(snapshot, unet_lora_layers=layers, safe_serialization=True)
    return snapshot


def _snapshot_folder(cache: Path, entry: weights.ModelEntry) -> Path:
    """``<cache>/models--<org>--<name>/snapshots/<revision>``, with ``refs/main`` pointing at it."""
    revision = entry.revision or "0" * 40
    repo_folder = cache / ("models--" + entry.repo.replace("/", "--"))
    (repo_folder / "refs").mkdir(parents=True, exist_ok=True)
    (repo_folder / "refs" / "main").write_text(revision)
    return repo_folder / "snapshots" / revision


def lora_active(unet) -> bool:
    """True when any peft LoRA layer of ``unet`` is enabled with an active adapter."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    layers = [m for m in unet.modules() if isinstance(m, BaseTunerLayer)]
    return any(not layer.disable_adapters and layer.active_adapters for layer in layers)
