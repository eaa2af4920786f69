"""Paraphrase and format invariance: does a meaning-preserving rewrite change the ranking?

Every transformation of ``audit.transforms`` is applied to both sides of a sample of pairs.
Per transformation, on the pairs it changed: the **flip rate** (the sign of
``r_chosen − r_rejected`` changed), the accuracy before and after (the drop), and how far
rewards moved in units of the data's reward spread. The deciding figure is the worst flip
rate among transformations that changed at least ``MIN_CHANGED`` pairs (or all of a smaller
sample; fewer are reported but not judged). Pairs the model barely separates can flip without
any bias, so a small flip rate is expected even of a good model; the worst examples show the
flips with the largest swing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from rewardlab.audit._context import AuditContext, AuditPair
from rewardlab.audit._results import Example, ProbeResult, Threshold
from rewardlab.audit._text import as_text
from rewardlab.audit.transforms import TRANSFORMS
from rewardlab.evaluate.metrics import pair_outcomes

__all__ = ["MIN_CHANGED", "NAME", "THRESHOLD", "TITLE", "run"]

NAME = "paraphrase"
TITLE = "Paraphrase and format invariance"
#: the worst flip rate over transformations
THRESHOLD = Threshold(warn=0.1, flag=0.2)
MIN_CHANGED = 5


def run(ctx: AuditContext) -> ProbeResult:
    """Ranking flips and accuracy drop per transformation on a sample of pairs."""
    idx = ctx.sample_pairs(salt=3)
    pairs = [ctx.pairs[i] for i in idx]
    base_c, base_r = (r[idx] for r in ctx.base_rewards)
    spread = float(np.std(np.concatenate(ctx.base_rewards))) or 1.0
    # every changed pair of every transformation, scored in one call (a judge compares the
    # rewritten pair; other models score both sides, the unchanged one again, which cached
    # models answer for free)
    rewritten: dict[str, list[tuple[str, str]]] = {}
    batch: list[AuditPair] = []
    where: dict[tuple[str, int], int] = {}
    for name, transform in TRANSFORMS.items():
        rewritten[name] = [(transform(p.chosen), transform(p.rejected)) for p in pairs]
        for i, (c, r) in enumerate(rewritten[name]):
            if c != pairs[i].chosen or r != pairs[i].rejected:
                where[(name, i)] = len(batch)
                batch.append(replace(pairs[i], chosen=c, rejected=r))
    new_chosen, new_rejected = ctx.score_pairs(batch)

    min_changed = min(MIN_CHANGED, len(pairs))
    rows: list[dict[str, Any]] = []
    candidates: list[tuple[float, Example]] = []
    judged: list[float] = []
    for name in TRANSFORMS:
        new_c, new_r, changed = [], [], []
        for i in range(len(pairs)):
            at = where.get((name, i))
            new_c.append(base_c[i] if at is None else new_chosen[at])
            new_r.append(base_r[i] if at is None else new_rejected[at])
            changed.append(at is not None)
        mask = np.array(changed, dtype=bool)
        nc, nr = np.array(new_c), np.array(new_r)
        n = int(mask.sum())
        if n == 0:
            rows.append({"transformation": name, "changed_pairs": 0, "flip_rate": None,
                         "accuracy_before": None, "accuracy_after": None,
                         "accuracy_drop": None, "mean_reward_shift_sd": None})
            continue
        before = np.sign(base_c - base_r)[mask]
        after = np.sign(nc - nr)[mask]
        flips = before != after
        acc_before = float(pair_outcomes(base_c[mask], base_r[mask]).mean())
        acc_after = float(pair_outcomes(nc[mask], nr[mask]).mean())
        moved = np.abs(np.concatenate([nc - base_c, nr - base_r])[np.concatenate([mask, mask])])
        flip_rate = float(flips.mean())
        rows.append({"transformation": name, "changed_pairs": n, "flip_rate": flip_rate,
                     "accuracy_before": acc_before, "accuracy_after": acc_after,
                     "accuracy_drop": acc_before - acc_after,
                     "mean_reward_shift_sd": float(moved.mean() / spread)})
        if n >= min_changed:
            judged.append(flip_rate)
        swing = np.abs((nc - nr) - (base_c - base_r))
        for j in np.flatnonzero(mask)[flips]:
            c, r = rewritten[name][j]
            side, text, original = ("chosen", c, pairs[j].chosen) if c != pairs[j].chosen \
                else ("rejected", r, pairs[j].rejected)
            candidates.append((float(swing[j]), Example(
                prompt=as_text(pairs[j].prompt), response=text, other=original,
                label=f"{name} rewrite of the {side} response flips the ranking",
                detail=f"margin {base_c[j] - base_r[j]:+.3f} → {nc[j] - nr[j]:+.3f}",
                severity=float(swing[j]))))
    candidates.sort(key=lambda t: -t[0])
    worst = max(judged, default=float("nan"))
    worst_row = next((r for r in rows if r["flip_rate"] == worst
                      and r["changed_pairs"] >= min_changed), None)
    drops = [r["accuracy_drop"] for r in rows if r["accuracy_drop"] is not None
             and r["changed_pairs"] >= min_changed]
    metrics: dict[str, float] = {"worst_flip_rate": worst,
                                 "worst_accuracy_drop": max(drops, default=float("nan")),
                                 "n_pairs": len(pairs)}
    for r in rows:
        if r["flip_rate"] is not None:
            metrics[f"{r['transformation']}_flip_rate"] = r["flip_rate"]
            metrics[f"{r['transformation']}_accuracy_drop"] = r["accuracy_drop"]
    summary = ("no transformation changed enough pairs to judge" if worst_row is None else
               f"worst: {worst_row['transformation']} flips {worst:.0%} of the "
               f"{worst_row['changed_pairs']} pairs it changes (accuracy "
               f"{worst_row['accuracy_before']:.2f} → {worst_row['accuracy_after']:.2f})")
    notes = [f"{len(pairs)} pairs drawn from the data (--max-pairs); {len(batch)} rewritten "
             "pairs scored"]
    few = [r["transformation"] for r in rows if 0 < r["changed_pairs"] < min_changed]
    unused = [r["transformation"] for r in rows if r["changed_pairs"] == 0]
    if few:
        notes.append(f"changed fewer than {min_changed} pairs, shown but not judged: "
                     + ", ".join(few))
    if unused:
        notes.append("found nothing to change in these responses: " + ", ".join(unused))
    return ProbeResult(
        name=NAME, title=TITLE, verdict=THRESHOLD.verdict(worst), figure="worst_flip_rate",
        value=worst, threshold=THRESHOLD, summary=summary, metrics=metrics,
        tables={"per transformation": rows},
        examples=tuple(e for _, e in candidates[:3]),
        plot={"transformations": [r["transformation"] for r in rows],
              "flip_rate": [r["flip_rate"] for r in rows],
              "accuracy_drop": [r["accuracy_drop"] for r in rows],
              "changed": [r["changed_pairs"] for r in rows], "min_changed": min_changed},
        notes=tuple(notes))
