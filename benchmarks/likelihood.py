"""Training-free likelihood rewards (``likelihood:``) on GSM8K best-of-4, one figure per mode.

The same held-out problems as ``gsm8k_best_of_n.py`` (``split_by_prompt``, 25%, seed 0; 228
problems × 4 real model solutions labelled ``is_correct``), scored by SmolLM2-135M-Instruct
(``policy:default``) with no training:

- ``mode=reference`` (VeriFree / RLPR): the mean log-probability of the reference's final
  answer where each solution's own final answer stood;
- ``mode=followup`` (FLR): the log-probability of "Thank you, that's exactly right." after
  the solution (reference-free);
- ``mode=ratio`` (CDR): log p_strong − log p_weak of the solution; with one small model on
  hand the "weak" model is the same network without the question (``weak_context=none``), i.e. the
  pointwise mutual information of the solution and its question.

Reported beside random, majority vote, the oracle (and ``verify:math``), with the CPU seconds
per candidate of a cold run (the on-disk cache off). ``--limit N`` runs the first N held-out
problems; ``--all`` scores all 819 problems.

    nice -n 5 python benchmarks/likelihood.py --modes reference
"""

from __future__ import annotations

import argparse
import time

from _common import emit
from rewardlab import resolve
from rewardlab.data import load_dataset, split_by_prompt
from rewardlab.evaluate import evaluate_best_of_n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--modes", default="reference,followup,ratio")
    parser.add_argument("--limit", type=int, default=None, help="first N held-out problems")
    parser.add_argument("--all", action="store_true", help="all 819 problems, no split")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="split seed")
    args = parser.parse_args()
    data = load_dataset("bundled:gsm8k_examples")
    test = data if args.all else split_by_prompt(data, test_fraction=0.25, seed=args.seed)[1]
    if args.limit:
        test = test.take(range(min(args.limit, len(test))))
    candidates = sum(len(r.responses) for r in test)
    base = evaluate_best_of_n(resolve("verify:math"), test).overall
    results = {}
    common = f"threads={args.threads}&cache=false"
    specs = {"reference": f"likelihood:policy:default?mode=reference&{common}",
             "followup": f"likelihood:policy:default?mode=followup&{common}",
             "ratio": f"likelihood:policy:default?mode=ratio&weak=policy:default&weak_context=none&"
                 f"{common}"}
    for mode in args.modes.split(","):
        model = resolve(specs[mode])
        start, cpu = time.perf_counter(), time.process_time()
        report = evaluate_best_of_n(model, test).overall
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        results[mode] = {
            "spec": specs[mode], "best_of_n": report.best_of_n_accuracy, "ci95": report.ci95,
            "pairwise": report.pairwise_accuracy,
            "minus_random": report.best_of_n_accuracy - report.random,
            "of_oracle": report.best_of_n_accuracy / report.oracle,
            "wall_s_per_candidate": wall / candidates, "cpu_s_per_candidate": cpu / candidates,
        }
        print(mode, results[mode], flush=True)
    emit("likelihood", problems=len(test), candidates=candidates, k=4,
         baselines={"oracle": base.oracle, "random": base.random, "majority": base.majority,
                    "verify_math": base.best_of_n_accuracy},
         modes=results)


if __name__ == "__main__":
    main()
