"""The labelling recipe of real damage (benchmarks/real_damage_labels.py), on synthetic images only:
these tests never need ../shared/scratched."""

import cv2
import numpy as np
import pytest
from helpers import benchmark_script

BOX = (10, 8, 54, 40)  # x0, y0, x1, y1


@pytest.fixture
def labels(monkeypatch):
    return benchmark_script("real_damage_labels", monkeypatch)


def _photo_with_scratch() -> tuple[np.ndarray, np.ndarray]:
    """A flat grey 48x64 photo with a bright 1-px diagonal scratch, and the scratch's (H, W) bool mask."""
    drawn = np.zeros((48, 64), np.uint8)
    cv2.line(drawn, (12, 10), (50, 36), 1, 1)
    photo = np.full((48, 64, 3), 0.4, np.float32)
    photo[drawn > 0] = 0.8
    return photo, drawn > 0


def _recipe(labels, **changes):
    rule = labels.ContrastRule(window=7, bright=(0.1, 0.2), dark=None)
    return labels.CropRecipe(photo="scratched_x.png", box=BOX, rule=rule, **changes)


def test_contrast_rule_finds_the_drawn_scratch_and_nothing_else(labels):
    photo, scratch = _photo_with_scratch()
    truth = labels.damage_mask(photo, _recipe(labels))
    assert truth.shape == (48, 64) and truth.dtype == bool
    x0, y0, x1, y1 = BOX
    np.testing.assert_array_equal(truth[y0:y1, x0:x1], scratch[y0:y1, x0:x1])


def test_truth_lies_only_inside_the_box(labels):
    photo, scratch = _photo_with_scratch()
    stroke = labels.Stroke(((0, 0), (63, 47)), width=3)  # crosses the whole photo
    truth = labels.damage_mask(photo, _recipe(labels, strokes=(stroke,)))
    x0, y0, x1, y1 = BOX
    outside = np.ones_like(truth)
    outside[y0:y1, x0:x1] = False
    assert truth.any() and not truth[outside].any()


def test_dark_polarity_is_found_only_when_asked(labels):
    photo = np.full((48, 64, 3), 0.6, np.float32)
    photo[20, 15:50] = 0.2  # a dark horizontal hair
    bright_only = labels.damage_mask(photo, _recipe(labels))
    both = labels.ContrastRule(window=7, bright=(0.1, 0.2), dark=(0.1, 0.2))
    with_dark = labels.damage_mask(photo, labels.CropRecipe("x.png", BOX, both))
    assert not bright_only.any()
    assert with_dark[20, 15:50].all() and with_dark.sum() == 35


def test_hysteresis_keeps_a_faint_tail_joined_to_a_clear_part(labels):
    photo = np.full((48, 64, 3), 0.4, np.float32)
    photo[20, 15:30] = 0.7  # clear
    photo[20, 30:45] = 0.55  # faint, joined
    photo[30, 15:45] = 0.55  # faint, alone
    rule = labels.ContrastRule(window=7, bright=(0.1, 0.2), dark=None)
    marks = labels.contrast_marks(labels.local_contrast(photo, rule.window), rule)
    assert marks[20, 15:45].all()
    assert not marks[30].any()


def test_min_area_drops_single_pixels(labels):
    photo = np.full((48, 64, 3), 0.4, np.float32)
    photo[12, 12] = 0.9  # one-pixel speck
    photo[30, 20:26] = 0.9  # a 6-px scratch
    rule = labels.ContrastRule(window=7, bright=(0.1, 0.2), dark=None, min_area=3)
    marks = labels.contrast_marks(labels.local_contrast(photo, rule.window), rule)
    assert not marks[12, 12] and marks[30, 20:26].all()


def test_include_polygons_keep_marks_only_inside_them(labels):
    photo, scratch = _photo_with_scratch()
    left_half = ((10, 8), (31, 8), (31, 39), (10, 39))
    truth = labels.damage_mask(photo, _recipe(labels, include=(left_half,)))
    assert not truth[:, 32:].any()
    np.testing.assert_array_equal(truth[8:40, 10:32], scratch[8:40, 10:32])


def test_exclude_polygons_remove_marks_and_strokes_win_over_them(labels):
    photo, scratch = _photo_with_scratch()
    everything = ((10, 8), (53, 8), (53, 39), (10, 39))
    excluded = labels.damage_mask(photo, _recipe(labels, exclude=(everything,)))
    assert not excluded.any()
    stroke = labels.Stroke(((20, 30), (40, 30)), width=1)
    drawn = labels.damage_mask(photo, _recipe(labels, exclude=(everything,), strokes=(stroke,)))
    assert drawn[30, 20:41].all() and drawn.sum() == 21


def test_stroke_width_is_drawn(labels):
    photo = np.full((48, 64, 3), 0.4, np.float32)
    stroke = labels.Stroke(((15, 20), (45, 20)), width=3)
    truth = labels.damage_mask(photo, _recipe(labels, strokes=(stroke,)))
    assert truth[19:22, 20:40].all() and not truth[17, 20:40].any() and not truth[23, 20:40].any()


