"""Issue 18, defect 9: one bad row no longer skips a whole bench data set. The valid rows are
scored, the invalid ones are listed with their reasons in the table's notes and the JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewardlab.bench import bench_tables, run_bench


def test_a_pair_whose_chosen_equals_rejected_is_listed_not_the_file(
        tmp_path: Path, write_jsonl, length_model) -> None:
    rows = [{"prompt": f"q{i}", "chosen": "a long answer", "rejected": "short",
             "subset": "alpacaeval-easy"} for i in range(3)]
    rows.insert(1, {"prompt": "dup", "chosen": "same", "rejected": "same",
                    "subset": "alpacaeval-easy"})
    path = write_jsonl(tmp_path / "judgebench.jsonl", rows)
    result = run_bench([length_model()], path, n_boot=200)
    (m,) = result.models
    (row,) = [r for r in m.rows if r.name == "alpacaeval-easy"]
    assert row.skipped is None and row.n == 3 and row.score == pytest.approx(1.0)
    (note,) = result.left_out
    assert note["rows"] == 1 and note["data"] == str(path)
    assert note["invalid"] == [{"line": 2, "field": "rejected",
                                "reason": "is identical to 'chosen'; a pair must differ to "
                                          "carry a preference"}]
    assert "invalid, not scored: line 2, field 'rejected': is identical" in note["reason"]
    body = json.loads(json.dumps(result.to_json()))
    assert body["left_out"][0]["invalid"][0]["line"] == 2
    text = " ".join(str(part) for part in bench_tables(result))
    assert "left out: 1 rows of" in text and "line 2, field 'rejected'" in text


def test_a_broken_rewardbench2_row_leaves_the_rest_scored(tmp_path: Path, write_jsonl,
                                                          length_model) -> None:
    good = {"subset": "Focus", "num_correct": 1, "chosen": ["x" * 95],
            "rejected": ["x" * 50, "x" * 30, "x" * 10]}
    path = write_jsonl(tmp_path / "rb2.jsonl", [
        {**good, "id": "1", "prompt": "p1"},
        {**good, "id": "2", "prompt": "p2", "num_correct": 3},
        {**good, "id": "3", "prompt": "p3"}])
    result = run_bench([length_model(bucket=10)], path, n_boot=200)
    (row,) = result.models[0].rows
    assert row.skipped is None and row.n == 2 and row.score == pytest.approx(1.0)
    (note,) = result.left_out
    assert [(r["line"], r["field"]) for r in note["invalid"]] == [(2, "num_correct")]


def test_unlabelled_rows_are_a_skipped_row_naming_the_label(tmp_path: Path, write_jsonl,
                                                            length_model) -> None:
    """Issue 18, defect 0: a benchmark needs labels; unlabelled model output is read (not a
    format error) and the row says which label is missing, while the other tasks still run."""
    bon = write_jsonl(tmp_path / "bon.jsonl", [{"prompt": "2+2?", "responses": ["4", "5"]}])
    points = write_jsonl(tmp_path / "points.jsonl", [{"prompt": "p", "response": "r"}])
    for path, needle in ((bon, "bon.jsonl:1: field 'is_correct': is missing"),
                         (points, "holds pointwise rows; a benchmark needs pairs")):
        (row,) = run_bench([length_model()], path, n_boot=200).models[0].rows
        assert row.skipped is not None and needle in row.skipped
