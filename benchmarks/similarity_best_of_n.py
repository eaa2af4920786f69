"""``similarity:`` as a best-of-4 picker on GSM8K, beside random, majority and ``verify:math``.

All 819 problems of the bundled GSM8K example solutions (4 real model solutions each), every
solution compared with the problem's worked reference solution. Reference similarity is not a
verifier (a wrong solution can share most words with the right one); the figure says how much
of the gap between random and the oracle each metric closes, and what it costs per solution.

    python benchmarks/similarity_best_of_n.py [--embed]
"""

from __future__ import annotations

import argparse
import time

from _common import emit
from rewardlab import resolve
from rewardlab.data import load_dataset
from rewardlab.evaluate import evaluate_best_of_n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--embed", action="store_true", help="also MiniLM cosine (slower)")
    args = parser.parse_args()
    data = load_dataset("bundled:gsm8k_examples")
    n = sum(len(r.responses) for r in data)
    specs = ["verify:math", "similarity:bleu", "similarity:chrf", "similarity:rougeL"]
    if args.embed:
        specs.append("similarity:embed")
    figures: dict[str, dict[str, float]] = {}
    base: dict[str, float] = {}
    for spec in specs:
        start = time.perf_counter()
        result = evaluate_best_of_n(resolve(spec), data)
        seconds = time.perf_counter() - start
        m = result.metrics
        base = {k: m[f"best_of_n/{k}"] for k in ("oracle", "random", "majority")}
        figures[spec] = {"best_of_4": m["best_of_n/accuracy"],
                         "pairwise": m["best_of_n/pairwise_accuracy"],
                         "solutions_per_s": n / seconds}
    emit("similarity_best_of_n", problems=len(data), solutions=n, **base, models=figures)


if __name__ == "__main__":
    main()
