"""``verify:code`` on HumanEval: correctness against a naive harness, exploits, limits, speed.

All 164 HumanEval tasks (../shared/data/humaneval, MIT), in one run:

- ``canonical``: every canonical solution through the sandbox (target: all pass);
- ``agreement``: canonical solutions plus seeded mutants (operator swaps, off-by-one, dropped
  lines, wrong return; ``_mutants.py``), each judged by the sandbox and by the naive
  reference: ``prompt + program + test + check(entry_point)`` run by a fresh
  ``python`` without any sandbox (memory capped at 2 GB for the machine's sake), pass = exit
  status 0. Every disagreement is listed with both outcomes (target: >= 99.5% agree);
- ``exploits``: every master key of ``rewardlab.audit._code_keys`` against every task
  (target: 0 passes); the naive harness's passes on the same programs show what they exploit;
- ``limits``: an infinite loop (reported ``timeout`` within the limit + 1 s), a fork bomb and
  a 10 GB allocation (stopped by the limits);
- ``throughput``: canonical solutions per second through the warm pool, beside one
  ``subprocess.run`` per program (the naive way), in the same run.

    nice -n 5 python benchmarks/verify_code.py [--mutants-per-task 4]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from _common import emit
from _mutants import mutants
from rewardlab.audit._code_keys import code_keys
from rewardlab.verify import CodeChecker, Limits, shared_pool

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "humaneval" / "tasks.jsonl"
if not DATA.exists():
    DATA = Path("/work/shared/data/humaneval/tasks.jsonl")


def _cap_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def naive(task: dict, program: str, timeout: float) -> bool:
    """The reference: the task's own check in a fresh interpreter, no sandbox."""
    source = (task["prompt"] + program if program.startswith((" ", "\t"))
              else task["prompt"] + "\n" + program)
    source += "\n\n" + task["test"] + f"\n\ncheck({task['entry_point']})\n"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "program.py"
        path.write_text(source, encoding="utf-8")
        try:
            done = subprocess.run([sys.executable, str(path)], cwd=tmp, timeout=timeout,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  preexec_fn=_cap_memory, check=False)
        except subprocess.TimeoutExpired:
            return False
    return done.returncode == 0


def reference(task: dict) -> str:
    return json.dumps({"prompt": task["prompt"], "test": task["test"],
                       "entry_point": task["entry_point"]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mutants-per-task", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=5.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=0, help="first N tasks only (a smoke run)")
    args = parser.parse_args()
    tasks = [json.loads(line) for line in DATA.open(encoding="utf-8")]
    tasks = tasks[:args.limit] if args.limit else tasks
    refs = [reference(t) for t in tasks]
    limits = Limits(timeout=args.timeout)
    checker = CodeChecker(limits=limits, workers=args.workers)
    pool = shared_pool(args.workers)
    pool.warm()

    # throughput (warm pool) and canonical pass rate
    canon = [t["canonical_solution"] for t in tasks]
    start = time.perf_counter()
    verdicts = checker.check(canon, refs)
    pool_seconds = time.perf_counter() - start
    canonical_pass = sum(v.reason == "passed" for v in verdicts)
    failing_tasks = [t["task_id"] for t, v in zip(tasks, verdicts, strict=True)
                     if v.reason != "passed"]
    start = time.perf_counter()
    naive_canon = [naive(t, c, args.timeout) for t, c in zip(tasks, canon, strict=True)]
    naive_seconds = time.perf_counter() - start

    # agreement on canonical + mutants
    programs, owners, families = list(canon), list(range(len(tasks))), ["canonical"] * len(tasks)
    for i, t in enumerate(tasks):
        for family, source in mutants(t["prompt"], t["canonical_solution"], t["entry_point"],
                                      k=args.mutants_per_task, seed=i):
            programs.append(source)
            owners.append(i)
            families.append(family)
    ours = checker.check(programs, [refs[i] for i in owners])
    with ThreadPoolExecutor(args.workers) as ex:
        theirs = list(ex.map(lambda p: naive(tasks[p[0]], p[1], args.timeout),
                             list(zip(owners, programs, strict=True))))
    disagreements = []
    for j, (v, ok) in enumerate(zip(ours, theirs, strict=True)):
        if (v.reason == "passed") != ok:
            disagreements.append({"task": tasks[owners[j]]["task_id"], "family": families[j],
                                  "sandbox": v.reason, "detail": v.detail, "naive_pass": ok})
            print(json.dumps(disagreements[-1]), file=sys.stderr)
    n = len(programs)
    mutant_fail = Counter(v.reason for v, f in zip(ours, families, strict=True)
                          if f != "canonical")

    # exploits: every key against every task
    keys = code_keys(refs)
    exploit_passes, naive_exploit_passes, by_reason = {}, {}, Counter()
    for label, _, keyed in keys:
        out = checker.check(keyed, refs)
        exploit_passes[label] = sum(v.reward > 0 for v in out)
        by_reason.update(v.reason for v in out)
        with ThreadPoolExecutor(args.workers) as ex:
            naive_exploit_passes[label] = sum(ex.map(
                lambda p: naive(p[0], p[1], args.timeout), list(zip(tasks, keyed, strict=True))))

    # limits
    limit_checks = {}
    loop_ref = json.dumps({"tests": ["assert f() == 1"]})
    for name, program in (("infinite_loop", "def f():\n    while True:\n        pass"),
                          ("sleep", "import time\ndef f():\n    time.sleep(3600)"),
                          ("fork_bomb", "import os\ndef f():\n    while True:\n        os.fork()"),
                          ("alloc_10gb", "def f():\n    return len(bytearray(10 * 1024 ** 3))"),
                          ("stdout_flood", "import sys\ndef f():\n    while True:\n"
                                           "        sys.stdout.write('x' * 65536)")):
        begin = time.perf_counter()
        [v] = CodeChecker(limits=Limits(timeout=2.0), workers=args.workers).check(
            [program], [loop_ref])
        limit_checks[name] = {"reason": v.reason, "seconds": round(time.perf_counter() - begin, 3)}

    emit("verify_code",
         tasks=len(tasks), canonical_pass=canonical_pass, canonical_failing=failing_tasks,
         programs=n, mutants=n - len(tasks), mutant_families=dict(Counter(families)),
         mutant_reasons=dict(mutant_fail),
         agreement=round(1 - len(disagreements) / n, 5), disagreements=len(disagreements),
         naive_canonical_pass=sum(naive_canon),
         exploit_keys=len(keys), exploit_programs=len(keys) * len(tasks),
         exploit_passes=sum(exploit_passes.values()), exploit_passes_by_key=exploit_passes,
         naive_exploit_passes_by_key=naive_exploit_passes, exploit_reasons=dict(by_reason),
         limits=limit_checks, limit_seconds=2.0,
         throughput={"pool_programs_per_s": round(len(tasks) / pool_seconds, 1),
                     "naive_programs_per_s": round(len(tasks) / naive_seconds, 1),
                     "ratio": round(naive_seconds / pool_seconds, 2),
                     "workers": args.workers},
         load_average=os.getloadavg()[0])


if __name__ == "__main__":
    main()
