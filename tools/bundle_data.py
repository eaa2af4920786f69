"""Copy the real data sets from ../shared/data into the package, with their LICENSE files.

Re-running it reproduces ``src/rewardlab/data/bundled`` exactly (fixed seeds). Big sets are
sampled so the package stays small; the sample sizes are documented in docs/data.md.

    python tools/bundle_data.py [SHARED_DATA_DIR]
"""

from __future__ import annotations

import json
import random
import shutil
import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "rewardlab" / "data" / "bundled"


def _rows(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _write(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def _copy_set(shared: Path, name: str, file: str, rows: list[dict]) -> None:
    _write(rows, OUT / name / file)
    shutil.copy(shared / name / "LICENSE", OUT / name / "LICENSE")
    print(f"{name}/{file}: {len(rows)} rows")


def main(shared: Path) -> None:
    for name in ("llmbar", "pandalm", "evalbiasbench"):
        rows = _rows(shared / name / "pairs.jsonl")
        for row in rows:
            # PandaLM stores six one-word answers as JSON booleans (the reply was "True")
            for key in ("chosen", "rejected"):
                if isinstance(row[key], bool | int | float):
                    row[key] = str(row[key])
        _copy_set(shared, name, "pairs.jsonl", rows)

    # FineGrained QA: 500 of 2,616 pairs (10 MB with the passages); the passages stay in meta
    qa = _rows(shared / "finegrained_qa" / "pairs.jsonl")
    picked = sorted(random.Random(0).sample(range(len(qa)), 500))
    _copy_set(shared, "finegrained_qa", "pairs.jsonl", [qa[i] for i in picked])

    # AlpacaEval length probe: 200 prompts that have all three variants (concise/base/verbose)
    ae = _rows(shared / "alpacaeval_length" / "annotations.jsonl")
    by_prompt: dict[str, dict[str, dict]] = defaultdict(dict)
    for row in ae:
        by_prompt[row["prompt"]][row["subset"]] = row
    complete = [p for p, variants in by_prompt.items() if len(variants) == 3]
    chosen = random.Random(0).sample(complete, 200)
    keep = set(chosen)
    _copy_set(shared, "alpacaeval_length", "annotations.jsonl",
              [row for row in ae if row["prompt"] in keep])
    bundle_humaneval(shared)


def bundle_humaneval(shared: Path) -> None:
    """All 164 HumanEval tasks, unchanged, each with two candidate programs so that the set is
    best-of-n data (``eval``, ``audit``): the canonical solution and the first seeded mutant
    (benchmarks/_mutants.py) that fails the task's own ``check`` run by a plain interpreter;
    ``is_correct`` is what that run said."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from _mutants import mutants
    from verify_code import naive

    rows = _rows(shared / "humaneval" / "tasks.jsonl")
    for i, row in enumerate(rows):
        candidates = [row["canonical_solution"]]
        for _, source in mutants(row["prompt"], row["canonical_solution"], row["entry_point"],
                                 k=8, seed=i):
            if not naive(row, source, 10.0):
                candidates.append(source)
                break
        row["responses"] = candidates
        row["is_correct"] = [naive(row, c, 10.0) for c in candidates]
    _copy_set(shared, "humaneval", "tasks.jsonl", rows)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data")
