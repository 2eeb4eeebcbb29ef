"""The denoise stage through restore(): estimates in the findings, both engines, tone rules."""

import cv2
import numpy as np
import pytest
from helpers import smooth_photo

from restoration import RestoreOptions, restore
from restoration.errors import InputError
from restoration.stages.denoise import DenoiseOptions, keep_low_frequencies

CLASSICAL = RestoreOptions(engine="classical")


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / max(np.mean((a - b) ** 2), 1e-12)))


def _textured_photo(height: int = 240, width: int = 300) -> np.ndarray:
    """A photo with edges and smooth areas: scikit-image's astronaut, resized."""
    from skimage import data

    photo = cv2.resize(data.astronaut(), (width, height), interpolation=cv2.INTER_AREA)
    return (photo / 255.0).astype(np.float32)


def _grainy(photo: np.ndarray, levels: float = 12.0, seed: int = 0) -> np.ndarray:
    """``photo`` with film-like grain: Gaussian noise correlated over about 1.5 px, in luminance."""
    rng = np.random.default_rng(seed)
    noise = cv2.GaussianBlur(rng.standard_normal(photo.shape[:2]).astype(np.float32), (0, 0), 1.0)
    noise *= levels / 255.0 / noise.std()
    return np.clip(photo + noise[..., None], 0.0, 1.0).astype(np.float32)


def test_grain_is_estimated_reported_and_removed():
    clean = _textured_photo()
    grainy = _grainy(clean)
    result = restore(grainy, "denoise", CLASSICAL)
    findings = result.stages[0].findings
    assert result.engine == "classical" and result.image.shape == grainy.shape
    assert 6.0 < findings["noise_levels"] < 24.0
    assert findings["applied"]["grain_levels"] == findings["noise_levels"]
    assert {"blur_sigma_px", "fade", "cast_ab", "tone", "grain_size_px"} <= set(findings)
    assert _psnr(result.image, clean) > _psnr(grainy, clean) + 2.0


def test_a_clean_photo_passes_through_nearly_unchanged():
    clean = _textured_photo()
    result = restore(clean, "denoise", CLASSICAL)
    assert _psnr(result.image, clean) >= 40.0


def test_user_levels_override_the_estimates_and_zero_turns_steps_off():
    grainy = _grainy(_textured_photo())
    options = RestoreOptions(engine="classical", stages={"denoise": DenoiseOptions(grain=0, sharpen=0, fade=0)})
    result = restore(grainy, "denoise", options)
    assert result.stages[0].findings["applied"] == {"grain_levels": 0.0, "sharpen_sigma_px": 0.0, "fade": 0.0}
    assert _psnr(result.image, grainy) >= 40.0


def test_gray_stays_gray():
    gray = _grainy(smooth_photo(96, 128, gray=True))
    result = restore(gray, "denoise", CLASSICAL)
    assert np.array_equal(result.image[..., 0], result.image[..., 1])
    assert np.array_equal(result.image[..., 1], result.image[..., 2])


def _sepia(gray: np.ndarray) -> np.ndarray:
    luma = gray[..., :1]
    return np.clip(luma * np.array([1.07, 0.95, 0.76], np.float32) + np.array([0.02, 0.0, -0.02], np.float32), 0, 1)


def _hue(image: np.ndarray) -> float:
    lab = cv2.cvtColor(image.astype(np.float32), cv2.COLOR_RGB2Lab)
    return float(np.degrees(np.arctan2(lab[..., 2].mean(), lab[..., 1].mean())))


def test_sepia_stays_sepia_by_default_and_goes_neutral_when_asked():
    faded = 0.25 + 0.5 * _sepia(smooth_photo(96, 128, gray=True))
    kept = restore(faded, "denoise", CLASSICAL).image
    assert abs(_hue(kept) - _hue(faded)) < 10.0
    assert kept[..., 0].mean() > kept[..., 2].mean() + 0.03  # still warm
    neutral_options = RestoreOptions(engine="classical", stages={"denoise": DenoiseOptions(keep_tone=False)})
    neutral = restore(faded, "denoise", neutral_options).image
    assert np.abs(neutral[..., 0] - neutral[..., 2]).mean() < 0.02


