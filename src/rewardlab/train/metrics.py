"""Pairwise accuracy as a pure function of reward arrays: what a training loop measures on
held-out pairs, and what evaluation reports (``rewardlab.evaluate.metrics`` re-exports it with
its bootstrap interval).

It lives with the loops because a model kind's ``fit`` calls it while training (``seq:`` with
``eval_data``), and models sit below evaluation.

Ties count half everywhere: a model that gives both sides the same reward has no preference,
and counting that as a win (or a loss) would reward (or punish) degenerate models. RewardBench
counts a tie as a loss; ``ties="loss"`` reproduces it.
"""

from __future__ import annotations

import numpy as np

from rewardlab._validation import check_option

__all__ = ["pair_outcomes", "pairwise_accuracy"]

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
