"""The Gradio app through gradio_client, against a real server on 127.0.0.1 (no browser).

The server runs in this process, so a test can monkeypatch the pipeline the app calls.
"""

import io
import re
import sys
from pathlib import Path

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from helpers import save_uint8, scratched, smooth_photo
from PIL import Image, ImageCms
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).absolute().parents[1]))

import app  # noqa: E402




@pytest.fixture(scope="module")
def client(server, tmp_path_factory):
    return Client(server, verbose=False, download_files=str(tmp_path_factory.mktemp("downloads")))


@pytest.fixture(scope="module")
def scratched_photo(tmp_path_factory):
    """(path of an 8-bit PNG with a bright scratch, clean (H, W, 3) float, (H, W) bool scratch)."""
    clean = smooth_photo(96, 128)
    damaged, mask = scratched(clean)
    path = tmp_path_factory.mktemp("photos") / "scratched.png"
    save_uint8(damaged, path)
    return path, clean, mask


def read(path) -> tuple[np.ndarray, Image.Image]:
    image = Image.open(path)
    image.load()
    return np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0, image


def app_error(client, *args, api_name) -> str:
    with pytest.raises(AppError) as caught:
        client.predict(*args, api_name=api_name)
    message = str(caught.value)
    assert "Traceback" not in message
    return message


def test_api_lists_the_documented_endpoints_with_their_parameters(client):
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert set(endpoints) == {
        "/detect_scratches", "/restore_scratches", "/estimate_degradation", "/denoise",
        "/detect_faces", "/restore_faces", "/colorize",
    }
    names = lambda name: [p["parameter_name"] for p in endpoints[name]["parameters"]]  # noqa: E731
    assert names("/detect_scratches") == ["photo", "sensitivity"]
    assert names("/restore_scratches") == [
        "photo", "mask", "sensitivity", "engine", "seed", "steps", "fast", "mask_mode",
    ]
    assert len(endpoints["/restore_scratches"]["returns"]) == 2
    assert names("/estimate_degradation") == ["photo"]
    assert names("/denoise") == [
        "photo", "grain", "sharpen", "fade", "keep_tone", "engine", "seed", "steps", "fast", "strength",
    ]
    assert names("/detect_faces") == ["photo", "min_face_size"]
    assert names("/restore_faces") == [
        "photo", "fidelity", "min_face_size", "exclude_faces", "face_parser", "engine", "seed", "steps", "fast",
    ]
    assert names("/colorize") == [
        "photo", "reference", "hints", "hint_reach", "engine", "seed", "steps", "fast", "colour_strength",
    ]


def test_every_stage_has_a_tab():
    from restoration.pipeline import STAGES

    assert list(app.TAB_BUILDERS) == [stage.name for stage in STAGES]


def test_denoise_measures_and_restores_a_grainy_photo(client, tmp_path):
    rng = np.random.default_rng(0)
    clean = smooth_photo(240, 320)
    grainy = np.clip(clean + rng.normal(0, 12 / 255, clean.shape[:2])[..., None], 0, 1)
    path = tmp_path / "grainy.png"
    save_uint8(grainy, path)

    estimates = client.predict(handle_file(path), api_name="/estimate_degradation")
    restored_path, summary = client.predict(handle_file(path), fade=0.0, api_name="/denoise")  # a low-contrast gradient: no fade fix

    assert 6 < estimates["noise_levels"] < 20 and estimates["tone"] == "colour"
    restored, image = read(restored_path)
    assert image.format == "PNG" and image.size == (320, 240)
    assert np.abs(restored - clean).mean() < 0.6 * np.abs(read(path)[0] - clean).mean()
    assert summary["engine"] == "classical" and summary["stages"][0]["name"] == "denoise"
    assert summary["stages"][0]["findings"]["noise_levels"] == estimates["noise_levels"]


def test_restore_scratches_removes_the_scratch_and_keeps_the_size(client, scratched_photo):
    path, clean, mask = scratched_photo
    damaged, _ = read(path)

    restored_path, summary = client.predict(
        handle_file(path), None, 0.5, "auto", 0, 0, False, "replace", api_name="/restore_scratches"
    )

    restored, image = read(restored_path)
    assert image.format == "PNG"
    assert image.size == (128, 96)
    error_before = np.abs(damaged - clean)[mask].mean()
    error_after = np.abs(restored - clean)[mask].mean()
    assert error_after < 0.35 * error_before, (error_before, error_after)
    untouched = ~ndimage.binary_dilation(mask, iterations=6)
    assert np.abs(restored - damaged)[untouched].max() < 0.01
    assert summary["engine"] == "classical"
    assert (summary["width"], summary["height"]) == (128, 96)
    assert summary["mask_coverage_percent"] > 0.5
    assert [stage["name"] for stage in summary["stages"]] == ["scratch"]


def test_restore_keeps_alpha_icc_and_exif(client, tmp_path):
    clean = smooth_photo(64, 80)
    damaged, _ = scratched(clean)
    rgba = np.dstack([np.rint(damaged * 255).astype(np.uint8), np.full((64, 80), 255, np.uint8)])
    rgba[:8, :8, 3] = 0
    exif = Image.Exif()
    exif[0x010F] = "Test scanner"  # Make
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = tmp_path / "transparent.png"
    Image.fromarray(rgba, "RGBA").save(path, icc_profile=icc, exif=exif)

    restored_path, _ = client.predict(handle_file(path), api_name="/restore_scratches")

    restored = Image.open(restored_path)
    assert restored.mode == "RGBA" and restored.size == (80, 64)
    assert np.array_equal(np.asarray(restored)[..., 3], rgba[..., 3])
    assert restored.info.get("icc_profile") == icc
    assert restored.getexif().get(0x010F) == "Test scanner"


