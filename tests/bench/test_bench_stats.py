"""The bench statistics: RewardBench aggregation and the paired bootstrap, on hand-built
tables and simulated per-item outcomes."""

from __future__ import annotations

import numpy as np
import pytest

from rewardlab.bench import (
    combine_strata,
    overall_score,
    paired_p_value,
    percentile_ci,
    replicate_scores,
    section_scores,
)


def test_section_scores_are_example_weighted_means() -> None:
    # RewardBench's calculate_scores_per_section on a hand-built table
    scores = {"alpacaeval-easy": 0.75, "mt-bench-med": 0.5, "math-prm": 0.25, "hep-go": 1.0}
    sections = {"alpacaeval-easy": "Chat", "mt-bench-med": "Chat", "math-prm": "Reasoning",
                "hep-go": "Reasoning"}
    counts = {"alpacaeval-easy": 100, "mt-bench-med": 40, "math-prm": 984, "hep-go": 164}
    got = section_scores(scores, sections, counts)
    assert got["Chat"] == pytest.approx((0.75 * 100 + 0.5 * 40) / 140)
    assert got["Reasoning"] == pytest.approx((0.25 * 984 + 1.0 * 164) / 1148)
    assert overall_score(got) == pytest.approx((got["Chat"] + got["Reasoning"]) / 2)
    assert overall_score(got, {"Reasoning": 0.5}) == pytest.approx(
        (got["Chat"] + 0.5 * got["Reasoning"]) / 1.5)


def test_f1_strata_combine_like_processbench() -> None:
    means = np.array([[0.5, 1.0], [0.0, 0.0], [np.nan, 1.0]])
    assert combine_strata("f1", means).tolist()[:2] == [pytest.approx(2 / 3), 0.0]
    assert np.isnan(combine_strata("f1", means)[2])


def _simulate(rng: np.random.Generator, n: int, p_a: float, p_b: float, rho: float
              ) -> np.ndarray:
    """Per-item 0/1 outcomes of two models: with probability ``rho`` an item is equally hard
    for both (one shared uniform), otherwise independent draws."""
    u = rng.random(n)
    shared = rng.random(n) < rho
    v = np.where(shared, u, rng.random(n))
    return np.column_stack([u < p_a, v < p_b]).astype(np.float64)


def _p_value(outcomes: np.ndarray, seed: int, n_boot: int = 1000) -> float:
    reps = replicate_scores("mean", [outcomes], n_boot=n_boot,
                            rng=np.random.default_rng(seed))
    diff = float(outcomes[:, 0].mean() - outcomes[:, 1].mean())
    return paired_p_value(diff, reps[:, 0] - reps[:, 1])


def test_same_model_twice_gives_p_one() -> None:
    rng = np.random.default_rng(1)
    a = (rng.random(1000) < 0.7).astype(np.float64)
    assert _p_value(np.column_stack([a, a]), seed=0) == 1.0


def test_five_point_gain_on_1000_pairs_is_significant() -> None:
    rng = np.random.default_rng(2)
    outcomes = _simulate(rng, 1000, 0.72, 0.67, rho=0.6)
    assert _p_value(outcomes, seed=0) < 0.05
    # power: over 200 simulated benchmarks, nearly every one finds the gain
    powers = [_p_value(_simulate(rng, 1000, 0.72, 0.67, rho=0.6), seed=s) < 0.05
              for s in range(200)]
    assert np.mean(powers) > 0.9


def test_null_rejection_rate_is_near_five_percent() -> None:
    rng = np.random.default_rng(3)
    rejected = [_p_value(_simulate(rng, 1000, 0.7, 0.7, rho=0.6), seed=s) < 0.05
                for s in range(400)]
    assert 0.02 <= np.mean(rejected) <= 0.09


def test_joint_resampling_matches_row_resampling() -> None:
    # the multinomial draw over distinct outcome pairs has the distribution of resampling
    # items: compare the spread of the difference with a direct row bootstrap
    rng = np.random.default_rng(4)
    outcomes = _simulate(rng, 300, 0.7, 0.6, rho=0.5)
    reps = replicate_scores("mean", [outcomes], n_boot=4000, rng=np.random.default_rng(0))
    fast = np.std(reps[:, 0] - reps[:, 1])
    idx = np.random.default_rng(1).integers(0, 300, size=(4000, 300))
    slow = np.std(outcomes[idx, 0].mean(axis=1) - outcomes[idx, 1].mean(axis=1))
    # two Monte Carlo estimates of one std, 4,000 draws each: ~1.6% sampling error apart
    assert fast == pytest.approx(slow, rel=0.08)


def test_percentile_ci_ignores_nan() -> None:
    lo, hi = percentile_ci(np.array([np.nan, 0.1, 0.2, 0.3]))
    assert 0.1 <= lo < hi <= 0.3
    assert np.isnan(percentile_ci(np.array([np.nan]))[0])
