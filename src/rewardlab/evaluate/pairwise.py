"""Pairwise evaluation: accuracy with a bootstrap interval, per subset, beside length baselines.

The length-only baselines ("longer wins", "shorter wins") are computed on the same pairs, so a
user sees at once whether a model beats the cheapest heuristic there is. On HH harmless,
for instance, the shorter reply wins 58% of the time: a model at 0.58 has learnt nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardlab.data import Dataset, PairRecord, SkippedRow, require_task
from rewardlab.evaluate.judged import judge_summary
from rewardlab.evaluate.metrics import bootstrap_ci, pair_outcomes
from rewardlab.evaluate.personal import accuracy_vs_k, attribute_summary, can_adapt
from rewardlab.models.base import RewardModel, describe
from rewardlab.scoring import check_row_weights, score_pair_batch, score_pairs

__all__ = ["PairwiseResult", "SubsetResult", "evaluate_pairwise", "per_user_summary", "score_pairs"]


@dataclass(frozen=True)
class SubsetResult:
    """Pairwise figures for one group of pairs (a ``subset``, or all pairs)."""

    name: str
    n: int
    accuracy: float
    ci95: tuple[float, float]
    mean_margin: float
    longer_wins: float
    shorter_wins: float

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "accuracy": self.accuracy,
            "ci95": list(self.ci95),
            "mean_margin": self.mean_margin,
            "baselines": {"longer_wins": self.longer_wins, "shorter_wins": self.shorter_wins},
        }


@dataclass(frozen=True)
class PairwiseResult:
    """The result of ``evaluate_pairwise``: overall figures, per-subset figures, provenance."""

    model: str
    data: str
    overall: SubsetResult
    subsets: tuple[SubsetResult, ...] = ()
    skipped: tuple[SkippedRow, ...] = ()
    ties: str = "half"
    #: a generative judge's position-bias figures (``judge_summary``), when one compared pairs
    judge: dict[str, float] | None = None
    primary_metric: str = field(default="pairwise/accuracy")
    greater_is_better: bool = True
    #: data with a ``user`` column: accuracy per user summarised (``per_user_summary``)
    per_user: dict[str, Any] | None = None
    #: a ``multi:`` model: each attribute's accuracy and reward distribution
    #: (``evaluate.personal.attribute_summary``)
    attributes: dict[str, Any] | None = None
    #: a ``personal:`` model on data with users: accuracy after adapting from k pairs per
    #: user (``evaluate.personal.accuracy_vs_k``)
    accuracy_vs_k: dict[str, Any] | None = None
    #: a ``personal:`` model: how many pairs it scored with its population mixture (no
    #: weights for their user, or no user at all)
    population_pairs: int | None = None

    @property
    def metrics(self) -> dict[str, float]:
        """Namespaced figures, e.g. ``pairwise/accuracy`` and ``pairwise/<subset>/accuracy``."""
        out = {
            "pairwise/accuracy": self.overall.accuracy,
            "pairwise/ci95_low": self.overall.ci95[0],
            "pairwise/ci95_high": self.overall.ci95[1],
            "pairwise/mean_margin": self.overall.mean_margin,
            "pairwise/longer_wins": self.overall.longer_wins,
            "pairwise/shorter_wins": self.overall.shorter_wins,
        }
        for s in self.subsets:
            out[f"pairwise/{s.name}/accuracy"] = s.accuracy
        for key, value in (self.judge or {}).items():
            out[f"judge/{key}"] = value
        if self.per_user is not None:
            out["pairwise/per_user_accuracy_mean"] = self.per_user["per_user_accuracy_mean"]
            out["pairwise/per_user_accuracy_p10"] = self.per_user["per_user_accuracy_p10"]
        return out

    def to_json(self) -> dict[str, Any]:
        body = self.overall.to_json()
        return {
            "task": "pairwise",
            "model": self.model,
            "data": self.data,
            **body,
            "subsets": {s.name: s.to_json() for s in self.subsets},
            "skipped": len(self.skipped),
            "ties": self.ties,
            **({"judge": self.judge} if self.judge is not None else {}),
            **(self.per_user or {}),
            **({"attributes": self.attributes} if self.attributes is not None else {}),
            **({"accuracy_vs_k": self.accuracy_vs_k} if self.accuracy_vs_k is not None
               else {}),
            **({"population_pairs": self.population_pairs}
               if self.population_pairs is not None else {}),
            "primary_metric": self.primary_metric,
            "metrics": self.metrics,
        }


def _summarise(name: str, chosen: np.ndarray, rejected: np.ndarray,
               len_c: np.ndarray, len_r: np.ndarray, *, ties: str, n_boot: int, seed: int
               ) -> SubsetResult:
    outcomes = pair_outcomes(chosen, rejected, ties=ties)
    with np.errstate(invalid="ignore"):
        margin = float(np.nanmean(chosen - rejected)) if len(chosen) else float("nan")
    return SubsetResult(
        name=name,
        n=len(chosen),
        accuracy=float(outcomes.mean()),
        ci95=bootstrap_ci(outcomes, n_boot=n_boot, seed=seed),
        mean_margin=margin,
        longer_wins=float(pair_outcomes(len_c, len_r, ties=ties).mean()),
        shorter_wins=float(pair_outcomes(-len_c, -len_r, ties=ties).mean()),
    )


def evaluate_pairwise(
    model: RewardModel,
    data: Dataset[PairRecord],
    *,
    ties: str = "half",
    n_boot: int = 2000,
    seed: int = 0,
    rewards: tuple[np.ndarray, np.ndarray] | None = None,
    swap: bool | None = None,
) -> PairwiseResult:
    """Accuracy of ``model`` on preference pairs, with a 95% bootstrap interval.

    Args:
        model: any ``RewardModel``.
        data: pairwise records.
        ties: ``"half"`` (default) or ``"loss"`` (RewardBench's convention).
        n_boot: bootstrap resamples for the interval.
        seed: seed of the bootstrap.
        rewards: precomputed ``(chosen, rejected)`` rewards, to skip scoring.
        swap: for a generative judge that compares pairs: ask both orders (default: the
            judge's own setting).

    A generative judge with ``mode=pairwise`` compares each pair side by side (the chosen
    response shown first in every other pair, so position bias cannot pass for accuracy):
    the chosen side's reward is P(chosen better), and the result carries the judge's
    position-bias figures (``judge``).

    Returns:
        A ``PairwiseResult`` with overall and per-subset figures and length baselines.
    """
    require_task(data, ("pairwise",), purpose="pairwise evaluation")
    records = data.records
    judge = None
    fits: tuple[dict[str, Any], ...] | None = None
    attributes = None
    if rewards is not None:
        chosen, rejected = rewards
    else:
        check_row_weights(model, records, data.source)  # a bad weight names its line
        scored = score_pair_batch(model, records, swap=swap)
        chosen, rejected = scored.chosen, scored.rejected
        fits = None if scored.details is None else scored.details[0]
        if scored.details is not None:
            attributes = attribute_summary(*scored.details, ties=ties)
        if scored.judgments is not None:  # a judge compared the pairs side by side
            config_swap = getattr(getattr(model, "config", None), "swap", False)
            judge = judge_summary(scored.judgments,
                                  swap=bool(config_swap if swap is None else swap))
    len_c = np.array([len(r.chosen) for r in records], dtype=np.float64)
    len_r = np.array([len(r.rejected) for r in records], dtype=np.float64)
    kw = {"ties": ties, "n_boot": n_boot, "seed": seed}
    overall = _summarise("all", chosen, rejected, len_c, len_r, **kw)
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        if r.subset is not None:
            groups.setdefault(r.subset, []).append(i)
    subsets = tuple(
        _summarise(name, chosen[idx], rejected[idx], len_c[idx], len_r[idx], **kw)
        for name, idx in ((k, np.array(v)) for k, v in sorted(groups.items()))
    )
    per_user = by_k = None
    if any(r.user is not None for r in records):
        per_user = per_user_summary(pair_outcomes(chosen, rejected, ties=ties),
                                    [r.user for r in records], fits)
        if rewards is None:
            by_k = accuracy_vs_k(model, data, ties=ties, n_boot=n_boot, seed=seed)
            if by_k is None and can_adapt(model):  # say why the curve is missing
                per_user["accuracy_vs_k_skipped"] = (
                    "no user has 2 or more pairs: accuracy against k adapts each user from "
                    "their first pairs and tests on the rest")
    population = None
    if fits and "user_fit" in fits[0]:
        population = sum(f.get("user_fit") == "population" for f in fits)
    return PairwiseResult(model=describe(model), data=data.source, overall=overall,
                          subsets=subsets, skipped=data.skipped, ties=ties, judge=judge,
                          per_user=per_user, attributes=attributes, accuracy_vs_k=by_k,
                          population_pairs=population)


def per_user_summary(outcomes: np.ndarray, users: list[str | None],
                     fits: tuple[dict[str, Any], ...] | None = None) -> dict[str, Any]:
    """Accuracy per user (rows without a user count as one user ``None``): the mean over
    users, the 10th percentile (how the worst-served users fare) and how many users a
    personalised model scored with its population mixture, having no data from them.

    Example:
        >>> s = per_user_summary(np.array([1.0, 0.0, 1.0, 1.0]), ["a", "a", "b", "b"])
        >>> s["per_user_accuracy_mean"], s["n_users"]
        (0.75, 2)
    """
    by_user: dict[Any, list[int]] = {}
    for i, u in enumerate(users):
        by_user.setdefault(u, []).append(i)
    acc = np.array([outcomes[idx].mean() for idx in by_user.values()])
    out: dict[str, Any] = {"n_users": len(by_user),
                           "per_user_accuracy_mean": float(acc.mean()),
                           "per_user_accuracy_p10": float(np.percentile(acc, 10))}
    if fits is not None and fits and "user_fit" in fits[0]:
        # rows without a user are no user's: counted apart, never named 'None'
        fallback = sorted({str(users[i]) for i, f in enumerate(fits)
                           if f.get("user_fit") == "population" and users[i] is not None})
        out["users_scored_with_population"] = len(fallback)
        out["users_scored_with_population_examples"] = fallback[:5]
        out["pairs_without_user"] = sum(u is None and f.get("user_fit") == "population"
                                        for u, f in zip(users, fits, strict=True))
    return out
