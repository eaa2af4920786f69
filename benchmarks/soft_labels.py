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

``--crossfit K``: every PandaLM pair is a test pair once. The prompts are cut into K folds
(``kfold_by_prompt``, seed 0); each fold is scored by models trained on the other folds, so
all 100 non-unanimous pairs (not 22) are test pairs. Arms: ``embed:minilm`` heads
(``--seeds`` seeds) and a fine-tuned ``seq:minilm`` (``--seq-seeds``, ``--seq-epochs``,
``--max-length``), each hard and soft. The temperature of a fold's model is fitted on the
out-of-fold predictions of the same recipe on the *other* folds (no label of the fold it is
applied to enters it). 95% intervals resample prompts (a cluster bootstrap: pairs sharing a
prompt are not independent), paired for soft minus hard. ``--margins FILE`` keeps every
fold's test margins (written as they come, so an interrupted run keeps its finished fits;
``--analyse-only`` recomputes the figures from it).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from _common import emit
from rewardlab.data import load_dataset, prompt_buckets, split_by_prompt
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


def cluster_ci(fn, groups: np.ndarray, reps: int = 1000) -> list[float]:
    """95% interval of ``fn(index)`` resampling whole groups (prompts) with replacement."""
    rng = np.random.default_rng(0)
    members = [np.flatnonzero(groups == g) for g in np.unique(groups)]
    values = []
    for _ in range(reps):
        pick = rng.integers(0, len(members), len(members))
        values.append(fn(np.concatenate([members[j] for j in pick])))
    return [round(float(np.percentile(values, q)), 4) for q in (2.5, 97.5)]


def fit_model(family: str, soft: bool, seed: int, args: argparse.Namespace):
    if family == "embed":
        return EmbeddingRewardModel(seed=seed, soft_labels=soft, epochs=args.epochs)
    from rewardlab.models.seq import SequenceRewardModel

    return SequenceRewardModel(path="minilm", seed=seed, soft_labels=soft,
                               epochs=args.seq_epochs, max_length=args.max_length)


def fit_key(family: str, arm: str, seed: int, fold: int, args: argparse.Namespace) -> str:
    """A fit's name in the margins file, with the settings that shape it, so a rerun with
    other settings never reuses another recipe's margins."""
    recipe = (f"embed-e{args.epochs}" if family == "embed"
              else f"seq-e{args.seq_epochs}-l{args.max_length}")
    return f"{recipe}/folds{args.crossfit}/{arm}/{seed}/{fold}"


def crossfit(args: argparse.Namespace) -> None:
    """Every pair a test pair once (see the module docstring)."""
    import json

    t0 = time.perf_counter()
    data = load_dataset("bundled:pandalm")
    share = soft_label_targets(data.records, data.source)
    n = len(share)
    folds = np.array([int(b * args.crossfit) for b in prompt_buckets(data, 0)])
    first: dict[str, int] = {}
    groups = np.array([first.setdefault(str(r.prompt), len(first)) for r in data.records])
    store = Path(args.margins)
    done: dict[str, list[float]] = {}
    if store.exists():
        done = {json.loads(line)["key"]: json.loads(line)
                for line in store.read_text().splitlines() if line.strip()}
    families = [f for f in args.families.split(",") if f]
    plan = [(fam, arm, seed, k) for fam in families
            for seed in range(args.seeds if fam == "embed" else args.seq_seeds)
            for k in range(args.crossfit) for arm in ("hard", "soft")]
    for fam, arm, seed, k in plan:
        key = fit_key(fam, arm, seed, k, args)
        if key in done or args.analyse_only:
            continue
        start = time.perf_counter()
        cpu = time.process_time()
        train = data.take(np.flatnonzero(folds != k).tolist())
        test_idx = np.flatnonzero(folds == k)
        model = fit_model(fam, arm == "soft", seed, args).fit(train)
        m = margins_of(model, data.take(test_idx.tolist()))
        row = {"key": key, "index": test_idx.tolist(), "margins": m.tolist(),
               "n_train": len(train), "seconds": round(time.perf_counter() - start, 1),
               "cpu_seconds": round(time.process_time() - cpu, 1),
               "final_epoch": (model.history_[-1] if getattr(model, "history_", None)
                               else None)}
        with store.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        done[key] = row
        print(f"{key}: {row['seconds']}s wall, {row['cpu_seconds']}s cpu", flush=True)
        del model
    result: dict[str, object] = {}
    for fam in families:
        seeds = args.seeds if fam == "embed" else args.seq_seeds
        probs: dict[str, dict[str, np.ndarray]] = {}
        temps: dict[str, list[float]] = {}
        for arm in ("hard", "soft"):
            raw, scaled, ts = [], [], []
            for seed in range(seeds):
                m = np.full(n, np.nan)
                for k in range(args.crossfit):
                    row = done.get(fit_key(fam, arm, seed, k, args))
                    if row is None:
                        raise SystemExit(f"missing fit {fit_key(fam, arm, seed, k, args)} "
                                         f"in {store}")
                    m[row["index"]] = row["margins"]
                p_scaled = np.empty(n)
                for k in range(args.crossfit):
                    other = folds != k
                    t = fit_temperature(m[other], share[other])
                    p_scaled[folds == k] = 1 / (1 + np.exp(-m[folds == k] / t))
                    ts.append(round(t, 3))
                raw.append(1 / (1 + np.exp(-m)))
                scaled.append(p_scaled)
            probs[arm] = {"raw": np.mean(raw, axis=0), "temperature": np.mean(scaled, axis=0)}
            temps[arm] = ts
        block = summarise(probs, temps, share, groups)
        block["seconds_per_fit"] = {arm: [done[fit_key(fam, arm, s, k, args)]["seconds"]
                                          for s in range(seeds) for k in range(args.crossfit)]
                                    for arm in ("hard", "soft")}
        result[fam] = block
    emit("soft_labels_crossfit", folds=args.crossfit, n_pairs=n,
         n_non_unanimous=int((share < 1).sum()),
         fold_sizes=np.bincount(folds).tolist(),
         fold_non_unanimous=np.bincount(folds[share < 1], minlength=args.crossfit).tolist(),
         embed_epochs=args.epochs, embed_seeds=args.seeds, seq_epochs=args.seq_epochs,
         seq_seeds=args.seq_seeds, max_length=args.max_length, **result,
         seconds=round(time.perf_counter() - t0, 1))


