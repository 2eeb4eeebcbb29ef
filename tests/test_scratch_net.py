"""Tests of the learned scratch detector (restoration/scratch_net.py) and its use by the scratch stage."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from restoration import scratch_net
from restoration.classical.scratch_detector import detect_scratches as detect_classical
from restoration.errors import InputError, WeightsUnavailableError
from restoration.imageio import load_photo
from restoration.stages import scratch
from restoration.stages.scratch import ScratchOptions

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _example(name: str, side: int) -> np.ndarray:
    """A real old photo of ``examples/``, longest side ``side`` px, (H, W, 3) float32 in [0, 1]."""
    image = np.asarray(load_photo(EXAMPLES / name).pixels, dtype=np.float32)
    scale = side / max(image.shape[:2])
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    return np.clip(cv2.resize(image, size, interpolation=cv2.INTER_AREA), 0.0, 1.0)


def _with_scratch(image: np.ndarray, *, value: float, width: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """``image`` with a long, slightly slanted line of grey ``value``; returns (damaged, bool mask)."""
    h, w = image.shape[:2]
    mask = np.zeros((h, w), np.uint8)
    cv2.line(mask, (w // 3, h // 10), (w // 3 + w // 6, h - h // 10), 1, width)
    damaged = image.copy()
    damaged[mask > 0] = value
    return damaged, mask > 0


@pytest.fixture
def no_weights(monkeypatch, tmp_path):
    """The shipped weights look missing."""
    monkeypatch.setattr(scratch_net, "WEIGHTS_PATH", tmp_path / "missing.safetensors")


def test_shipped_weights_load_into_a_small_network():
    assert scratch_net.weights_available()
    assert scratch_net.WEIGHTS_PATH.stat().st_size < 5_000_000
    model = scratch_net.load_scratch_net()
    assert isinstance(model, scratch_net.ScratchNet) and not model.training
    assert sum(p.numel() for p in model.parameters()) < 1_000_000
    assert scratch_net.load_scratch_net() is model  # loaded once per process


def test_probability_has_the_input_size_and_range():
    image = _example("1896NewsBoyGirl.jpg", 203)  # odd sizes: padded inside, cropped back
    probability = scratch_net.damage_probability(image)
    assert probability.shape == image.shape[:2] and probability.dtype == np.float32
    assert 0.0 <= probability.min() and probability.max() <= 1.0


def test_tiled_inference_matches_untiled_away_from_seams():
    image = _example("1899NycBlizzard.jpg", 400)
    # one view: the mirrored view's seams fall elsewhere
    untiled = scratch_net.damage_probability(image, tile=512, mirror=False)  # one pass: the photo fits
    tile, margin = 192, 48
    tiled = scratch_net.damage_probability(image, tile=tile, margin=margin, mirror=False)
    assert tiled.shape == untiled.shape == image.shape[:2]
    step = tile - 2 * margin
    away = np.ones(image.shape[:2], bool)
    for seam in range(step, max(image.shape[:2]), step):
        away[max(seam - 4, 0) : seam + 4, :] = False
        away[:, max(seam - 4, 0) : seam + 4] = False
    difference = np.abs(tiled - untiled)[away]
    assert difference.mean() < 0.002
    assert np.quantile(difference, 0.999) < 0.05


def test_mirrored_photo_gets_the_mirrored_map():
    # the map averages the photo and its mirror image, so a mirrored photo gets the mirrored map,
    # tiled or not; one pass alone has no such symmetry
    for side, tile in ((300, 768), (700, 192)):
        image = _example("1899NycBlizzard.jpg", side)
        mirrored = np.ascontiguousarray(image[:, ::-1])
        probability = scratch_net.damage_probability(image, tile=tile)
        np.testing.assert_allclose(scratch_net.damage_probability(mirrored, tile=tile)[:, ::-1], probability, atol=1e-6)
        one_pass = scratch_net.damage_probability(image, tile=tile, mirror=False)
        one_pass_mirrored = scratch_net.damage_probability(mirrored, tile=tile, mirror=False)[:, ::-1]
        assert np.abs(one_pass - one_pass_mirrored).max() > 0.01
        np.testing.assert_allclose(probability, (one_pass + one_pass_mirrored) / 2, atol=1e-6)


def test_bad_tiles_are_refused():
    image = np.full((64, 64, 3), 0.5, np.float32)
    with pytest.raises(InputError, match="multiples of 16"):
        scratch_net.damage_probability(image, tile=100, margin=48)
    with pytest.raises(InputError, match="tile > 2"):
        scratch_net.damage_probability(image, tile=96, margin=48)


def test_bad_image_is_refused():
    with pytest.raises(InputError, match=r"\(H, W, 3\)"):
        scratch_net.damage_probability(np.zeros((32, 32), np.float32))


@pytest.mark.parametrize("value", [0.92, 0.15])
def test_finds_a_bright_or_dark_scratch_on_a_real_photo(value):
    # bright: a scratch through a print's emulsion; dark: a scratch on the negative, a long,
    # straight, uniform line that the network reads as a wire and the straight-line rule adds
    image = _example("1870Girl.jpg", 480)
    damaged, truth = _with_scratch(image, value=value)
    mask = scratch_net.detect_scratches_learned(damaged)
    near = cv2.dilate(truth.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    assert (mask & truth).sum() / truth.sum() > 0.8  # recall on the scratch
    before = scratch_net.detect_scratches_learned(image)
    assert (mask & ~near & ~before).mean() < 0.002  # the scratch adds nothing elsewhere


def test_long_straight_lines_keep_only_long_thin_straight_components():
    mask = np.zeros((300, 400), np.uint8)
    cv2.line(mask, (20, 20), (330, 120), 1, 2)  # long (326 px), straight, thin: kept
    cv2.line(mask, (20, 200), (70, 210), 1, 2)  # straight but short (51 px < 0.2 * 400): dropped
    cv2.ellipse(mask, (250, 250), (120, 40), 0, 180, 360, 1, 2)  # long but curved: dropped
    cv2.rectangle(mask, (20, 250), (200, 265), 1, -1)  # long but 16 px thick: dropped
    lines = scratch_net.long_straight_lines(mask > 0)
    assert lines[70, 175] and lines.sum() > 0.9 * (mask[:150] > 0).sum()
    assert not lines[150:].any()
    assert not (lines & (mask == 0)).any()  # a subset of the mask


def test_dark_straight_lines_keep_the_dark_lines_only():
    image = np.full((200, 300, 3), 0.5, np.float32)
    mask = np.zeros((200, 300), np.uint8)
    cv2.line(mask, (20, 20), (280, 40), 1, 2)  # painted dark
    cv2.line(mask, (20, 150), (280, 170), 2, 2)  # painted bright
    image[mask == 1], image[mask == 2] = 0.1, 0.9
    lines = scratch_net.dark_straight_lines(mask > 0, image)
    assert np.array_equal(lines, mask == 1)


def test_learned_masks_add_straight_lines_and_grow_with_sensitivity():
    damaged, truth = _with_scratch(_example("1920sFarmKid.jpg", 320), value=0.12)
    probability = scratch_net.damage_probability(damaged)
    sensitivities = (0.8, 0.2, 0.5)  # any order
    masks = scratch_net.learned_masks(damaged, sensitivities)
    network = scratch_net.damage_masks(probability, sensitivities)
    by_level = dict(zip(sensitivities, masks))
    for mask, alone in zip(masks, network):
        assert not (alone & ~mask).any()  # the network's mask, plus ...
    lines = scratch_net.dark_straight_lines(detect_classical(damaged, sensitivity=0.5), damaged)
    assert (lines & truth).sum() > 0.5 * truth.sum()  # ... the dark line the classical detector finds
    assert not (lines & ~by_level[0.5]).any()
    assert not (by_level[0.2] & ~by_level[0.5]).any() and not (by_level[0.5] & ~by_level[0.8]).any()


def test_sensitivity_is_monotone():
    damaged, _ = _with_scratch(_example("1920sFarmKid.jpg", 320), value=0.8, width=1)
    levels = [scratch_net.levels_for(s) for s in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert all(each.seed >= each.extent for each in levels)
    assert all(all(h > l for h, l in zip(higher, lower)) for higher, lower in zip(levels, levels[1:]))  # seed, extent, confirm
    masks = [scratch_net.detect_scratches_learned(damaged, sensitivity=s) for s in (0.2, 0.5, 0.8)]
    assert not (masks[0] & ~masks[1]).any() and not (masks[1] & ~masks[2]).any()
    assert masks[0].sum() < masks[2].sum()
    with pytest.raises(InputError, match="sensitivity"):
        scratch_net.levels_for(1.5)


def test_a_faint_stretch_is_marked_only_where_it_joins_a_sure_one():
    probability = np.zeros((60, 200), np.float32)
    probability[20, 10:60] = 0.95  # a crack the network is sure of ...
    probability[20, 60:150] = 0.4  # ... fading out along its length
    probability[45, 40:120] = 0.4  # a faint line on its own
    probability[45, 150] = 0.95  # a single sure speck
    extent = scratch_net.Levels(seed=0.9, extent=0.35)
    mask = scratch_net.thin_masks_at(probability, (extent, scratch_net.Levels(0.5, 0.5)))
    assert mask[0][20, 10:150].all() and mask[0][45, 150]
    assert not mask[0][45, 40:120].any() and mask[0].sum() == 141
    assert mask[1].sum() == 51  # a plain threshold: the sure pixels only


def test_the_classical_marks_the_network_half_agrees_with_join_but_not_bright_straight_edges():
    image = np.full((80, 120, 3), 0.5, np.float32)
    classical = np.zeros((80, 120), bool)
    classical[20, 10:35] = classical[40, 10:35] = True  # two short bright marks
    classical[70, 5:115] = True  # a long straight bright line: a lit edge
    image[classical] = 0.8
    probability = np.zeros((80, 120), np.float32)
    probability[20, 10:35] = probability[70, 5:115] = 0.15  # the network half agrees with these
    probability[30, 70:110] = 0.95  # and marks what the classical detector missed
    evidence = scratch_net.classical_evidence(classical, probability, image, confirm=0.1)
    assert np.array_equal(evidence, classical & (np.arange(80) == 20)[:, None])
    image[70, 5:115] = 0.2  # the same line printed dark: a scratch on the negative
    evidence = scratch_net.classical_evidence(classical, probability, image, confirm=np.inf)
    assert np.array_equal(evidence, classical & (np.arange(80) == 70)[:, None])


def test_wide_regions_are_left_out_and_thin_damage_kept():
    probability = np.zeros((120, 160), np.float32)
    probability[60, 10:150] = 0.99  # a 1 px scratch
    probability[20:33, 20:140] = 0.99  # a 13 px band crossing it nowhere: no scratch is that wide
    probability[90:140, 60:120] = 0.99  # a blank sky at the bottom border
    wide = scratch_net.wide_regions(probability)
    assert wide[25, 80] and wide[110, 90] and not wide[60, 80]
    masks = scratch_net.damage_masks(probability, (0.2, 0.5, 0.8))
    assert masks[1][60, 10:150].all() and not masks[1][20:33].any() and not masks[1][95:].any()
    assert not (masks[0] & ~masks[1]).any() and not (masks[1] & ~masks[2]).any()
    with pytest.raises(InputError, match="sensitivity"):
        scratch_net.damage_masks(probability, (0.5, -0.1))


def test_stage_uses_the_network_by_default_and_classical_on_request():
    damaged, _ = _with_scratch(_example("1870Girl.jpg", 256), value=0.9)
    learned = scratch_net.detect_scratches_learned(damaged, sensitivity=0.6)
    assert np.array_equal(scratch.detect(damaged, sensitivity=0.6) > 0, learned)
    classical = scratch.detect(damaged, sensitivity=0.6, detector="classical") > 0
    assert np.array_equal(classical, detect_classical(damaged, sensitivity=0.6))
    assert not np.array_equal(classical, learned)


def test_stage_falls_back_to_classical_without_weights(no_weights, caplog):
    damaged, _ = _with_scratch(_example("1870Girl.jpg", 256), value=0.9)
    assert not scratch_net.weights_available()
    with caplog.at_level("WARNING"):
        mask = scratch.detect(damaged, sensitivity=0.5, detector="learned")
    assert np.array_equal(mask > 0, detect_classical(damaged, sensitivity=0.5))
    assert "classical" in caplog.text
    with pytest.raises(WeightsUnavailableError, match="missing"):
        scratch_net.load_scratch_net()


def test_a_corrupt_weights_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a safetensors file")
    with pytest.raises(WeightsUnavailableError, match="cannot load"):
        scratch_net.load_scratch_net(bad)


def test_detector_option_is_validated():
    assert ScratchOptions().detector == "learned"
    assert ScratchOptions(detector="classical").detector == "classical"
    with pytest.raises(InputError, match="detector must be one of learned, classical"):
        ScratchOptions(detector="neural")


def test_saved_weights_round_trip(tmp_path):
    import torch

    torch.manual_seed(0)
    model = scratch_net.ScratchNet((4, 8)).eval()
    path = tmp_path / "tiny.safetensors"
    scratch_net.save_scratch_net(model, path)
    loaded = scratch_net.load_scratch_net(path)
    assert loaded.channels == (4, 8)
    image = _example("1870Girl.jpg", 64)
    assert np.allclose(
        scratch_net.damage_probability(image, model=model), scratch_net.damage_probability(image, model=loaded), atol=1e-6
    )
