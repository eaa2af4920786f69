"""First-error detection and best-of-4 with ``prm:minilm``, trained on error-injected GSM8K.

Training: the first ``--train-problems`` GSM8K *training* problems (../shared/data/gsm8k),
each reference solution with one calculation corrupted and carried forward (plus the correct
solution), ``rewardlab.label.inject_errors`` with seed 0. Nothing below is trained on.

- **held-out error-injected set**: the same injection on the reference solutions of the
  GSM8K *test* problems held out by ``gsm8k_best_of_n.py``'s split (``split_by_prompt``,
  25%, seed 0): ProcessBench-style first-error F1, accuracy on erroneous and on correct
  solutions, and the trivial baselines (always "none", always "step 1");
- **PRMBench**: ``--prmbench-per-type`` corrupted processes per error type from the bundled
  sample, with their original (correct) processes — real, human-designed errors of other
  kinds (circular reasoning, counterfactuals, ...) on harder (MATH) problems;
- **best-of-4** on the held-out problems' four real model solutions, by the PRM's ``min``
  step score, beside oracle, random and majority (the same problems as the ORM figure in
  benchmarks/README.md).

Three feature sets are trained on the same data and reported side by side: the default
(problem+step embedding, step position, arithmetic checks), embeddings only, checks only.
Embedding ~7,900 problem+step texts (~750k tokens) is the cost: the cold run measured 848 s
on a 2-core machine shared with another job (236 s of it one variant's head training, before
heads were pinned to one thread; 9 s since); with the cache (``$REWARDLAB_CACHE_DIR``) warm a
run takes ~30 s.

    python benchmarks/prm_first_error.py
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from _common import emit
from rewardlab import resolve
from rewardlab.data import Dataset, StepRecord, load_dataset, split_by_prompt
from rewardlab.evaluate import evaluate_best_of_n
from rewardlab.evaluate.process import ProcessSummary, evaluate_process
from rewardlab.label import Problem, inject_errors, read_problems

GSM8K_TRAIN = Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k" / "train.jsonl"
VARIANTS = {
    "default": "prm:minilm",
    "embeddings_only": "prm:minilm?features=joint,position",
    "checks_only": "prm:minilm?features=position,checks",
}


def prmbench_sample(per_type: int) -> Dataset[StepRecord]:
    """The first ``per_type`` corrupted processes of each PRMBench error type in the bundled
    sample, with the original processes read from the same rows."""
    data = load_dataset("bundled:prmbench")
    taken: dict[str, int] = defaultdict(int)
    lines = set()
    for r in data:
        if r.subset != "original" and taken[r.subset or ""] < per_type:
            taken[r.subset or ""] += 1
            lines.add(r.line)
    return data.take([i for i, r in enumerate(data) if r.line in lines])


def summary(s: ProcessSummary) -> dict[str, Any]:
    return {"f1": s.first_error_f1, "f1_ci95": s.f1_ci95, "acc_erroneous": s.acc_erroneous,
            "acc_correct": s.acc_correct, "early": s.early, "late": s.late, "missed": s.missed}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-problems", type=int, default=600)
    parser.add_argument("--prmbench-per-type", type=int, default=25)
    parser.add_argument("--held-out-limit", type=int, default=None,
                        help="use only the first N held-out problems (a quick trial)")
    parser.add_argument("--gsm8k-train", type=Path, default=GSM8K_TRAIN)
    args = parser.parse_args()
    start = time.perf_counter()

    problems, _ = read_problems(args.gsm8k_train, limit=args.train_problems)
    injected_train = inject_errors(problems, seed=0)
    train = injected_train.dataset("gsm8k-train-injected")
    examples = load_dataset("bundled:gsm8k_examples")
    _, test = split_by_prompt(examples, test_fraction=0.25, seed=0)
    if args.held_out_limit is not None:
        test = test.take(range(min(args.held_out_limit, len(test))))
    held_problems = [Problem(id=r.id, question=r.prompt, solution=r.reference or "",
                             line=r.line) for r in test]  # type: ignore[arg-type]
    injected_held = inject_errors(held_problems, seed=0)
    held = injected_held.dataset("gsm8k-test-injected")
    prmbench = prmbench_sample(args.prmbench_per_type)

    results: dict[str, Any] = {}
    timings: dict[str, float] = {}
    for name, spec in VARIANTS.items():
        t0 = time.perf_counter()
        model = resolve(spec).fit(train)
        t1 = time.perf_counter()
        on_held = evaluate_process(model, held)
        t2 = time.perf_counter()
        on_prmbench = evaluate_process(model, prmbench)
        t3 = time.perf_counter()
        best = evaluate_best_of_n(model, test).overall
        t4 = time.perf_counter()
        timings[name] = {"fit": t1 - t0, "held_out": t2 - t1, "prmbench": t3 - t2,
                         "best_of_4": t4 - t3}
        results[name] = {
            "spec": spec,
            "threshold": model.threshold_,
            "held_out": {**summary(on_held.overall), "by_kind": {
                s.name: s.acc_erroneous if s.name != "correct" else s.acc_correct
                for s in on_held.subsets}},
            "prmbench": {**summary(on_prmbench.overall), "by_type": {
                s.name: s.acc_erroneous if s.name != "original" else s.acc_correct
                for s in on_prmbench.subsets}},
            "best_of_4": best.best_of_n_accuracy,
            "best_of_4_ci95": best.ci95,
            "best_of_4_pairwise": best.pairwise_accuracy,
        }
        print(f"{name}: held-out F1 {on_held.overall.first_error_f1:.3f}, PRMBench F1 "
              f"{on_prmbench.overall.first_error_f1:.3f}, best-of-4 "
              f"{best.best_of_n_accuracy:.3f} ({time.perf_counter() - t0:.0f}s)", flush=True)

    emit(
        "prm_first_error",
        data={"train_problems": len(problems), "train_solutions": len(train),
              "train_uncorrupted": len(injected_train.uncorrupted),
              "held_out_problems": len(test), "held_out_solutions": len(held),
              "held_out_erroneous": on_held.overall.n_erroneous,
              "prmbench_solutions": len(prmbench),
              "prmbench_erroneous": on_prmbench.overall.n_erroneous},
        # the baselines do not depend on the model: any variant's are everyone's
        baselines={"held_out": on_held.overall.baselines,
                   "prmbench": on_prmbench.overall.baselines},
        best_of_4_pickers={"oracle": best.oracle, "random": best.random,
                           "majority": best.majority},
        results=results,
        seconds=time.perf_counter() - start,
        timings=timings,
    )


if __name__ == "__main__":
    main()
