"""Build ``bundled:prm_train``: the training mix behind ``prm:default``, in TRL's PRM format.

One JSONL file (``prompt``, ``completions``, ``labels``, ``id``, ``subset``, ``source``, and
``question_type`` where the source has one), three sources, each with its LICENSE in
``prm_train/LICENSE``:

- ``mr_gsm8k``: MR-GSM8K's dev half, real model solutions with a human-labelled first error
  (280 readable of 282), and each question's reference solution as a correct one
  (dvlab-research/MR-GSM8K, permissive; see the note);
- ``gsm8k_injected``: the first 200 GSM8K training problems, each reference solution with one
  calculation or quantity corrupted and carried forward, plus uncorrupted ones
  (``rewardlab.label.inject_errors``, seed 0; openai/grade-school-math, MIT). 200, not 600:
  with 600 the injected solutions outnumber the real ones 2:1 and the real-error F1 fell
  from 0.30 to 0.29 (benchmarks/prm_real_errors.py);
- ``prmbench`` (``--prmbench-rows N``, default 0): PRMBench rows (seed 0) whose problem is
  *not* in ``bundled:prmbench``, the sample ``bench`` scores: split by problem, so no bench
  problem is trained on (ssmisya/PRMBench, Apache-2.0). Left out of the shipped mix: their
  effect on the real-error F1 was not measured.

Re-running it reproduces the file exactly.

    python tools/bundle_prm_train.py [SHARED_DATA_DIR] [--prmbench-rows=N]
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

from rewardlab.data import load_dataset
from rewardlab.label import inject_errors, read_problems

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "rewardlab" / "data" / "bundled" / "prm_train"
GSM8K_PROBLEMS = 200


def _row(record, source: str) -> dict:
    row = {"prompt": record.prompt, "completions": list(record.steps),
           "labels": list(record.labels), "id": f"{source}:{record.id}",
           "subset": record.subset, "source": source}
    if record.question_type is not None:
        row["question_type"] = record.question_type
    return row


def _prmbench_rows(shared: Path, n: int) -> list[dict]:
    bench = {json.loads(line)["original_question"] for line in
             (ROOT / "src/rewardlab/data/bundled/prmbench/steps.jsonl").open(encoding="utf-8")}
    rows = [json.loads(line) for line in (shared / "prmbench/steps.jsonl").open(encoding="utf-8")]
    rows = [r for r in rows if r.get("original_question") not in bench]
    return random.Random(0).sample(rows, n)


def main(shared: Path, prmbench_rows: int = 0) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    rows = [_row(r, "mr_gsm8k") for r in
            load_dataset(shared / "mr_gsm8k/first_errors_dev.jsonl", skip_invalid=True)]
    problems, _ = read_problems(shared / "gsm8k/train.jsonl", limit=GSM8K_PROBLEMS)
    rows += [_row(r, "gsm8k_injected") for r in inject_errors(problems, seed=0).dataset("x")]
    if prmbench_rows:
        tmp = OUT / "_prmbench.jsonl"
        tmp.write_text("".join(json.dumps(r) + "\n"
                               for r in _prmbench_rows(shared, prmbench_rows)))
        try:
            rows += [_row(r, "prmbench") for r in load_dataset(tmp, skip_invalid=True)]
        finally:
            tmp.unlink()
    with (OUT / "steps.jsonl").open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    parts = ["# Licenses of bundled:prm_train (one section per source)\n"]
    sources = [("mr_gsm8k", "MR-GSM8K (rows with source 'mr_gsm8k')"),
               ("gsm8k", "GSM8K (rows with source 'gsm8k_injected')")]
    if prmbench_rows:
        sources.append(("prmbench", "PRMBench (rows with source 'prmbench')"))
    for name, title in sources:
        license_file = next(p for p in (shared / name).iterdir() if p.name.startswith("LICENSE"))
        parts.append(f"\n## {title}\n\n{license_file.read_text(encoding='utf-8')}")
    (OUT / "LICENSE").write_text("".join(parts), encoding="utf-8")
    print(f"prm_train/steps.jsonl: {len(rows)} solutions")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--prmbench-rows")]
    n = next((int(a.split("=", 1)[1]) for a in sys.argv[1:]
              if a.startswith("--prmbench-rows=")), 0)
    main(Path(args[0]) if args else ROOT.parent / "shared" / "data", n)
