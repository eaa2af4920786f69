"""Pairwise metrics as pure functions of reward arrays.

Ties count half everywhere: a model that gives both sides the same reward has no preference,
and counting that as a win (or a loss) would reward (or punish) degenerate models. RewardBench
counts a tie as a loss; ``ties="loss"`` reproduces it.

``pair_outcomes`` and ``pairwise_accuracy`` are defined in ``rewardlab.train.metrics`` (a
model's ``fit`` measures held-out accuracy while it trains, and models sit below evaluation)
and re-exported here.
"""

from __future__ import annotations

import numpy as np

from rewardlab._validation import check_int, check_range
from rewardlab.train.metrics import pair_outcomes, pairwise_accuracy

__all__ = ["bootstrap_ci", "pair_outcomes", "pairwise_accuracy"]


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
