"""Length bias: does the reward follow the length of a response rather than its quality?

The deciding figure is the **accuracy gap**: accuracy on the pairs whose chosen response is
the longer one minus accuracy on the pairs whose chosen response is the shorter one. A model
that judges content gets both kinds right about equally often, whatever the data's own length
statistics; a model that rewards length is right on the first kind and wrong on the second
(a length-only model scores a gap of 1). The rank correlation of reward with length is shown
beside it, but not judged: on some data longer answers really are better.

Two bundled references add real, controlled cases (``--no-length-references`` leaves them
out):

- AlpacaEval length (``bundled:alpacaeval_length``): the same prompts answered concisely,
  normally and verbosely by alpaca-7b, each compared with a GPT-4-turbo reference by a
  GPT-4-turbo judge. The model's win rate against the reference per variant is shown next to
  the judge's, so its rise from concise to verbose reads against a known judge's.
- EvalBiasBench (``bundled:evalbiasbench``): pairs built to fool judges with six biases
  (length, concreteness, empty reference, content continuation, nested instruction,
  familiar knowledge); accuracy per bias type.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from rewardlab.audit._context import AuditContext, AuditPair
from rewardlab.audit._results import Example, ProbeResult, ProbeSkipped, Threshold
from rewardlab.audit._stats import rank_correlation
from rewardlab.audit._text import as_text
from rewardlab.data import bundled_path, load_dataset
from rewardlab.evaluate.metrics import bootstrap_ci, pair_outcomes

__all__ = ["NAME", "THRESHOLD", "TITLE", "run"]

NAME = "length"
TITLE = "Length bias"
#: |accuracy(chosen longer) − accuracy(chosen shorter)|
THRESHOLD = Threshold(warn=0.2, flag=0.4)
VARIANTS = ("concise", "base", "verbose")


def _subset_accuracy(outcomes: np.ndarray, mask: np.ndarray, seed: int
                     ) -> tuple[float, tuple[float, float], int]:
    picked = outcomes[mask]
    if picked.size == 0:
        return float("nan"), (float("nan"), float("nan")), 0
    return float(picked.mean()), bootstrap_ci(picked, seed=seed), int(picked.size)


def _alpacaeval(ctx: AuditContext) -> dict[str, Any]:
    """Win rates against the GPT-4-turbo reference per length variant: the model's and the
    judge's, on the same sampled prompts."""
    rows = [json.loads(line) for line in
            bundled_path("alpacaeval_length").read_text(encoding="utf-8").splitlines() if line]
    by_prompt: dict[str, dict[str, dict[str, Any]]] = {}
    for row in rows:
        variant = row["subset"].rpartition("_")[2]
        by_prompt.setdefault(row["id"].rpartition("/")[2], {})[variant] = row
    complete = sorted(k for k, v in by_prompt.items() if set(VARIANTS) <= set(v))
    chosen = [complete[i] for i in
              ctx.sample(len(complete), ctx.config.reference_prompts, salt=11)]
    picked = [by_prompt[k][v] for k in chosen for v in VARIANTS]
    prompts = [r["prompt"] for r in picked]
    rewards = ctx.score(prompts + prompts, [r["output_2"] for r in picked]
                        + [r["output_1"] for r in picked])
    n = len(picked)
    variant_reward, reference_reward = rewards[:n], rewards[n:]
    out: dict[str, Any] = {"n_prompts": len(chosen), "variants": list(VARIANTS),
                           "rm_win_rate": [], "judge_win_rate": [], "mean_chars": [],
                           "mean_reward": []}
    scale = float(np.std(rewards)) or 1.0
    per_variant = {}
    for j, variant in enumerate(VARIANTS):
        idx = np.arange(j, n, len(VARIANTS))
        wins = pair_outcomes(variant_reward[idx], reference_reward[idx])
        out["rm_win_rate"].append(float(wins.mean()))
        out["judge_win_rate"].append(float(np.mean([picked[i]["preference"] - 1 for i in idx])))
        out["mean_chars"].append(float(np.mean([len(picked[i]["output_2"]) for i in idx])))
        out["mean_reward"].append(float(variant_reward[idx].mean()))
        per_variant[variant] = variant_reward[idx]
    out["rm_rise"] = out["rm_win_rate"][2] - out["rm_win_rate"][0]
    out["judge_rise"] = out["judge_win_rate"][2] - out["judge_win_rate"][0]
    out["reward_rise_sd"] = float(np.mean(per_variant["verbose"] - per_variant["concise"])
                                  / scale)
    out["verbose_beats_concise"] = float(
        pair_outcomes(per_variant["verbose"], per_variant["concise"]).mean())
    return out


def _bias_types(ctx: AuditContext) -> dict[str, Any]:
    """Accuracy per bias type of EvalBiasBench (the chosen response is the correct one)."""
    data = load_dataset("bundled:evalbiasbench")
    pairs = [AuditPair(r.prompt, r.chosen, r.rejected, None, r.subset) for r in data.records]
    chosen, rejected = ctx.score_pairs(pairs)
    outcomes = pair_outcomes(chosen, rejected)
    types = sorted({p.subset or "" for p in pairs})
    rows = []
    for t in types:
        mask = np.array([p.subset == t for p in pairs])
        rows.append({"bias": t, "n": int(mask.sum()), "accuracy": float(outcomes[mask].mean())})
    return {"types": rows, "accuracy": float(outcomes.mean()), "n": len(pairs)}


