"""``multi:seq:minilm`` (one fine-tuned MiniLM, a head per attribute) against
``multi:embed:minilm`` (frozen MiniLM embeddings, an MLP head per attribute) on the same pairs.

Two of ``multi_heads.py``'s sets, split 75/25 by prompt (seed 0): HH harmless (``harmless``)
and PandaLM (``helpful``). Each model trains on the first ``--pairs`` pairs of each training
quarter; each head is scored on its own whole held-out quarter. Fine-tuning costs about a
CPU-second per pair per step at full length, so the default budget is small (256 pairs per
head, 128 tokens, one epoch).

Run: ``cd benchmarks && nice -n 5 python multi_seq_heads.py [--pairs 256]``; one JSON line.
"""

from __future__ import annotations

import argparse
import time

from _common import emit
from multi_heads import accuracy, side_rewards
from rewardlab import resolve
from rewardlab.data import load_dataset, split_by_prompt
from rewardlab.evaluate.metrics import bootstrap_ci

SETS = {"harmless": "bundled:hh_harmless", "helpful": "bundled:pandalm"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=256)
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args()
    splits = {k: split_by_prompt(load_dataset(v), test_fraction=0.25, seed=0)
              for k, v in SETS.items()}
    train = {k: s[0].take(range(min(args.pairs, len(s[0])))) for k, s in splits.items()}
    test = {k: s[1] for k, s in splits.items()}
    out = {}
    for name, spec in (("multi:seq:minilm", f"multi:seq:minilm?max_length={args.max_length}"
                                            "&batch_size=16&epochs=1"),
                       ("multi:embed:minilm", "multi:embed:minilm")):
        start = time.perf_counter()
        cpu = time.process_time()
        model = resolve(spec).fit(train)
        fit = {"fit_seconds": round(time.perf_counter() - start, 1),
               "fit_cpu_seconds": round(time.process_time() - cpu, 1)}
        heads = {}
        for attr in SETS:
            batch = side_rewards(model, test[attr], {attr: 1.0})
            n = len(test[attr])
            acc, outcomes = accuracy(batch.rewards[:n], batch.rewards[n:])
            heads[attr] = {"held_out_accuracy": round(acc, 4), "n": n,
                           "ci95": [round(x, 4) for x in bootstrap_ci(outcomes)]}
        out[name] = {"heads": heads, **fit}
    emit("multi_seq_heads", pairs_per_head=args.pairs, max_length=args.max_length, **out)


if __name__ == "__main__":
    main()
