"""From per-step probabilities to one reward and to a first-error prediction, and how
first-error predictions are scored (pure maths, shared by the model and the evaluator)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rewardlab._validation import check_option, check_range

__all__ = [
    "AGGREGATIONS",
    "aggregate_step_scores",
    "first_error_accuracies",
    "first_error_index",
    "harmonic_f1",
]

#: How step scores become one reward. ``min``: a solution is as good as its worst step (the
#: usual choice for best-of-n, Lightman et al. 2023); ``prod``: the chance that every step is
#: right, if steps erred independently; ``mean``; ``last``: the score after the final step,
#: which for prefix-reading scorers already summarises the whole solution.
AGGREGATIONS = ("min", "prod", "mean", "last")


def aggregate_step_scores(step_scores: Sequence[np.ndarray], agg: str = "min") -> np.ndarray:
    """One reward per solution from its steps' p(correct): float64 ``(n,)``.

    A solution without steps gets NaN (there is nothing to judge).

    Example:
        >>> s = [np.array([0.9, 0.2, 0.8]), np.array([0.5])]
        >>> aggregate_step_scores(s, "min").tolist(), aggregate_step_scores(s, "last").tolist()
        ([0.2, 0.5], [0.8, 0.5])
        >>> aggregate_step_scores(s, "prod").round(3).tolist()
        [0.144, 0.5]
    """
    check_option("aggregate_step_scores", "agg", agg, AGGREGATIONS)
    reduce = {"min": np.min, "prod": np.prod, "mean": np.mean, "last": lambda a: a[-1]}[agg]
    return np.array([float(reduce(np.asarray(s, dtype=np.float64))) if len(s) else np.nan
                     for s in step_scores], dtype=np.float64)


def first_error_index(step_scores: np.ndarray, threshold: float = 0.5) -> int | None:
    """0-based index of the first step whose p(correct) is below ``threshold``, or None.

    Example:
        >>> first_error_index(np.array([0.9, 0.4, 0.1])), first_error_index(np.array([0.9]))
        (1, None)
    """
    check_range("first_error_index", "threshold", threshold, 0.0, 1.0 + 1e-12)
    below = np.flatnonzero(np.asarray(step_scores, dtype=np.float64) < threshold)
    return int(below[0]) if below.size else None


def harmonic_f1(acc_erroneous: float, acc_correct: float) -> float:
    """ProcessBench's F1: the harmonic mean of the two accuracies (0 when both are 0).

    Example:
        >>> harmonic_f1(0.5, 1.0), harmonic_f1(0.0, 1.0)
        (0.6666666666666666, 0.0)
    """
    if acc_erroneous != acc_erroneous or acc_correct != acc_correct:  # NaN: a side is empty
        return float("nan")
    total = acc_erroneous + acc_correct
    return 0.0 if total == 0 else 2 * acc_erroneous * acc_correct / total


def first_error_accuracies(predicted: Sequence[int | None], actual: Sequence[int | None]
                           ) -> dict[str, float]:
    """``acc_erroneous``, ``acc_correct``, ``first_error_f1`` and the ways erroneous
    solutions were missed (``early``: an error flagged before the real one; ``late``: after
    it; ``missed``: none flagged), as shares of the erroneous solutions.

    Example:
        >>> first_error_accuracies([1, None, 0, 2], [1, None, 2, None])["first_error_f1"]
        0.5
    """
    if len(predicted) != len(actual):
        raise ValueError(f"got {len(predicted)} predictions for {len(actual)} solutions")
    err = [(p, a) for p, a in zip(predicted, actual, strict=True) if a is not None]
    ok = [p for p, a in zip(predicted, actual, strict=True) if a is None]
    nan = float("nan")
    acc_e = float(np.mean([p == a for p, a in err])) if err else nan
    acc_c = float(np.mean([p is None for p in ok])) if ok else nan
    n_e = max(len(err), 1)
    return {
        "first_error_f1": harmonic_f1(acc_e, acc_c),
        "acc_erroneous": acc_e,
        "acc_correct": acc_c,
        "early": sum(p is not None and p < a for p, a in err) / n_e if err else nan,
        "late": sum(p is not None and p > a for p, a in err) / n_e if err else nan,
        "missed": sum(p is None for p, _ in err) / n_e if err else nan,
    }
