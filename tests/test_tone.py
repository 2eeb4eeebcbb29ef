"""Tests of the fading and colour-cast estimate and correction (restoration/classical/tone.py)."""

import dataclasses
import math

import numpy as np
import pytest
from helpers import bundled_photo
from skimage.color import deltaE_ciede2000, rgb2lab

from restoration.classical.tone import (
    CAST_MIN,
    FADE_MIN,
    ToneEstimate,
    correct_tone,
    estimate_tone,
)
from restoration.errors import InputError


def _photo(name: str = "astronaut", side: int = 256) -> np.ndarray:
    return bundled_photo(name, side)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def _linear(v: np.ndarray) -> np.ndarray:
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _encoded(x: np.ndarray) -> np.ndarray:
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.maximum(x, 0.0031308) ** (1 / 2.4) - 0.055)


def _cast(image: np.ndarray, gains) -> np.ndarray:
    """A colour cast as a filter: gains on linear light (yellowed varnish, a dye's loss)."""
    return np.clip(_encoded(_linear(image) * np.asarray(gains)), 0, 1).astype(np.float32)


def _faded(image: np.ndarray) -> np.ndarray:
    """Contrast compressed from [0, 1] to [0.2, 0.8]."""
    return (0.2 + 0.6 * image).astype(np.float32)


def _sepia_print(side: int = 192) -> np.ndarray:
    """A gray photo toned sepia: (R, G, B) = g * (1, 0.8, 0.58), warmer in the mid-tones, in [0, 1]."""
    gray = _photo("camera", side)[..., :1]
    return np.clip(gray * np.array([1.0, 0.80, 0.58]) + gray * (1 - gray) * np.array([0.12, 0.0, -0.1]), 0, 1).astype(
        np.float32
    )


def _hue(image: np.ndarray) -> float:
    """Mean hue angle (degrees) of the pixels with visible chroma."""
    lab = rgb2lab(image).reshape(-1, 3)
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    ab = lab[chroma > 3, 1:].mean(axis=0)
    return math.degrees(math.atan2(ab[1], ab[0]))


def _channels_equal(image: np.ndarray) -> bool:
    return bool(np.array_equal(image[..., 0], image[..., 1]) and np.array_equal(image[..., 1], image[..., 2]))


# ---------------------------------------------------------------------------------------------
# Contract


def test_shapes_dtype_range_and_input_untouched():
    photo = _faded(_photo())
    before = photo.copy()
    estimate = estimate_tone(photo)
    out = correct_tone(photo, estimate)
    assert out.shape == photo.shape and out.dtype == np.float32
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert np.array_equal(photo, before)
    assert 0 <= estimate.black <= estimate.white <= 1 and 0 <= estimate.fade <= 1


def test_read_only_input_as_the_io_layer_gives_it():
    photo = _faded(_sepia_print())
    photo.flags.writeable = False
    estimate = estimate_tone(photo)
    for keep_tone in (True, False):
        assert correct_tone(photo, estimate, keep_tone=keep_tone).flags.writeable


def test_float64_input_gives_float32():
    photo = _faded(_photo()).astype(np.float64)
    out = correct_tone(photo, estimate_tone(photo))
    assert out.dtype == np.float32


def test_strength_zero_is_identity_and_strength_moves_between():
    original = _photo()
    faded = _faded(original)
    estimate = estimate_tone(faded)
    none = correct_tone(faded, estimate, strength=0.0)
    assert np.array_equal(none, faded) and none is not faded
    half = correct_tone(faded, estimate, strength=0.5)
    full = correct_tone(faded, estimate, strength=1.0)
    assert _psnr(original, faded) < _psnr(original, half) < _psnr(original, full)


# ---------------------------------------------------------------------------------------------
# Fading


def test_known_fading_is_estimated_and_restored():
    original = _photo("astronaut")
    faded = _faded(original)
    estimate = estimate_tone(faded)
    assert estimate.kind == "colour"
    assert estimate.black == pytest.approx(0.2, abs=0.03)
    assert estimate.white == pytest.approx(0.8, abs=0.03)
    assert 0.25 < estimate.fade < 0.45
    restored = correct_tone(faded, estimate)
    # 17.8 dB -> 28.9 dB measured; a margin of 8 dB
    assert _psnr(original, restored) > _psnr(original, faded) + 8.0


