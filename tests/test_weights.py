"""weights_manifest.yaml and the resolver: real published values, local-only resolution."""

import hashlib
import re
import time

import pytest

from restoration import weights
from restoration.errors import InputError, WeightsUnavailableError

HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _url_manifest(folder, file_line: str) -> dict:
    """A one-entry manifest of a URL model named ``tiny`` whose one file is ``file_line``."""
    path = folder / "manifest.yaml"
    path.write_text(
        "version: 1\nmodels:\n  tiny:\n    source: {type: url, url: 'http://127.0.0.1:9/tiny.bin'}\n"
        f"    licence: MIT\n    used_by: [test]\n    files:\n      - {file_line}\n"
    )
    return weights.load_manifest(path)


def test_manifest_lists_every_model_the_app_loads():
    manifest = weights.load_manifest()
    assert {"sd15-inpainting", "lcm-lora-sdv15", "facexlib-retinaface", "facexlib-parsenet"} <= set(manifest)
    sd = manifest["sd15-inpainting"]
    assert sd.repo == "stable-diffusion-v1-5/stable-diffusion-inpainting"
    assert re.fullmatch(r"[0-9a-f]{40}", sd.revision)
    paths = {f.path for f in sd.files}
    for component in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        assert any(p.startswith(component + "/") for p in paths), component
    assert not any(p.endswith((".bin", ".ckpt", ".pth")) for p in paths)


def test_manifest_values_are_well_formed():
    for entry in weights.load_manifest().values():
        assert entry.licence and entry.used_by and entry.files, entry.name
        for weight_file in entry.files:
            assert weight_file.sha256 is None or HEX64.match(weight_file.sha256), weight_file.path
            assert weight_file.size is None or weight_file.size > 0
            if weight_file.path.endswith((".safetensors", ".pth")):
                assert weight_file.sha256 and weight_file.size > 1_000_000, weight_file.path


def test_status_offline_is_fast_and_reports_missing():
    started = time.perf_counter()
    states = weights.file_states()
    assert time.perf_counter() - started < 1.0
    assert states and all(state.state == "missing" for state in states)
    assert "weights download --model" in states[0].detail


def test_verify_reports_files_that_differ_from_the_published_ones(tiny_weights):
    states = {(s.model, s.path): s for s in weights.verify()}
    # the tiny random model is present, but it is not the published one: sizes and hashes differ
    config = states[("sd15-inpainting", "model_index.json")]
    assert config.state == "mismatch" and "expected 548" in config.detail
    assert states[("sd15-inpainting", "unet/diffusion_pytorch_model.fp16.safetensors")].state == "mismatch"
    assert states[("facexlib-retinaface", "detection_Resnet50_Final.pth")].state == "missing"


def test_verify_reports_a_file_without_published_hash_as_unpinned(tmp_path, monkeypatch):
    monkeypatch.setenv("RESTORATION_CACHE_DIR", str(tmp_path))
    manifest = _url_manifest(tmp_path, "{path: tiny.json, sha256: null, size: 2}")
    (tmp_path / "restoration" / "tiny").mkdir(parents=True)
    (tmp_path / "restoration" / "tiny" / "tiny.json").write_text("{}")
    assert [s.state for s in weights.verify(manifest=manifest)] == ["unpinned"]


def test_verify_accepts_a_file_matching_its_hash(tmp_path, monkeypatch):
    monkeypatch.setenv("RESTORATION_CACHE_DIR", str(tmp_path))
    payload = b"restoration weights"
    digest = hashlib.sha256(payload).hexdigest()
    manifest = _url_manifest(tmp_path, f"{{path: tiny.safetensors, sha256: {digest}, size: {len(payload)}}}")
    folder = tmp_path / "restoration" / "tiny"
    folder.mkdir(parents=True)
    (folder / "tiny.safetensors").write_bytes(payload)
    assert [s.state for s in weights.verify(manifest=manifest)] == ["ok"]
    assert weights.resolve("tiny", manifest=manifest) == folder


def test_download_failure_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("RESTORATION_CACHE_DIR", str(tmp_path))
    manifest = _url_manifest(tmp_path, "{path: tiny.safetensors, sha256: null, size: null}")
    started = time.perf_counter()
    with pytest.raises(WeightsUnavailableError, match="could not download tiny"):
        weights.download(manifest=manifest)
    assert time.perf_counter() - started < 5.0
    assert not list((tmp_path / "restoration" / "tiny").glob("*"))


def test_unknown_model_and_broken_manifest(tmp_path):
    with pytest.raises(InputError, match="no model named 'nope'"):
        weights.resolve("nope")
    broken = tmp_path / "broken.yaml"
    broken.write_text("models: [")
    with pytest.raises(InputError, match="cannot read the weights manifest"):
        weights.load_manifest(broken)
