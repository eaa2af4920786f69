"""Training on flipped preference labels: plain Bradley–Terry vs ``--noise-robust``.

HH harmless, the demo's split by prompt; 0%, 20% and 40% of the training pairs flipped
(seeded), evaluated on the clean held-out pairs; averaged over seeds. ``embed:minilm`` by
default; ``--model seq:minilm?...`` runs the same protocol on a fine-tuned transformer
(expensive: three trainings per noise level and method pair).

    python benchmarks/noise_robust.py [--seeds 3] [--first-seed 0] [--rates 0 0.2 0.4]
        [--model SPEC] [--pairs N] [--noise-rate R] [--methods plain noise_robust]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from _common import emit
from rewardlab import api
from rewardlab.data import load_dataset, split_by_prompt
from rewardlab.evaluate import evaluate_pairwise


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="embed:minilm")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0,
                        help="seeds run are first-seed .. first-seed + seeds - 1")
    parser.add_argument("--rates", type=float, nargs="+", default=[0.0, 0.2, 0.4],
                        help="shares of training pairs flipped")
    parser.add_argument("--pairs", type=int, default=10_000, help="training pairs used")
    parser.add_argument("--noise-rate", type=float, default=0.2,
                        help="the share of flipped labels --noise-robust assumes")
    parser.add_argument("--methods", nargs="+", default=["plain", "noise_robust"],
                        choices=["plain", "noise_robust"],
                        help="run only some (a fine-tune's plain runs can be reused: "
                             "same seed, same result)")
    args = parser.parse_args()
    start = time.perf_counter()
    train, test = split_by_prompt(load_dataset("bundled:hh_harmless"), seed=0)
    train = train.take(range(min(args.pairs, len(train))))
    sep = "&" if "?" in args.model else "?"
    results: dict[str, dict[str, float]] = {}
    dropped: dict[str, float] = {}
    epochs: dict[str, list[int | None]] = {}
    for rate in args.rates:
        accs: dict[str, list[float]] = {m: [] for m in args.methods}
        drops = []
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            spec = f"{args.model}{sep}seed={seed}"
            for method in accs:
                result = api.train(spec, train, inject_noise=rate,
                                   noise_robust=method == "noise_robust",
                                   noise_rate=args.noise_rate)
                accs[method].append(evaluate_pairwise(result.model, test).overall.accuracy)
                if method == "noise_robust":
                    report = result.report["noise_filter"]
                    drops.append(report.get("n_dropped", report.get("n_down_weighted")))
                    epochs.setdefault(f"{int(rate * 100)}%", []).append(report.get("epochs"))
        key = f"{int(rate * 100)}%"
        results[key] = {m: round(float(np.mean(v)), 4) for m, v in accs.items()}
        if {"plain", "noise_robust"} <= accs.keys():
            results[key]["gain_points"] = round(100 * (results[key]["noise_robust"]
                                                       - results[key]["plain"]), 2)
        if drops:
            dropped[key] = float(np.mean(drops))
    emit("noise_robust", model=args.model, train_pairs=len(train), test_pairs=len(test),
         seeds=list(range(args.first_seed, args.first_seed + args.seeds)),
         noise_rate=args.noise_rate, accuracy=results,
         dropped_or_down_weighted_pairs=dropped, chosen_epochs=epochs,
         targets={"gain_at_40%": 3.0, "loss_at_0%": -1.0},
         seconds=round(time.perf_counter() - start, 1))


if __name__ == "__main__":
    main()
