"""The Gradio app through gradio_client, against a real server on 127.0.0.1 (no browser).

The server runs in this process, so a test can monkeypatch the pipeline the app calls.
"""

import io
import itertools
import re
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from helpers import bundled_photo, save_uint8, scratched, smooth_photo
from PIL import Image, ImageCms
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).absolute().parents[1]))

import app  # noqa: E402

README = Path(__file__).absolute().parents[1] / "README.md"


@pytest.fixture(scope="module")
def server():
    """The app as ``python app.py`` serves it (``launch_options``: the upload limit), on a free port."""
    from conftest import _free_port

    demo = app.build_demo()
    _, url, _ = demo.launch(
        prevent_thread_lock=True, server_name="127.0.0.1", server_port=_free_port(), quiet=True, **app.launch_options()
    )
    yield url
    demo.close()


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


def app_error(client, *args, api_name, **kwargs) -> str:
    with pytest.raises(AppError) as caught:
        client.predict(*args, api_name=api_name, **kwargs)
    message = str(caught.value)
    assert "Traceback" not in message
    return message


def test_api_lists_the_documented_endpoints_with_their_parameters(client):
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    assert set(endpoints) == {
        "/restore", "/detect_scratches", "/restore_scratches", "/estimate_degradation", "/denoise",
        "/detect_faces", "/restore_faces", "/colorize",
    }
    names = lambda name: [p["parameter_name"] for p in endpoints[name]["parameters"]]  # noqa: E731
    assert names("/restore") == [
        "photo", "scratch", "sensitivity", "denoise", "denoise_strength", "face", "fidelity", "colorize", "reference",
        "automatic_colour", "engine", "seed", "steps", "fast",
    ]
    assert names("/detect_scratches") == ["photo", "sensitivity", "detector"]
    assert names("/restore_scratches") == [
        "photo", "mask", "sensitivity", "engine", "seed", "steps", "fast", "mask_mode", "detector",
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


def test_detect_scratches_honours_the_detector_asked_for(client, tmp_path):
    from restoration.imageio import load_photo
    from restoration.pipeline import detect_scratches

    damaged, _ = scratched(bundled_photo("astronaut", 192))
    path = tmp_path / "astronaut.png"
    save_uint8(damaged, path)
    pixels = load_photo(path).pixels
    masks = {
        detector: np.asarray(Image.open(client.predict(handle_file(path), 0.5, *args, api_name="/detect_scratches"))) >= 128
        for detector, args in (("learned", ()), ("classical", ("classical",)))
    }
    for detector, mask in masks.items():
        assert np.array_equal(mask, detect_scratches(pixels, detector=detector) > 0.5), detector
    assert not np.array_equal(masks["learned"], masks["classical"])


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

    _, _, text, *_ = app.restore_denoise_page(str(path), None, 0, 0, 0, True, 0, "classical", 0, 0, False, progress=None)
    _, _, text_after, *_ = app.restore_denoise_page(str(path), str(path), 0, 0, 0, True, 0, "classical", 0, 0, False, progress=None)

    assert float(re.search(r"grain ([0-9.]+) levels", text).group(1)) > 5  # the sliders were not set yet: estimated
    assert "grain 0.0 levels" in text_after  # the user's 0 once the sliders showed this photo's estimates


# ------------------------------------------------------------------------------------------------
# The Restore tab's endpoint: the whole chain
# ------------------------------------------------------------------------------------------------


def test_restore_runs_every_stage_in_order_and_keeps_the_size(client, scratched_photo):
    path, clean, mask = scratched_photo
    damaged, _ = read(path)

    restored_path, summary = client.predict(handle_file(path), api_name="/restore")

    restored, image = read(restored_path)
    assert image.format == "PNG" and image.size == (128, 96)
    assert [stage["name"] for stage in summary["stages"]] == ["scratch", "denoise", "face"]
    assert all(stage["seconds"] >= 0 for stage in summary["stages"])
    assert np.abs(restored - clean)[mask].mean() < 0.35 * np.abs(damaged - clean)[mask].mean()
    assert any("Colour was not added" in notice for notice in summary["notices"])
    history = image.info["XML:com.adobe.xmp"]  # the provenance the output carries
    assert "scratched.png" in history
    assert re.findall(r"<stEvt:parameters>(\w+) stage, classical engine", history) == ["scratch", "denoise", "face"]


def test_restore_stages_can_be_switched_off(client, scratched_photo):
    _, summary = client.predict(
        handle_file(scratched_photo[0]), denoise=False, face=False, api_name="/restore"
    )
    assert [stage["name"] for stage in summary["stages"]] == ["scratch"]
    message = app_error(
        client, handle_file(scratched_photo[0]), scratch=False, denoise=False, face=False, colorize=False,
        api_name="/restore",
    )
    assert message == "every stage is switched off; switch on at least one"


def test_restore_denoise_strength_scales_the_grain_the_stage_measures(client, scratched_photo):
    _, summary = client.predict(
        handle_file(scratched_photo[0]), scratch=False, face=False, denoise_strength=0.5, api_name="/restore"
    )
    (denoise,) = summary["stages"]
    measured = denoise["findings"]["noise_levels"]
    assert abs(denoise["findings"]["applied"]["grain_levels"] - 0.5 * measured) <= 0.01


def test_restore_colours_from_a_reference_and_says_automatic_colour_needs_diffusion(client, tmp_path):
    gray = smooth_photo(96, 128, gray=True)
    gray_path, reference_path = tmp_path / "gray.png", tmp_path / "colour.png"
    save_uint8(gray, gray_path)
    save_uint8(smooth_photo(96, 128), reference_path)

    coloured_path, summary = client.predict(
        handle_file(gray_path), reference=handle_file(reference_path), api_name="/restore"
    )
    automatic_path, automatic = client.predict(handle_file(gray_path), automatic_colour=True, api_name="/restore")

    coloured, _ = read(coloured_path)
    assert summary["stages"][-1]["name"] == "colorize"
    assert np.ptp(coloured, axis=2).mean() > 0.02  # it gained colour
    assert [stage["name"] for stage in automatic["stages"]] == ["scratch", "denoise", "face"]
    assert any("Automatic colour needs the diffusion engine" in notice for notice in automatic["notices"])
    assert np.ptp(read(automatic_path)[0], axis=2).max() <= 1 / 255  # still gray: no failure, no colour


def distinct_photos(count: int, height: int = 96, width: int = 128):
    """``count`` different scratched photos: a gradient with a dark square in a different place
    each; (damaged (H, W, 3) float32, (H, W) bool scratch) pairs."""
    photos = []
    for index in range(count):
        clean = smooth_photo(height, width)
        top, left = 10 + 9 * (index % 4), 12 + 60 * (index // 4)
        clean[top : top + 30, left : left + 30] *= 0.35
        photos.append(scratched(clean))
    return photos


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.mean(axis=2).ravel(), b.mean(axis=2).ravel())[0, 1])


