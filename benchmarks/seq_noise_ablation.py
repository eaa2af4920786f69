"""Where does ``seq:`` co-filtering's gain come from? One (seed, flip rate) per run.

Runs ``label.noise.co_filter`` and keeps the peers it trains, so that each part can be
scored on the clean held-out pairs: the two cross-fitted peers A and B (each fine-tuned on
one half, with the final model's seed, so all three share one head initialisation), the
final model F fine-tuned on the 80% of pairs the peers found most plausible, and what could
be built from them at no extra training cost — the output ensemble of A, B, F (z-scored
rewards summed) and weight averages ("model soups", as in WARM, Ramé et al., 2024). Also
reports the filter's precision: the share of dropped pairs that were really flipped (the
base rate is the flip rate).

    python benchmarks/seq_noise_ablation.py --seed S --rate R [--drop D] [--pairs N]
        [--threads T]

Plain BT for the same seed and rate comes from ``noise_robust.py`` (same split, same
injection, same seed). One run is ~13 min of one core for all 1,310 pairs (782–792 s with
two runs side by side on two cores).
"""

from __future__ import annotations

import argparse
import copy
import time

import numpy as np

from _common import emit
from rewardlab.data import load_dataset, split_by_prompt
from rewardlab.evaluate.metrics import pairwise_accuracy
from rewardlab.evaluate.pairwise import score_pairs
from rewardlab.label.noise import co_filter, inject_label_noise
from rewardlab.models.seq import SequenceRewardModel


def weight_average(models: list[SequenceRewardModel], weights: list[float]
                   ) -> SequenceRewardModel:
    """A copy of the first model whose floating-point weights are the weighted mean."""
    out = copy.deepcopy(models[0])
    states = [m.network.state_dict() for m in models]
    merged = {key: (sum(w * s[key] for w, s in zip(weights, states, strict=True))
                    if value.is_floating_point() else value)
              for key, value in states[0].items()}
    out.network.load_state_dict(merged)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rate", type=float, default=0.4, help="share of pairs flipped")
    parser.add_argument("--drop", type=float, default=0.2, help="share of pairs dropped")
    parser.add_argument("--pairs", type=int, default=10_000, help="training pairs used")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    start = time.perf_counter()
    train, test = split_by_prompt(load_dataset("bundled:hh_harmless"), seed=0)
    train = train.take(range(min(args.pairs, len(train))))
    noisy, flipped = inject_label_noise(train, args.rate, seed=args.seed)

    def fresh() -> SequenceRewardModel:
        return SequenceRewardModel(threads=args.threads, seed=args.seed)

    peers: list[SequenceRewardModel] = []

    def peer(_seed: int) -> SequenceRewardModel:
        # the final model's seed, not co_filter's per-peer one: one shared head
        # initialisation is what makes the weight averages below meaningful
        model = fresh()
        peers.append(model)
        return model

    kept, report = co_filter(peer, noisy, drop_rate=args.drop, seed=args.seed)
    final = fresh().fit(kept)

    def held_out(model: SequenceRewardModel) -> tuple[np.ndarray, np.ndarray]:
        return score_pairs(model, test.records)

    scores = {"A": held_out(peers[0]), "B": held_out(peers[1]), "F": held_out(final)}
    accuracy = {k: pairwise_accuracy(*v) for k, v in scores.items()}

    def summed(keys: str) -> tuple[np.ndarray, np.ndarray]:
        spread = {k: np.concatenate(scores[k]).std() for k in keys}
        return (sum(scores[k][0] / spread[k] for k in keys),
                sum(scores[k][1] / spread[k] for k in keys))

    accuracy["ensemble_ABF"] = pairwise_accuracy(*summed("ABF"))
    accuracy["ensemble_AB"] = pairwise_accuracy(*summed("AB"))
    soups = {"soup_ABF_25_25_50": ([*peers, final], [0.25, 0.25, 0.5]),
             "soup_ABF_equal": ([*peers, final], [1 / 3, 1 / 3, 1 / 3]),
             "soup_AB": (peers, [0.5, 0.5])}
    for name, (models, weights) in soups.items():
        accuracy[name] = pairwise_accuracy(*held_out(weight_average(models, weights)))
    emit("seq_noise_ablation", seed=args.seed, rate=args.rate, drop=args.drop,
         train_pairs=len(noisy), test_pairs=len(test), flipped=len(flipped),
         drop_precision=float(np.isin(report.dropped, flipped).mean()) if len(flipped) else None,
         accuracy={k: round(float(v), 4) for k, v in accuracy.items()},
         seconds=round(time.perf_counter() - start, 1))


if __name__ == "__main__":
    main()
