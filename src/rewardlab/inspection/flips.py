"""How many labels are flipped? An estimate from cross-fitted reward models.

**Method.** The pairs are cut into ``folds`` parts by prompt; a model trained on the other
parts scores each part's pairs, so every pair gets a margin ``d = r(chosen) − r(rejected)``
from a model that never saw it (cross-fitting: a model judging its own training pairs has
memorised their labels, flipped ones included). The observed label is then modelled as the
true preference passed through a symmetric flip channel:

    P(observed label | d) = ε + (1 − 2ε) · σ(a · d)

the noise-aware likelihood that ``train`` maximises over the model's weights
(``losses.noise_aware_loglik``), here evaluated on held-out margins as a function of the flip
rate ε ∈ [0, ½), with the temperature a > 0 maximised out for each ε (the profile
likelihood). The estimate is the mean of ε under a uniform prior and that likelihood, the
95% interval its 2.5–97.5% quantiles. The mean, not the maximum: when the margins say little
(a weak model, heavy noise) the profile is flat and its maximum jumps between 0 and ½ from
one resample to the next (measured in ``benchmarks/inspect_flips.py``), while the mean moves
smoothly and the interval widens to say how little is known.

**Assumptions.** (1) Flips are symmetric and independent of the pair (random label noise).
(2) The clean preference is close to deterministic where the model is most confident: ε is
identified by how often the label disagrees with confident margins (the "anchor points" of
the noise-rate literature: Scott, 2015; Patrini et al., 2017). Pairs on which people
genuinely disagree count as flips, so on human data the estimate is the rate of disagreement
with the majority a model can learn, not only annotator error. (3) The model's margin ranks
pairs by how clear they are; a weak model (accuracy near 0.5) makes every pair look unclear
and the interval wide. The interval comes from the likelihood of these margins; it leaves out
the variation between retrained models.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardlab.data import Dataset, PairRecord, kfold_by_prompt
from rewardlab.errors import ConfigError
from rewardlab.scoring import score_pairs

__all__ = ["FlipEstimate", "cross_fitted_margins", "estimate_flip_rate", "fit_flip_rate",
           "flip_posterior", "profile_flip_rate"]

METHOD = ("cross-fitted margins d; P(label) = eps + (1-2eps) sigmoid(a*d) with the temperature "
          "a profiled out; posterior mean and 95% interval of eps under a uniform prior")


def _log_sigmoid(x: np.ndarray) -> np.ndarray:
    return -np.logaddexp(0.0, -x)


def _loglik(eps: float, a: float, d: np.ndarray) -> float:
    # log(eps + (1 - 2 eps) sigma(a d)) = log((1-eps) sigma(ad) + eps sigma(-ad))
    lo = np.log1p(-eps) + _log_sigmoid(a * d)
    if eps <= 0:
        return float(lo.sum())
    return float(np.logaddexp(lo, np.log(eps) + _log_sigmoid(-a * d)).sum())


def _standardised(margins: np.ndarray) -> tuple[np.ndarray, float]:
    """The finite margins divided by their spread, and that spread: the fits run on a unit
    scale and give the temperature back in the margins' own units."""
    d = np.asarray(margins, dtype=np.float64)
    d = d[np.isfinite(d)]
    if len(d) < 2:
        raise ConfigError(f"a flip-rate estimate needs at least 2 scored pairs; got {len(d)}")
    scale = float(np.std(d)) or 1.0
    return d / scale, scale


def fit_flip_rate(margins: np.ndarray) -> tuple[float, float]:
    """Maximum-likelihood ``(ε, a)`` for held-out margins of the observed labels.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> d = rng.normal(0, 3, 4000)
        >>> clean = rng.random(4000) < 1 / (1 + np.exp(-4 * d))   # near-deterministic
        >>> flipped = rng.random(4000) < 0.2
        >>> observed = np.where(clean ^ flipped, d, -d)            # margin of the label given
        >>> round(fit_flip_rate(observed)[0], 1)
        0.2
    """
    from scipy.optimize import minimize

    z, scale = _standardised(margins)
    best: tuple[float, float, float] | None = None
    for eps0 in (0.02, 0.15, 0.35):
        res = minimize(lambda p: -_loglik(p[0], np.exp(p[1]), z), x0=[eps0, 0.0],
                       bounds=[(0.0, 0.4999), (np.log(1e-3), np.log(1e3))], method="L-BFGS-B")
        if best is None or res.fun < best[0]:
            best = (float(res.fun), float(res.x[0]), float(np.exp(res.x[1])))
    assert best is not None
    return best[1], best[2] / scale


