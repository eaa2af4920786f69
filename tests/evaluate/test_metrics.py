from __future__ import annotations

import numpy as np
import pytest

from rewardlab.errors import ConfigError
from rewardlab.evaluate import bootstrap_ci, pair_outcomes, pairwise_accuracy


def test_ties_count_half_or_as_losses() -> None:
    c, r = np.array([1.0, 0.0, 2.0, np.nan]), np.array([0.0, 1.0, 2.0, 1.0])
    assert pair_outcomes(c, r).tolist() == [1.0, 0.0, 0.5, 0.5]
    assert pair_outcomes(c, r, ties="loss").tolist() == [1.0, 0.0, 0.0, 0.0]
    assert pairwise_accuracy(c, r) == 0.5
    with pytest.raises(ConfigError):
        pair_outcomes(c, r, ties="win")


def test_shape_mismatch() -> None:
    with pytest.raises(ValueError, match="shape"):
        pair_outcomes(np.zeros(2), np.zeros(3))


def test_bootstrap_matches_row_resampling() -> None:
    """The multinomial shortcut has the distribution of resampling rows."""
    rng = np.random.default_rng(3)
    outcomes = rng.choice([0.0, 0.5, 1.0], p=[0.35, 0.05, 0.6], size=400)
    lo, hi = bootstrap_ci(outcomes, n_boot=4000, seed=1)
    naive = outcomes[rng.integers(0, 400, size=(4000, 400))].mean(axis=1)
    nlo, nhi = np.quantile(naive, [0.025, 0.975])
    assert abs(lo - nlo) < 0.01 and abs(hi - nhi) < 0.01  # two 4,000-draw Monte Carlo quantiles
    assert lo < outcomes.mean() < hi


def test_bootstrap_covers_the_true_accuracy_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(0)
    hits = 0
    for trial in range(200):
        sample = (rng.random(300) < 0.7).astype(float)
        lo, hi = bootstrap_ci(sample, n_boot=500, seed=trial)
        hits += lo <= 0.7 <= hi
    assert 0.9 <= hits / 200 <= 0.99


def test_bootstrap_edge_cases() -> None:
    assert bootstrap_ci(np.ones(10)) == (1.0, 1.0)
    lo, hi = bootstrap_ci(np.array([]))
    assert np.isnan(lo) and np.isnan(hi)
