"""Held-out pairwise accuracy on HH harmless: ``embed:minilm`` vs the issue's baseline.

Baseline (as measured for the foundation issue): logistic regression on the difference of
frozen MiniLM embeddings of the whole chosen and rejected dialogues (256 tokens,
left-truncated). Both are scored on the same folds: 5-fold cross-validation over all 1,812
pairs, folds grouped by conversation, plus the demo's fixed 75/25 split. The length-only
baselines of the same pairs are printed beside them.

    python benchmarks/hh_accuracy.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from _common import emit
from rewardlab import resolve
from rewardlab._store import EmbeddingCache, default_cache_dir
from rewardlab.data import Dataset, kfold_by_prompt, load_dataset, render_hh, split_by_prompt
from rewardlab.evaluate import evaluate_pairwise, pairwise_accuracy
from rewardlab.models._encoder import SentenceEncoder


def whole_dialogue(prompt, reply: str) -> str:
    return render_hh(list(prompt)) + "\n\nAssistant: " + reply


def logistic_baseline(train: Dataset, test: Dataset, encoder: SentenceEncoder) -> float:
    from sklearn.linear_model import LogisticRegression

    def diffs(data: Dataset) -> np.ndarray:
        c = encoder.embed([whole_dialogue(r.prompt, r.chosen) for r in data], truncate="left")
        j = encoder.embed([whole_dialogue(r.prompt, r.rejected) for r in data], truncate="left")
        return c - j

    x = diffs(train)
    clf = LogisticRegression(max_iter=2000, fit_intercept=False)
    clf.fit(np.vstack([x, -x]), np.r_[np.ones(len(x)), np.zeros(len(x))])
    d = diffs(test) @ clf.coef_[0]
    return pairwise_accuracy(d, np.zeros_like(d))


def rewardlab_accuracy(train: Dataset, test: Dataset, seed: int) -> float:
    model = resolve(f"embed:minilm?seed={seed}").fit(train)
    return evaluate_pairwise(model, test).overall.accuracy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3, help="head seeds averaged per fold")
    args = parser.parse_args()
    start = time.perf_counter()
    data = load_dataset("bundled:hh_harmless")
    encoder = SentenceEncoder("minilm", cache=EmbeddingCache(
        default_cache_dir() / "embeddings.sqlite"))

    folds = list(kfold_by_prompt(data, k=5, seed=0))
    ours = [[rewardlab_accuracy(tr, te, s) for s in range(args.seeds)] for tr, te in folds]
    base = [logistic_baseline(tr, te, encoder) for tr, te in folds]
    sizes = np.array([len(te) for _, te in folds])

    demo_train, demo_test = split_by_prompt(data, seed=0)
    demo = evaluate_pairwise(resolve("embed:minilm").fit(demo_train), demo_test).overall
    emit(
        "hh_accuracy",
        pairs=len(data),
        cv5={
            "rewardlab_embed_minilm": round(float(np.average(np.mean(ours, axis=1),
                                                             weights=sizes)), 4),
            "rewardlab_per_fold": [round(float(np.mean(f)), 4) for f in ours],
            "rewardlab_seed_spread": round(float(np.std(ours, axis=1).mean()), 4),
            "logistic_whole_dialogue": round(float(np.average(base, weights=sizes)), 4),
            "logistic_per_fold": [round(b, 4) for b in base],
        },
        demo_split={"n_test": demo.n, "rewardlab_embed_minilm": round(demo.accuracy, 4),
                    "ci95": [round(x, 4) for x in demo.ci95],
                    "logistic_whole_dialogue": round(
                        logistic_baseline(demo_train, demo_test, encoder), 4),
                    "longer_wins": round(demo.longer_wins, 4),
                    "shorter_wins": round(demo.shorter_wins, 4)},
        seconds=round(time.perf_counter() - start, 1),
    )


if __name__ == "__main__":
    main()
