"""The training damage generator: thin real structures, lace, halftone dots and signs (negatives for the learned
detector), scuffs and dust fields."""

from dataclasses import replace

import cv2
import numpy as np
from helpers import benchmark_script


def _flat_photo() -> np.ndarray:
    return np.full((160, 192, 3), 0.6, np.float32)


def test_structures_are_thin_lines_drawn_the_same_for_the_same_seed(monkeypatch):
    synthesis = benchmark_script("damage_synthesis", monkeypatch)
    for seed in range(12):
        first = synthesis.paint_structures(_flat_photo(), rng=np.random.default_rng(seed))
        again = synthesis.paint_structures(_flat_photo(), rng=np.random.default_rng(seed))
        np.testing.assert_array_equal(first, again)
        changed = np.abs(first - 0.6).max(axis=2) > 0.02
        assert changed.any(), seed
        assert changed.mean() < 0.5, (seed, changed.mean())  # lines and letters, not a fill
        assert first.min() >= 0.0 and first.max() <= 1.0


def test_mesh_is_a_patch_of_thin_threads_drawn_the_same_for_the_same_seed(monkeypatch):
    synthesis = benchmark_script("damage_synthesis", monkeypatch)
    shares = []
    for seed in range(12):
        first = synthesis.paint_mesh(_flat_photo(), rng=np.random.default_rng(seed))
        np.testing.assert_array_equal(first, synthesis.paint_mesh(_flat_photo(), rng=np.random.default_rng(seed)))
        assert first.min() >= 0.0 and first.max() <= 1.0
        changed = np.abs(first - 0.6).max(axis=2) > 0.02
        shares.append(changed.mean())
        threads = synthesis._threads((160, 192), np.random.default_rng(seed))
        assert 0.05 < threads.mean() < 0.8, (seed, threads.mean())  # threads and gaps, not a fill
        assert threads.min() >= 0.0 and threads.max() <= 1.0
    assert 0.0 < min(shares) and max(shares) < 0.9  # a patch of cloth, never the whole photo
    assert np.mean(shares) > 0.1


def test_halftone_is_a_fine_screen_of_dots_that_keeps_the_tone(monkeypatch):
    synthesis = benchmark_script("damage_synthesis", monkeypatch)
    ramp = np.repeat(np.linspace(0.2, 0.8, 192, dtype=np.float32)[None, :, None], 160, 0).repeat(3, 2)
    for seed in range(12):
        screened = synthesis.paint_halftone(ramp, rng=np.random.default_rng(seed))
        np.testing.assert_array_equal(screened, synthesis.paint_halftone(ramp, rng=np.random.default_rng(seed)))
        assert screened.shape == ramp.shape and screened.dtype == np.float32
        assert screened.min() >= 0.0 and screened.max() <= 1.0
        tone, photo_tone = (cv2.GaussianBlur(image.mean(axis=2), (0, 0), 4) for image in (screened, ramp))
        assert np.abs(tone - photo_tone)[10:-10, 10:-10].mean() < 0.08, seed  # seen from afar, the same photo
        dots = screened.mean(axis=2) - tone
        assert dots[:, 60:130].std() > 0.04, seed  # close up, a pattern of dots over the mid-tones


def test_a_sign_is_a_card_with_thin_writing_in_the_opposite_tone(monkeypatch):
    synthesis = benchmark_script("damage_synthesis", monkeypatch)
    photo = np.full((192, 192, 3), 0.5, np.float32)
    for seed in range(12):
        signed = synthesis.paint_signs(photo, rng=np.random.default_rng(seed))
        np.testing.assert_array_equal(signed, synthesis.paint_signs(photo, rng=np.random.default_rng(seed)))
        assert signed.shape == photo.shape and signed.dtype == np.float32
        assert signed.min() >= 0.0 and signed.max() <= 1.0
        grey = signed.mean(axis=2)
        smoothed = cv2.medianBlur((grey * 255).astype(np.uint8), 7) / 255.0  # the writing smoothed away
        card = np.abs(smoothed - 0.5) > 0.1
        assert 0.0 < card.mean() < 0.95, seed  # a card on the photo, not all of it
        writing = card & (np.abs(grey - smoothed) > 0.15)
        card_tone = np.median(grey[card])
        assert writing.any(), seed
        # thin strokes in the tone opposite to the card's
        opposite = np.sign(grey[writing] - card_tone) == -np.sign(card_tone - 0.5)
        assert opposite.mean() > 0.9, seed
        assert writing.sum() < 0.5 * card.sum(), seed


