"""Active selection simulated on HH: does labelling what the ensemble does not know beat
labelling at random?

HH harmless pairs are split by prompt into a pool (75%) and a held-out test set (25%). The
pool's labels are hidden; 50 random pairs start labelled. Each round trains an ensemble of
``--members`` ``embed:minilm`` heads (the kind's own MLP head and features, each on a
bootstrap resample of the labelled pairs), picks the next 50 pairs by the strategy
(``rewardlab.inspection.selection``: BALD, disagreement, or random), reveals their labels,
and stops at 600 labels. The held-out accuracy of the ensemble's mean margin is recorded after
every round. The area under accuracy-vs-labels (mean accuracy over the rounds) is compared
with random selection per seed; the figure is the mean paired difference with a t interval
over seeds. Two references say whether a flat curve is the model or the simulation: the
same ensemble trained on every pool pair (the ceiling), and on 5/10/20 random labels.

The heads are trained on the cached MiniLM features directly (``train_pairwise_head``, the
loop ``embed:`` itself uses) rather than through ``fit``, which would re-read the features
from the cache 10,000 times. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from rewardlab.data import load_dataset, split_by_prompt
from rewardlab.inspection.selection import acquisition
from rewardlab.models._head_io import build_head
from rewardlab.models.registry import resolve
from rewardlab.train.loop import train_pairwise_head


def _features(model, data):
    prompts = [r.prompt for r in data.records]
    return (model.features(prompts, [r.chosen for r in data.records]),
            model.features(prompts, [r.rejected for r in data.records]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--members", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--batch", type=int, default=50)
    ap.add_argument("--max-labels", type=int, default=600)
    ap.add_argument("--strategies", default="random,bald,disagreement",
                    help="comma-separated; empty: only the all-pool and few-label references")
    args = ap.parse_args()
    start = time.perf_counter()
    model = resolve("embed:minilm")
    cfg = model.config
    hh = load_dataset("bundled:hh_harmless")
    pool_data, test_data = split_by_prompt(hh, test_fraction=0.25, seed=0)
    pc, pr = _features(model, pool_data)
    tc, tr = _features(model, test_data)
    allf = np.vstack([pc, pr])
    mean, scale = allf.mean(0), allf.std(0) + 1e-6

    def t(x):
        return torch.from_numpy(((x - mean) / scale).astype(np.float32))

    PC, PR, TC, TR = t(pc), t(pr), t(tc), t(tr)
    n_pool = len(pool_data)
    strategies = [s for s in args.strategies.split(",") if s]
    curves: dict[str, list[list[float]]] = {s: [] for s in strategies}
    counts = list(range(args.batch, args.max_labels + 1, args.batch))

    def ensemble(labelled: np.ndarray, seed: int) -> list[torch.nn.Module]:
        rng = np.random.default_rng(seed)
        heads = []
        for m in range(args.members):
            boot = torch.from_numpy(rng.choice(labelled, len(labelled)))
            torch.manual_seed(seed * 31 + m)
            head = build_head(cfg, PC.shape[1])
            train_pairwise_head(head, PC[boot], PR[boot], epochs=args.epochs, seed=seed + m,
                                lr=cfg.lr, weight_decay=cfg.weight_decay,
                                batch_size=cfg.batch_size, description="active head")
            heads.append(head)
        return heads

    def margins(heads, c, r) -> np.ndarray:
        with torch.inference_mode():
            return np.vstack([(h(c) - h(r)).squeeze(-1).numpy() for h in heads])

    for seed in range(args.seeds if strategies else 0):
        first = np.random.default_rng(seed).choice(n_pool, args.batch, replace=False)
        for strategy in strategies:
            labelled = first.copy()
            rng = np.random.default_rng(1000 + seed)
            accs = []
            for count in counts:
                heads = ensemble(labelled, seed * 100 + count)
                m = margins(heads, TC, TR).mean(0)
                accs.append(float(((m > 0) + 0.5 * (m == 0)).mean()))
                if count == counts[-1]:
                    break
                rest = np.setdiff1d(np.arange(n_pool), labelled)
                if strategy == "random":
                    new = rng.choice(rest, args.batch, replace=False)
                else:
                    score = acquisition(margins(heads, PC[rest], PR[rest]), strategy)
                    new = rest[np.argsort(-score, kind="stable")[: args.batch]]
                labelled = np.concatenate([labelled, new])
            curves[strategy].append(accs)
            print(json.dumps({"seed": seed, "strategy": strategy,
                              "acc": [round(a, 4) for a in accs]}), flush=True,
                  file=__import__("sys").stderr)
    # the ceiling: the same ensemble (and the kind's own single head, 2 epochs) trained on
    # every pool pair; a flat curve that ends near it means the model, not the simulation,
    # has nothing left to learn. And the floor: far fewer labels than the first round.
    everything = np.arange(n_pool)
    ceiling = []
    for seed in range(args.seeds):
        m = margins(ensemble(everything, seed * 100 + n_pool), TC, TR).mean(0)
        ceiling.append(float(((m > 0) + 0.5 * (m == 0)).mean()))
    torch.manual_seed(cfg.seed)
    single = build_head(cfg, PC.shape[1])
    train_pairwise_head(single, PC, PR, epochs=cfg.epochs, seed=cfg.seed, lr=cfg.lr,
                        weight_decay=cfg.weight_decay, batch_size=cfg.batch_size,
                        description="single head")
    m = margins([single], TC, TR)[0]
    floor = {}
    for few in (5, 10, 20):
        accs = []
        for seed in range(args.seeds):
            pick = np.random.default_rng(seed).choice(n_pool, few, replace=False)
            m_few = margins(ensemble(pick, seed * 100 + few), TC, TR).mean(0)
            accs.append(float(((m_few > 0) + 0.5 * (m_few == 0)).mean()))
        floor[few] = round(float(np.mean(accs)), 4)
    auc = {s: np.array([np.mean(c) for c in curves[s]]) for s in strategies}
    result = {"benchmark": "active_selection", "pool": n_pool, "test": len(test_data),
              "labels": counts, "seeds": args.seeds, "members": args.members,
              "epochs": args.epochs,
              "mean_curve": {s: [round(float(v), 4) for v in np.mean(curves[s], 0)]
                             for s in strategies},
              "auc": {s: round(float(v.mean()), 4) for s, v in auc.items()},
              "all_pool_ensemble": round(float(np.mean(ceiling)), 4),
              "all_pool_ensemble_per_seed": [round(v, 4) for v in ceiling],
              "all_pool_single_head": round(float(((m > 0) + 0.5 * (m == 0)).mean()), 4),
              "few_labels_random": floor}
    from scipy import stats

    for s in strategies:
        if s == "random":
            continue
        diff = auc[s] - auc["random"]
        half = float(stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / np.sqrt(len(diff))) \
            if len(diff) > 1 else 0.0
        result[f"{s}_minus_random_auc"] = {"mean": round(float(diff.mean()), 4),
                                           "ci95": [round(float(diff.mean() - half), 4),
                                                    round(float(diff.mean() + half), 4)],
                                           "per_seed": [round(float(d), 4) for d in diff]}
    result["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
