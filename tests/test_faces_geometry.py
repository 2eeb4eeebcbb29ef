"""Face alignment and paste-back geometry (restoration/faces.py)."""

import numpy as np
import pytest

from restoration import faces
from restoration.errors import InputError
from restoration.regions import keep_fine_change


def _landmarks(angle_deg: float = 12.0, scale: float = 0.3, offset=(140.0, 90.0)) -> np.ndarray:
    """The template rotated, scaled and moved: an exact similarity of the FFHQ points."""
    angle = np.radians(angle_deg)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return (faces.FFHQ_TEMPLATE @ rotation.T * scale + np.array(offset)).astype(np.float32)


def _centroid(image: np.ndarray) -> np.ndarray:
    """x, y of the brightness centroid of channel 0 (pixel centres at integers)."""
    weights = np.clip(image[..., 0], 0, None)
    yy, xx = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    return np.array([(xx * weights).sum(), (yy * weights).sum()]) / weights.sum()


def test_alignment_puts_the_landmarks_on_the_template():
    landmarks = _landmarks()
    for size in (512, 256, 64):
        matrix = faces.alignment_matrix(landmarks, size=size)
        mapped = np.c_[landmarks, np.ones(5)] @ matrix.T
        np.testing.assert_allclose(mapped, faces.FFHQ_TEMPLATE * size / 512, atol=0.05)


def test_a_crop_warped_back_lands_where_it_came_from():
    height, width = 320, 400
    landmarks = _landmarks()
    image = np.zeros((height, width, 3), np.float32)
    x, y = np.round(landmarks[2]).astype(int)  # a bright dot on the nose tip
    image[y - 1 : y + 2, x - 1 : x + 2] = 1.0
    matrix = faces.alignment_matrix(landmarks, size=256)
    crop = faces.warp_to_crop(image, matrix, 256)
    np.testing.assert_allclose(_centroid(crop), faces.FFHQ_TEMPLATE[2] / 2, atol=1.0)  # on the template's nose
    back = faces.warp_change_back(crop, matrix, (height, width))
    assert back.shape == image.shape
    np.testing.assert_allclose(_centroid(back), (x, y), atol=0.5)
    inside = faces.paste_weights(np.ones((256, 256), np.float32), matrix, (height, width)) > 0.99
    assert np.abs(back - image)[inside].mean() < 0.01  # the round trip returns the crop's content


def test_the_paste_mask_is_soft_and_exactly_zero_away_from_the_face():
    mask = faces.elliptical_mask(512)
    assert mask.shape == (512, 512) and mask.max() == 1.0
    assert mask[0].max() == 0 and mask[:, 0].max() == 0 and mask[-1].max() == 0
    assert np.abs(np.diff(mask, axis=0)).max() < 0.03  # a wide rim, no step
    weights = faces.paste_weights(mask, faces.alignment_matrix(_landmarks()), (320, 400))
    assert weights[0, 0] == 0 and weights.max() > 0.99 and (weights == 0).mean() > 0.5


def test_landmarks_from_a_box_give_an_upright_alignment():
    points = faces.landmarks_from_box((100, 50, 80, 80))
    assert points.shape == (5, 2) and points[0, 0] < points[1, 0] and points[0, 1] < points[2, 1] < points[3, 1]
    matrix = faces.alignment_matrix(points)
    assert abs(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0]))) < 1.0  # upright
    with pytest.raises(InputError, match="positive width"):
        faces.landmarks_from_box((0, 0, 0, 10))


def test_changes_keep_gray_gray_and_lose_their_coarse_part():
    rng = np.random.default_rng(0)
    change = rng.normal(0, 0.05, (40, 50, 3)).astype(np.float32) + np.array([0.2, -0.1, 0.0], np.float32)
    luma = faces.luma_change_only(change)
    assert np.array_equal(luma[..., 0], luma[..., 1]) and np.array_equal(luma[..., 1], luma[..., 2])
    fine = keep_fine_change(change, sigma=4.0)
    assert abs(fine.mean()) < 0.01 and fine.std() > 0.03


@pytest.mark.parametrize(
    ("points", "message"),
    [(np.zeros((4, 2)), "shape"), (np.full((5, 2), np.nan), "finite"), (np.zeros((5, 2)), "do not define")],
)
def test_bad_landmarks(points, message):
    with pytest.raises(InputError, match=message):
        faces.alignment_matrix(points)
