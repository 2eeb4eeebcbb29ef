"""The face stage: detection, restoration on both engines, seamless paste-back, tone rules,
the facexlib networks from random weights, the CLI task and the app's handlers."""

import json
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import bundled_photo, save_uint8, smooth_photo

from restoration import RestoreOptions, face_models, faces, imageio, restore
from restoration.errors import InputError, WeightsUnavailableError
from restoration.stages import face as face_stage
from restoration.stages.context import StageContext
from restoration.stages.face import FaceOptions, face_numbers, find_faces, strength_for

sys.path.insert(0, str(Path(__file__).absolute().parents[1]))

CLASSICAL = RestoreOptions(engine="classical")
EXAMPLES = Path(__file__).absolute().parents[1] / "examples"
ASTRONAUT_FACE_CENTRE = (113, 65)  # px in the 256 px astronaut: between the eyes


def _grainy(photo: np.ndarray, levels: float = 10.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.standard_normal(photo.shape[:2]).astype(np.float32), (0, 0), 0.8)
    noise *= levels / 255.0 / noise.std()
    return np.clip(photo + noise[..., None], 0.0, 1.0).astype(np.float32)


def _sepia(photo: np.ndarray) -> np.ndarray:
    luma = photo @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.clip(luma[..., None] * np.array([1.07, 0.95, 0.76], np.float32) + 0.02, 0, 1).astype(np.float32)


def _run_stage(image: np.ndarray, options: FaceOptions = FaceOptions()):
    return face_stage.run(image, StageContext(options=CLASSICAL, stage_options=options))


@pytest.fixture(scope="module")
def astronaut():
    return _grainy(bundled_photo("astronaut", 256))


@pytest.fixture(scope="module")
def astronaut_output(astronaut):
    return _run_stage(astronaut)


def _contains(box, point) -> bool:
    x, y, w, h = box
    return x <= point[0] <= x + w and y <= point[1] <= y + h


# --- detection -----------------------------------------------------------------------------------


def test_finds_the_astronauts_face_offline(astronaut):
    found = find_faces(astronaut)
    assert found.detector == "classical" and not found.notices
    assert any(_contains(face.box, ASTRONAUT_FACE_CENTRE) for face in found.faces)
    centres = [face.box[0] + face.box[2] / 2 for face in found.faces]
    assert centres == sorted(centres)  # numbered from the left
    entry = found.findings()[0]
    assert entry["number"] == 1 and len(entry["box"]) == 4 and len(entry["landmarks"]) == 5


def test_finds_the_faces_of_a_real_old_print():
    path = EXAMPLES / "1896NewsBoyGirl.jpg"  # the app's bundled examples (copies of ../shared/photos)
    found = find_faces(imageio.load_photo(path).pixels)
    assert len(found.faces) >= 2
    assert all(0 < face.score <= 1 and min(face.box[2:]) >= 24 for face in found.faces)


# --- restoration and paste-back ------------------------------------------------------------------


def test_faces_are_restored_and_reported(astronaut_output):
    findings = astronaut_output.findings
    assert findings["detector"] == "classical" and findings["parser"] == "ellipse"
    assert findings["faces"] and all(entry["restored"] for entry in findings["faces"])
    assert findings["noise_levels"] > 3 and "notice" not in findings


def test_the_face_gets_cleaner(astronaut, astronaut_output):
    clean = bundled_photo("astronaut", 256)
    inside = astronaut_output.mask > 0.9
    before = np.abs(astronaut - clean)[inside].mean()
    after = np.abs(astronaut_output.image - clean)[inside].mean()
    assert after < 0.9 * before  # part of the grain is given back on purpose


def test_pixels_away_from_faces_are_the_inputs_own(astronaut, astronaut_output):
    untouched = astronaut_output.mask == 0
    assert untouched.mean() > 0.5
    np.testing.assert_array_equal(astronaut_output.image[untouched], astronaut[untouched])
    through_pipeline = restore(astronaut, "face", CLASSICAL)
    np.testing.assert_array_equal(through_pipeline.image[untouched], astronaut[untouched])


