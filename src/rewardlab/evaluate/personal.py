"""Figures for the two kinds that split one reward: per attribute (``multi:``) and per user
(``personal:``).

A ``multi:`` model's combined accuracy hides which head does the work: ``attribute_summary``
gives every head's own accuracy on the pairs and the distribution of its reward on chosen and
rejected replies (drawn by ``eval --html`` and the audit report).

A ``personal:`` model is only as good as what a few pairs from a user buy. ``accuracy_vs_k``
measures it on data with a ``user`` column: each user's pairs are split in file order, the
last quarter (at least one pair) kept for testing; a copy of the model is adapted to each
user from their first k pairs (the basis frozen, as ``train --adapt`` does) and scored on the
test pairs. ``k = 0`` is the population mixture (what an unknown user gets, a Bradley–Terry
model restricted to the basis); the model as given (with whatever user weights it already
holds) is scored on the same test pairs beside it. A user with fewer than k pairs before
their test pairs is left out at that k, and each row says how many users it averages.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from rewardlab.data import Dataset, PairRecord
from rewardlab.evaluate.metrics import bootstrap_ci, pair_outcomes
from rewardlab.models.base import UserScorer
from rewardlab.scoring import score_pair_batch

__all__ = ["KS", "accuracy_vs_k", "attribute_summary", "can_adapt"]

#: pairs per user the accuracy-versus-k curve is measured at (the issue's k)
KS = (0, 1, 4, 16, 64)


def attribute_summary(chosen: Sequence[dict[str, Any]], rejected: Sequence[dict[str, Any]],
                      *, ties: str = "half", bins: int = 20) -> dict[str, Any] | None:
    """Per attribute: accuracy of its reward alone, mean reward on each side, and histogram
    counts of its reward on chosen and on rejected replies over shared bin edges (the 1st to
    99th percentile of all of that head's rewards). None without per-attribute details.

    Example:
        >>> c = [{"rewards_by_attribute": {"a": 1.0}}, {"rewards_by_attribute": {"a": 0.0}}]
        >>> r = [{"rewards_by_attribute": {"a": 0.0}}, {"rewards_by_attribute": {"a": 1.0}}]
        >>> attribute_summary(c, r, bins=2)["a"]["accuracy"]
        0.5
    """
    if not chosen or not isinstance(chosen[0], dict) or "rewards_by_attribute" not in chosen[0]:
        return None
    out: dict[str, Any] = {}
    for name in chosen[0]["rewards_by_attribute"]:
        c = np.array([d["rewards_by_attribute"][name] for d in chosen], dtype=np.float64)
        r = np.array([d["rewards_by_attribute"][name] for d in rejected], dtype=np.float64)
        both = np.concatenate([c, r])
        lo, hi = np.percentile(both, [1, 99]) if len(both) else (0.0, 1.0)
        if not hi > lo:
            lo, hi = lo - 0.5, hi + 0.5
        edges = np.linspace(lo, hi, bins + 1)
        out[name] = {
            "accuracy": float(pair_outcomes(c, r, ties=ties).mean()),
            "mean_chosen": float(c.mean()), "mean_rejected": float(r.mean()),
            "edges": edges.round(6).tolist(),
            "chosen_counts": np.histogram(np.clip(c, lo, hi), edges)[0].tolist(),
            "rejected_counts": np.histogram(np.clip(r, lo, hi), edges)[0].tolist(),
        }
    return out


def can_adapt(model: Any) -> bool:
    """Whether ``model`` can be adapted to users on a copy (a ``personal:`` model)."""
    return (isinstance(model, UserScorer) and callable(getattr(model, "adapt", None))
            and callable(getattr(model, "with_options", None)))


def _per_user(outcomes: np.ndarray, users: list[str], n_boot: int, seed: int
              ) -> dict[str, Any]:
    by: dict[str, list[float]] = {}
    for o, u in zip(outcomes, users, strict=True):
        by.setdefault(u, []).append(float(o))
    acc = np.array([np.mean(v) for v in by.values()])
    lo, hi = bootstrap_ci(acc, n_boot=n_boot, seed=seed)
    return {"n_users": len(acc), "per_user_accuracy_mean": float(acc.mean()),
            "ci95": [lo, hi], "per_user_accuracy_p10": float(np.percentile(acc, 10))}


def accuracy_vs_k(model: Any, data: Dataset[PairRecord], *, ks: Sequence[int] = KS,
                  ties: str = "half", n_boot: int = 2000, seed: int = 0
                  ) -> dict[str, Any] | None:
    """Per-user accuracy after adapting a copy of ``model`` from k pairs per user (see the
    module docstring); None unless ``model`` adapts to users and some user has at least two
    pairs."""
    if not can_adapt(model):
        return None
    by_user: dict[str, list[PairRecord]] = {}
    for r in data.records:
        if r.user is not None:
            by_user.setdefault(r.user, []).append(r)
    split = {u: (rs[: len(rs) - max(1, len(rs) // 4)], rs[len(rs) - max(1, len(rs) // 4):])
             for u, rs in by_user.items() if len(rs) >= 2}
    if not split:
        return None
    test = [r for _, t in split.values() for r in t]
    test_users = [r.user for r in test]
    scored = score_pair_batch(model, test)
    given = _per_user(pair_outcomes(scored.chosen, scored.rejected, ties=ties),
                      test_users, n_boot, seed)
    rows = []
    for k in ks:
        users = [u for u, (pool, _) in split.items() if len(pool) >= k]
        if not users:
            continue
        # fresh names, unknown to the model: k = 0 is its population mixture
        tag = {u: f"{u} [eval k={k}]" for u in users}
        copy = model.with_options({})
        if k:
            adapt = [replace(r, user=tag[u]) for u in users for r in split[u][0][:k]]
            copy.adapt(replace(data, records=tuple(adapt)))
        rows_k = [replace(r, user=tag[u]) for u in users for r in split[u][1]]
        out = score_pair_batch(copy, rows_k)
        rows.append({"k": k, **_per_user(pair_outcomes(out.chosen, out.rejected, ties=ties),
                                         [r.user for r in rows_k], n_boot, seed)})
    return {"protocol": "per user: the last quarter of their pairs (file order, at least one) "
                        "tests; a copy of the model is adapted from their first k pairs",
            "n_test_pairs": len(test), "rows": rows, "as_given": given}