def summarise(probs: dict[str, dict[str, np.ndarray]], temps: dict[str, list[float]],
              share: np.ndarray, groups: np.ndarray) -> dict[str, object]:
    """Every metric per arm and scale on all pairs and the non-unanimous ones, with
    prompt-cluster intervals, and soft minus hard with paired ones."""
    n = len(share)
    subsets = (("all", np.ones(n, bool)), ("non_unanimous", share < 1))
    out: dict[str, object] = {}
    for arm in ("hard", "soft"):
        entry: dict[str, object] = {"temperatures": temps[arm]}
        for scale, p in probs[arm].items():
            block: dict[str, object] = {}
            for rows, mask in subsets:
                pp, ss, gg = p[mask], share[mask], groups[mask]
                for metric, fn in METRICS.items():
                    key = metric if rows == "all" else f"{metric}_non_unanimous"
                    block[key] = round(fn(pp, ss), 4)
                    block[key + "_ci95"] = cluster_ci(
                        lambda i, fn=fn, pp=pp, ss=ss: fn(pp[i], ss[i]), gg)
            block["mean_p_chosen"] = round(float(p.mean()), 4)
            entry[scale] = block
        out[arm] = entry
    diffs = {}
    for scale in ("raw", "temperature"):
        for rows, mask in subsets:
            for metric in ("accuracy", "ece", "brier", "soft_nll"):
                fn = METRICS[metric]
                hp, sp = probs["hard"][scale][mask], probs["soft"][scale][mask]
                ss, gg = share[mask], groups[mask]
                diffs[f"{scale}/{rows}/{metric}"] = {
                    "soft_minus_hard": round(fn(sp, ss) - fn(hp, ss), 4),
                    "ci95": cluster_ci(lambda i, fn=fn, hp=hp, sp=sp, ss=ss:
                                       fn(sp[i], ss[i]) - fn(hp[i], ss[i]), gg)}
    out["soft_minus_hard"] = diffs
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2, help="head epochs (embed's default: 2)")
    parser.add_argument("--crossfit", type=int, default=0,
                        help="K folds by prompt: every pair a test pair once (0: one split)")
    parser.add_argument("--families", default="embed,seq", help="crossfit: embed, seq")
    parser.add_argument("--seq-seeds", type=int, default=1)
    parser.add_argument("--seq-epochs", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--margins", default=str(Path(tempfile.gettempdir())
                                                 / "soft_labels_margins.jsonl"),
                        help="crossfit: where each fit's test margins are kept")
    parser.add_argument("--analyse-only", action="store_true")
    args = parser.parse_args()
    if args.crossfit:
        crossfit(args)
        return
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
