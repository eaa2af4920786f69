"""Soft labels on PandaLM: training towards the annotators' vote share versus hard labels,
judged by accuracy and by calibration against the vote share.

PandaLM rows carry three annotators' votes (``meta.votes``); 100 of 894 pairs are not
unanimous. Both heads are ``embed:minilm`` with the same seeds, trained on the same 75% prompt
split (``split_by_prompt``, seed 0); ``--soft-labels`` trains towards each pair's vote share.
On the held-out quarter: accuracy, and the expected calibration error of P(chosen better) =
σ(r_c - r_r) against the vote share (10 equal-width bins), each with a 95% bootstrap interval
over pairs, averaged over ``--seeds`` head seeds.

Run: ``nice -n 5 python benchmarks/soft_labels.py`` — prints one JSON line.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from _common import emit
from rewardlab.data import load_dataset, split_by_prompt
from rewardlab.evaluate.metrics import pair_outcomes
from rewardlab.models.embedding import EmbeddingRewardModel
from rewardlab.train.losses import soft_label_targets


def ece(p: np.ndarray, target: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error of predicted probabilities against observed shares."""
    edges = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = edges == b
        if mask.any():
            total += mask.mean() * abs(p[mask].mean() - target[mask].mean())
    return float(total)


def boot(fn, n: int, rng: np.random.Generator, reps: int = 1000) -> list[float]:
    values = [fn(rng.integers(0, n, n)) for _ in range(reps)]
    return [round(float(np.percentile(values, q)), 4) for q in (2.5, 97.5)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2, help="head epochs (embed's default: 2)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    train, test = split_by_prompt(load_dataset("bundled:pandalm"), test_fraction=0.25, seed=0)
    share = soft_label_targets(test.records, test.source)
    records = test.records
    prompts = [r.prompt for r in records]
    responses = [r.chosen for r in records] + [r.rejected for r in records]
    n = len(records)
    out = {}
    for name, soft in (("hard", False), ("soft", True)):
        probs = []
        for seed in range(args.seeds):
            model = EmbeddingRewardModel(seed=seed, soft_labels=soft,
                                         epochs=args.epochs).fit(train)
            r = model.score(prompts + prompts, responses)
            probs.append(1.0 / (1.0 + np.exp(-(r[:n] - r[n:]))))
        p = np.mean(probs, axis=0)
        rng = np.random.default_rng(0)
        accs = [pair_outcomes(np.log(q), np.log(1 - q)).mean() for q in probs]
        out[name] = {
            "accuracy": round(float(np.mean(accs)), 4),
            "accuracy_ci95": boot(lambda i, p=p: (p[i] > 0.5).mean(), n, rng),
            "ece": round(float(np.mean([ece(q, share) for q in probs])), 4),
            "ece_ci95": boot(lambda i, p=p: ece(p[i], share[i]), n, rng),
            "ece_split_pairs": round(float(np.mean(
                [ece(q[share < 1], share[share < 1]) for q in probs])), 4),
            "mean_p_chosen": round(float(p.mean()), 4),
        }
    emit("soft_labels", n_train=len(train), n_test=n, epochs=args.epochs,
         n_test_split=int((share < 1).sum()), seeds=args.seeds, **out,
         ece_soft_minus_hard=round(out["soft"]["ece"] - out["hard"]["ece"], 4),
         accuracy_soft_minus_hard_points=round(
             100 * (out["soft"]["accuracy"] - out["hard"]["accuracy"]), 2),
         seconds=round(time.perf_counter() - t0, 1))


if __name__ == "__main__":
    main()
