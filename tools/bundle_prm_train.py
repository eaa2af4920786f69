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
- ``prmbench`` (``--prmbench-rows N``, default 300): PRMBench rows (seed 0) whose problem is
  *not* in ``bundled:prmbench``, the sample ``bench`` scores: split by problem, so no bench
  problem is trained on (ssmisya/PRMBench, Apache-2.0). 300 rows (572 solutions) left the
  real-error F1 at 0.304 and raised held-out injected F1 from 0.754 to 0.771 and PRMBench
  F1 from 0.121 to 0.247 (benchmarks/prm_real_errors.py); all 1,741 rows were not measured.
- ``gsm8k_model`` (``--model-correct``): GPT-3 solutions whose final answer is right, from
  GSM8K's ``example_model_solutions.jsonl``, to the MR-GSM8K dev questions that file holds,
  every step labelled correct (ProcessBench's assumption; openai/grade-school-math, MIT).
  Only questions already in the mix, so nothing new is learnt about any other question.

Re-running it reproduces the file exactly. ``benchmarks/prm_real_errors.py`` imports
``prmbench_rows`` and ``model_written_correct`` from here, so it measures the same rows.

    python tools/bundle_prm_train.py [SHARED_DATA_DIR] [--prmbench-rows=N] [--model-correct]
"""

from __future__ import annotations

import json
import random
import re
import sys
from pathlib import Path

from rewardlab.data import StepRecord, load_dataset
from rewardlab.label import inject_errors, read_problems

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "rewardlab" / "data" / "bundled" / "prm_train"
GSM8K_PROBLEMS = 200
PRMBENCH_ROWS = 300
SOLVERS = ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")


def _row(record, source: str) -> dict:
    row = {"prompt": record.prompt, "completions": list(record.steps),
           "labels": list(record.labels), "id": f"{source}:{record.id}",
           "subset": record.subset, "source": source}
    if record.question_type is not None:
        row["question_type"] = record.question_type
    return row


def prmbench_rows(shared: Path, n: int) -> list[dict]:
    """``n`` PRMBench rows (seed 0; all when ``n`` is larger) of problems the bundled sample
    ``bench`` scores does not hold: a problem is the same by its ``idx`` or by its question
    text up to whitespace, case and punctuation (PRMBench repeats a problem under several
    ``idx`` and error classes, with the question's whitespace varying between rows)."""
    bench_rows = [json.loads(line) for line in
                  (ROOT / "src/rewardlab/data/bundled/prmbench/steps.jsonl").open(
                      encoding="utf-8")]
    ids = {r.get("idx") for r in bench_rows}
    questions = {_problem_key(r.get("original_question") or "") for r in bench_rows}
    rows = [json.loads(line) for line in (shared / "prmbench/steps.jsonl").open(encoding="utf-8")]
    rows = [r for r in rows if r.get("idx") not in ids
            and _problem_key(r.get("original_question") or "") not in questions]
    return random.Random(0).sample(rows, min(n, len(rows)))


def _problem_key(text: str) -> str:
    return re.sub(r"\W+", "", text).lower()


def _question(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("\u2019", "'")).strip().lower()


def model_written_correct(shared: Path, real) -> tuple[StepRecord, ...]:
    """Final-answer-correct GPT-3 solutions to the questions of ``real`` (MR-GSM8K records)
    that GSM8K's model-solution file holds, matched by normalised text; each line a step,
    ``A: N`` written as MR-GSM8K's ``#### N``; identical solutions once; every step labelled
    correct (ProcessBench's assumption). Ids ``UUID:model:SOLVER``."""
    by_question = {}
    with (shared / "gsm8k/example_model_solutions.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            by_question[_question(row["question"])] = row
    out: list[StepRecord] = []
    seen: set[str] = set()
    for r in real:
        q = _question(str(r.prompt))
        row = by_question.get(q)
        if row is None or q in seen or str(r.id).endswith(":reference"):
            continue
        seen.add(q)
        texts: set[tuple[str, ...]] = set()
        for name in SOLVERS:
            solution = row.get(name) or {}
            if not solution.get("is_correct"):
                continue
            steps = tuple(re.sub(r"^A:\s*", "#### ", s.strip())
                          for s in solution["solution"].split("\n") if s.strip())
            if steps and steps not in texts:
                texts.add(steps)
                out.append(StepRecord(prompt=r.prompt, steps=steps, labels=(True,) * len(steps),
                                      id=f"{r.id}:model:{name}", subset="correct",
                                      question_type="original"))
    return tuple(out)


def main(shared: Path, n_prmbench: int = 0, model_correct: bool = False) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    real = load_dataset(shared / "mr_gsm8k/first_errors_dev.jsonl", skip_invalid=True)
    rows = [_row(r, "mr_gsm8k") for r in real]
    if model_correct:
        rows += [_row(r, "gsm8k_model") for r in model_written_correct(shared, real)]
    problems, _ = read_problems(shared / "gsm8k/train.jsonl", limit=GSM8K_PROBLEMS)
    rows += [_row(r, "gsm8k_injected") for r in inject_errors(problems, seed=0).dataset("x")]
    if n_prmbench:
        tmp = OUT / "_prmbench.jsonl"
        tmp.write_text("".join(json.dumps(r) + "\n"
                               for r in prmbench_rows(shared, n_prmbench)))
        try:
            rows += [_row(r, "prmbench") for r in load_dataset(tmp, skip_invalid=True)]
        finally:
            tmp.unlink()
    with (OUT / "steps.jsonl").open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    parts = ["# Licenses of bundled:prm_train (one section per source)\n"]
    sources = [("mr_gsm8k", "MR-GSM8K (rows with source 'mr_gsm8k')"),
               ("gsm8k", "GSM8K (rows with source 'gsm8k_injected' or 'gsm8k_model')"
                if model_correct else "GSM8K (rows with source 'gsm8k_injected')")]
    if n_prmbench:
        sources.append(("prmbench", "PRMBench (rows with source 'prmbench')"))
    for name, title in sources:
        license_file = next(p for p in (shared / name).iterdir() if p.name.startswith("LICENSE"))
        parts.append(f"\n## {title}\n\n{license_file.read_text(encoding='utf-8')}")
    (OUT / "LICENSE").write_text("".join(parts), encoding="utf-8")
    print(f"prm_train/steps.jsonl: {len(rows)} solutions")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    n = next((int(a.split("=", 1)[1]) for a in sys.argv[1:]
              if a.startswith("--prmbench-rows=")), PRMBENCH_ROWS)
    main(Path(args[0]) if args else ROOT.parent / "shared" / "data", n,
         "--model-correct" in sys.argv[1:])
