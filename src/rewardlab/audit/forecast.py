"""Forecast over-optimisation from best-of-k points: Gao et al.'s best-of-n scaling law.

Gao, Schulman and Hilton (2023, "Scaling laws for reward model overoptimization") found that
under best-of-n selection the gold reward, relative to a random pick, follows

    gold(d) − gold(0) = d · (α − β · d),   d = √KL_bon(n),   KL_bon(n) = log n − (n − 1) / n

(KL_bon is the KL divergence of the best-of-n distribution from the policy). The proxy's own
score follows the same form with β near 0. The form is linear in (α, β), so it is fitted by
least squares to the mean best-of-k curve over problems; the 95% intervals resample
problems (bootstrap) and refit. With β > 0 the gold peaks at d* = α / (2β): KL* = d*², and
the recommended n is the n whose KL_bon is KL*. With β <= 0 no peak is predicted (the gold
is still rising at the fitted range), and the recommendation is the largest n measured.

Best-of-k curves are exact expectations over random draws of k of each problem's candidates
(``_stats.best_of_k_curve``); k = 1 is a random pick, so d = 0 there and the fit needs no
intercept. At least three distinct k (two besides k = 1) are needed to fit two parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardlab.audit._stats import best_of_k_curve
from rewardlab.errors import ConfigError

__all__ = ["Forecast", "GaoFit", "fit_gao", "forecast_best_of_n", "gao_curve", "kl_bon",
           "n_for_kl"]


def kl_bon(n: float | np.ndarray) -> np.ndarray:
    """KL divergence of best-of-n from the base policy: ``log n − (n − 1) / n``.

    Example:
        >>> float(kl_bon(1)), round(float(kl_bon(4)), 4)
        (0.0, 0.6363)
    """
    n = np.asarray(n, dtype=np.float64)
    return np.log(n) - (n - 1) / n


def n_for_kl(kl: float) -> float:
    """The n whose best-of-n KL is ``kl`` (KL_bon is increasing in n)."""
    if kl <= 0:
        return 1.0
    lo, hi = 1.0, 2.0
    while kl_bon(hi) < kl:
        hi *= 2
        if hi > 1e15:
            return float("inf")
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if kl_bon(mid) < kl else (lo, mid)
    return (lo + hi) / 2


def gao_curve(d: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """Gold gain over a random pick at ``d = sqrt(KL)``: ``d (α − β d)``."""
    d = np.asarray(d, dtype=np.float64)
    return d * (alpha - beta * d)


def _lstsq(d: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[float, float]:
    x = np.column_stack([d, -d * d]) * np.sqrt(w)[:, None]
    coef, *_ = np.linalg.lstsq(x, y * np.sqrt(w), rcond=None)
    return float(coef[0]), float(coef[1])


@dataclass(frozen=True)
class GaoFit:
    """A fitted best-of-n curve: ``value(n) = base + d (α − β d)``, with 95% intervals."""

    alpha: float
    beta: float
    base: float
    alpha_ci: tuple[float, float]
    beta_ci: tuple[float, float]
    peak_n: float | None
    peak_n_ci: tuple[float, float] | None
    peak_value: float | None

    def predict(self, n: float | np.ndarray) -> np.ndarray:
        return self.base + gao_curve(np.sqrt(kl_bon(n)), self.alpha, self.beta)

    @property
    def peak_kl(self) -> float | None:
        return None if self.peak_n is None else float(kl_bon(self.peak_n))

    def to_json(self) -> dict[str, Any]:
        def r(v: Any) -> Any:
            if v is None:
                return None
            if isinstance(v, tuple):
                return [r(x) for x in v]
            return None if not math.isfinite(v) else round(float(v), 6)
        return {"alpha": r(self.alpha), "beta": r(self.beta), "base": r(self.base),
                "alpha_ci95": r(self.alpha_ci), "beta_ci95": r(self.beta_ci),
                "peak_n": r(self.peak_n), "peak_n_ci95": r(self.peak_n_ci),
                "peak_kl": r(self.peak_kl), "peak_value": r(self.peak_value)}


def _mean_curve(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean over problems at each k (NaN: the problem has fewer candidates), and counts."""
    count = np.sum(np.isfinite(values), axis=0)
    with np.errstate(invalid="ignore"):
        mean = np.nansum(values, axis=0) / np.maximum(count, 1)
    return mean, count


