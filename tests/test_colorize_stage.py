"""The colorize stage through restore(): reference, hints, gray modes, lightness kept, gamut,
the tiny-model diffusion path, bad input, and the CLI task."""

import json

import cv2
import numpy as np
import pytest
from helpers import bundled_photo, save_uint8
from skimage.color import rgb2lab

from restoration import RestoreOptions, restore
from restoration.classical.edge_aware import shaded_chroma, spread_hints
from restoration.errors import InputError
from restoration.stages.colorize import ColorizeOptions, parse_hints

LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def _gray(photo: np.ndarray) -> np.ndarray:
    return np.repeat((photo @ LUMA)[..., None], 3, axis=2).astype(np.float32)


def _sepia(photo: np.ndarray) -> np.ndarray:
    luma = (photo @ LUMA)[..., None]
    return np.clip(luma * np.array([1.07, 0.95, 0.76], np.float32) + np.array([0.02, 0.0, -0.02], np.float32), 0, 1)


@pytest.fixture(scope="module")
def cat():
    """(true colour chelsea, its gray version, a shifted and cropped colour reference)."""
    truth = bundled_photo("chelsea", side=160)
    return truth, _gray(truth), truth[10:, 12:-8]


def _colorize(image, **options) -> "RestorationResult":  # noqa: F821
    engine = options.pop("engine", "classical")
    return restore(image, "colorize", RestoreOptions(engine=engine, stages={"colorize": ColorizeOptions(**options)}))


def _delta_e(a: np.ndarray, b: np.ndarray) -> float:
    from skimage.color import deltaE_ciede2000

    return float(deltaE_ciede2000(rgb2lab(a), rgb2lab(b)).mean())


def _chroma(image: np.ndarray) -> np.ndarray:
    lab = rgb2lab(image)
    return np.hypot(lab[..., 1], lab[..., 2])


def test_reference_colours_a_gray_photo_close_to_the_truth(cat):
    truth, gray, reference = cat
    result = _colorize(gray, reference=reference)
    findings = result.stages[0].findings
    assert result.engine == "classical" and result.image.shape == gray.shape and result.image.dtype == np.float32
    assert findings["reference"] is True and findings["input_tone"] == "gray"
    assert _delta_e(result.image, truth) < 0.5 * _delta_e(gray, truth)
    assert _chroma(result.image).mean() > 0.5 * _chroma(truth).mean()


@pytest.mark.parametrize("mode", ["gray-in-rgb", "sepia", "colour"])
def test_lightness_is_kept_exactly_at_full_resolution(cat, mode):
    truth, gray, reference = cat
    image = {"gray-in-rgb": gray, "sepia": _sepia(truth), "colour": truth}[mode]
    result = _colorize(image, reference=reference).image
    np.testing.assert_allclose(rgb2lab(result)[..., 0], rgb2lab(image)[..., 0], atol=0.01)
    assert _chroma(result).mean() > 5.0  # coloured, not left gray or sepia


def test_sepia_counts_as_monochrome(cat):
    truth, gray, reference = cat
    from_sepia = rgb2lab(_colorize(_sepia(truth), reference=reference).image)
    from_gray = rgb2lab(_colorize(gray, reference=reference).image)
    assert np.abs(from_sepia[..., 1:] - from_gray[..., 1:]).mean() < 3.0  # the tint is not kept


