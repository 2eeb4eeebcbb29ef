"""One luma for every module: the gray shortcut of ``luma`` and the plain weighted sum of ``weighted_luma``."""

import numpy as np

from restoration.luma import LUMA, is_gray, luma, weighted_luma


def test_luma_keeps_a_gray_photo_bit_for_bit_and_weights_a_colour_one():
    rng = np.random.default_rng(0)
    gray = np.repeat(rng.random((5, 7, 1), dtype=np.float32), 3, axis=2)
    colour = rng.random((5, 7, 3), dtype=np.float32)
    assert is_gray(gray) and not is_gray(colour)
    np.testing.assert_array_equal(luma(gray), gray[..., 0])
    np.testing.assert_allclose(luma(colour), 0.299 * colour[..., 0] + 0.587 * colour[..., 1] + 0.114 * colour[..., 2], atol=1e-6)


def test_weighted_luma_is_the_same_arithmetic_on_every_photo_and_contiguous():
    rng = np.random.default_rng(1)
    for image in (rng.random((6, 4, 3), dtype=np.float32), np.repeat(rng.random((6, 4, 1), dtype=np.float32), 3, axis=2)):
        plane = weighted_luma(image[:, ::-1])
        assert plane.shape == (6, 4) and plane.dtype == np.float32 and plane.flags.c_contiguous
        np.testing.assert_array_equal(plane, image[:, ::-1] @ LUMA)