def _fit_curve(ks: np.ndarray, values: np.ndarray) -> tuple[float, float, float]:
    mean, count = _mean_curve(values)
    keep = count > 0
    base = float(mean[ks == 1][0]) if np.any((ks == 1) & keep) else float("nan")
    d = np.sqrt(kl_bon(ks[keep]))
    alpha, beta = _lstsq(d, mean[keep] - base, count[keep].astype(np.float64))
    return alpha, beta, base


def _peak(alpha: float, beta: float) -> float | None:
    if beta <= 0 or alpha <= 0:
        return None
    n = n_for_kl((alpha / (2 * beta)) ** 2)
    return n if math.isfinite(n) else None


def fit_gao(ks: Sequence[int], values: np.ndarray, *, n_boot: int = 200, seed: int = 0
            ) -> GaoFit:
    """Fit the Gao form to per-problem best-of-k values ``(problems, len(ks))``.

    ``ks`` must include 1 (the random pick the gain is measured from) and at least three
    distinct values; a problem with fewer candidates has NaN beyond its count.

    Example:
        >>> ks = np.arange(1, 33)
        >>> truth = 0.2 + gao_curve(np.sqrt(kl_bon(ks)), 0.5, 0.2)
        >>> fit = fit_gao(ks, np.tile(truth, (5, 1)), n_boot=10)
        >>> round(fit.alpha, 3), round(fit.beta, 3), round(fit.peak_n)
        (0.5, 0.2, 12)
    """
    ks_arr = np.asarray(ks, dtype=np.float64)
    distinct = sorted(set(ks_arr.tolist()))
    if len(distinct) < 3:
        raise ConfigError(f"a best-of-n forecast fits two parameters and needs at least 3 "
                          f"distinct k (candidates per problem); got k = "
                          f"{', '.join(f'{k:g}' for k in distinct) or 'none'}")
    if 1 not in distinct:
        raise ConfigError("a best-of-n forecast measures gains from a random pick and needs "
                          "k = 1 among the points")
    values = np.asarray(values, dtype=np.float64).reshape(-1, len(ks_arr))
    alpha, beta, base = _fit_curve(ks_arr, values)
    rng = np.random.default_rng(seed)
    draws = []
    m = len(values)
    for _ in range(n_boot):
        draws.append(_fit_curve(ks_arr, values[rng.integers(0, m, m)]))
    boot = np.array(draws) if draws else np.full((1, 3), np.nan)

    def ci(col: np.ndarray) -> tuple[float, float]:
        col = col[np.isfinite(col)]
        if not len(col):
            return (float("nan"), float("nan"))
        return float(np.percentile(col, 2.5)), float(np.percentile(col, 97.5))

    peak = _peak(alpha, beta)
    peak_ci = None
    if peak is not None and draws:
        # a resample with no peak puts it at infinity: order statistics, not interpolation
        peaks = np.sort([p if (p := _peak(a, b)) is not None else np.inf
                         for a, b, _ in draws])
        last = len(peaks) - 1
        peak_ci = (float(peaks[int(0.025 * last)]), float(peaks[math.ceil(0.975 * last)]))
    value = None if peak is None else base + alpha ** 2 / (4 * beta)
    return GaoFit(alpha=alpha, beta=beta, base=base, alpha_ci=ci(boot[:, 0]),
                  beta_ci=ci(boot[:, 1]), peak_n=peak, peak_n_ci=peak_ci, peak_value=value)