def test_eight_concurrent_clients_each_get_their_own_full_size_result(server, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    photos = distinct_photos(8, 112, 150)
    paths = []
    for index, (damaged, _) in enumerate(photos):
        paths.append(tmp_path / f"photo{index}.png")
        save_uint8(damaged, paths[-1])

    def restore_one(index: int):
        own_client = Client(server, verbose=False, download_files=str(tmp_path / f"client{index}"))
        return own_client.predict(handle_file(paths[index]), api_name="/restore")

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(restore_one, range(8)))

    assert len({Path(path).parent for path, _ in results}) == 8
    for index, (path, summary) in enumerate(results):
        restored, image = read(path)
        assert image.size == (150, 112) and image.format == "PNG"
        assert (summary["width"], summary["height"]) == (150, 112)
        assert [stage["name"] for stage in summary["stages"]] == ["scratch", "denoise", "face"]
        similarity = [correlation(restored, damaged) for damaged, _ in photos]
        assert int(np.argmax(similarity)) == index  # its own photo, nobody else's
        damaged, mask = photos[index]
        below = np.roll(mask, 4, axis=0)  # the photo 4 px under the scratch
        assert np.abs(restored[mask] - restored[below]).mean() < 0.3 * np.abs(damaged[mask] - damaged[below]).mean()


def _fake_restore(log: list, lock, seconds: dict[str, float]):
    """A stand-in for ``restore`` that takes ``seconds[engine]`` and logs (engine, start, end)."""
    import time as clock

    from restoration.pipeline import RestorationResult

    def fake(image, tasks, options, **kwargs):
        started = clock.perf_counter()
        clock.sleep(seconds[options.engine])
        with lock:
            log.append((options.engine, started, clock.perf_counter()))
        return RestorationResult(image=image, engine=options.engine)

    return fake


def test_diffusion_work_runs_one_at_a_time_and_classical_work_does_not_wait_for_it(server, scratched_photo, monkeypatch):
    import threading
    from concurrent.futures import ThreadPoolExecutor

    log, lock = [], threading.Lock()
    # diffusion work is long (the last of three starts after 3 s), classical short: a classical
    # request ends long before then unless it waited for a diffusion slot, even on a busy machine
    monkeypatch.setattr(app, "restore", _fake_restore(log, lock, {"diffusion": 1.5, "classical": 0.5}))
    engines = ["diffusion"] * 3 + ["classical"] * 2

    def call(engine):
        own_client = Client(server, verbose=False)
        return own_client.predict(handle_file(scratched_photo[0]), engine=engine, api_name="/restore_scratches")

    with ThreadPoolExecutor(max_workers=5) as pool:
        list(pool.map(call, engines))

    diffusion = sorted((start, end) for engine, start, end in log if engine == "diffusion")
    classical = [end for engine, _, end in log if engine == "classical"]
    assert len(diffusion) == 3 and len(classical) == 2
    assert all(later[0] >= earlier[1] - 0.01 for earlier, later in itertools.pairwise(diffusion))  # one at a time
    assert max(classical) < diffusion[-1][0]  # classical requests finished before the last diffusion one started


