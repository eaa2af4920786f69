"""Bundle a sample of BFCL v4 (Apache-2.0) as ``bundled:bfcl``, with its LICENSE.

Rows are BFCL lines joined with their ``possible_answer`` line (``ground_truth``; ``[]`` for
irrelevance rows, which have none), tagged with their category in ``subset``, and given two
candidate ``responses`` with ``is_correct`` labels so that ``rewardlab eval`` runs on them
as they are: the reference calls built from each argument's first acceptable value (BFCL's
Python call text), and the same calls with one wrong value (for irrelevance: a plain answer,
and a call to the row's first tool). The candidates are made from the reference, not by a
model; they exercise the verifier, they do not measure one. The sample is drawn at random
(seed 0): 80 simple (Python), 50 multiple, 50 parallel, 50 parallel-multiple, 50 irrelevance.

    python tools/bundle_bfcl.py [SHARED_DATA_DIR]
"""

from __future__ import annotations

import json
import random
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from verify_toolcall import as_python, corruptions, first_calls, rows  # noqa: E402

OUT = ROOT / "src" / "rewardlab" / "data" / "bundled" / "bfcl"
SIZES = {"simple": 80, "multiple": 50, "parallel": 50, "parallel_multiple": 50,
         "irrelevance": 50}


def _placeholder(schema: dict) -> object:
    return {"integer": 1, "float": 1.0, "number": 1.0, "boolean": True, "array": [],
            "dict": {}}.get(schema.get("type", "string"), "x")


def _candidates(row: dict) -> tuple[list[str], list[bool]]:
    if not row["ground_truth"]:
        tool = row["function"][0]
        props = tool["parameters"].get("properties", {})
        call = [{"name": tool["name"], "arguments": {
            r: _placeholder(props.get(r, {})) for r in tool["parameters"].get("required", [])}}]
        return ["None of the available functions can answer this question.",
                as_python(call)], [True, False]
    calls = first_calls(row["ground_truth"], row["function"])
    wrong = corruptions(row, calls).get("wrong_value")
    if wrong is None:
        wrong = corruptions(row, calls)["missing_required"]
    return [as_python(calls), as_python(wrong)], [True, False]


def main(shared: Path) -> None:
    rng = random.Random(0)
    out = []
    for category, size in SIZES.items():
        picked = rng.sample(rows(shared / "bfcl", category), size)
        for row in sorted(picked, key=lambda r: int(r["id"].rsplit("_", 1)[1])):
            responses, correct = _candidates(row)
            if rng.random() < 0.5:
                responses, correct = responses[::-1], correct[::-1]
            out.append({"id": row["id"], "subset": category, "question": row["question"],
                        "function": row["function"], "ground_truth": row["ground_truth"],
                        "responses": responses, "is_correct": correct})
    OUT.mkdir(parents=True, exist_ok=True)
    with (OUT / "rows.jsonl").open("w", encoding="utf-8") as handle:
        for row in out:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    shutil.copy(shared / "bfcl" / "LICENSE", OUT / "LICENSE")
    print(f"bfcl/rows.jsonl: {len(out)} rows")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else next(
        p for p in (ROOT.parent / "shared" / "data", ROOT.parent.parent / "shared" / "data")
        if p.exists()))