@dataclass(frozen=True)
class Forecast:
    """Gold and proxy best-of-k curves, their Gao fits and what they recommend."""

    ks: np.ndarray
    gold: np.ndarray
    proxy: np.ndarray
    gold_fit: GaoFit
    proxy_fit: GaoFit
    n_problems: int
    fit_max_k: int
    gold_source: str
    notes: list[str] = field(default_factory=list)

    @property
    def recommended_n(self) -> float:
        """The whole n (a number of samples) nearest the predicted gold peak with the higher
        predicted gold, or the largest n measured when no peak is predicted."""
        peak = self.gold_fit.peak_n
        if peak is None:
            return float(self.ks.max())
        if not math.isfinite(peak):
            return peak
        near = sorted({max(1, math.floor(peak)), max(1, math.ceil(peak))})
        return float(max(near, key=lambda n: float(self.gold_fit.predict(n))))

    def to_json(self) -> dict[str, Any]:
        held = self.ks > self.fit_max_k
        predicted = self.gold_fit.predict(self.ks)
        error = (float(np.mean(np.abs(predicted[held] - self.gold[held])))
                 if held.any() else None)
        return {"n_problems": self.n_problems, "gold_source": self.gold_source,
                "fit_max_k": self.fit_max_k,
                "points": [{"k": int(k), "kl": round(float(kl_bon(k)), 5),
                            "gold": round(float(g), 6), "proxy": round(float(p), 6),
                            "gold_fitted": round(float(f), 6), "held_out": bool(k > self.fit_max_k)}
                           for k, g, p, f in zip(self.ks, self.gold, self.proxy, predicted,
                                                 strict=True)],
                "gold_fit": self.gold_fit.to_json(), "proxy_fit": self.proxy_fit.to_json(),
                "recommended_n": round(self.recommended_n, 2),
                "recommended_kl": round(float(kl_bon(self.recommended_n)), 4)
                if math.isfinite(self.recommended_n) else None,
                "peak_predicted": self.gold_fit.peak_n is not None,
                "held_out_mean_abs_error": error, "notes": self.notes}

    def plot(self) -> dict[str, Any]:
        grid = np.unique(np.round(np.geomspace(1, max(4 * self.ks.max(),
                                                      2 * (self.gold_fit.peak_n or 1)), 60)))
        return {"k": self.ks.tolist(), "gold": self.gold.tolist(), "proxy": self.proxy.tolist(),
                "grid": grid.tolist(), "gold_fitted": self.gold_fit.predict(grid).tolist(),
                "proxy_fitted": self.proxy_fit.predict(grid).tolist(),
                "peak_n": self.gold_fit.peak_n, "fit_max_k": self.fit_max_k}


def per_problem_curves(proxy: Sequence[np.ndarray], gold: Sequence[np.ndarray]
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ks, gold_values, proxy_values)``: each problem's exact best-of-k gold and proxy
    score of the proxy's pick, NaN beyond its own number of candidates."""
    n_max = max(len(p) for p in proxy)
    g_all = np.full((len(proxy), n_max), np.nan)
    p_all = np.full((len(proxy), n_max), np.nan)
    for i, (p, g) in enumerate(zip(proxy, gold, strict=True)):
        g_k, p_k = best_of_k_curve(np.asarray(p), np.asarray(g))
        g_all[i, : len(p)] = g_k
        p_all[i, : len(p)] = p_k
    return np.arange(1, n_max + 1), g_all, p_all


def forecast_best_of_n(proxy: Sequence[np.ndarray], gold: Sequence[np.ndarray], *,
                       fit_max_k: int | None = None, n_boot: int = 200, seed: int = 0,
                       gold_source: str = "gold") -> Forecast:
    """Fit the Gao form to the proxy's best-of-k points (k <= ``fit_max_k``, default all)
    and predict the rest; ``proxy``/``gold`` hold each problem's candidates' scores."""
    ks, g_all, p_all = per_problem_curves(proxy, gold)
    unchecked = fit_max_k is not None and fit_max_k >= ks.max()
    fit_max_k = int(ks.max()) if fit_max_k is None else int(fit_max_k)
    use = ks <= fit_max_k
    gold_fit = fit_gao(ks[use], g_all[:, use], n_boot=n_boot, seed=seed)
    # the proxy's scale is arbitrary: fit it too, but its peak is not a recommendation
    proxy_fit = fit_gao(ks[use], p_all[:, use], n_boot=n_boot, seed=seed + 1)
    gold_mean, count = _mean_curve(g_all)
    proxy_mean, _ = _mean_curve(p_all)
    notes = []
    if len(set(count.tolist())) > 1:
        notes.append("problems have different numbers of candidates; each k averages the "
                     "problems with at least k")
    if unchecked:
        notes.append(f"no problem has more than {int(ks.max())} candidates, so nothing above "
                     f"fit_max_k = {fit_max_k} is held out: the prediction is not checked")
    if len(proxy) < 2:
        notes.append(f"only {len(proxy)} problem: the intervals resample problems, so they "
                     "are zero-width and say nothing about the uncertainty")
    return Forecast(ks=ks, gold=gold_mean, proxy=proxy_mean, gold_fit=gold_fit,
                    proxy_fit=proxy_fit, n_problems=len(proxy), fit_max_k=fit_max_k,
                    gold_source=gold_source, notes=notes)


