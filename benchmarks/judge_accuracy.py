"""Generative judge accuracy, with and without position-bias control, beside chance.

Each pair is asked in both orders once (``swap``); from the same run come
- ``single_order``: only the balanced order a plain run asks (chosen first in every other
  pair) — exactly what ``rewardlab eval JUDGE DATA`` reports without ``--swap``;
- ``swap``: both orders averaged — ``rewardlab eval JUDGE DATA --swap``;
- ``chosen_always_first``: the order a naive evaluation would use (shows the position bias);
and the order-consistency rate. The random baseline is 0.5.

Data: the held-out split of the demo (HH harmless, 502 pairs), LLMBar Natural + Adversarial
(419 pairs), and GSM8K
correct-vs-incorrect pairs (one per problem that has both kinds); ``--limit N`` takes a seeded
random sample of N pairs.

    ../.venv/bin/python judge_accuracy.py --data hh [--model judge:default] [--limit N]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

from _common import emit
from rewardlab import load_dataset, resolve, split_by_prompt
from rewardlab.data import Dataset, best_of_n_to_pairs
from rewardlab.evaluate.judged import judge_pair_rewards, judge_summary
from rewardlab.evaluate.metrics import bootstrap_ci, pair_outcomes

RUBRIC = {"hh": "harmlessness", "llmbar": "helpfulness", "gsm8k": "math"}


def _data(name: str, limit: int | None) -> Dataset:
    if name == "hh":
        _, data = split_by_prompt(load_dataset("bundled:hh_harmless"), test_fraction=0.25,
                                  seed=0)
    elif name == "llmbar":
        # the LLMBar benchmark proper (Natural + Adversarial, RewardBench's "Chat Hard"); the
        # bundled case studies (Base_9 arithmetic, negation, ...) are left out
        data = load_dataset("bundled:llmbar")
        data = data.take([i for i, r in enumerate(data.records)
                          if str(r.subset).startswith("LLMBar/")])
    else:
        pairs = best_of_n_to_pairs(load_dataset("bundled:gsm8k_examples"))
        seen: set[str] = set()
        keep = []
        for i, r in enumerate(pairs.records):  # one pair per problem
            problem = str(r.id).split(":")[0]
            if problem not in seen:
                seen.add(problem)
                keep.append(i)
        data = pairs.take(keep)
    if limit and limit < len(data):  # a seeded random sample, kept in file order
        keep = np.sort(np.random.default_rng(0).choice(len(data), size=limit, replace=False))
        data = data.take(keep.tolist())
    return data


def _acc(p_chosen: np.ndarray) -> dict[str, object]:
    outcomes = pair_outcomes(p_chosen, 1.0 - p_chosen)
    return {"accuracy": round(float(outcomes.mean()), 4),
            "ci95": [round(v, 4) for v in bootstrap_ci(outcomes)]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", choices=sorted(RUBRIC), required=True)
    parser.add_argument("--model", default="judge:default")
    parser.add_argument("--limit", type=int, help="a seeded random sample of N pairs")
    parser.add_argument("--out", type=Path, help="also write every judgment as JSONL")
    args = parser.parse_args()
    data = _data(args.data, args.limit)
    spec = f"{args.model}{'&' if '?' in args.model else '?'}rubric={RUBRIC[args.data]}"
    judge = resolve(spec)
    start = time.perf_counter()
    parts = []
    for at in range(0, len(data), 20):  # an even chunk size keeps the balanced order global
        parts.append(judge_pair_rewards(judge, data.records[at:at + 20], swap=True))
        print(f"{at + len(parts[-1][2])}/{len(data)} pairs, {time.perf_counter() - start:.0f}s",
              file=sys.stderr, flush=True)
    p_swap = np.concatenate([part[0] for part in parts])
    judgments = [j for part in parts for j in part[2]]
    first = np.concatenate([part[3] for part in parts])
    seconds = time.perf_counter() - start
    fwd = np.array([j.forward.value for j in judgments])
    bwd = np.array([1.0 - j.backward.value for j in judgments])  # P(first shown better)
    p_single = np.where(first, fwd, 1.0 - fwd)
    # the order that shows the chosen response first: forward for even pairs, backward for odd
    p_chosen_first = np.where(first, fwd, 1.0 - bwd)
    summary = judge_summary(judgments, swap=True)
    if args.out:
        import json

        with args.out.open("w") as f:
            for r, j, c in zip(data.records, judgments, first, strict=True):
                f.write(json.dumps({"id": r.id, "chosen_first": bool(c), **j.to_json()}) + "\n")
    emit("judge_accuracy", data=args.data, model=spec, pairs=len(data),
         single_order=_acc(p_single), swap=_acc(p_swap),
         chosen_always_first=_acc(p_chosen_first), random_baseline=0.5,
         order_consistency=round(summary["order_consistency"], 4),
         first_shown_wins=round(summary["first_shown_wins"], 4),
         no_verdict=summary["no_verdict"], truncated=summary["truncated"],
         questions=2 * len(data), seconds=round(seconds, 1),
         questions_per_second=round(2 * len(data) / seconds, 3))


if __name__ == "__main__":
    main()