def test_l_mode_file_through_the_cli(cat, tmp_path):
    from PIL import Image

    from restoration.cli import main

    truth, gray, reference = cat
    Image.fromarray(np.rint(gray[..., 0] * 255).astype(np.uint8), mode="L").save(tmp_path / "old.png")
    save_uint8(reference, tmp_path / "ref.png")
    hints = [{"x": 20, "y": 20, "radius": 5, "colour": "#c81e1e"}]
    (tmp_path / "hints.json").write_text(json.dumps(hints))
    code = main(["restore", str(tmp_path / "old.png"), "--output", str(tmp_path / "out"), "--tasks", "colorize",
                 "--engine", "classical", "--reference", str(tmp_path / "ref.png"), "--hints", str(tmp_path / "hints.json")])
    assert code == 0
    with Image.open(tmp_path / "out" / "old.png") as written:
        assert written.mode == "RGB" and written.size == (gray.shape[1], gray.shape[0])
        output = np.asarray(written, np.float32) / 255
    assert np.abs(rgb2lab(output)[..., 0] - rgb2lab(gray)[..., 0]).max() < 1.0  # 8-bit rounding only
    assert output[20, 20, 0] > output[20, 20, 1] + 0.05  # the hint is red


def test_the_gray_stays_gray_rule_does_not_undo_colour(cat):
    truth, gray, reference = cat
    image = restore(gray, "denoise,colorize", RestoreOptions(
        engine="classical", stages={"colorize": ColorizeOptions(reference=reference)})).image
    assert not np.array_equal(image[..., 0], image[..., 2])


def test_output_is_in_gamut_with_no_neon(cat):
    truth, gray, _ = cat
    garish = np.zeros((64, 64, 3), np.float32)
    garish[:, :32] = (1.0, 0.0, 1.0)
    garish[:, 32:] = (0.0, 1.0, 0.0)
    levels = np.linspace(0.0, 1.0, gray.shape[1], dtype=np.float32)  # pure black and white included
    ramp = np.repeat(np.repeat(levels[None, :, None], gray.shape[0], axis=0), 3, axis=2)
    result = _colorize(ramp, reference=garish, hints=[(5, 5, 3, (0, 0, 255)), (150, 80, 3, (255, 255, 0))])
    image = result.image
    assert image.min() >= 0.0 and image.max() <= 1.0
    np.testing.assert_allclose(rgb2lab(image)[..., 0], rgb2lab(ramp)[..., 0], atol=0.01)
    assert _chroma(image).max() <= 90.5
    assert result.stages[0].findings["gamut_limited_percent"] > 0


def test_hints_override_locally_and_stop_at_edges():
    image = np.full((80, 120, 3), 0.55, np.float32)
    image[:, 60:] = 0.35  # two regions split by an edge
    reference = bundled_photo("coffee", side=120)
    plain = _colorize(image, reference=reference).image
    hinted = _colorize(image, reference=reference, hints=[{"points": [[10, 40], [40, 40]], "radius": 3, "colour": [220, 20, 20]}])
    lab = rgb2lab(hinted.image)
    assert lab[40, 25, 1] > 30  # red where painted
    assert lab[40, 55, 1] > 20  # spread inside its region
    np.testing.assert_allclose(hinted.image[:, 75:], plain[:, 75:], atol=0.02)  # not across the edge
    assert hinted.stages[0].findings["hints"] > 2  # the stroke became points


def test_a_hint_crosses_texture_but_stops_at_the_border_of_its_object():
    texture = cv2.GaussianBlur(np.random.default_rng(0).standard_normal((96, 96)).astype(np.float32), (0, 0), 1.0)
    lightness = np.full((96, 192), 60.0, np.float32)
    lightness[:, :96] += 5.0 * texture / texture.std()  # grass-like texture, ~2.6 L* between neighbours
    lightness[:, 96:] = 35.0  # a darker, flat object beside it
    seeds = [(np.zeros(lightness.shape, bool), np.array([0.3, 0.5, 0.2], np.float32))]
    seeds[0][0][44:52, 4:12] = True
    _, weight = spread_hints(lightness, np.zeros((96, 192, 2), np.float32), seeds, reach=60.0)
    assert weight[:, 30:50].mean() > 0.2  # reached across the texture (0.65 on a flat region)
    assert weight[:, 104:].max() < 0.05  # and not past the border


