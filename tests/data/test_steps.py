"""Step-labelled data: TRL's PRM format and PRMBench read into ``StepRecord``s; every bad
field named by file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewardlab.data import StepRecord, bundled_path, load_dataset
from rewardlab.errors import DataError

# a real GSM8K training solution (openai/grade-school-math, MIT), as TRL's PRM rows
PROMPT = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many "
          "clips in May. How many clips did Natalia sell altogether in April and May?")
STEPS = ["Natalia sold 48/2 = <<48/2=24>>24 clips in May.",
         "Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72"]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def one(tmp_path: Path, row: dict, **kw):
    return load_dataset(write_jsonl(tmp_path / "steps.jsonl", [row]), **kw)


def test_trl_prm_rows_are_detected_and_typed(tmp_path: Path) -> None:
    data = one(tmp_path, {"prompt": PROMPT, "completions": STEPS, "labels": [True, False],
                          "id": "n1", "subset": "arithmetic"})
    r = data[0]
    assert (data.task, data.form) == ("steps", "trl-steps")
    assert isinstance(r, StepRecord)
    assert (r.prompt, r.steps, r.labels, r.id, r.subset, r.line) == (
        PROMPT, tuple(STEPS), (True, False), "n1", "arithmetic", 1)
    assert r.first_error == 1


def test_labels_are_optional_for_scoring_and_first_error_is_none(tmp_path: Path) -> None:
    r = one(tmp_path, {"prompt": PROMPT, "completions": STEPS})[0]
    assert r.labels is None and r.first_error is None
    assert one(tmp_path, {"prompt": PROMPT, "completions": STEPS,
                          "labels": [True, True]})[0].first_error is None


def test_csv_cells_hold_the_lists_as_json(tmp_path: Path) -> None:
    path = tmp_path / "steps.csv"
    path.write_text('prompt,completions,labels\n"q","[""a = 1"", ""b = 2""]","[true, false]"\n')
    r = load_dataset(path)[0]
    assert (r.steps, r.labels) == (("a = 1", "b = 2"), (True, False))


@pytest.mark.parametrize(("row", "field", "message"), [
    ({"prompt": PROMPT, "completions": [], "labels": []}, "completions", "is empty"),
    ({"prompt": PROMPT, "completions": [STEPS[0], "  "], "labels": [True, True]},
     r"completions\[1\]", "is an empty step"),
    ({"prompt": PROMPT, "completions": STEPS, "labels": [True]}, "labels",
     "has 1 entries but there are 2 steps"),
    ({"prompt": PROMPT, "completions": STEPS, "labels": [True, 0]}, r"labels\[1\]",
     "must be true or false, got 0"),
    ({"prompt": PROMPT, "completions": STEPS, "labels": [True, "false"]}, r"labels\[1\]",
     "must be true or false, got 'false'"),
    ({"prompt": PROMPT, "completions": "one step", "labels": [True]}, "completions",
     "must be a list of steps"),
    ({"prompt": PROMPT, "completions": [STEPS[0], 7], "labels": [True, True]},
     r"completions\[1\]", "must be a string"),
    ({"completions": STEPS, "labels": [True, True]}, "prompt", "is missing"),
])
def test_bad_step_rows_name_file_line_and_field(tmp_path: Path, row: dict, field: str,
                                                message: str) -> None:
    with pytest.raises(DataError, match=rf"steps\.jsonl:1: field '{field}': {message}"):
        one(tmp_path, row)


def test_bad_rows_can_be_skipped_with_reasons(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "steps.jsonl", [
        {"prompt": PROMPT, "completions": STEPS, "labels": [True, True]},
        {"prompt": PROMPT, "completions": STEPS, "labels": [True]},
    ])
    data = load_dataset(path, skip_invalid=True)
    assert len(data) == 1
    assert [(s.line, s.field) for s in data.skipped] == [(2, "labels")]


def test_format_override_names_steps(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "steps.jsonl", [{"prompt": PROMPT, "completions": STEPS}])
    assert load_dataset(path, format="steps").task == "steps"


# --- PRMBench ----------------------------------------------------------------------------


def prmbench_rows(n: int | None = None) -> list[dict]:
    lines = bundled_path("prmbench").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[:n]]


def test_bundled_prmbench_becomes_corrupted_and_original_solutions() -> None:
    data = load_dataset("bundled:prmbench")
    rows = prmbench_rows()
    assert (data.task, data.form, len(rows)) == ("steps", "prmbench", 200)
    modified = [r for r in data if r.subset != "original"]
    original = [r for r in data if r.subset == "original"]
    assert len(modified) == 200 and len(modified) + len(original) == len(data)
    # the original of a problem is read once, however many corruptions were made from it
    assert len({(r.prompt, r.steps) for r in original}) == len(original)
    assert all(r.first_error is None for r in original)
    assert len({r.id for r in data}) == len(data)
    by_id = {f"{row['idx']}:{row['classification']}": row for row in rows}
    for r in modified:
        row = by_id[str(r.id)]
        assert r.first_error == min(row["error_steps"]) - 1
        assert r.subset == row["classification"]
        assert r.prompt == row["modified_question"]
        # correct before the first error, wrong from it on
        assert r.labels == tuple(k < r.first_error for k in range(len(r.steps)))


def test_prmbench_enumerated_steps_lose_their_numbers(tmp_path: Path) -> None:
    # a few PRMBench processes number their steps "1. ", "2. ", ...; the numbers go
    row = prmbench_rows(1)[0]
    plain = row["modified_process"]
    numbered = {**row, "modified_process": [f"{i + 1}. {s}" for i, s in enumerate(plain)]}
    assert one(tmp_path, numbered)[0].steps == one(tmp_path, row)[0].steps == tuple(plain)
    # a list that only starts with a number keeps it
    partly = {**row, "modified_process": ["1. " + plain[0], *plain[1:]]}
    assert one(tmp_path, partly)[0].steps[0] == "1. " + plain[0]


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"error_steps": [40]}, "error_steps", "points at step 40, but 'modified_process' has only"),
    ({"error_steps": []}, "error_steps", "must be a non-empty list"),
    ({"error_steps": [0]}, "error_steps", "must hold step numbers >= 1"),
    ({"modified_process": ["a", ""]}, r"modified_process\[1\]", "is an empty step"),
])
def test_bad_prmbench_rows_are_named(tmp_path: Path, change: dict, field: str,
                                     message: str) -> None:
    row = {**prmbench_rows(1)[0], **change}
    with pytest.raises(DataError, match=rf"steps\.jsonl:1: field '{field}': {message}"):
        one(tmp_path, row)
