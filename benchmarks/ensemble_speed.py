"""Scoring time of a 5-head embedding ensemble vs one head, on the same pair batch.

Members read the same features, so the ensemble embeds once and runs five small heads.
Timed with a warm embedding cache (the usual case after training) and with no cache (every
text embedded), alternating, median of rounds.

    python benchmarks/ensemble_speed.py [--pairs 200] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

from _common import emit
from rewardlab.data import load_dataset, split_by_prompt
from rewardlab.models.embedding import EmbeddingRewardModel
from rewardlab.models.ensemble import EnsembleRewardModel, train_ensemble


def _time(model, prompts, replies) -> float:
    start = time.perf_counter()
    model.score(prompts, replies)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    train, test = split_by_prompt(load_dataset("bundled:hh_harmless"), seed=0)
    ensemble = train_ensemble("embed:minilm", train, 5)
    single = ensemble.members[0]
    records = test.records[: args.pairs]
    prompts = [r.prompt for r in records] * 2
    replies = [r.chosen for r in records] + [r.rejected for r in records]
    figures = {}
    for cache in ("warm", "none"):
        if cache == "none":  # same heads, encoders without a cache
            members = []
            for m in ensemble.members:
                bare = EmbeddingRewardModel(cache=False, **m.get_config())
                bare.head_, bare.feature_mean_, bare.feature_scale_ = (
                    m.head_, m.feature_mean_, m.feature_scale_)
                members.append(bare)
            for m in members[1:]:
                m._encoder = members[0].encoder
            one, many = members[0], EnsembleRewardModel(members)
        else:
            one, many = single, ensemble
        _time(one, prompts[:4], replies[:4])  # load the encoder outside the timing
        t_one, t_many = [], []
        for _ in range(args.rounds if cache == "warm" else 2):
            t_one.append(_time(one, prompts, replies))
            t_many.append(_time(many, prompts, replies))
        figures[cache] = {"one_head_s": round(statistics.median(t_one), 4),
                          "five_heads_s": round(statistics.median(t_many), 4),
                          "ratio": round(statistics.median(t_many) / statistics.median(t_one),
                                         3)}
    emit("ensemble_speed", pairs=len(records), texts=len(replies), cache=figures,
         target_ratio=1.3)


if __name__ == "__main__":
    main()