def flip_posterior(margins: np.ndarray, eps: float, a: float) -> np.ndarray:
    """Probability that each pair's label is flipped, given its margin and the fit."""
    d = np.asarray(margins, dtype=np.float64)
    p_label = (1 - eps) / (1 + np.exp(-a * d))
    p_flip = eps / (1 + np.exp(a * d))
    return p_flip / np.maximum(p_label + p_flip, 1e-300)


@dataclass(frozen=True)
class FlipEstimate:
    """The estimated share of flipped labels, its 95% interval and how it was reached."""

    estimate: float
    ci95: tuple[float, float]
    method: str
    temperature: float
    margins: np.ndarray
    agreement: float
    folds: int
    model: str

    def to_json(self) -> dict[str, Any]:
        return {"estimate": round(self.estimate, 4),
                "ci95": [round(self.ci95[0], 4), round(self.ci95[1], 4)],
                "method": self.method, "model": self.model, "folds": self.folds,
                "cross_fitted_agreement": round(self.agreement, 4)}


def profile_flip_rate(margins: np.ndarray, *, grid: int = 99
                      ) -> tuple[float, tuple[float, float], float]:
    """``(estimate, (lo, hi), temperature)``: the posterior mean of ε over a grid on
    [0, 0.49] under a uniform prior and the profile likelihood (a maximised out per ε), its
    95% interval, and the temperature at the grid point nearest the estimate.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> d = rng.normal(0, 3, 4000)
        >>> clean = rng.random(4000) < 1 / (1 + np.exp(-4 * d))
        >>> est, (lo, hi), _ = profile_flip_rate(np.where(clean ^ (rng.random(4000) < 0.2), d, -d))
        >>> round(est, 1), lo < 0.2 < hi
        (0.2, True)
    """
    from scipy.optimize import minimize_scalar

    z, scale = _standardised(margins)
    eps = np.linspace(0.0, 0.49, grid)
    ll, temps = np.zeros(grid), np.zeros(grid)
    for i, e in enumerate(eps):
        res = minimize_scalar(lambda la, e=e: -_loglik(e, np.exp(la), z),
                              bounds=(np.log(1e-3), np.log(1e3)), method="bounded")
        ll[i], temps[i] = -res.fun, np.exp(res.x)
    w = np.exp(ll - ll.max())
    w /= w.sum()
    mean = float((w * eps).sum())
    cdf = np.cumsum(w)
    lo = float(eps[min(grid - 1, int(np.searchsorted(cdf, 0.025)))])
    hi = float(eps[min(grid - 1, int(np.searchsorted(cdf, 0.975)))])
    return mean, (lo, hi), float(temps[int(np.argmin(np.abs(eps - mean)))]) / scale


def cross_fitted_margins(make_model: Callable[[int], Any], data: Dataset[PairRecord], *,
                         folds: int = 5, seed: int = 0) -> np.ndarray:
    """Margin ``r(chosen) − r(rejected)`` of every pair from a model trained without its
    fold (folds grouped by prompt, so a repeated prompt cannot leak its label)."""
    if len(data) < folds:
        raise ConfigError(f"cross-fitting with {folds} folds needs at least {folds} labelled "
                          f"pairs; {data.source} has {len(data)}")
    index = {id(r): i for i, r in enumerate(data.records)}
    margins = np.full(len(data), np.nan)
    for k, (train, test) in enumerate(kfold_by_prompt(data, k=folds, seed=seed)):
        if not len(test) or not len(train):
            continue
        model = make_model(seed * 1000 + k).fit(train)
        chosen, rejected = score_pairs(model, test.records)
        for r, c, j in zip(test.records, chosen, rejected, strict=True):
            margins[index[id(r)]] = float(c) - float(j)
    return margins


def estimate_flip_rate(make_model: Callable[[int], Any], data: Dataset[PairRecord], *,
                       folds: int = 5, seed: int = 0, n_boot: int = 200,
                       model_name: str = "") -> FlipEstimate:
    """Cross-fit ``make_model(seed)`` (an untrained trainable model) on ``data`` and fit the
    flip rate to the held-out margins; see the module docstring for the assumptions."""
    del n_boot  # the interval is the profile likelihood's, no resampling
    margins = cross_fitted_margins(make_model, data, folds=folds, seed=seed)
    ok = np.isfinite(margins)
    eps, (lo, hi), a = profile_flip_rate(margins[ok])
    agreement = float(((margins[ok] > 0) + 0.5 * (margins[ok] == 0)).mean())
    return FlipEstimate(estimate=eps, ci95=(lo, hi), method=METHOD, temperature=a,
                        margins=margins, agreement=agreement, folds=folds, model=model_name)