def test_zones_replace_the_rule_inside_their_polygon(labels):
    photo = np.full((48, 64, 3), 0.4, np.float32)
    photo[20, 12:52] = 0.5  # too faint for the crop's rule
    sensitive = labels.ContrastRule(window=7, bright=(0.05, 0.05), dark=None)
    left = ((10, 8), (31, 8), (31, 39), (10, 39))
    truth = labels.damage_mask(photo, _recipe(labels, zones=((left, sensitive),)))
    assert truth[20, 12:31].all() and not truth[20, 33:52].any()


def test_box_outside_the_photo_is_refused(labels):
    photo, _ = _photo_with_scratch()
    recipe = labels.CropRecipe("x.png", (10, 8, 80, 40), labels.ContrastRule(7, (0.1, 0.2), None))
    with pytest.raises(ValueError, match="box"):
        labels.damage_mask(photo, recipe)


def test_thresholds_in_the_wrong_order_are_refused(labels):
    photo, _ = _photo_with_scratch()
    with pytest.raises(ValueError, match="low <= high"):
        labels.damage_mask(photo, labels.CropRecipe("x.png", BOX, labels.ContrastRule(7, (0.3, 0.1), None)))


def test_even_window_is_refused(labels):
    photo, _ = _photo_with_scratch()
    with pytest.raises(ValueError, match="odd"):
        labels.local_contrast(photo, 8)


def test_labelled_crops_rebuild_masks_from_a_folder(labels, tmp_path):
    photo, scratch = _photo_with_scratch()
    cv2.imwrite(str(tmp_path / "scratched_x.png"), np.round(photo * 255).astype(np.uint8))
    crops = labels.labelled_crops(tmp_path, {"synthetic": _recipe(labels)})
    assert [(c.name, c.photo, c.box) for c in crops] == [("synthetic", "scratched_x.png", BOX)]
    x0, y0, x1, y1 = BOX
    np.testing.assert_array_equal(crops[0].truth[y0:y1, x0:x1], scratch[y0:y1, x0:x1])
    assert 0 < labels.labelled_share(crops[0]) < 0.1


def test_missing_photo_names_the_folder(labels, tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        labels.labelled_crops(tmp_path, {"synthetic": _recipe(labels)})


def test_main_reports_a_missing_folder_in_one_line(labels, tmp_path, capsys):
    assert labels.main(["--scratched", str(tmp_path / "absent")]) == 2
    assert "absent" in capsys.readouterr().err


def test_review_image_is_the_crop_and_its_red_overlay_at_4x(labels, tmp_path):
    photo, scratch = _photo_with_scratch()
    review = labels.review_image(photo, scratch, BOX)
    x0, y0, x1, y1 = BOX
    height, width = y1 - y0, x1 - x0
    assert review.shape == (4 * height, 4 * (2 * width + 1), 3) and review.dtype == np.uint8
    marked = review[:, 4 * (width + 1) :][::4, ::4]
    np.testing.assert_array_equal((marked == (255, 0, 0)).all(axis=2), scratch[y0:y1, x0:x1])


def test_review_images_are_refused_inside_the_repository(labels, tmp_path):
    with pytest.raises(ValueError, match="inside the repository"):
        labels.write_review(labels.REPOSITORY / "review", [])


def test_recipes_are_well_formed(labels):
    assert set(labels.RECIPES) == {"h_sky", "k_top", "b_face", "c_left"}
    for name, recipe in labels.RECIPES.items():
        x0, y0, x1, y1 = recipe.box
        assert 0 <= x0 < x1 <= 298 and 0 <= y0 < y1 <= 450, name
        assert 100 <= x1 - x0 <= 160 and 100 <= y1 - y0 <= 160, name
        assert recipe.rule.window % 2 == 1, name


def test_development_recipes_are_well_formed_and_use_none_of_the_scored_photos(labels):
    development = labels.DEVELOPMENT_RECIPES
    assert len(development) >= 3 and not set(development) & set(labels.RECIPES)
    scored_photos = {recipe.photo for recipe in labels.RECIPES.values()}
    assert not {recipe.photo for recipe in development.values()} & scored_photos
    for name, recipe in development.items():
        x0, y0, x1, y1 = recipe.box
        assert 0 <= x0 < x1 <= 298 and 0 <= y0 < y1 <= 450, name
        assert 100 <= x1 - x0 <= 160 and 100 <= y1 - y0 <= 160, name
        assert recipe.rule.window % 2 == 1, name
        assert all(rule.window % 2 == 1 for _, rule in recipe.zones), name


def test_main_development_rebuilds_the_development_crops(labels, tmp_path, capsys, monkeypatch):
    photo, _ = _photo_with_scratch()
    cv2.imwrite(str(tmp_path / "scratched_x.png"), np.round(photo * 255).astype(np.uint8))
    monkeypatch.setattr(labels, "DEVELOPMENT_RECIPES", {"chosen": _recipe(labels)})
    assert labels.main(["--scratched", str(tmp_path), "--development", "--review", str(tmp_path / "review")]) == 0
    out = capsys.readouterr().out
    assert "chosen: scratched_x.png" in out and "h_sky" not in out
    assert (tmp_path / "review" / "chosen.png").is_file()
