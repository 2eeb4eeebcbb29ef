"""The scratch detection benchmark's F1 variants, the stage benchmark's scores and the training
script's bank: texture crops, hard negatives, lace and net (mesh) crops, halftone and sign crops, cache, damage mix."""

import math

import numpy as np
import pytest
from helpers import TRAINING, benchmark_script


def _line(width: int = 2) -> np.ndarray:
    truth = np.zeros((64, 96), bool)
    truth[30 : 30 + width, 8:88] = True
    return truth


def test_f1_within_one_pixel_forgives_a_one_pixel_shift_but_not_a_miss(monkeypatch):
    detection = benchmark_script("scratch_detection", monkeypatch)
    truth = _line(width=1)
    shifted = np.roll(truth, 1, axis=0)  # a 1-px line moved down by a pixel: no pixel in common
    assert detection.prf(shifted, truth)[2] == 0.0
    assert detection.f1_within(shifted, truth) == 1.0
    assert detection.f1_within(np.roll(truth, 3, axis=0), truth) == 0.0
    assert detection.f1_within(np.zeros_like(truth), truth) == 0.0


def test_f1_thin_leaves_wide_damage_out_of_truth_and_mask(monkeypatch):
    detection = benchmark_script("scratch_detection", monkeypatch)
    thin = _line()
    yy, xx = np.mgrid[:64, :96]
    hole = (yy - 48) ** 2 + (xx - 70) ** 2 <= 10**2  # a 21-px hole: wide damage
    truth = thin | hole
    assert detection.wide_truth(truth)[hole].all() and not detection.wide_truth(truth)[thin & ~hole].any()
    assert detection.prf(thin, truth)[2] < 0.9  # the hole counts as missed
    assert detection.f1_thin(thin, truth) == 1.0
    assert detection.f1_thin(thin | hole, truth) == 1.0  # marking the hole is neither right nor wrong
    assert math.isnan(detection.f1_thin(hole, hole))  # no thin damage: no score