def test_no_step_across_the_paste_boundary(astronaut, astronaut_output):
    """Across the mask's outer edge, neighbouring pixels change by almost the same amount."""
    change = (astronaut_output.image - astronaut) @ np.array([0.299, 0.587, 0.114], np.float32)
    mask = astronaut_output.mask
    steps = []
    for axis in (0, 1):
        inner = np.diff((mask > 0).astype(np.int8), axis=axis) != 0  # pairs straddling the boundary
        steps.append(np.abs(np.diff(change, axis=axis))[inner])
    step = np.concatenate(steps)
    assert step.size > 50
    assert step.mean() * 255 < 0.5  # under half an 8-bit level
    # and no visible ring: the change near the rim is small compared with the change inside
    rim = (mask > 0) & (mask < 0.2)
    assert np.abs(change[rim]).mean() < np.abs(change[mask > 0.9]).mean()


def test_gray_stays_gray_and_sepia_keeps_its_tone(astronaut):
    gray = np.repeat((astronaut @ np.array([0.299, 0.587, 0.114], np.float32))[..., None], 3, axis=2)
    output = _run_stage(gray).image
    assert np.array_equal(output[..., 0], output[..., 1]) and np.array_equal(output[..., 1], output[..., 2])
    sepia = _sepia(astronaut)
    result = _run_stage(sepia)
    assert result.findings["tone"] == "toned" and result.findings["faces"]
    changed = result.mask > 0
    for a, b in ((0, 1), (1, 2)):  # channel differences (the tone) do not move, up to clipping
        before = sepia[..., a] - sepia[..., b]
        after = result.image[..., a] - result.image[..., b]
        assert np.abs(after - before)[changed].max() < 2e-3


def test_left_out_faces_stay_as_they_are(astronaut, astronaut_output):
    first = astronaut_output.findings["faces"][0]
    output = _run_stage(astronaut, FaceOptions(exclude_faces=(1, 9)))
    entries = output.findings["faces"]
    assert entries[0]["restored"] is False and "No face numbered 9" in output.findings["notice"]
    x, y, w, h = first["box"]
    np.testing.assert_array_equal(output.image[y : y + h, x : x + w], astronaut[y : y + h, x : x + w]) if len(
        entries
    ) == 1 else None
    assert not np.array_equal(astronaut_output.image[y : y + h, x : x + w], astronaut[y : y + h, x : x + w])


def test_no_faces_found_leaves_the_photo_unchanged_with_a_notice():
    photo = smooth_photo(96, 128)
    result = restore(photo, "face", CLASSICAL)
    findings = result.stages[0].findings
    assert findings["faces"] == [] and "No faces were found" in findings["notice"]
    np.testing.assert_array_equal(result.image, photo)


# --- diffusion with the tiny model -------------------------------------------------------------------


def test_diffusion_refines_each_aligned_face_with_its_own_seed(astronaut, tiny_weights, monkeypatch):
    from restoration import engine

    calls = []
    original = engine.DiffusionEngine.inpaint

    def spy(self, image, mask, settings, **kwargs):
        calls.append((image.shape, settings.seed, settings.strength, float(mask.min())))
        return original(self, image, mask, settings, **kwargs)

    monkeypatch.setattr(engine.DiffusionEngine, "inpaint", spy)
    options = RestoreOptions(engine="diffusion", steps=2, seed=5, stages={"face": FaceOptions(fidelity=0.6)})
    first = restore(astronaut, "face", options)
    findings = first.stages[0].findings
    working = engine.get_engine().working_size
    assert first.engine == "diffusion" and first.image.shape == astronaut.shape
    assert len(calls) == len(findings["faces"]) >= 1
    assert {call[0] for call in calls} == {(working, working, 3)}
    assert [call[1] for call in calls] == [5 + entry["number"] - 1 for entry in findings["faces"]]
    assert all(call[2] == pytest.approx(strength_for(0.6)) and call[3] == 1.0 for call in calls)
    assert findings["strength"] == pytest.approx(strength_for(0.6), abs=1e-3)
    untouched = first.masks["face"] == 0
    np.testing.assert_array_equal(first.image[untouched], astronaut[untouched])
    np.testing.assert_array_equal(restore(astronaut, "face", options).image, first.image)


