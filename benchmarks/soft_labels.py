"""Soft labels on PandaLM: training towards the annotators' vote share versus hard labels,
judged by accuracy and by calibration against the vote share.

PandaLM rows carry three annotators' votes (``meta.votes``); 100 of 894 pairs are not
unanimous. Both arms are ``embed:minilm`` heads with the same seeds, trained on the same
pairs: the 75% prompt split (``split_by_prompt``, seed 0) minus a validation fifth of its
prompts (seed 1); ``--soft-labels`` trains towards each pair's vote share.

What is measured on the held-out quarter, for P = σ(r_a − r_b), the probability the model
gives that reply a beats reply b, against the share of annotators who preferred a:

- ``ece``: expected calibration error, 10 equal-width bins of P, Σ_bins (n_b/n) |mean P −
  mean share|, over **both orders of every pair** (P, share) and (1 − P, 1 − share). Read in
  the chosen-first order only (the first version of this benchmark), the share is 1 on 89%
  of pairs, so any model whose P is not near 1 scores an ECE near 0.4 however well it ranks;
  with both orders a constant 0.5 is perfectly calibrated, so ECE is read beside accuracy.
- ``brier`` (mean (P − share)²) and ``soft_nll`` (cross-entropy against the share), proper
  scoring rules that reward ranking and calibration together.
- each at the raw scale (T = 1) and after a temperature T fitted per arm on the validation
  prompts (minimising the soft cross-entropy there): the embed: head's margins are not trained
  to be probabilities at any particular scale, so comparing at T = 1 would compare scales.
- on all held-out pairs and on the non-unanimous ones; accuracy against the majority label.

Probabilities are averaged over ``--seeds`` head seeds; 95% bootstrap intervals over pairs,
and a paired interval for soft minus hard.

Run: ``nice -n 5 python benchmarks/soft_labels.py`` — prints one JSON line.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from _common import emit
from rewardlab.data import load_dataset, split_by_prompt
from rewardlab.models.embedding import EmbeddingRewardModel
from rewardlab.train.losses import soft_label_targets


def ece(p: np.ndarray, share: np.ndarray, bins: int = 10) -> float:
    """Binned |mean P − mean share| over both orders of every pair (see the docstring)."""
    p = np.concatenate([p, 1.0 - p])
    share = np.concatenate([share, 1.0 - share])
    idx = np.minimum((p * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        mask = idx == b
        if mask.any():
            total += mask.mean() * abs(p[mask].mean() - share[mask].mean())
    return float(total)


def ece_chosen_first(p: np.ndarray, share: np.ndarray, bins: int = 10) -> float:
    """The first version's reading: the chosen-first order only (kept for comparison)."""
    idx = np.minimum((p * bins).astype(int), bins - 1)
    return float(sum((idx == b).mean() * abs(p[idx == b].mean() - share[idx == b].mean())
                     for b in range(bins) if (idx == b).any()))


def brier(p: np.ndarray, share: np.ndarray) -> float:
    return float(np.mean((p - share) ** 2))


def soft_nll(p: np.ndarray, share: np.ndarray) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(np.mean(-share * np.log(p) - (1 - share) * np.log(1 - p)))


def accuracy(p: np.ndarray) -> float:
    return float(np.mean(np.where(p > 0.5, 1.0, np.where(p < 0.5, 0.0, 0.5))))


def fit_temperature(margins: np.ndarray, share: np.ndarray) -> float:
    """T minimising the soft cross-entropy of σ(margin / T) against the share (grid search
    on a log scale, then refined)."""
    grid = np.exp(np.linspace(np.log(0.05), np.log(20), 200))
    losses = [soft_nll(1 / (1 + np.exp(-margins / t)), share) for t in grid]
    best = grid[int(np.argmin(losses))]
    fine = np.linspace(best * 0.95, best * 1.05, 41)
    losses = [soft_nll(1 / (1 + np.exp(-margins / t)), share) for t in fine]
    return float(fine[int(np.argmin(losses))])