def test_texture_crops_sit_on_the_textured_part_of_a_print(monkeypatch):
    training = benchmark_script("train_scratch_net", monkeypatch, TRAINING)
    rng = np.random.default_rng(0)
    side = 3 * training.BANK_CROP
    print_ = np.full((side, side, 3), 0.5, np.float32)
    print_[:, side // 2 :] += rng.normal(0.0, 0.15, (side, side - side // 2, 3)).astype(np.float32)
    print_ = np.clip(print_, 0.0, 1.0)
    crop = print_[: training.BANK_CROP, : training.BANK_CROP]
    assert training.texture_energy(print_[:, side // 2 :]) > 10 * training.texture_energy(crop)

    lefts = [training.most_textured_position(print_, np.random.default_rng(seed))[1] for seed in range(20)]
    assert np.mean([x + training.BANK_CROP / 2 > side / 2 for x in lefts]) >= 0.9  # centred on the noise

    plain = training.draw_bank([print_], 4, seed=1)
    again = training.draw_bank([print_], 4, seed=1, shares=training.CropShares(texture=0.0))
    np.testing.assert_array_equal(plain[0], again[0])  # off: the same bank as before, draw for draw
    textured = training.draw_bank([print_], 4, seed=1, shares=training.CropShares(texture=1.0))
    assert textured[0].shape == plain[0].shape and textured[1].shape == plain[1].shape


def test_validation_leaves_the_network_in_the_mode_it_found(monkeypatch):
    """--calibrate measures undamaged prints after the validation pass: in evaluation mode, as the
    app runs the network (it once measured them with batch norm in training mode)."""
    training = benchmark_script("train_scratch_net", monkeypatch, TRAINING)
    model = training.ScratchNet()
    rng = np.random.default_rng(0)
    case = (rng.random((64, 64, 3)).astype(np.float32), _line()[:64, :64])
    for mode in (False, True):
        model.train(mode)
        curve = training.validation_curve(model, [case], (training.Levels(0.5, 0.5), training.levels_for(0.5)))
        assert model.training is mode
        assert curve.shape == (2,) and np.all((curve >= 0) & (curve <= 1))


def test_a_cached_bank_is_reused_only_for_the_options_that_drew_it(monkeypatch, tmp_path):
    training = benchmark_script("train_scratch_net", monkeypatch, TRAINING)
    path = tmp_path / "bank.npz"
    draws = []

    def draw():
        draws.append(1)
        return np.full((2, 4, 4, 3), len(draws), np.uint8), np.zeros((2, 4, 4), bool)

    recipe = {"seed": 0, "texture_p": 0.5, "prints": ["a.jpg", "b.jpg"]}
    first = training.cached_bank(path, recipe, draw)
    again = training.cached_bank(path, dict(recipe), draw)
    assert len(draws) == 1 and np.array_equal(first[0], again[0])  # drawn once, then read back
    with pytest.raises(ValueError, match="texture_p differ"):
        training.cached_bank(path, {**recipe, "texture_p": 0.0}, draw)
    np.savez(path, images=first[0], masks=first[1])  # a bank saved before recipes were kept
    with pytest.raises(ValueError, match="without its recipe"):
        training.cached_bank(path, recipe, draw)
    assert len(draws) == 1


def test_mix_names_kinds_of_damage_and_refuses_what_it_cannot_draw(monkeypatch):
    training = benchmark_script("train_scratch_net", monkeypatch, TRAINING)
    assert training.mix_overrides("cracks=4, crease_p=0.4,spots=6") == {"cracks": 4.0, "crease_p": 0.4, "spots": 6.0}
    assert training.mix_overrides("") == {}
    for bad, why in (("crack=4", "unknown kind"), ("cracks", "NAME=NUMBER"), ("cracks=-1", ">= 0"),
                     ("tear_p=1.5", r"in \[0, 1\]"), ("scuffs_p=0.3", "unknown kind")):
        with pytest.raises(ValueError, match=why):
            training.mix_overrides(bad)


def _position_print(side: int, blue: float) -> np.ndarray:
    """A print whose red is y / H and green x / W at each pixel, blue constant: (side, side, 3)."""
    yy, xx = np.mgrid[:side, :side].astype(np.float32) / (side - 1)
    return np.stack([yy, xx, np.full_like(yy, blue)], axis=-1)


def _no_damage(monkeypatch, training) -> list[bool]:
    """Make the training script's bank draw no damage and no aging (each crop as it was cut and
    painted); returns the list that collects, crop by crop, whether the bank asked to age it."""
    aged = []

    def undamaged(crop, rng, mix, age, structures_p):
        aged.append(age)
        return crop, np.zeros(crop.shape[:2], bool)

    monkeypatch.setattr(training, "synthesize", undamaged)
    return aged


def test_hard_crops_are_centred_on_the_false_alarms_they_were_given(monkeypatch):
    training = benchmark_script("train_scratch_net", monkeypatch, TRAINING)
    _no_damage(monkeypatch, training)  # the crop shows where it was cut
    side = 3 * training.BANK_CROP
    prints = [_position_print(side, 0.0), _position_print(side, 1.0)]
    spots = [[], [(0.5, 0.5), (0.1, 0.9)]]  # the first print has no false alarm: never drawn for a hard crop
    images, _ = training.draw_bank(prints, 12, seed=3, shares=training.CropShares(hard=1.0), spots=spots)
    crops = images.astype(np.float32) / 255
    assert (crops[..., 2] > 0.9).all()
    for crop in crops:
        distance = [np.abs(crop[..., 0] - fy) + np.abs(crop[..., 1] - fx) for fy, fx in spots[1]]
        assert min(d.min() for d in distance) < 0.02  # the crop holds one of the spots
    centred = [crop[training.BANK_CROP // 2, training.BANK_CROP // 2, :2] for crop in crops]
    assert any(np.abs(c - 0.5).max() < 0.02 for c in centred)  # an inner spot sits in the middle

    plain = training.draw_bank(prints, 4, seed=3)
    off = training.draw_bank(prints, 4, seed=3, shares=training.CropShares(hard=0.0), spots=spots)
    np.testing.assert_array_equal(plain[0], off[0])  # off: the same bank as before, draw for draw


@pytest.mark.parametrize("option", ["mesh", "halftone", "signs"])
def test_mesh_halftone_and_sign_crops_carry_a_pattern_that_is_never_damage(monkeypatch, option):
    training = benchmark_script("train_scratch_net", monkeypatch, TRAINING)
    aged = _no_damage(monkeypatch, training)  # the crop shows what was painted before damage
    prints = [np.full((2 * training.BANK_CROP, 2 * training.BANK_CROP, 3), 0.6, np.float32)]
    plain = training.draw_bank(prints, 6, seed=2)
    np.testing.assert_array_equal(plain[0], training.draw_bank(prints, 6, seed=2, shares=training.CropShares(**{option: 0.0}))[0])  # off: as before
    aged.clear()
    patterned, truth = training.draw_bank(prints, 6, seed=2, shares=training.CropShares(**{option: 1.0}))
    assert not truth.any()
    assert aged == [option != "signs"] * 6  # a sign crop stays as sharp as its writing
    changed = np.abs(patterned.astype(int) - plain[0].astype(int)).max(axis=3) > 4
    assert all(changed[k].any() for k in range(6))  # every crop carries cloth, dots or a sign


def test_false_alarm_spots_are_the_centres_of_thin_marks_big_enough(monkeypatch):
    training = benchmark_script("train_scratch_net", monkeypatch, TRAINING)
    probability = np.zeros((200, 400), np.float32)
    probability[50:52, 100:140] = 0.9  # a thin line: a false alarm
    probability[150, 300:305] = 0.9  # 5 px: too small
    probability[100:160, 180:240] = 0.9  # a wide blob: left out as in use
    probability[20:22, 300:340] = 0.4  # below the threshold
    monkeypatch.setattr(training, "damage_probability", lambda image, model, mirror: probability)
    spots = training.false_alarm_spots(model=None, image=np.zeros((200, 400, 3), np.float32))
    assert len(spots) == 1
    np.testing.assert_allclose(spots[0], (50.5 / 200, 119.5 / 400), atol=1e-6)


def test_a_development_crop_is_scored_inside_its_box_only(monkeypatch):
    """--calibrate's development crops: the detector runs on the whole photo, F1 counts the box."""
    training = benchmark_script("train_scratch_net", monkeypatch, TRAINING)
    truth = _line()
    crop = training.LabelledCrop("line", "photo.png", (0, 16, 96, 48), truth, np.full((64, 96, 3), 0.5, np.float32))
    outside = np.zeros_like(truth)
    outside[50:, :] = True  # marks below the box do not count
    monkeypatch.setattr(training, "detector_masks", lambda model, image, levels: [truth | outside, outside])
    f1 = training.crop_f1(None, crop, (training.levels_for(0.5), training.Levels(0.9, 0.9)))
    assert f1 == [1.0, 0.0]


def test_more_validation_draws_keep_the_first_and_add_other_damage(monkeypatch):
    training = benchmark_script("train_scratch_net", monkeypatch, TRAINING)
    prints = {f"p{i}.jpg": _position_print(64, 0.2 * i) for i in range(3)}
    monkeypatch.setattr(training, "load_prints", lambda corpus, names, side: prints)
    one = training.validation_cases(None, 0)
    three = training.validation_cases(None, 0, draws=3)
    assert len(one) == 3 and len(three) == 9
    for (a, ta), (b, tb) in zip(one, three[:3]):  # the first draw is the one a single draw gives
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(ta, tb)
    assert not np.array_equal(three[0][0], three[3][0])  # the same print, other damage


def test_stage_benchmark_pools_errors_and_counts_what_the_repair_changed(monkeypatch):
    stage = benchmark_script("scratch_stage", monkeypatch)
    assert stage.pooled_psnr([0.01 * 300, 0.0], [150, 150]) == pytest.approx(20.0)
    assert stage.pooled_psnr([0.0], [10]) == math.inf and math.isnan(stage.pooled_psnr([], []))
    reference = np.full((20, 30, 3), 0.5, np.float32)
    truth = np.zeros((20, 30), bool)
    truth[9:11, 5:25] = True
    damaged = reference.copy()
    damaged[truth] = 0.9
    left = stage.score([(reference, damaged, truth)], None)
    assert left[1] < 10 and left[2] == math.inf and left[4] == 0  # damage inside, nothing outside, nothing changed
    with np.errstate(divide="ignore"):  # the PSNR of a perfect repair is infinite
        perfect = stage.score([(reference, damaged, truth)], lambda image: reference.copy())
    assert perfect[0] == math.inf and perfect[3] == pytest.approx(1.0) and perfect[4] == pytest.approx(100 * truth.mean())
    assert left[3] < perfect[3]


def test_the_stage_benchmark_repairs_with_the_detector_it_names(monkeypatch):
    from helpers import scratched, smooth_photo

    stage = benchmark_script("scratch_stage", monkeypatch)
    damaged, truth = scratched(smooth_photo(96, 128))
    for detector in ("learned", "classical"):
        repaired = stage.scratch_stage(damaged, detector)
        assert repaired.shape == damaged.shape
        assert np.abs(repaired - damaged)[truth].mean() > 0.1, detector  # the scratch was repainted


def test_dust_rows_count_marks_away_from_the_dust_only(monkeypatch):
    detection = benchmark_script("scratch_detection", monkeypatch)
    truth = np.zeros((40, 40), bool)
    truth[10, 10] = truth[30, 25] = True
    image = np.zeros((40, 40, 3), np.float32)
    beside = np.zeros_like(truth)
    beside[11, 11] = True  # within 1 px of a speck: forgiven
    beside[0, 0:4] = True  # the scene: 4 px of 1600
    rows = detection.beside_dust([(image, truth)], {"exact": lambda _: truth.copy(), "wide": lambda _: truth | beside})
    assert rows["exact"] == (1.0, 0.0, 0.0)
    assert rows["wide"][0] == 1.0 and rows["wide"][1] == pytest.approx(100 * 4 / 1600)


def test_every_share_option_refuses_a_share_outside_0_to_1(monkeypatch, capsys):
    training = benchmark_script("train_scratch_net", monkeypatch, TRAINING)
    assert {"scuffs", "texture", "hard", "mesh", "halftone", "signs"} <= set(training.SHARE_OPTIONS)
    for name in training.SHARE_OPTIONS:
        for bad in ("1.5", "-0.1"):
            with pytest.raises(SystemExit) as stopped:
                training.main([f"--{name}", bad])
            assert stopped.value.code == 2
            assert f"--{name} must be in [0, 1], got {float(bad)}" in capsys.readouterr().err