def test_a_hint_colour_is_shaded_to_the_lightness_of_each_pixel():
    red = np.array([0.7, 0.13, 0.13])
    lightness = np.array([20.0, 40.0, 95.0], np.float32)
    ab = shaded_chroma(lightness, red)
    chroma, hue = np.hypot(ab[:, 0], ab[:, 1]), np.arctan2(ab[:, 1], ab[:, 0])
    assert chroma[0] < chroma[1]  # a shadowed red is a darker, less vivid red
    assert chroma[2] < 0.5 * chroma[1]  # a brightly lit red pales towards white
    np.testing.assert_allclose(hue[:2], hue[1], atol=0.15)  # the same hue
    assert np.abs(shaded_chroma(np.array([50.0]), np.zeros(3))).max() == 0.0  # black: neutral


def test_parse_hints_accepts_tuples_points_and_strokes():
    hints = parse_hints([(1, 2, 3, (4, 5, 6)), {"x": 1, "y": 2, "radius": 3, "color": "#ff0000"},
                         {"points": [[0, 0], [10, 0]], "radius": 4, "colour": [0, 0, 255]}])
    assert hints[0] == (1.0, 2.0, 3.0, (4, 5, 6)) and hints[1][3] == (255, 0, 0)
    assert len(hints) == 2 + 6 and hints[-1][:2] == (10.0, 0.0)


@pytest.mark.parametrize(
    ("hints", "message"),
    [
        ("red", "must be a list"),
        ([(1, 2, 3)], "hint 1 is not understood"),
        ([(1, 2, -3, (1, 2, 3))], "radius must be > 0"),
        ([{"x": 1, "y": 2, "colour": [300, 0, 0]}], "three values in 0..255"),
        ([{"x": 1, "y": 2, "colour": "#ff00"}], "not #rrggbb"),
    ],
)
def test_bad_hints(hints, message):
    with pytest.raises(InputError, match=message):
        ColorizeOptions(hints=hints)


def test_hint_outside_the_photo_is_an_error(cat):
    truth, gray, reference = cat
    with pytest.raises(InputError, match="outside the 160x"):
        _colorize(gray, reference=reference, hints=[(500, 5, 3, (255, 0, 0))])


def test_a_gray_or_sepia_reference_is_refused(cat):
    truth, gray, _ = cat
    for reference in (gray, _sepia(truth)):
        with pytest.raises(InputError, match="no colours to transfer"):
            ColorizeOptions(reference=reference)


def test_no_reference_on_the_classical_engine_is_one_clear_message(cat):
    _, gray, _ = cat
    with pytest.raises(InputError, match="needs a colour reference photo on the classical engine"):
        _colorize(gray)
    with pytest.raises(InputError, match="needs a colour reference photo"):  # auto without weights
        _colorize(gray, engine="auto")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(reference=np.zeros((4, 4, 3), np.float32)), "reference photo"),
        (dict(hint_reach=0), "hint_reach must be between"),
        (dict(colour_strength=2.0), "colour_strength must be between 0.1 and 1"),
    ],
)
def test_bad_options(options, message):
    with pytest.raises(InputError, match=message):
        ColorizeOptions(**options)


def test_cli_refuses_colorize_without_reference_on_classical(cat, tmp_path, capsys):
    from restoration.cli import EXIT_BAD_INPUT, main

    save_uint8(cat[1], tmp_path / "old.png")
    code = main(["restore", str(tmp_path / "old.png"), "--output", str(tmp_path / "out"), "--tasks", "colorize",
                 "--engine", "classical"])
    assert code == EXIT_BAD_INPUT and "needs a colour reference photo" in capsys.readouterr().err


