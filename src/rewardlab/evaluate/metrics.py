"""Pairwise metrics as pure functions of reward arrays.

Ties count half everywhere: a model that gives both sides the same reward has no preference,
and counting that as a win (or a loss) would reward (or punish) degenerate models. RewardBench
counts a tie as a loss; ``ties="loss"`` reproduces it.
"""

from __future__ import annotations

import numpy as np

from rewardlab._validation import check_int, check_option, check_range

__all__ = ["bootstrap_ci", "pair_outcomes", "pairwise_accuracy"]

_TIES = ("half", "loss")


def pair_outcomes(chosen: np.ndarray, rejected: np.ndarray, *, ties: str = "half") -> np.ndarray:
    """Per pair: 1 when ``chosen`` scores higher, 0 when lower, 0.5 (or 0) on a tie.

    A NaN reward (a judge that gave no verdict) counts as a tie.

    Example:
        >>> pair_outcomes(np.array([2.0, 1.0, 1.0]), np.array([1.0, 2.0, 1.0])).tolist()
        [1.0, 0.0, 0.5]
    """
    check_option("pair_outcomes", "ties", ties, _TIES)
    chosen = np.asarray(chosen, dtype=np.float64)
    rejected = np.asarray(rejected, dtype=np.float64)
    if chosen.shape != rejected.shape:
        raise ValueError(f"chosen has shape {chosen.shape} but rejected {rejected.shape}")
    tie = 0.5 if ties == "half" else 0.0
    with np.errstate(invalid="ignore"):
        out = np.where(chosen > rejected, 1.0, np.where(chosen < rejected, 0.0, tie))
    return out


def pairwise_accuracy(chosen: np.ndarray, rejected: np.ndarray, *, ties: str = "half") -> float:
    """Share of pairs where the chosen response gets the higher reward (ties count half).

    Example:
        >>> pairwise_accuracy(np.array([2.0, 1.0]), np.array([1.0, 1.0]))
        0.75
    """
    outcomes = pair_outcomes(chosen, rejected, ties=ties)
    return float(outcomes.mean()) if outcomes.size else float("nan")


def bootstrap_ci(
    outcomes: np.ndarray, *, n_boot: int = 2000, level: float = 0.95, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of per-pair outcomes.

    Outcomes take few distinct values (0, 0.5, 1), so a resample is fully described by how
    many times each value is drawn: one multinomial draw per resample gives the exact same
    distribution as resampling rows, at O(n_boot) cost instead of O(n_boot * n).

    Example:
        >>> lo, hi = bootstrap_ci(np.array([1.0] * 60 + [0.0] * 40))
        >>> 0.49 < lo < 0.6 < hi < 0.71  # 60% of 100: about ±0.1
        True
    """
    check_int("bootstrap_ci", "n_boot", n_boot)
    check_range("bootstrap_ci", "level", level, 0.5, 1.0)
    outcomes = np.asarray(outcomes, dtype=np.float64)
    n = outcomes.size
    if n == 0:
        return (float("nan"), float("nan"))
    values, counts = np.unique(outcomes, return_counts=True)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n, counts / n, size=n_boot)
    means = draws @ values / n
    alpha = (1.0 - level) / 2
    lo, hi = np.quantile(means, [alpha, 1.0 - alpha])
    return (float(lo), float(hi))