# --- facexlib networks from random weights -----------------------------------------------------------


@pytest.fixture(scope="module")
def facexlib_cache(tmp_path_factory):
    """Random-weight RetinaFace and ParseNet saved where weights.resolve looks for URL models."""
    import torch
    from facexlib.detection.retinaface import RetinaFace
    from facexlib.parsing.parsenet import ParseNet

    cache = tmp_path_factory.mktemp("facexlib-cache")
    torch.manual_seed(0)
    for model, file_name, network in (
        (face_models.RETINAFACE_MODEL, "detection_Resnet50_Final.pth", RetinaFace("resnet50", device="cpu")),
        (face_models.PARSENET_MODEL, "parsing_parsenet.pth", ParseNet(in_size=512, out_size=512, parsing_ch=19)),
    ):
        folder = cache / "restoration" / model
        folder.mkdir(parents=True)
        state = {("module." + k if model == face_models.RETINAFACE_MODEL else k): v for k, v in network.state_dict().items()}
        torch.save(state, folder / file_name)
    return cache


@pytest.fixture
def facexlib_weights(facexlib_cache, monkeypatch):
    monkeypatch.setenv("RESTORATION_CACHE_DIR", str(facexlib_cache))
    face_models.reset_face_models()
    yield facexlib_cache
    face_models.reset_face_models()


def test_random_weight_networks_load_through_the_real_code(facexlib_weights, astronaut, monkeypatch):
    import torch

    loads = []
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: loads.append(k.get("weights_only")) or real_load(*a, **k))
    detector = face_models.retinaface()
    assert detector is not None and face_models.retinaface() is detector  # loaded once
    assert face_models.parser_available() and face_models.parsenet() is not None
    assert loads == [True, True]
    found = find_faces(astronaut)
    assert found.detector == "retinaface"
    for face in found.faces:
        assert face.landmarks.shape == (5, 2) and max(face.box[2:]) >= 24
    crop = faces.warp_to_crop(astronaut, faces.alignment_matrix(faces.landmarks_from_box((89, 40, 49, 49))), 512)
    mask = face_models.parsed_face_mask(face_models.parsenet(), crop)
    assert mask.shape == (512, 512) and 0 <= mask.min() and mask.max() <= 1 and mask[:10].max() == 0


def test_the_parser_is_used_when_asked_and_its_absence_is_a_clear_error(facexlib_weights, monkeypatch, astronaut):
    monkeypatch.setattr(face_models, "retinaface", lambda: None)  # the offline detector finds the real face
    result = _run_stage(astronaut, FaceOptions(face_parser=True))
    assert result.findings["parser"] == "parsenet"
    monkeypatch.setenv("RESTORATION_CACHE_DIR", str(facexlib_weights / "elsewhere"))
    options = RestoreOptions(engine="classical", stages={"face": FaceOptions(face_parser=True)})
    with pytest.raises(WeightsUnavailableError, match="non-commercial"):
        restore(astronaut, "face", options)


def test_unreadable_detector_weights_fall_back_to_the_offline_detector(tmp_path, monkeypatch, astronaut):
    folder = tmp_path / "restoration" / face_models.RETINAFACE_MODEL
    folder.mkdir(parents=True)
    (folder / "detection_Resnet50_Final.pth").write_bytes(b"not a checkpoint")
    monkeypatch.setenv("RESTORATION_CACHE_DIR", str(tmp_path))
    face_models.reset_face_models()
    found = find_faces(astronaut)
    assert found.detector == "classical" and "could not be loaded" in found.notices[0]


# --- options and bad input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(fidelity=1.5), "fidelity must be between 0 and 1"),
        (dict(fidelity="high"), "fidelity must be between 0 and 1"),
        (dict(min_face_size=5), "min_face_size must be a whole number of px >= 12"),
        (dict(exclude_faces=(0,)), "face numbers start at 1"),
        (dict(exclude_faces="1,3"), "must be a list of face numbers"),
    ],
)
def test_bad_face_options(options, message):
    with pytest.raises(InputError, match=message):
        FaceOptions(**options)