@pytest.mark.parametrize("with_reference", [True, False])
def test_diffusion_keeps_only_the_models_chroma(tiny_weights, monkeypatch, cat, with_reference):
    from restoration import engine

    truth, gray, reference = cat
    calls = []
    original = engine.DiffusionEngine.inpaint

    def spy(self, image, mask, settings, **kwargs):
        calls.append((image.shape, settings))
        assert mask.min() == 1.0 and settings.strength < 1.0  # SDEdit: all-white mask, low strength
        return original(self, image, mask, settings, **kwargs)

    monkeypatch.setattr(engine.DiffusionEngine, "inpaint", spy)
    options = dict(engine="diffusion", reference=reference if with_reference else None)
    first = restore(gray, "colorize", RestoreOptions(engine="diffusion", steps=2, seed=3,
                                                    stages={"colorize": ColorizeOptions(reference=options["reference"])}))
    findings = first.stages[0].findings
    working = engine.get_engine().working_size
    assert first.engine == "diffusion" and first.image.shape == gray.shape
    assert findings["tiles"] == len(calls) >= 2 and {shape for shape, _ in calls} == {(working, working, 3)}
    assert findings["strength"] == (0.35 if with_reference else 0.75)
    assert "colour" in calls[0][1].prompt and "monochrome" in calls[0][1].negative_prompt
    np.testing.assert_allclose(rgb2lab(first.image)[..., 0], rgb2lab(gray)[..., 0], atol=0.01)
    again = restore(gray, "colorize", RestoreOptions(engine="diffusion", steps=2, seed=3,
                                                    stages={"colorize": ColorizeOptions(reference=options["reference"])}))
    np.testing.assert_array_equal(again.image, first.image)


def test_hints_from_painting_map_canvas_strokes_to_photo_pixels():
    from restoration.stages.colorize import hints_from_painting

    layer = np.zeros((100, 100, 4), np.uint8)
    layer[40:44, 10:14] = (200, 30, 30, 255)  # painted inside the photo's box (left 0, top 25, 100 x 50)
    hints = hints_from_painting(layer, (0, 25, 100, 50), (200, 100))
    assert len(hints) == 16 and {h[3] for h in hints} == {(200, 30, 30)}
    xs, ys = [h[0] for h in hints], [h[1] for h in hints]
    assert 20 <= min(xs) and max(xs) <= 28 and 30 <= min(ys) and max(ys) <= 38
    assert hints_from_painting(np.zeros((100, 100, 4), np.uint8), (0, 25, 100, 50), (200, 100)) == ()


def test_colorize_tab_and_api_through_the_app(server, cat, tmp_path):
    from gradio_client import Client, handle_file
    from gradio_client.exceptions import AppError

    import app

    assert "colorize" in app.TAB_BUILDERS
    truth, gray, reference = cat
    save_uint8(gray, tmp_path / "old.png")
    save_uint8(reference, tmp_path / "ref.png")
    client = Client(server, verbose=False, download_files=str(tmp_path / "downloads"))
    names = [p["parameter_name"] for p in client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/colorize"]["parameters"]]
    assert names == ["photo", "reference", "hints", "hint_reach", "engine", "seed", "steps", "fast", "colour_strength"]
    path, summary = client.predict(handle_file(tmp_path / "old.png"), handle_file(tmp_path / "ref.png"),
                                   [{"x": 20, "y": 20, "radius": 4, "colour": [30, 30, 220]}], engine="classical",
                                   api_name="/colorize")
    from PIL import Image

    with Image.open(path) as written:
        output = np.asarray(written.convert("RGB"), np.float32) / 255
    assert summary["engine"] == "classical" and summary["stages"][0]["findings"]["hints"] == 1
    assert output.shape == gray.shape and output[20, 20, 2] > output[20, 20, 0] + 0.05
    with pytest.raises(AppError, match="needs a colour reference photo"):
        client.predict(handle_file(tmp_path / "old.png"), engine="classical", api_name="/colorize")
    with pytest.raises(AppError, match="no colours to transfer"):
        client.predict(handle_file(tmp_path / "old.png"), handle_file(tmp_path / "old.png"), engine="classical",
                       api_name="/colorize")
