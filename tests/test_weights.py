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


# --- which models a command handles: the enabled stages' needs, never opt-in ones by default ---

ENABLED = ("scratch",)  # the stages the pipeline has today
FACEXLIB = {"facexlib-retinaface", "facexlib-parsenet"}


def test_default_selection_for_the_enabled_stages_leaves_out_facexlib():
    chosen = weights.models_for(ENABLED)
    assert set(chosen) == {"sd15-inpainting", "lcm-lora-sdv15"}
    assert not FACEXLIB & set(weights.select(stages=ENABLED))
    assert set(weights.models_for(ENABLED, fast_mode=False)) == {"sd15-inpainting"}


def test_verify_of_the_default_selection_in_an_empty_cache_ignores_facexlib():
    states = weights.verify(stages=ENABLED)
    assert {s.model for s in states} == {"sd15-inpainting", "lcm-lora-sdv15"}
    assert all(s.state in {"missing", "unpinned"} for s in states)
    status = weights.file_states(stages=ENABLED)
    assert status and not FACEXLIB & {s.model for s in status}


def test_the_non_commercial_parser_is_opt_in_even_with_the_face_stage():
    manifest = weights.load_manifest()
    assert manifest["facexlib-parsenet"].opt_in and "NC" in manifest["facexlib-parsenet"].licence
    assert not manifest["facexlib-retinaface"].opt_in
    with_face = weights.models_for(("scratch", "face"))
    assert "facexlib-retinaface" in with_face and "facexlib-parsenet" not in with_face
    assert "facexlib-parsenet" not in weights.select()  # no stages given: every model that is not opt-in
    assert list(weights.select(["facexlib-parsenet"], stages=ENABLED)) == ["facexlib-parsenet"]  # names win


def _record_fetches(monkeypatch) -> list:
    """Replace the hub and URL fetchers with recorders; the URL fetcher fails like a dead network."""
    import huggingface_hub

    calls = []
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda repo, **kw: calls.append(("hub", repo)))

    def urlopen(url, timeout=None):
        calls.append(("url", url))
        raise OSError("network is unreachable (test)")

    monkeypatch.setattr(weights.urllib.request, "urlopen", urlopen)
    return calls


def test_download_for_the_enabled_stages_fetches_only_their_models(monkeypatch):
    calls = _record_fetches(monkeypatch)
    states = weights.download(None, stages=ENABLED)
    assert calls == [
        ("hub", "stable-diffusion-v1-5/stable-diffusion-inpainting"),
        ("hub", "latent-consistency/lcm-lora-sdv1-5"),
    ]
    assert {s.model for s in states} == {"sd15-inpainting", "lcm-lora-sdv15"}


def test_download_by_name_fetches_an_opt_in_model_with_a_warning(monkeypatch, caplog):
    calls = _record_fetches(monkeypatch)
    with pytest.raises(WeightsUnavailableError, match="could not download facexlib-parsenet"):
        weights.download(["facexlib-parsenet"], stages=ENABLED)
    assert calls == [("url", "https://github.com/xinntao/facexlib/releases/download/v0.2.2/parsing_parsenet.pth")]
    assert "opt-in" in caplog.text and "CC-BY-NC-SA-4.0" in caplog.text


def test_selection_errors_are_clear(tmp_path):
    with pytest.raises(InputError, match=r"use \('scratch',\)"):
        weights.models_for("scratch")
    with pytest.raises(InputError, match=r"use \['sd15-inpainting'\]"):
        weights.download("sd15-inpainting")
    with pytest.raises(InputError, match="unknown model.*nope"):
        weights.verify(["nope"])
    path = tmp_path / "manifest.yaml"
    path.write_text(
        "models:\n  tiny:\n    source: {type: url, url: 'http://127.0.0.1:9/t'}\n    used_by: [scratch]\n"
        "    opt_in: maybe\n    files: [{path: t.bin}]\n"
    )
    with pytest.raises(InputError, match="opt_in must be true or false"):
        weights.load_manifest(path)
