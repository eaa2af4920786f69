"""The benchmark's statistics as pure functions: RewardBench aggregation and a paired,
stratified bootstrap.

**Aggregation** (RewardBench's ``calculate_scores_per_section``): a section's score is the
mean of its rows' scores weighted by their example counts (or a suite's override, e.g.
RewardBench's ``math-prm`` = 984); the overall score is the mean of the section scores
(weighted by section weights, all 1 unless a suite says otherwise).

**Bootstrap.** Each table row holds per-item outcomes in one or more *strata*: one stratum of
accuracies for pairwise and best-of-n rows; for first-error rows two (hits on erroneous
solutions, hits on correct ones), combined by the harmonic mean (ProcessBench's F1), with
each stratum resampled on its own as ``evaluate_process`` does. A resample draws, in every
stratum of every row, as many items as it has, with replacement, and *jointly for all
models*: an item's outcomes for models A and B travel together, which is what makes the test
paired. Outcomes take few distinct values, so one multinomial draw over the distinct outcome
*tuples* gives exactly the distribution of resampling items, at a cost independent of n
(the trick ``rewardlab.evaluate.metrics.bootstrap_ci`` uses for one model).

**p-value.** For a difference d = score(A) − score(B) with bootstrap replicates d*, the test
of "no difference" centres the replicates on zero (d* − d) and counts how often they are at
least as far from zero as d: ``p = (1 + #{|d* − d| >= |d|}) / (n_boot + 1)``. Two identical
models give d = 0 and every d* = 0, so p = 1, not an undefined 0/0. Calibration and power
on simulated outcomes are measured in ``benchmarks/paired_bootstrap.py``.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence

import numpy as np

__all__ = [
    "combine_strata",
    "overall_score",
    "paired_p_value",
    "percentile_ci",
    "replicate_scores",
    "row_rng",
    "section_scores",
]

KINDS = ("mean", "f1")


def combine_strata(kind: str, means: np.ndarray) -> np.ndarray:
    """A row's score from its strata means (last axis): the mean itself, or the harmonic F1
    of (accuracy on erroneous, accuracy on correct) with 0 when both are 0.

    Example:
        >>> combine_strata("f1", np.array([[0.5, 1.0], [0.0, 0.0]])).tolist()
        [0.6666666666666666, 0.0]
    """
    if kind == "mean":
        return means[..., 0]
    e, c = means[..., 0], means[..., 1]
    total = e + c
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2 * e * c / np.where(total > 0, total, 1.0),
                        np.where(np.isnan(total), np.nan, 0.0))


def row_rng(seed: int, key: str) -> np.random.Generator:
    """A generator for one row: its draws do not change when other rows are added."""
    return np.random.default_rng([seed, zlib.crc32(key.encode("utf-8"))])


def replicate_scores(kind: str, strata: Sequence[np.ndarray], *, n_boot: int,
                     rng: np.random.Generator) -> np.ndarray:
    """Bootstrap replicates of a row's score for k models at once, resampled jointly.

    Args:
        kind: ``mean`` or ``f1`` (see ``combine_strata``).
        strata: per stratum, outcomes of shape ``(n_items, k)``: item i's outcome for each
            model, in the same order for every model.
        n_boot: number of resamples.
        rng: the random generator.

    Returns:
        float64 ``(n_boot, k)``: the row's score per resample and model. An empty stratum
        gives NaN.
    """
    k = strata[0].shape[1] if strata and strata[0].ndim == 2 else 1
    means = np.empty((n_boot, k, len(strata)))
    for s, outcomes in enumerate(strata):
        outcomes = np.asarray(outcomes, dtype=np.float64).reshape(-1, k)
        n = outcomes.shape[0]
        if n == 0:
            means[:, :, s] = np.nan
            continue
        values, counts = np.unique(outcomes, axis=0, return_counts=True)
        draws = rng.multinomial(n, counts / n, size=n_boot)
        means[:, :, s] = draws @ values / n
    return combine_strata(kind, means)


def section_scores(row_scores: Mapping[str, np.ndarray | float], sections: Mapping[str, str],
                   weights: Mapping[str, float]) -> dict[str, np.ndarray | float]:
    """RewardBench's section scores: per section, the weighted mean of its rows' scores.

    Works on plain floats and, element-wise, on arrays of bootstrap replicates.

    Example:
        >>> section_scores({"a": 1.0, "b": 0.5, "c": 0.2}, {"a": "S", "b": "S", "c": "T"},
        ...                {"a": 100, "b": 300, "c": 10})
        {'S': 0.625, 'T': 0.2}
    """
    totals: dict[str, list] = {}
    for row, score in row_scores.items():
        entry = totals.setdefault(sections[row], [0.0, 0.0])
        entry[0] = entry[0] + weights[row] * score
        entry[1] += weights[row]
    return {name: total / weight for name, (total, weight) in totals.items()}


def overall_score(sections: Mapping[str, np.ndarray | float],
                  weights: Mapping[str, float] | None = None) -> np.ndarray | float:
    """The overall score: the (weighted) mean of section scores; RewardBench: plain mean.

    Example:
        >>> overall_score({"Chat": 0.9, "Safety": 0.5})
        0.7
    """
    weights = weights or {}
    total = sum(weights.get(name, 1.0) * score for name, score in sections.items())
    return total / sum(weights.get(name, 1.0) for name in sections)


def percentile_ci(replicates: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """The percentile interval of bootstrap replicates (NaN replicates ignored)."""
    finite = replicates[~np.isnan(replicates)]
    if finite.size == 0:
        return (float("nan"), float("nan"))
    alpha = (1.0 - level) / 2
    lo, hi = np.quantile(finite, [alpha, 1.0 - alpha])
    return (float(lo), float(hi))


def paired_p_value(diff: float, replicates: np.ndarray) -> float:
    """Two-sided bootstrap p-value of "no difference" for an observed difference ``diff``.

    The replicates are centred on zero (``replicates - diff``); p is the share of them at
    least as far from zero as ``diff``, with the +1 correction that keeps p > 0. Identical
    models (all replicates 0, ``diff`` 0) give 1.

    Example:
        >>> paired_p_value(0.0, np.zeros(999))
        1.0
        >>> paired_p_value(0.05, np.full(999, 0.05)) < 0.01
        True
    """
    finite = replicates[~np.isnan(replicates)]
    if finite.size == 0 or diff != diff:
        return float("nan")
    extreme = np.abs(finite - diff) >= abs(diff) - 1e-12
    return float((1 + extreme.sum()) / (finite.size + 1))