def test_detect_scratches_returns_a_mask_covering_the_scratch(client, scratched_photo):
    path, _, mask = scratched_photo

    mask_path = client.predict(handle_file(path), 0.5, api_name="/detect_scratches")

    image = Image.open(mask_path)
    assert image.format == "PNG" and image.mode == "L" and image.size == (128, 96)
    detected = np.asarray(image) >= 128
    assert detected[mask].mean() > 0.8
    assert detected.mean() < 0.2


def test_a_user_mask_replaces_detection(client, tmp_path):
    clean = smooth_photo(96, 128)
    path = tmp_path / "stained.png"
    stain = clean.copy()
    stain[40:50, 50:70] = (0.1, 0.9, 0.1)  # a blob the detector would not call a scratch
    save_uint8(stain, path)
    user_mask = np.zeros((96, 128), np.uint8)
    user_mask[38:52, 48:72] = 255
    mask_path = tmp_path / "mask.png"
    Image.fromarray(user_mask).save(mask_path)

    restored_path, summary = client.predict(
        handle_file(path), handle_file(mask_path), api_name="/restore_scratches"
    )

    restored, _ = read(restored_path)
    assert np.abs(restored - clean)[40:50, 50:70].mean() < 0.5 * np.abs(stain - clean)[40:50, 50:70].mean()
    assert summary["mask_coverage_percent"] == pytest.approx(100 * 14 * 24 / (96 * 128), abs=0.5)


def test_a_text_file_named_png_is_not_an_image(client, tmp_path):
    path = tmp_path / "letter.png"
    path.write_text("Dear Sir, this is not a photograph.")
    message = app_error(client, handle_file(path), api_name="/restore_scratches")
    assert "letter.png is not an image this app can read" in message
    assert "/tmp" not in message  # the upload's server path is not shown
    message = app_error(client, handle_file(path), api_name="/detect_scratches")
    assert "letter.png is not an image this app can read" in message


def test_a_truncated_jpeg_is_refused(client, scratched_photo, tmp_path):
    damaged, _ = read(scratched_photo[0])
    buffer = io.BytesIO()
    Image.fromarray(np.rint(damaged * 255).astype(np.uint8)).save(buffer, format="JPEG", quality=90)
    path = tmp_path / "cut.jpg"
    path.write_bytes(buffer.getvalue()[: len(buffer.getvalue()) // 2])
    message = app_error(client, handle_file(path), api_name="/restore_scratches")
    assert "cut.jpg is truncated" in message


def test_a_one_pixel_image_is_refused(client, tmp_path):
    path = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), "white").save(path)
    message = app_error(client, handle_file(path), api_name="/restore_scratches")
    assert "dot.png is 1x1 pixels" in message
    assert "at least 16x16" in message


def test_a_mask_of_the_wrong_size_is_refused(client, scratched_photo, tmp_path):
    mask_path = tmp_path / "small.mask.png"
    Image.new("L", (64, 48), 255).save(mask_path)
    message = app_error(
        client, handle_file(scratched_photo[0]), handle_file(mask_path), api_name="/restore_scratches"
    )
    assert "mask is 64x48 but the photo is 128x96" in message
    assert "small.mask.png" in message


def test_diffusion_without_weights_says_how_to_get_them(client, scratched_photo):
    message = app_error(
        client, handle_file(scratched_photo[0]), None, 0.5, "diffusion", api_name="/restore_scratches"
    )
    assert "python -m restoration weights download" in message


def test_an_unexpected_failure_is_logged_and_explained_in_one_line(
    client, scratched_photo, monkeypatch, caplog
):
    def broken_restore(*args, **kwargs):
        raise ZeroDivisionError("the sky fell")

    monkeypatch.setattr(app, "restore", broken_restore)
    message = app_error(client, handle_file(scratched_photo[0]), api_name="/restore_scratches")
    assert message == (
        "Something went wrong while restoring this photo: ZeroDivisionError: the sky fell. "
        "The details are in the server log."
    )
    assert any(r.exc_info and r.exc_info[0] is ZeroDivisionError for r in caplog.records)


def test_each_request_writes_into_its_own_new_folder(client, scratched_photo, monkeypatch):
    folders = []
    fresh_output_dir = app.outputs.fresh_output_dir

    def spy(**kwargs):
        folders.append(fresh_output_dir(**kwargs))
        return folders[-1]

    monkeypatch.setattr(app.outputs, "fresh_output_dir", spy)
    for _ in range(2):
        client.predict(handle_file(scratched_photo[0]), api_name="/restore_scratches")

    assert len(folders) == 2 and folders[0] != folders[1]
    for folder in folders:
        assert [p.name for p in folder.iterdir()] == ["scratched-restored.png"]


def test_a_restore_before_the_estimates_arrive_estimates_instead_of_turning_steps_off(tmp_path):
    rng = np.random.default_rng(0)
    clean = smooth_photo(240, 320)
    path = tmp_path / "grainy.png"
    save_uint8(np.clip(clean + rng.normal(0, 12 / 255, clean.shape[:2])[..., None], 0, 1), path)

    _, _, text = app.restore_denoise_page(str(path), None, 0, 0, 0, True, 0, "classical", 0, 0, False, progress=None)
    _, _, text_after = app.restore_denoise_page(str(path), str(path), 0, 0, 0, True, 0, "classical", 0, 0, False, progress=None)

    assert float(re.search(r"grain ([0-9.]+) levels", text).group(1)) > 5  # the sliders were not set yet: estimated
    assert "grain 0.0 levels" in text_after  # the user's 0 once the sliders showed this photo's estimates
