"""The audit's maths as pure functions of arrays: no model, no I/O, each testable alone."""

from __future__ import annotations

from math import comb
from typing import Any

import numpy as np

__all__ = [
    "best_of_k_curve",
    "fit_temperature",
    "rank_correlation",
    "reliability",
    "sigmoid",
    "wilson_centre_half",
    "wilson_interval",
]


def sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function, without overflow for large |x|."""
    x = np.asarray(x, dtype=np.float64)
    return np.exp(-np.logaddexp(0.0, -x))


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks with ties given their average rank (as Spearman's correlation needs)."""
    _values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    average = ends - (counts - 1) / 2.0
    return average[inverse]


def rank_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (ties averaged); NaN when either side is constant.

    Example:
        >>> round(rank_correlation(np.array([1, 2, 3, 4]), np.array([10, 20, 30, 25])), 3)
        0.8
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if x.size < 2:
        return float("nan")
    rx, ry = _ranks(x), _ranks(y)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion (sound near 0 and 1, unlike the normal one).

    Example:
        >>> lo, hi = wilson_interval(0, 20)
        >>> lo, round(hi, 3)
        (0.0, 0.161)
    """
    if n == 0:
        return (float("nan"), float("nan"))
    centre, half = wilson_centre_half(successes, n, z)
    return (float(max(0.0, centre - half)), float(min(1.0, centre + half)))


def wilson_centre_half(successes: Any, n: Any, z: float = 1.96) -> tuple[Any, Any]:
    """The Wilson interval's centre and half-width, elementwise over arrays of counts (for
    a running proportion: ``inspection.flips.anchor_flip_rate`` reads every prefix at once);
    ``n > 0``."""
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return centre, half


def reliability(margins: np.ndarray, *, bins: int = 10
                ) -> tuple[float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Top-label calibration of Bradley–Terry probabilities ``σ(r_chosen − r_rejected)``.

    Every pair is read from the side the model prefers: its confidence is
    ``max(p, 1 − p)`` and it is right when that side is the chosen one (a tie, p = 0.5, is half
    right). Confidences fall in [0.5, 1], cut into ``bins`` equal bins.

    Returns:
        ``(ece, confidence, accuracy, count, edges)``: the expected calibration error
        (count-weighted mean |accuracy − confidence| over bins) and, per bin, the mean
        confidence, the accuracy and the number of pairs (NaN for empty bins).

    Example:
        >>> ece, *_ = reliability(np.array([3.0, 3.0, -3.0, 3.0]), bins=5)
        >>> round(ece, 3)  # 95% confident, 75% right
        0.203
    """
    p = sigmoid(np.asarray(margins, dtype=np.float64))
    conf = np.maximum(p, 1 - p)
    right = np.where(p > 0.5, 1.0, np.where(p < 0.5, 0.0, 0.5))
    edges = np.linspace(0.5, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins).astype(np.float64)
    with np.errstate(invalid="ignore"):
        mean_conf = np.bincount(which, weights=conf, minlength=bins) / count
        accuracy = np.bincount(which, weights=right, minlength=bins) / count
    filled = count > 0
    ece = float(np.sum(count[filled] * np.abs(accuracy[filled] - mean_conf[filled]))
                / max(count.sum(), 1))
    return ece, mean_conf, accuracy, count, edges


def fit_temperature(margins: np.ndarray) -> float:
    """The temperature T that makes ``σ(margin / T)`` the best probability that the chosen
    side wins (least log-loss), by a log-spaced search refined once; 1 means already right.

    Example:
        >>> round(fit_temperature(np.array([4.0] * 7 + [-4.0] * 3)), 1)  # 70% right at σ(4)
        4.7
    """
    margins = np.asarray(margins, dtype=np.float64)
    margins = margins[np.isfinite(margins)]
    if margins.size == 0 or not np.any(margins):
        return float("nan")

    def loss(t: np.ndarray) -> np.ndarray:
        return np.logaddexp(0.0, -margins[None, :] / t[:, None]).mean(axis=1)

    grid = np.geomspace(1e-3, 1e4, 141)
    best = grid[np.argmin(loss(grid))]
    fine = np.geomspace(best / 1.13, best * 1.13, 81)
    return float(fine[np.argmin(loss(fine))])


def best_of_k_curve(proxy: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expected gold score and proxy score of the proxy's pick among k random candidates.

    For one problem with n candidates: for every k = 1..n, draw k candidates uniformly
    without replacement, keep the one the proxy scores highest (ties broken at random) and
    take its gold and proxy score; the expectation is exact, summed over the proxy's ranks.
    k = 1 is a random pick; k = n is best-of-n.

    Example:
        >>> gold, proxy = best_of_k_curve(np.array([3.0, 2.0, 1.0]), np.array([0.0, 1.0, 1.0]))
        >>> gold.round(3).tolist(), proxy.round(3).tolist()
        ([0.667, 0.333, 0.0], [2.0, 2.667, 3.0])
    """
    proxy = np.asarray(proxy, dtype=np.float64)
    gold = np.asarray(gold, dtype=np.float64)
    n = proxy.size
    proxy = np.where(np.isnan(proxy), -np.inf, proxy)
    values = np.unique(proxy)[::-1]  # best first
    gold_k, proxy_k = np.zeros(n), np.zeros(n)
    for k in range(1, n + 1):
        total = comb(n, k)
        better = 0
        for v in values:
            group = proxy == v
            m = int(group.sum())
            # the best of the k drawn is in this group: none better drawn, one of it drawn
            p = (comb(n - better, k) - comb(n - better - m, k)) / total
            gold_k[k - 1] += p * gold[group].mean()
            proxy_k[k - 1] += p * (v if np.isfinite(v) else np.nan)
            better += m
    return gold_k, proxy_k
