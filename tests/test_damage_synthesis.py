"""The training damage generator's thin real structures (negatives for the learned detector)."""

from dataclasses import replace

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