def test_faded_gray_photo_restored_and_stays_exactly_gray():
    original = _photo("camera")
    faded = _faded(original)
    estimate = estimate_tone(faded)
    assert estimate.kind == "gray" and estimate.cast == (0.0, 0.0) and estimate.tone_hue is None
    restored = correct_tone(faded, estimate)
    assert _channels_equal(restored)
    assert _psnr(original, restored) > _psnr(original, faded) + 8.0  # 18.7 -> 34.5 dB measured
    for keep_tone in (True, False):
        assert _channels_equal(correct_tone(faded, estimate, strength=0.6, keep_tone=keep_tone))


def test_curve_is_monotone_and_clips_nothing():
    ramp = np.repeat(np.linspace(0.15, 0.85, 4096, dtype=np.float32)[None, :, None], 3, axis=2)
    ramp = np.repeat(ramp, 4, axis=0)
    estimate = estimate_tone(ramp)
    out = correct_tone(ramp, estimate)[0, :, 0]
    assert np.all(np.diff(out) > 0)  # strictly increasing: the tails are compressed, not clipped
    assert out[0] > 0.0 and out[-1] < 1.0
    assert out[0] < 0.05 and out[-1] > 0.9  # and the range is restored
    # pure black and white stay put
    end_points = np.zeros((2, 2, 3), np.float32)
    end_points[1] = 1.0
    stretched = correct_tone(end_points, dataclasses.replace(estimate))
    assert stretched[0].max() == 0.0 and stretched[1].min() == 1.0


def test_clean_photos_unchanged():
    for name in ("astronaut", "camera"):
        photo = _photo(name)
        estimate = estimate_tone(photo)
        assert estimate.fade < FADE_MIN, name
        assert math.hypot(*estimate.cast) < CAST_MIN, name
        out = correct_tone(photo, estimate)
        assert _psnr(photo, out) >= 40.0, name


def test_flat_photo_left_alone():
    flat = np.full((32, 32, 3), 0.5, np.float32)
    estimate = estimate_tone(flat)
    assert estimate.fade == pytest.approx(1.0)
    out = correct_tone(flat, estimate)
    assert np.isfinite(out).all() and np.allclose(out, flat, atol=1e-6)


def test_tiny_image():
    tiny = np.array([[[0.3, 0.3, 0.3], [0.6, 0.5, 0.4]]], np.float32)
    out = correct_tone(tiny, estimate_tone(tiny))
    assert out.shape == tiny.shape and np.isfinite(out).all()


# ---------------------------------------------------------------------------------------------
# Colour casts


@pytest.mark.parametrize(
    "gains, direction",
    [((1.0, 0.92, 0.70), (0.0, 1.0)), ((1.0, 0.80, 0.95), (1.0, -0.4))],  # yellowed; magenta (green dye lost)
    ids=["yellow", "magenta"],
)
def test_known_cast_is_estimated_and_removed(gains, direction):
    original = _photo("astronaut")
    cast = _cast(original, gains)
    estimate = estimate_tone(cast)
    assert estimate.kind == "colour" and estimate.tone_hue is None
    a, b = estimate.cast
    assert math.hypot(a, b) > 5.0
    cosine = (a * direction[0] + b * direction[1]) / (math.hypot(a, b) * math.hypot(*direction))
    assert cosine > math.cos(math.radians(35))
    corrected = correct_tone(cast, estimate)
    error_before = deltaE_ciede2000(rgb2lab(original), rgb2lab(cast)).mean()
    error_after = deltaE_ciede2000(rgb2lab(original), rgb2lab(corrected)).mean()
    assert error_after < 0.7 * error_before  # yellow 4.5 -> 2.5 measured


# ---------------------------------------------------------------------------------------------
# Monochrome prints and kinds


def test_kind_classification():
    sepia = _sepia_print()
    assert estimate_tone(_photo("camera")).kind == "gray"
    assert estimate_tone(_photo("astronaut")).kind == "colour"
    assert estimate_tone(_photo("coffee")).kind == "colour"
    toned = estimate_tone(sepia)
    assert toned.kind == "toned"
    a, b = toned.tone_hue
    assert b > 10 and 40 < math.degrees(math.atan2(b, a)) < 90  # warm: yellow-red quadrant
    # a gray print with faint JPEG-like channel noise is still gray
    camera = _photo("camera")
    noisy = camera + np.random.default_rng(0).normal(0, 0.004, camera.shape).astype(np.float32)
    assert estimate_tone(np.clip(noisy, 0, 1)).kind == "gray"


