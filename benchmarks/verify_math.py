"""``verify:math`` against GSM8K's ``is_correct`` labels, and its throughput on one core.

All 819 problems x 4 real model solutions (3,276) of the bundled GSM8K example solutions,
each checked against the problem's worked reference solution. The process is pinned to one
CPU core (the math-verify worker inherits the pinning), so solutions/s is a one-core figure.
Three timings:

- ``cold``: a fresh process, including starting the math-verify worker (~0.3-1 s);
- ``warm``: the same call again, worker running;
- ``math_verify_only``: every solution sent to math-verify (no exact-number fast path), on a
  sample, to show why the fast path exists.

Every disagreement with a label is printed to stderr (id, extracted answer, reference,
label, reason); the one JSON line on stdout holds the figures.

    python benchmarks/verify_math.py
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter

from _common import emit
from rewardlab.data import load_dataset
from rewardlab.verify import MathChecker
from rewardlab.verify._check import _WORKER


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sample", type=int, default=300,
                        help="solutions timed through math-verify alone")
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    data = load_dataset("bundled:gsm8k_examples")
    ids, responses, references, labels = [], [], [], []
    for r in data:
        for name, text, ok in zip(r.names, r.responses, r.is_correct, strict=True):
            ids.append(f"{r.id}:{name}")
            responses.append(text)
            references.append(r.reference)
            labels.append(ok)
    n = len(responses)
    checker = MathChecker()

    start = time.perf_counter()
    verdicts = checker.check(responses, references)
    cold = time.perf_counter() - start
    start = time.perf_counter()
    checker.check(responses, references)
    warm = time.perf_counter() - start

    # math-verify alone: the same worker call the slow path makes, for every solution
    from rewardlab.verify import extract_answer, reference_answer

    sample = range(0, n, max(1, n // args.sample))
    start = time.perf_counter()
    slow_ok = 0
    for i in sample:
        found = extract_answer(responses[i])
        status = "no-answer" if found is None else _WORKER.check(
            reference_answer(references[i]), found.text, 5.0)["status"]
        slow_ok += (status == "correct") == labels[i]
    slow = (time.perf_counter() - start) / len(sample)

    disagreements = []
    for i, (v, ok) in enumerate(zip(verdicts, labels, strict=True)):
        if v.correct != ok:
            disagreements.append({"id": ids[i], "answer": v.answer, "reference": v.reference,
                                  "label": ok, "reason": v.reason, "method": v.method})
            print(f"disagreement {ids[i]}: answer {v.answer!r} reference {v.reference!r} "
                  f"label {ok} verdict {v.reason} ({v.method})", file=sys.stderr)
    agree = sum(v.correct == ok for v, ok in zip(verdicts, labels, strict=True))
    emit(
        "verify_math",
        solutions=n,
        agreement=agree / n,
        disagreements=len(disagreements),
        disagreement_ids=[d["id"] for d in disagreements],
        reasons=dict(Counter(v.reason for v in verdicts)),
        methods=dict(Counter(str(v.method) for v in verdicts)),
        solutions_per_s_cold=n / cold,
        solutions_per_s_warm=n / warm,
        math_verify_only_per_s=1.0 / slow,
        math_verify_only_agreement=slow_ok / len(sample),
        cores=1,
    )


if __name__ == "__main__":
    main()