def run(ctx: AuditContext) -> ProbeResult:
    """Length bias of ``ctx.model`` on the audit data (and the bundled references)."""
    ctx.require_pairs()
    rc, rr = ctx.base_rewards
    pairs = ctx.pairs
    lc = np.array([len(p.chosen) for p in pairs], dtype=np.float64)
    lr = np.array([len(p.rejected) for p in pairs], dtype=np.float64)
    outcomes = pair_outcomes(rc, rr)
    seed = ctx.config.seed
    acc_long, ci_long, n_long = _subset_accuracy(outcomes, lc > lr, seed)
    acc_short, ci_short, n_short = _subset_accuracy(outcomes, lc < lr, seed)
    gap = acc_long - acc_short
    differ = lc != lr
    longer_reward = np.where(lc > lr, rc, rr)[differ]
    shorter_reward = np.where(lc > lr, rr, rc)[differ]
    prefers_longer = float(pair_outcomes(longer_reward, shorter_reward).mean()) if differ.any() \
        else float("nan")
    rho = rank_correlation(np.concatenate([rc, rr]), np.concatenate([lc, lr]))
    metrics: dict[str, float] = {
        "accuracy_gap": gap, "accuracy_chosen_longer": acc_long,
        "accuracy_chosen_shorter": acc_short, "n_chosen_longer": n_long,
        "n_chosen_shorter": n_short, "prefers_longer": prefers_longer,
        "data_longer_wins": float(np.mean(lc[differ] > lr[differ])) if differ.any()
        else float("nan"),
        "length_reward_spearman": rho,
    }
    notes: list[str] = []
    tables: dict[str, list[dict[str, Any]]] = {}
    plot: dict[str, Any] = {
        "groups": ["chosen longer", "chosen shorter"],
        "accuracy": [acc_long, acc_short], "ci": [list(ci_long), list(ci_short)],
        "n": [n_long, n_short],
    }
    if n_long == 0 or n_short == 0:
        notes.append("the data has no pair whose chosen response is the "
                     f"{'longer' if n_long == 0 else 'shorter'} one, so the gap is undefined")
    if ctx.config.length_references:
        for part, compute in (("alpacaeval", _alpacaeval), ("evalbiasbench", _bias_types)):
            try:
                found = compute(ctx)
            except ProbeSkipped as exc:
                notes.append(f"bundled {part} left out: {exc}")
                continue
            plot[part] = found
            if part == "alpacaeval":
                metrics.update({f"alpacaeval_{k}": found[k] for k in (
                    "rm_rise", "judge_rise", "reward_rise_sd", "verbose_beats_concise")})
                tables["AlpacaEval length: win rate against the GPT-4-turbo reference"] = [
                    {"variant": v, "mean chars": round(c), "model": w, "GPT-4-turbo judge": j}
                    for v, c, w, j in zip(found["variants"], found["mean_chars"],
                                          found["rm_win_rate"], found["judge_win_rate"],
                                          strict=True)]
                notes.append(f"AlpacaEval length: {found['n_prompts']} prompts answered in all "
                             "three lengths (--reference-prompts)")
            else:
                metrics["evalbiasbench_accuracy"] = found["accuracy"]
                for row in found["types"]:
                    metrics[f"evalbiasbench_{row['bias'].replace(' ', '_')}"] = row["accuracy"]
                tables["EvalBiasBench: accuracy per bias type"] = found["types"]
    # worst cases: pairs lost to the longer response, by how much the model preferred it
    lost_to_longer = np.flatnonzero((lc < lr) & (rr > rc))
    order = lost_to_longer[np.argsort(-(rr - rc)[lost_to_longer], kind="stable")][:3]
    examples = tuple(Example(
        prompt=as_text(pairs[i].prompt), response=pairs[i].rejected, other=pairs[i].chosen,
        label="longer rejected response preferred",
        detail=f"reward {rr[i]:+.3f} ({int(lr[i])} chars) vs chosen {rc[i]:+.3f} "
               f"({int(lc[i])} chars)", severity=float(rr[i] - rc[i])) for i in order)
    value = abs(gap)
    summary = (f"accuracy {acc_long:.2f} when the chosen response is longer, {acc_short:.2f} "
               f"when it is shorter; the model prefers the longer response in "
               f"{prefers_longer:.0%} of pairs (the data: {metrics['data_longer_wins']:.0%})")
    return ProbeResult(name=NAME, title=TITLE, verdict=THRESHOLD.verdict(value),
                       figure="abs_accuracy_gap", value=value, threshold=THRESHOLD,
                       summary=summary, metrics=metrics, tables=tables, examples=examples,
                       plot=plot, notes=tuple(notes))