def forecast(model: Any, data: Any, *, gold: Any | None = None, fit_max_k: int | None = None,
             n_boot: int = 200, seed: int = 0) -> Forecast:
    """Score best-of-n ``data`` with the proxy ``model`` (and ``gold``, a model, when given;
    else the rows' ``is_correct``) and forecast where the gold peaks.

    Raises:
        DataError: a row has no ``is_correct`` and no gold model was given, or fewer than
            two candidates (nothing to select among).
        ConfigError: fewer than 3 distinct k to fit.
    """
    from rewardlab.data import require_task
    from rewardlab.errors import DataError
    from rewardlab.models.base import describe
    from rewardlab.scoring import score_best_of_n

    require_task(data, ("best-of-n",), purpose="a best-of-n forecast")
    if not len(data):
        raise DataError("holds no best-of-n rows", file=data.source)
    short = next((r for r in data.records if len(r.responses) < 2), None)
    if short is not None:
        raise DataError(f"has {len(short.responses)} candidate(s); a best-of-n forecast needs "
                        "at least 2 per row (drop the row or add candidates)",
                        file=data.source, line=short.line, field="responses")
    if gold is None:
        missing = next((r for r in data.records if r.is_correct is None), None)
        if missing is not None:
            raise DataError("has no 'is_correct' labels; give a gold model (--gold SPEC) or "
                            "label every candidate", file=data.source, line=missing.line,
                            field="is_correct")
        gold_scores = [np.asarray(r.is_correct, dtype=np.float64) for r in data.records]
        source = "is_correct"
    else:
        gold_scores = score_best_of_n(gold, data)
        source = f"gold model '{describe(gold)}'"
    proxy_scores = score_best_of_n(model, data)
    # a candidate without a finite score (a judge's failed request gives NaN) has no place on
    # a best-of-k curve: its problem is skipped and said so, never averaged away unseen
    gold_ok = [bool(np.isfinite(g).all()) for g in gold_scores]
    proxy_ok = [bool(np.isfinite(p).all()) for p in proxy_scores]
    unscored = [(r.line, "proxy" if g else "gold")
                for r, g, p in zip(data.records, gold_ok, proxy_ok, strict=True) if not (g and p)]
    keep = [i for i, (g, p) in enumerate(zip(gold_ok, proxy_ok, strict=True)) if g and p]
    gold_name = source if gold is None else describe(gold)
    names = {"gold": f"the gold model '{gold_name}'", "proxy": f"the proxy '{describe(model)}'"}
    if not keep:
        line, who = unscored[0]
        raise DataError(f"no row can be forecast: every one has a candidate without a finite "
                        f"score; the first, at line {line}, from {names[who]}; check the "
                        "model can score these rows", file=data.source)
    result = forecast_best_of_n([proxy_scores[i] for i in keep], [gold_scores[i] for i in keep],
                                fit_max_k=fit_max_k, n_boot=n_boot, seed=seed,
                                gold_source=source)
    if unscored:
        where = ", ".join(f"line {line} ({who})" for line, who in unscored[:5])
        more = f" and {len(unscored) - 5} more" if len(unscored) > 5 else ""
        result.notes.append(f"{len(unscored)} of {len(data)} problems skipped: a candidate "
                            f"has no finite score (NaN) from the gold or the proxy model: "
                            f"{where}{more}")
    return result
