"""Position bias of pairwise judges: does the verdict depend on which response comes first?

Each sampled pair is shown to the judge in both orders, (chosen, rejected) and (rejected,
chosen), with ``compare(..., swap=False)`` so the order effect stays visible. Figures:

- **consistency** (deciding): the share of pairs whose winner is the same in both orders;
  a verdict of exactly 0.5 is a tie, consistent only with a tie in the other order;
- **first-position wins**: the share of verdicts that favour whichever response came first
  (0.5 for a judge without position bias; 1.0 for one that always picks the first);
- accuracy in each order and with the two orders averaged (what ``swap=True`` returns).

It applies to models with the ``PairwiseJudge`` capability (generative judges); any other
model has no order to be biased by, and the probe is skipped.
"""

from __future__ import annotations

import numpy as np

from rewardlab.audit._context import AuditContext
from rewardlab.audit._results import Example, ProbeResult, ProbeSkipped, Threshold
from rewardlab.audit._stats import wilson_interval
from rewardlab.audit._text import as_text
from rewardlab.models.base import PairwiseJudge
from rewardlab.scoring import compare_pairs

__all__ = ["NAME", "THRESHOLD", "TITLE", "run"]

NAME = "position"
TITLE = "Position bias"
#: consistency between the two orders (lower is worse)
THRESHOLD = Threshold(warn=0.85, flag=0.7, higher_is_worse=False)


def _verdict(p: np.ndarray) -> np.ndarray:
    """+1 when the first response wins, −1 when the second does, 0 for a tie, NaN kept."""
    return np.where(np.isnan(p), np.nan, np.sign(p - 0.5))


def run(ctx: AuditContext) -> ProbeResult:
    """Order consistency and first-position wins of a pairwise judge."""
    if not isinstance(ctx.model, PairwiseJudge):
        raise ProbeSkipped(f"model '{ctx.name}' is not a PairwiseJudge: it scores responses "
                           "one at a time, so there is no order to be biased by")
    idx = ctx.sample_pairs(salt=4)
    pairs = [ctx.pairs[i] for i in idx]
    prompts = [p.prompt for p in pairs]
    chosen, rejected = [p.chosen for p in pairs], [p.rejected for p in pairs]
    p_ab = compare_pairs(ctx.model, prompts, chosen, rejected, swap=False)
    p_ba = compare_pairs(ctx.model, prompts, rejected, chosen, swap=False)
    ctx.scored += 2 * len(pairs)
    answered = ~(np.isnan(p_ab) | np.isnan(p_ba))
    n = int(answered.sum())
    if n == 0:
        raise ProbeSkipped(f"the judge gave no verdict for any of the {len(pairs)} pairs")
    v_ab, v_ba = _verdict(p_ab[answered]), _verdict(p_ba[answered])
    consistent = v_ab == -v_ba
    firsts = np.concatenate([v_ab, v_ba])
    first_wins = float(np.mean(np.where(firsts > 0, 1.0, np.where(firsts < 0, 0.0, 0.5))))
    acc_ab = float(np.mean(np.where(v_ab > 0, 1.0, np.where(v_ab < 0, 0.0, 0.5))))
    acc_ba = float(np.mean(np.where(v_ba < 0, 1.0, np.where(v_ba > 0, 0.0, 0.5))))
    both = (p_ab[answered] + 1 - p_ba[answered]) / 2
    acc_avg = float(np.mean(np.where(both > 0.5, 1.0, np.where(both < 0.5, 0.0, 0.5))))
    consistency = float(consistent.mean())
    lo, hi = wilson_interval(first_wins * 2 * n, 2 * n)
    metrics = {"consistency": consistency, "first_position_wins": first_wins,
               "first_position_wins_ci95_low": lo, "first_position_wins_ci95_high": hi,
               "accuracy_chosen_first": acc_ab, "accuracy_chosen_second": acc_ba,
               "accuracy_both_orders": acc_avg, "n_pairs": n,
               "no_verdict": int(len(pairs) - n)}
    kept = np.flatnonzero(answered)
    gap = np.abs(p_ab[kept] - (1 - p_ba[kept]))
    examples = tuple(Example(
        prompt=as_text(pairs[kept[j]].prompt), response=pairs[kept[j]].chosen,
        other=pairs[kept[j]].rejected, label="verdict changes with the order",
        detail=f"P(chosen better) {p_ab[kept[j]]:.3f} when shown first, "
               f"{1 - p_ba[kept[j]]:.3f} when shown second", severity=float(gap[j]))
        for j in np.argsort(-gap, kind="stable")[:3] if not consistent[j])
    summary = (f"same winner in both orders for {consistency:.0%} of {n} pairs; the first "
               f"position wins {first_wins:.0%} of verdicts (95% CI {lo:.2f}–{hi:.2f})")
    notes = [f"{len(pairs)} pairs drawn from the data (--max-pairs), each judged in both "
             "orders"]
    if len(pairs) > n:
        notes.append(f"{len(pairs) - n} pairs without a verdict in some order were left out")
    return ProbeResult(
        name=NAME, title=TITLE, verdict=THRESHOLD.verdict(consistency), figure="consistency",
        value=consistency, threshold=THRESHOLD, summary=summary, metrics=metrics,
        examples=examples,
        plot={"p_chosen_first": p_ab[answered].tolist(),
              "p_chosen_second": (1 - p_ba[answered]).tolist(),
              "first_position_wins": first_wins, "consistency": consistency,
              "accuracy": {"chosen first": acc_ab, "chosen second": acc_ba,
                           "both orders": acc_avg}},
        notes=tuple(notes))