METRICS = {"accuracy": lambda p, s: accuracy(p), "ece": ece, "brier": brier,
           "soft_nll": soft_nll, "ece_chosen_first": ece_chosen_first}


def ci(fn, n: int, reps: int = 1000) -> list[float]:
    rng = np.random.default_rng(0)
    values = [fn(rng.integers(0, n, n)) for _ in range(reps)]
    return [round(float(np.percentile(values, q)), 4) for q in (2.5, 97.5)]


def margins_of(model, data) -> np.ndarray:
    records = data.records
    prompts = [r.prompt for r in records]
    r = model.score(prompts + prompts, [r.chosen for r in records]
                    + [r.rejected for r in records])
    n = len(records)
    return r[:n] - r[n:]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2, help="head epochs (embed's default: 2)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    train_all, test = split_by_prompt(load_dataset("bundled:pandalm"), test_fraction=0.25,
                                      seed=0)
    train, val = split_by_prompt(train_all, test_fraction=0.2, seed=1)
    share = soft_label_targets(test.records, test.source)
    val_share = soft_label_targets(val.records, val.source)
    split = share < 1
    n = len(share)
    probs: dict[str, dict[str, np.ndarray]] = {}
    temps: dict[str, list[float]] = {}
    for name, soft in (("hard", False), ("soft", True)):
        raw, scaled, ts = [], [], []
        for seed in range(args.seeds):
            model = EmbeddingRewardModel(seed=seed, soft_labels=soft,
                                         epochs=args.epochs).fit(train)
            t = fit_temperature(margins_of(model, val), val_share)
            m = margins_of(model, test)
            raw.append(1 / (1 + np.exp(-m)))
            scaled.append(1 / (1 + np.exp(-m / t)))
            ts.append(round(t, 3))
        probs[name] = {"raw": np.mean(raw, axis=0), "temperature": np.mean(scaled, axis=0)}
        temps[name] = ts
    out: dict[str, dict] = {}
    for name in ("hard", "soft"):
        arm: dict[str, dict] = {"temperatures": temps[name]}
        for scale, p in probs[name].items():
            block: dict[str, object] = {}
            for rows, mask in (("all", np.ones(n, bool)), ("non_unanimous", split)):
                pp, ss = p[mask], share[mask]
                for metric, fn in METRICS.items():
                    key = metric if rows == "all" else f"{metric}_non_unanimous"
                    block[key] = round(fn(pp, ss), 4)
                    block[key + "_ci95"] = ci(lambda i, fn=fn, pp=pp, ss=ss: fn(pp[i], ss[i]),
                                              len(pp))
            block["mean_p_chosen"] = round(float(p.mean()), 4)
            arm[scale] = block
        out[name] = arm
    diffs = {}
    for scale in ("raw", "temperature"):
        for rows, mask in (("all", np.ones(n, bool)), ("non_unanimous", split)):
            for metric in ("ece", "brier", "soft_nll", "accuracy"):
                fn = METRICS[metric]
                hp, sp, ss = probs["hard"][scale][mask], probs["soft"][scale][mask], share[mask]
                key = f"{scale}/{rows}/{metric}"
                diffs[key] = {
                    "soft_minus_hard": round(fn(sp, ss) - fn(hp, ss), 4),
                    "ci95": ci(lambda i, fn=fn, hp=hp, sp=sp, ss=ss:
                               fn(sp[i], ss[i]) - fn(hp[i], ss[i]), len(ss))}
    emit("soft_labels", n_train=len(train), n_validation=len(val), n_test=n,
         n_test_non_unanimous=int(split.sum()), epochs=args.epochs, seeds=args.seeds,
         **out, soft_minus_hard=diffs, seconds=round(time.perf_counter() - t0, 1))


if __name__ == "__main__":
    main()
