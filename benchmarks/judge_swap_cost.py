"""What position-bias control costs: a swapped pairwise judgment (both orders) against a
single-order one, with prefix reuse and without, and judgments per second on ~512-token pairs.

Pairs: held-out HH harmless pairs whose pairwise question takes 450–600 tokens. Each way of
judging runs the same pairs, interleaved over ``--repeats`` rounds so machine load hits them
alike; the ratios come from the summed times. ``tokens`` counts what the model actually ran:
the deterministic part of the cost.

- ``single``: one order per pair, the instructions prefix reused across the batch;
- ``swap``: both orders, the second reusing the first's prefix (instructions + conversation);
- ``*_cold``: the same with every question run from scratch (no reuse at all).

Wall-clock ratios move with the load of a shared machine; process CPU time (``*_cpu``) and the
token counts are what the work costs. With ``threads=1`` a core's judgments per CPU-second is
the rate of one worker; two workers (or ``threads=2``) use both cores.

    ../.venv/bin/python judge_swap_cost.py [--model judge:default] [--pairs 12] [--repeats 2]
"""

from __future__ import annotations

import argparse
import time

import torch

from _common import emit
from rewardlab import load_dataset, resolve, split_by_prompt


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="judge:default")
    parser.add_argument("--pairs", type=int, default=12)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    judge = resolve(f"{args.model}{'&' if '?' in args.model else '?'}rubric=harmlessness")
    engine = judge.engine
    backend = engine.backend
    _, test = split_by_prompt(load_dataset("bundled:hh_harmless"), test_fraction=0.25, seed=0)
    chosen = []
    for r in test.records:
        q = engine._question("pairwise", r.prompt, {"response_a": r.chosen,
                                                    "response_b": r.rejected})
        n = backend.count_tokens(q.messages[0]["content"])
        if 450 <= n <= 600:
            chosen.append((r, n))
        if len(chosen) == args.pairs:
            break
    records = [r for r, _ in chosen]
    prompts = [r.prompt for r in records]
    a, b = [r.chosen for r in records], [r.rejected for r in records]
    ways = {"single": (False, True), "swap": (True, True), "single_cold": (False, False),
            "swap_cold": (True, False)}
    seconds = dict.fromkeys(ways, 0.0)
    cpu = dict.fromkeys(ways, 0.0)  # process CPU time: what the work costs, whatever the load
    tokens = dict.fromkeys(ways, 0)
    judge.judge_pairs(prompts[:1], a[:1], b[:1])  # warm-up: weights, kernels
    for _ in range(args.repeats):
        for way, (swap, reuse) in ways.items():
            backend.reset()
            backend.reuse_prefix = reuse
            before = backend.tokens_run
            start, start_cpu = time.perf_counter(), time.process_time()
            judge.judge_pairs(prompts, a, b, swap=swap)
            seconds[way] += time.perf_counter() - start
            cpu[way] += time.process_time() - start_cpu
            tokens[way] += backend.tokens_run - before
    backend.reuse_prefix = True
    n = len(records) * args.repeats
    emit("judge_swap_cost", model=args.model, backend=backend.name, pairs=len(records),
         repeats=args.repeats, mean_question_tokens=round(sum(k for _, k in chosen) / len(chosen)),
         swap_over_single_cpu=round(cpu["swap"] / cpu["single"], 3),
         naive_swap_over_single_cpu=round(cpu["swap_cold"] / cpu["single_cold"], 3),
         swap_over_single=round(seconds["swap"] / seconds["single"], 3),
         swap_over_single_tokens=round(tokens["swap"] / tokens["single"], 3),
         naive_swap_over_single=round(seconds["swap_cold"] / seconds["single_cold"], 3),
         swap_over_single_cold=round(seconds["swap"] / seconds["single_cold"], 3),
         judgments_per_second={w: round(n / s, 3) for w, s in seconds.items()},
         judgments_per_cpu_second={w: round(n / s, 3) for w, s in cpu.items()},
         threads=torch.get_num_threads(),
         tokens={w: t // args.repeats for w, t in tokens.items()},
         seconds={w: round(s, 1) for w, s in seconds.items()}, target=1.4)


if __name__ == "__main__":
    main()