def test_the_upload_limits_are_stated_and_a_larger_photo_gets_a_clear_message(client, tmp_path, monkeypatch):
    assert app._limits_text() == "JPEG, PNG, WebP, TIFF, BMP or GIF; up to 50 MB and 50 megapixels."
    monkeypatch.setenv("RESTORATION_MAX_PIXELS", "1000000")
    assert "up to 50 MB and 1 megapixels" in app._limits_text()
    path = tmp_path / "large.png"
    Image.new("RGB", (1500, 1000), "gray").save(path)

    message = app_error(client, handle_file(path), api_name="/restore")

    assert message.startswith("large.png is 1500x1000 = 1.5 megapixels, over the limit of 1.0 megapixels")


def test_an_upload_over_the_size_limit_is_refused(server, tmp_path):
    import httpx

    path = tmp_path / "huge.png"
    with open(path, "wb") as handle:
        handle.truncate(51 * 1024 * 1024)  # 51 MB > MAX_FILE_SIZE
    with open(path, "rb") as handle:
        response = httpx.post(f"{server}gradio_api/upload", files={"files": ("huge.png", handle, "image/png")}, timeout=60)
    assert response.status_code == 413
    assert "exceeded maximum allowed size of 52428800 bytes" in response.text


def test_the_readme_gradio_client_example_runs_against_the_app(server, tmp_path, monkeypatch, capsys):
    section = README.read_text(encoding="utf-8").split("## API for programs (gradio_client)", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.+?)\n```", section, flags=re.DOTALL)
    assert 'Client("http://127.0.0.1:7860/")' in code and 'api_name="/restore"' in code
    save_uint8(scratched(smooth_photo(96, 128))[0], tmp_path / "scan.jpg")
    monkeypatch.chdir(tmp_path)

    exec(compile(code.replace("http://127.0.0.1:7860/", server), "README.md", "exec"), {})

    printed = [line for line in capsys.readouterr().out.splitlines() if not line.startswith("Loaded as API")]
    assert printed[0].startswith("classical [('scratch', ") and "('face', " in printed[0]
    assert printed[-1].startswith("classical ")


def test_the_progress_names_the_step_running_and_each_step_leaves_a_thumbnail(scratched_photo):
    reports = []

    def progress(fraction, desc=""):
        reports.append((fraction, desc))

    outcome, _ = app.run_chain(
        str(scratched_photo[0]), True, 0.5, True, 1.0, False, 0.7, False, None, False, "classical", 0, 0, False,
        progress=progress, keep_stage_images=True,
    )

    descriptions = [desc for _, desc in reports]
    assert descriptions[0].startswith("Starting: 2 step(s), about ")
    assert "Step 1 of 2 · Scratches: starting" in descriptions
    assert "Step 2 of 2 · Denoise / Deblur: starting" in descriptions
    fractions = [fraction for fraction, _ in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert [caption for _, caption in outcome.stage_images] == [
        "0 · your photo", "1 · after Scratches", "2 · after Denoise / Deblur",
    ]
    assert all(max(image.size) <= app.STAGE_THUMBNAIL_SIDE for image, _ in outcome.stage_images)


def test_the_estimate_follows_the_requests_this_machine_ran():
    costs = app.StageCosts({"scratch": (0.5, 2.0), "denoise": (0.0, 4.0)})
    before = costs.estimate(2.0, ["scratch", "denoise"])
    slow = [SimpleNamespace(name="scratch", seconds=0.5 + 2 * 20.0), SimpleNamespace(name="denoise", seconds=2 * 4.0)]
    for _ in range(10):
        costs.record(2.0, slow)  # scratch takes 20 s/MP here
    after = costs.estimate(2.0, ["scratch", "denoise"])
    assert before == pytest.approx(0.5 + 4 + 8)
    assert after == pytest.approx(0.5 + 40 + 8, rel=0.05)
    costs.record(0.01, [SimpleNamespace(name="scratch", seconds=100.0)])  # a tiny photo teaches nothing
    assert costs.estimate(2.0, ["scratch", "denoise"]) == after


def test_the_estimate_grows_with_the_photo_and_the_steps():
    small = app.estimate_seconds(640, 480, ("scratch",), "classical")
    assert app.estimate_seconds(1280, 960, ("scratch",), "classical") > 2 * small
    three = app.estimate_seconds(640, 480, ("scratch", "denoise", "face"), "classical")
    assert three == pytest.approx(small + sum(app.estimate_seconds(640, 480, (name,), "classical") for name in ("denoise", "face")))
    text = app._estimate_text((3000, 2000), ("scratch", "denoise", "face"), "classical")
    assert text.startswith("3000×2000 px (6.0 MP) · restoring it takes **about ")  # slow: in bold