def test_grain_scale_removes_a_share_of_the_measured_grain():
    grainy = _grainy(_textured_photo())
    half = restore(grainy, "denoise", RestoreOptions(engine="classical", stages={"denoise": DenoiseOptions(grain_scale=0.5)}))
    findings = half.stages[0].findings
    assert abs(findings["applied"]["grain_levels"] - 0.5 * findings["noise_levels"]) <= 0.01
    kept = restore(grainy, "denoise", RestoreOptions(engine="classical", stages={"denoise": DenoiseOptions(grain_scale=0)}))
    assert kept.stages[0].findings["applied"]["grain_levels"] == 0.0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(grain=-1), "grain must be between 0 and 50"),
        (dict(grain_scale=3), "grain_scale must be between 0 and 2"),
        (dict(sharpen=9), "sharpen must be between 0 and 5"),
        (dict(fade=1.5), "fade must be between 0 and 1"),
        (dict(strength=0.9), "strength must be between 0.05 and 0.6"),
    ],
)
def test_bad_denoise_options(options, message):
    with pytest.raises(InputError, match=message):
        DenoiseOptions(**options)


def test_diffusion_strength_on_the_classical_engine_is_an_error():
    options = RestoreOptions(engine="classical", stages={"denoise": DenoiseOptions(strength=0.3)})
    with pytest.raises(InputError, match="strength need the diffusion engine"):
        restore(_textured_photo(), "denoise", options)


def test_keep_low_frequencies_keeps_the_reference_coarse_and_the_refined_fine():
    rng = np.random.default_rng(1)
    reference = _textured_photo(64, 80)
    refined = np.clip(reference + 0.2 + 0.05 * rng.standard_normal(reference.shape).astype(np.float32), 0, 1)
    kept = keep_low_frequencies(refined, reference, sigma=3.0)
    blur = lambda image: cv2.GaussianBlur(image, (0, 0), 8.0)  # noqa: E731
    assert np.abs(blur(kept) - blur(reference)).mean() < 0.01  # the +0.2 shift is gone
    assert np.abs((kept - blur(kept)) - (refined - blur(refined))).mean() < 0.03  # fine detail kept
    with pytest.raises(InputError, match="matching shapes"):
        keep_low_frequencies(refined[:10], reference)


def test_diffusion_refines_seamless_tiles_deterministically_at_full_size(tiny_weights, monkeypatch):
    from restoration import engine, regions

    grainy = _grainy(_textured_photo(100, 150))
    sizes, seeds = [], []
    original = engine.DiffusionEngine.inpaint

    def spy(self, image, mask, settings, **kwargs):
        sizes.append(image.shape)
        seeds.append(settings.seed)
        assert mask.min() == 1.0 and settings.strength < 1.0  # SDEdit: all-white mask, low strength
        return original(self, image, mask, settings, **kwargs)

    monkeypatch.setattr(engine.DiffusionEngine, "inpaint", spy)
    options = RestoreOptions(engine="diffusion", steps=3, seed=4)
    first = restore(grainy, "denoise", options)
    findings = first.stages[0].findings
    working = engine.get_engine().working_size
    tiles = regions.tiles_covering(100, 150, size=working, overlap=working // 8)
    assert first.engine == "diffusion" and first.image.shape == grainy.shape
    assert findings["tiles"] == len(tiles) == len(sizes) >= 4
    assert set(sizes) == {(working, working, 3)}
    assert seeds == [4 + index for index in range(len(tiles))]  # a seed per tile
    assert 0.15 <= findings["strength"] <= 0.4 and findings["drift_levels"] > 0
    classical = restore(grainy, "denoise", CLASSICAL).image
    blur = lambda image: cv2.GaussianBlur(image, (0, 0), 8.0)  # noqa: E731
    assert np.abs(blur(first.image) - blur(classical)).mean() < 0.02  # the model changes no tones
    np.testing.assert_array_equal(restore(grainy, "denoise", options).image, first.image)
