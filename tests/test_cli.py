"""python -m restoration: folders, resume, reports, masks, exit codes and one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from helpers import save_uint8, scratched, smooth_photo
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


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["restore", "{missing}", "--output", "{out}"], EXIT_BAD_INPUT, "does not exist"),
        (["restore", "{bad}", "--output", "{out}"], EXIT_BAD_INPUT, "not an image"),
        (["restore", "{good}", "--output", "{out}", "--tasks", "denoise"], EXIT_BAD_INPUT, "not available yet"),
        (["restore", "{good}", "--output", "{out}", "--engine", "diffusion"], EXIT_NO_WEIGHTS, "weights download"),
        (["restore", "{good}", "--output", "{out}", "--reference", "{good}"], EXIT_BAD_INPUT, "colorize task only"),
        (["restore", "{good}", "--output", "{out}", "--sensitivity", "3"], EXIT_BAD_INPUT, "between 0 and 1"),
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


def test_diffusion_engine_from_the_command_line(folder, tmp_path, tiny_weights):
    report = tmp_path / "report.json"
    args = ["restore", str(folder / "first.jpg"), "--output", str(tmp_path / "out"), "--engine", "diffusion",
            "--steps", "2", "--seed", "5", "--report", str(report)]
    assert main(args) == EXIT_OK
    entry = json.loads(report.read_text())["inputs"][0]
    assert entry["engine"] == "diffusion" and entry["stages"][0]["findings"]["windows"] == 1
    with Image.open(tmp_path / "out" / "first.png") as restored:
        assert restored.size == (100, 80)
