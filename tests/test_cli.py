"""python -m restoration: folders, resume, reports, masks, exit codes and one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import bundled_photo, save_uint8, scratched, smooth_photo
from PIL import Image

from restoration.cli import EXIT_BAD_INPUT, EXIT_NO_WEIGHTS, EXIT_OK, EXIT_SOME_FAILED, main


@pytest.fixture
def folder(tmp_path):
    """A folder with two scratched photos (JPEG and PNG) and one file that is not an image."""
    inputs = tmp_path / "scans"
    inputs.mkdir()
    damaged, _ = scratched(smooth_photo(80, 100))
    save_uint8(damaged, inputs / "first.jpg")
    save_uint8(damaged[:, ::-1], inputs / "second.png")
    (inputs / "notes.png").write_text("this is not an image")
    return inputs


def test_folder_run_keeps_going_past_a_bad_file_and_reports(folder, tmp_path, capsys):
    out, report = tmp_path / "out", tmp_path / "report.json"
    code = main(["restore", str(folder), "--output", str(out), "--engine", "classical", "--save-mask", "--report", str(report)])
    assert code == EXIT_SOME_FAILED
    assert sorted(p.name for p in out.iterdir()) == ["first.mask.png", "first.png", "second.mask.png", "second.png"]
    with Image.open(out / "first.png") as restored, Image.open(out / "first.mask.png") as mask:
        assert restored.format == "PNG" and restored.size == (100, 80)
        assert mask.mode == "L" and mask.size == (100, 80) and 0 < np.asarray(mask).mean() < 255
    document = json.loads(report.read_text())
    entries = {entry["input"].rsplit("/", 1)[-1]: entry for entry in document["inputs"]}
    assert document["summary"] == {"done": 2, "skipped": 0, "error": 1}
    assert entries["first.jpg"]["engine"] == "classical"
    assert entries["first.jpg"]["stages"][0]["findings"]["coverage_percent"] > 0
    assert "not an image" in entries["notes.png"]["error"]
    assert "error: " in capsys.readouterr().err


def test_existing_outputs_are_skipped_unless_overwrite(folder, tmp_path):
    out = tmp_path / "out"
    args = ["restore", str(folder / "first.jpg"), "--output", str(out), "--engine", "classical"]
    assert main(args) == EXIT_OK
    (out / "first.png").write_bytes(b"sentinel")
    assert main(args) == EXIT_OK
    assert (out / "first.png").read_bytes() == b"sentinel"
    assert main(args + ["--overwrite"]) == EXIT_OK
    assert (out / "first.png").read_bytes().startswith(b"\x89PNG")


def test_user_mask_and_its_size_check(folder, tmp_path, capsys):
    mask_path = tmp_path / "mask.png"
    Image.fromarray(np.zeros((10, 10), np.uint8)).save(mask_path)
    code = main(["restore", str(folder / "first.jpg"), "--output", str(tmp_path / "o"), "--mask", str(mask_path), "--engine", "classical"])
    assert code == EXIT_BAD_INPUT
    assert "mask is 10x10 but the photo is 100x80" in capsys.readouterr().err


def test_detect_scratches_writes_a_mask_of_the_photo_size(tmp_path):
    damaged, truth = scratched(smooth_photo(80, 100))
    save_uint8(damaged, tmp_path / "scan.png")
    assert main(["detect-scratches", str(tmp_path / "scan.png"), "--output", str(tmp_path / "scan.mask.png")]) == EXIT_OK
    mask = np.asarray(Image.open(tmp_path / "scan.mask.png"))
    assert mask.shape == truth.shape and (mask[truth] == 255).mean() > 0.9


def test_detect_scratches_uses_the_learned_detector_unless_told(tmp_path):
    from restoration.imageio import load_photo
    from restoration.pipeline import detect_scratches

    damaged, _ = scratched(bundled_photo("astronaut", 192))
    save_uint8(damaged, tmp_path / "scan.png")
    pixels = load_photo(tmp_path / "scan.png").pixels
    written = {}
    for detector in ("learned", "classical"):
        extra = ["--detector", detector] if detector == "classical" else []
        out = tmp_path / f"{detector}.mask.png"
        assert main(["detect-scratches", str(tmp_path / "scan.png"), "--output", str(out), *extra]) == EXIT_OK
        written[detector] = np.asarray(Image.open(out)) == 255
        assert np.array_equal(written[detector], detect_scratches(pixels, detector=detector) > 0.5)
    assert not np.array_equal(written["learned"], written["classical"])
    with pytest.raises(SystemExit) as stopped:
        main(["detect-scratches", str(tmp_path / "scan.png"), "--output", str(out), "--detector", "neural"])
    assert stopped.value.code == 2


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["restore", "{missing}", "--output", "{out}"], EXIT_BAD_INPUT, "does not exist"),
        (["restore", "{bad}", "--output", "{out}"], EXIT_BAD_INPUT, "not an image"),
        (["restore", "{good}", "--output", "{out}", "--tasks", "colorize", "--engine", "classical"], EXIT_BAD_INPUT,
         "colorize needs a colour reference"),
        (["restore", "{good}", "--output", "{out}", "--engine", "diffusion"], EXIT_NO_WEIGHTS, "weights download"),
        (["restore", "{good}", "--output", "{out}", "--tasks", "scratch", "--reference", "{good}"], EXIT_BAD_INPUT,
         "--reference is used by the colorize task only"),
        (["restore", "{good}", "--output", "{out}", "--sensitivity", "3"], EXIT_BAD_INPUT, "between 0 and 1"),
        (["restore", "{good}", "--output", "{out}", "--tasks", "scratch", "--grain", "4"], EXIT_BAD_INPUT,
         "--grain: option(s) of the denoise task, which is not in --tasks"),
        (["restore", "{good}", "--output", "{out}", "--tasks", "denoise", "--grain", "99"], EXIT_BAD_INPUT,
         "grain must be between 0 and 50"),
        (["restore", "{good}", "--output", "{out}", "--engine", "classical", "--damage-prior"], EXIT_BAD_INPUT,
         "need the diffusion engine"),
        (["restore", "{good}", "--output", "{out}", "--engine", "diffusion", "--fast", "--resample", "2"], EXIT_BAD_INPUT,
         "not fast mode"),
        (["detect-scratches", "{bad}", "--output", "{out}/m.png"], EXIT_BAD_INPUT, "not an image"),
        (["weights", "verify"], EXIT_NO_WEIGHTS, "missing"),
    ],
)
def test_errors_are_one_line_with_exit_codes(folder, tmp_path, capsys, args, code, message):
    values = {"missing": str(tmp_path / "nope.jpg"), "out": str(tmp_path / "out"), "bad": str(folder / "notes.png"),
              "good": str(folder / "first.jpg")}
    assert main([a.format(**values) for a in args]) == code
    captured = capsys.readouterr()
    assert message in captured.err + captured.out
    errors = [line for line in captured.err.splitlines() if line.startswith("error:")]
    assert len(errors) <= 1


def test_weights_status_lists_every_file_offline(capsys):
    assert main(["weights", "status"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "missing   sd15-inpainting" in out and "unet/diffusion_pytorch_model.fp16.safetensors" in out


def test_module_entry_point_prints_one_error_line(tmp_path):
    bad = tmp_path / "empty.jpg"
    bad.write_bytes(b"")
    completed = subprocess.run(
        [sys.executable, "-m", "restoration", "detect-scratches", str(bad), "--output", str(tmp_path / "m.png")],
        capture_output=True, text=True, timeout=120, cwd=Path(__file__).resolve().parent.parent,
    )
    assert completed.returncode == EXIT_BAD_INPUT
    assert completed.stderr.strip().startswith("error: ") and len(completed.stderr.strip().splitlines()) == 1
    assert "empty" in completed.stderr


def wide_tear(tmp_path) -> Path:
    """A mask (for the 100 x 80 photos of ``folder``) marking a 16 px wide tear: damage that the
    diffusion engine repaints (thin scratches keep the classical fill)."""
    mask = np.zeros((80, 100), np.uint8)
    mask[30:46, 20:80] = 255
    path = tmp_path / "tear.png"
    Image.fromarray(mask).save(path)
    return path


def test_diffusion_engine_from_the_command_line(folder, tmp_path, tiny_weights):
    report = tmp_path / "report.json"
    args = ["restore", str(folder / "first.jpg"), "--output", str(tmp_path / "out"), "--engine", "diffusion",
            "--steps", "2", "--seed", "5", "--mask", str(wide_tear(tmp_path)), "--report", str(report)]
    assert main(args) == EXIT_OK
    entry = json.loads(report.read_text())["inputs"][0]
    assert entry["engine"] == "diffusion" and entry["stages"][0]["findings"]["windows"] >= 1
    with Image.open(tmp_path / "out" / "first.png") as restored:
        assert restored.size == (100, 80)


def test_resample_and_damage_prior_reach_the_engine_from_the_command_line(folder, tmp_path, tiny_weights, monkeypatch):
    from restoration import engine

    calls = {"prior": 0, "resample": []}
    original_prior, original_inpaint = engine.DiffusionEngine.damage_prior, engine.DiffusionEngine.inpaint

    def prior_spy(self, image, **kwargs):
        calls["prior"] += 1
        return original_prior(self, image, **kwargs)

    def inpaint_spy(self, image, mask, settings, **kwargs):
        calls["resample"].append(settings.resample)
        return original_inpaint(self, image, mask, settings, **kwargs)

    monkeypatch.setattr(engine.DiffusionEngine, "damage_prior", prior_spy)
    monkeypatch.setattr(engine.DiffusionEngine, "inpaint", inpaint_spy)
    report = tmp_path / "report.json"
    args = ["restore", str(folder / "first.jpg"), "--output", str(tmp_path / "out"), "--engine", "diffusion",
            "--tasks", "scratch", "--steps", "2", "--resample", "2", "--damage-prior", "--sensitivity", "0.3",
            "--mask", str(wide_tear(tmp_path)), "--report", str(report)]
    assert main(args) == EXIT_OK
    findings = json.loads(report.read_text())["inputs"][0]["stages"][0]["findings"]
    assert calls["resample"] and set(calls["resample"]) == {2}
    assert findings["prior_windows"] == calls["prior"]


def test_weights_commands_cover_what_the_available_stages_need(capsys):
    assert main(["weights", "status"]) == EXIT_OK
    listed = capsys.readouterr().out
    assert "sd15-inpainting" in listed and "lcm-lora-sdv15" in listed
    assert "facexlib-retinaface" in listed  # the face stage's detector
    assert "facexlib-parsenet" not in listed  # non-commercial: opt-in, listed only by name
    assert main(["weights", "verify"]) == EXIT_NO_WEIGHTS
    assert "facexlib-parsenet" not in capsys.readouterr().out
    assert main(["weights", "status", "--model", "facexlib-parsenet"]) == EXIT_OK  # opt-in, by name
    assert "facexlib-parsenet" in capsys.readouterr().out


def test_denoise_task_with_its_own_flags(folder, tmp_path):
    report = tmp_path / "report.json"
    args = ["restore", str(folder / "first.jpg"), "--output", str(tmp_path / "out"), "--tasks", "denoise",
            "--grain", "4", "--sharpen", "0", "--no-keep-tone", "--engine", "classical", "--report", str(report)]
    assert main(args) == EXIT_OK
    entry = json.loads(report.read_text())["inputs"][0]
    assert [stage["name"] for stage in entry["stages"]] == ["denoise"]
    assert entry["stages"][0]["findings"]["applied"]["grain_levels"] == 4.0
    with Image.open(tmp_path / "out" / "first.png") as restored:
        assert restored.size == (100, 80)


def test_the_default_tasks_are_every_stage_and_colorize_with_a_reference(folder, tmp_path):
    report = tmp_path / "report.json"
    args = ["restore", str(folder / "first.jpg"), "--output", str(tmp_path / "out"), "--engine", "classical",
            "--report", str(report)]
    assert main(args) == EXIT_OK
    names = [stage["name"] for stage in json.loads(report.read_text())["inputs"][0]["stages"]]
    assert names == ["scratch", "denoise", "face"]
    reference = tmp_path / "reference.png"
    save_uint8(bundled_photo("chelsea", 120), reference)
    assert main(args + ["--reference", str(reference), "--overwrite"]) == EXIT_OK
    names = [stage["name"] for stage in json.loads(report.read_text())["inputs"][0]["stages"]]
    assert names == ["scratch", "denoise", "face", "colorize"]


def test_the_report_and_the_printed_summary_list_every_stage_run_even_one_that_changed_nothing(folder, tmp_path, capsys):
    source = folder / "first.jpg"
    before = source.read_bytes()
    report = tmp_path / "report.json"
    args = ["restore", str(source), "--output", str(tmp_path / "out"), "--engine", "classical", "--seed", "3",
            "--sensitivity", "0.6", "--report", str(report)]
    assert main(args) == EXIT_OK
    assert source.read_bytes() == before  # the input is only read
    stages = json.loads(report.read_text())["inputs"][0]["stages"]
    assert [stage["name"] for stage in stages] == ["scratch", "denoise", "face"]
    changed = {stage["name"]: stage["changed_percent"] for stage in stages}
    assert changed["scratch"] > 0 and changed["face"] == 0  # a smooth photo has no face to change
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith(f"{source} -> {tmp_path / 'out' / 'first.png'} (classical engine")
    lines = {line.split()[0]: line for line in printed[1:]}
    assert list(lines)[:3] == ["scratch", "denoise", "face"]
    assert f"changed {changed['scratch']:g} % of the pixels" in lines["scratch"]
    assert "changed nothing; No faces were found" in lines["face"]
    # The same account is in the output's XMP history (restoration.provenance), with the seed and settings.
    with Image.open(tmp_path / "out" / "first.png") as restored:
        packet = restored.text["XML:com.adobe.xmp"]
    assert packet.count("<stEvt:action>edited</stEvt:action>") == 3 and "sensitivity=0.6" in packet
    assert "<restoration:Seed>3</restoration:Seed>" in packet and "<restoration:Engine>classical</restoration:Engine>" in packet
    assert main(args) == EXIT_OK  # a second run skips the existing output and says so
    assert "skipped, output exists" in capsys.readouterr().out


def test_the_default_chain_is_every_stage_but_colorize_which_waits_for_a_reference_or_hints():
    from restoration.pipeline import STAGES, default_tasks

    waiting = {stage.name: stage.chained_when for stage in STAGES if stage.chained_when}
    assert waiting == {"colorize": ("reference", "hints")}  # no other stage is left out of the chain
    every = tuple(stage.name for stage in STAGES)
    assert default_tasks() == tuple(name for name in every if name != "colorize")
    assert default_tasks({"reference"}) == default_tasks({"hints"}) == default_tasks({"mask", "hints"}) == every
    assert default_tasks({"mask"}) == default_tasks()