def test_structures_are_never_damage_and_scored_cases_do_not_change(monkeypatch):
    synthesis = benchmark_script("damage_synthesis", monkeypatch)
    undamaged = replace(synthesis.DEFAULT_MIX, clean_p=1.0, jpeg_p=0.0)
    photo = _flat_photo()
    with_lines, truth = synthesis.synthesize(photo, rng=np.random.default_rng(3), mix=undamaged, age=False, structures_p=1.0)
    assert not truth.any()
    assert (np.abs(with_lines - photo).max(axis=2) > 0.02).any()
    # structures_p = 0 (the benchmarks' default) draws nothing for them: the same case as before
    plain, plain_truth = synthesis.synthesize(photo, rng=np.random.default_rng(3), structures_p=0.0)
    default, default_truth = synthesis.synthesize(photo, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(plain, default)
    np.testing.assert_array_equal(plain_truth, default_truth)


def _scuffs_only(synthesis, scuffs_p: float):
    """A mix that draws nothing but (maybe) a scuffed patch, never JPEG."""
    none = {name: 0.0 for name in ("scratches", "cracks", "specks", "scratch_field_p", "crazing_p", "crease_p", "tear_p", "hairs", "stains", "spots", "clean_p", "jpeg_p")}
    return replace(synthesis.DEFAULT_MIX, scuffs_p=scuffs_p, **none)


def test_scuffs_are_many_short_faint_strokes_marked_where_visible(monkeypatch):
    synthesis = benchmark_script("damage_synthesis", monkeypatch)
    photo = np.full((192, 192, 3), 0.3, np.float32)  # dark, so light scuffs show
    for seed in range(6):
        damaged, truth = synthesis.synthesize(photo, rng=np.random.default_rng([seed, 1]), mix=_scuffs_only(synthesis, 1.0), age=False)
        change = np.abs(damaged - photo).max(axis=2)
        assert truth.any(), seed
        assert not truth[change < 0.02].any()  # the truth marks only what changed visibly
        assert 0.005 < truth.mean() < 0.5, (seed, truth.mean())  # a patch of strokes, not a fill
        assert change.max() <= 0.6 * 0.7 + 1e-6  # faint: opacity at most 0.6 of the way to white
        wide = cv2.morphologyEx(truth.astype(np.uint8), cv2.MORPH_OPEN, np.ones((4, 4), np.uint8)) > 0
        assert wide.sum() < 0.1 * truth.sum(), seed  # thin strokes (1-2 px), even where they cross
        layers = synthesis.damage_geometry(photo.shape[:2], rng=np.random.default_rng([seed, 2]), mix=_scuffs_only(synthesis, 1.0))
        assert len(np.unique(layers["scuffs"])) - 1 >= 30, seed  # many strokes, each its own label


def test_scuffs_are_drawn_only_when_asked(monkeypatch):
    synthesis = benchmark_script("damage_synthesis", monkeypatch)
    photo = np.full((128, 128, 3), 0.3, np.float32)
    damaged, truth = synthesis.synthesize(photo, rng=np.random.default_rng(4), mix=_scuffs_only(synthesis, 0.0), age=False)
    assert not truth.any()
    np.testing.assert_array_equal(damaged, photo)


def test_a_dust_field_is_many_specks_of_1_to_3_px_over_a_large_region(monkeypatch):
    synthesis = benchmark_script("damage_synthesis", monkeypatch)
    dust_only = replace(_scuffs_only(synthesis, 0.0), dust_p=1.0)
    for seed in range(4):
        layers = synthesis.damage_geometry((192, 192), rng=np.random.default_rng([seed, 3]), mix=dust_only)
        dust = layers["strokes"] > 0
        count, _, stats, _ = cv2.connectedComponentsWithStats(dust.astype(np.uint8), connectivity=8)
        assert count - 1 >= 40, seed  # many specks
        assert 0.001 < dust.mean() < 0.06, (seed, dust.mean())
        assert np.median(stats[1:, cv2.CC_STAT_AREA]) <= 4, seed  # specks, a few merged where they touch
        ys, xs = np.nonzero(dust)
        assert np.ptp(ys) > 50 and np.ptp(xs) > 50, seed  # spread over a large region
    photo = np.full((128, 128, 3), 0.3, np.float32)
    damaged, truth = synthesis.synthesize(photo, rng=np.random.default_rng(4), mix=_scuffs_only(synthesis, 0.0), age=False)
    assert not truth.any()  # dust_p 0 (the default): no dust, and no random number drawn for it