def test_face_numbers_parse_the_command_line_form():
    assert face_numbers("1,3") == (1, 3) and face_numbers("2 4") == (2, 4) and face_numbers("") == ()
    with pytest.raises(ValueError, match="whole numbers"):
        face_numbers("one")
    assert FaceOptions(exclude_faces=[3, 1, 3]).exclude_faces == (1, 3)


def test_bad_image_is_refused():
    with pytest.raises(InputError):
        restore(np.zeros((4, 4), np.float32), "face", CLASSICAL)


# --- command line and app ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def astronaut_file(tmp_path_factory, astronaut):
    path = tmp_path_factory.mktemp("photos") / "astronaut.png"
    save_uint8(astronaut, path)
    return path


def test_cli_face_task_writes_the_photo_and_reports_boxes(astronaut_file, tmp_path):
    from restoration.cli import EXIT_OK, main

    report = tmp_path / "report.json"
    args = ["restore", str(astronaut_file), "--output", str(tmp_path / "out"), "--tasks", "face", "--engine",
            "classical", "--exclude-faces", "2,3", "--fidelity", "0.5", "--report", str(report)]
    assert main(args) == EXIT_OK
    written = imageio.load_photo(tmp_path / "out" / "astronaut.png")
    assert written.size == imageio.load_photo(astronaut_file).size
    entry = json.loads(report.read_text())["inputs"][0]
    findings = entry["stages"][0]["findings"]
    assert entry["stages"][0]["name"] == "face" and findings["fidelity"] == 0.5
    assert any(_contains(face["box"], ASTRONAUT_FACE_CENTRE) for face in findings["faces"])
    assert [face["restored"] for face in findings["faces"][1:3]] == [False] * len(findings["faces"][1:3])


def test_cli_refuses_bad_face_numbers(astronaut_file, tmp_path, capsys):
    from restoration.cli import main

    with pytest.raises(SystemExit):
        main(["restore", str(astronaut_file), "--output", str(tmp_path), "--tasks", "face", "--exclude-faces", "x"])
    assert "face numbers" in capsys.readouterr().err


def _no_progress(*args, **kwargs):
    return None


def test_app_finds_restores_and_shows_the_faces(astronaut_file):
    import app
    from gradio import FileData

    text, choices, gallery = app.show_found_faces(str(astronaut_file), 24, progress=_no_progress)
    assert "Found" in text and choices.choices and len(gallery) == len(choices.choices)
    first = choices.choices[0][0] if isinstance(choices.choices[0], tuple) else choices.choices[0]
    values = app.restore_faces_page(str(astronaut_file), 0.7, 24, [first], False, "classical", 0, 0, False, progress=_no_progress)
    (before, after), button, info, *_share, pairs = values  # the panel's share controls sit before the gallery
    assert before.size == after.size and "Faces restored" in info and len(pairs) == 2 * len(gallery)
    assert pairs[1][1].endswith("left out")
    detected = app.detect_faces_api(FileData(path=str(astronaut_file)))
    assert detected["detector"] == "classical" and detected["faces"]
    png, summary = app.restore_faces_api(FileData(path=str(astronaut_file)), engine="classical", exclude_faces=[1])
    assert Path(png.path).exists() and summary["stages"][0]["findings"]["faces"][0]["restored"] is False


def test_app_turns_bad_input_into_a_message(tmp_path, astronaut_file):
    import app
    import gradio as gr
    from gradio import FileData

    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    with pytest.raises(gr.Error) as caught:
        app.restore_faces_api(FileData(path=str(bad)), engine="classical")
    assert "Traceback" not in str(caught.value) and "not an image" in str(caught.value)
    with pytest.raises(gr.Error, match="fidelity"):
        app.restore_faces_api(FileData(path=str(astronaut_file)), fidelity=3.0)