def test_faded_sepia_keeps_its_hue_with_keep_tone():
    print_ = 0.25 + 0.6 * _sepia_print()
    estimate = estimate_tone(print_)
    assert estimate.kind == "toned" and estimate.fade > 0.2
    kept = correct_tone(print_, estimate, keep_tone=True)
    assert abs(_hue(kept) - _hue(print_)) < 4.0  # degrees
    assert not _channels_equal(kept)
    # range restored: darkest channel down to about 0.03, brightest up to about 0.95
    assert np.percentile(kept.min(axis=2), 0.5) < 0.08 and np.percentile(kept.max(axis=2), 99.5) > 0.85


def test_sepia_becomes_neutral_without_keep_tone():
    print_ = 0.25 + 0.6 * _sepia_print()
    estimate = estimate_tone(print_)
    neutral = correct_tone(print_, estimate, keep_tone=False)
    assert _channels_equal(neutral)
    # a clean toned print too: only the tone goes
    clean = _sepia_print()
    assert _channels_equal(correct_tone(clean, estimate_tone(clean), keep_tone=False))


def test_clean_toned_print_unchanged():
    clean = _sepia_print()
    estimate = estimate_tone(clean)
    assert estimate.kind == "toned" and estimate.fade < FADE_MIN
    assert np.array_equal(correct_tone(clean, estimate), clean)


# ---------------------------------------------------------------------------------------------
# Bad input


def _estimate():
    return estimate_tone(_faded(_photo(side=64)))


def test_bad_image_shape():
    with pytest.raises(InputError, match=r"\(H, W, 3\)"):
        estimate_tone(np.zeros((8, 8), np.float32))


def test_bad_image_dtype():
    with pytest.raises(InputError, match="uint8"):
        correct_tone(np.zeros((8, 8, 3), np.uint8), _estimate())


def test_bad_image_range():
    with pytest.raises(InputError, match="range"):
        estimate_tone(np.full((8, 8, 3), 2.0, np.float32))


def test_strength_above_one():
    with pytest.raises(InputError, match="1.5"):
        correct_tone(_photo(side=64), _estimate(), strength=1.5)


def test_strength_negative():
    with pytest.raises(InputError, match="-0.1"):
        correct_tone(_photo(side=64), _estimate(), strength=-0.1)


def test_strength_nan():
    with pytest.raises(InputError, match="nan"):
        correct_tone(_photo(side=64), _estimate(), strength=float("nan"))


def test_strength_not_a_number():
    with pytest.raises(InputError, match="'1'"):
        correct_tone(_photo(side=64), _estimate(), strength="1")


def test_keep_tone_not_bool():
    with pytest.raises(InputError, match="keep_tone"):
        correct_tone(_photo(side=64), _estimate(), keep_tone="yes")


def test_estimate_wrong_type():
    with pytest.raises(InputError, match="ToneEstimate"):
        correct_tone(_photo(side=64), {"black": 0.2})


def test_estimate_bad_kind():
    with pytest.raises(InputError, match="sepia"):
        dataclasses.replace(_estimate(), kind="sepia")


def test_estimate_black_above_white():
    with pytest.raises(InputError, match="exceed"):
        ToneEstimate(black=0.8, white=0.2, fade=0.5, cast=(0.0, 0.0), kind="gray", tone_hue=None)


def test_a_low_white_point_with_deep_blacks_is_the_photos_key_not_fading():
    low_key = np.clip(_photo("camera") * 0.75, 0, 1)  # blacks stay deep, whites reach only 0.75
    estimate = estimate_tone(low_key)
    assert estimate.black < 0.06 and estimate.white < 0.8
    corrected = correct_tone(low_key, estimate)
    assert abs(float(np.percentile(corrected, 99.5)) - float(np.percentile(low_key, 99.5))) < 0.02
    faded = 0.2 + 0.6 * _photo("camera")  # lifted blacks too: fading, stretched
    assert np.percentile(correct_tone(faded, estimate_tone(faded)), 99.5) > 0.9
