"""The audit's maths against brute force and reference implementations."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest

from rewardlab.audit._stats import (
    best_of_k_curve,
    fit_temperature,
    rank_correlation,
    reliability,
    wilson_interval,
)


def _brute_best_of_k(proxy, gold, k):
    """Mean over every k-subset of the gold (and proxy) of the proxy's pick, ties shared."""
    golds, proxies = [], []
    for subset in combinations(range(len(proxy)), k):
        top = max(proxy[i] for i in subset)
        tied = [i for i in subset if proxy[i] == top]
        golds.append(np.mean([gold[i] for i in tied]))
        proxies.append(top)
    return np.mean(golds), np.mean(proxies)


@pytest.mark.parametrize("seed", range(5))
def test_best_of_k_matches_enumeration_with_ties(seed):
    rng = np.random.default_rng(seed)
    proxy = rng.integers(0, 4, size=7).astype(float)  # many ties
    gold = rng.random(7)
    g, p = best_of_k_curve(proxy, gold)
    for k in range(1, 8):
        bg, bp = _brute_best_of_k(proxy, gold, k)
        assert g[k - 1] == pytest.approx(bg)
        assert p[k - 1] == pytest.approx(bp)


def test_rank_correlation_matches_scipy():
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 5, 50), rng.random(50)
    assert rank_correlation(x, y) == pytest.approx(stats.spearmanr(x, y).statistic)
    assert np.isnan(rank_correlation(np.ones(5), np.arange(5)))


def test_reliability_of_a_calibrated_forecaster_is_near_zero():
    rng = np.random.default_rng(0)
    margins = rng.normal(0, 2, 20000)
    # the chosen side truly wins with probability sigma(margin): flip the others
    wins = rng.random(margins.size) < 1 / (1 + np.exp(-margins))
    ece, _conf, _acc, count, edges = reliability(np.where(wins, margins, -margins))
    assert ece < 0.02
    assert count.sum() == margins.size and edges[0] == 0.5 and edges[-1] == 1.0
    # sampling error of 20,000 simulated outcomes (0.006 here), not round-off
    assert fit_temperature(np.where(wins, margins, -margins)) == pytest.approx(1.0, abs=0.1)


def test_reliability_counts_a_tie_as_half_right():
    ece, _conf, acc, count, _ = reliability(np.zeros(4), bins=2)
    assert ece == 0.0 and acc[0] == 0.5 and count[0] == 4


def test_wilson_interval_contains_the_estimate():
    lo, hi = wilson_interval(30, 100)
    assert lo < 0.3 < hi and hi - lo < 0.2
    assert np.isnan(wilson_interval(0, 0)[0])
