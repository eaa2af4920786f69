"""MR-GSM8K rows (real model solutions, a human-labelled first error) read as steps; every
bad field named by file, line and field, or skipped with its reason."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewardlab.data import load_dataset
from rewardlab.errors import DataError

# the first row of ../shared/data/mr_gsm8k/first_errors_dev.jsonl (dvlab-research/MR-GSM8K)
QUESTION = ("Michael is traveling on the interstate at an average speed of 50km/hr (taking into "
            "account all the necessary stops for gas, relaxation, etc.). If he goes on like "
            "this for 3 days, and the distance between Alaska and Texas is 6000 km, what "
            "percentage of this distance has he covered?")
ROW = {
    "uuid": "8eb87f9c", "question": QUESTION,
    "ground_truth_solution": "There are 24 hours in each day, so he has been traveling for a "
    "total of 3*24 = <<24*3=72>>72 hours\nAt a rate of 50km/hr he has covered 50*72 = "
    "<<50*72=3600>>3600 km\n3600km as a percentage of 6000km is (3600/6000)*100% = 60%\n#### 60",
    "ground_truth_answer": 60,
    "model_output_steps": [
        "Step 1:  We know that distance = speed * time. So, we get distance = 50km/hr * 3 days"
        " = <<50*3=150>>150 km.",
        "Step 2: Now, 150/6000 = <<150/6000=0.25>>0.25, which is 25%.", "Step 3: #### 25"],
    "model_output_solution_correctness": "wrong",
    "model_output_solution_first_error_step": 1,
    "model_output_solution_first_error_reason": "The speed is per hour, not per day",
    "question_type": "original",
}


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_a_row_is_its_labelled_solution_plus_the_reference_once(tmp_path: Path) -> None:
    second = {**ROW, "uuid": "b", "model_output_solution_first_error_step": 2}
    data = load_dataset(write(tmp_path / "mr.jsonl", [ROW, second]))
    assert (data.task, data.form) == ("steps", "mr-gsm8k")
    wrong, reference, wrong2 = data.records
    assert wrong.steps[0].startswith("We know that distance")  # "Step 1:" removed
    assert wrong.steps[2] == "#### 25"
    assert (wrong.labels, wrong.first_error, wrong.question_type) == ((False,) * 3, 0,
                                                                      "original")
    assert wrong.subset == "other"  # the reason names no type ("The speed is per hour...")
    assert (reference.id, reference.first_error, len(reference.steps), reference.subset,
            reference.question_type) == ("8eb87f9c:reference", None, 4, "correct", "original")
    assert wrong2.first_error == 1  # the same question's reference is not repeated


@pytest.mark.parametrize(("reason", "kind"), [
    ("计算错误，82-13+9=78", "calculation"),
    ("理解错误，第二步已经计算出问题答案", "misunderstanding"),  # the opening label wins
    ("Logical error, from 1 PM to 6 PM, it's a total of 5 hours.", "logic"),
    ("The speed is in km per hour, not per day: wrong unit", "quantity"),
])
def test_the_reason_gives_a_coarse_error_type(tmp_path: Path, reason: str, kind: str) -> None:
    row = {**ROW, "model_output_solution_first_error_reason": reason}
    assert load_dataset(write(tmp_path / "mr.jsonl", [row]))[0].subset == kind


def test_a_solution_marked_correct_needs_no_first_error(tmp_path: Path) -> None:
    row = {**ROW, "model_output_solution_correctness": "correct",
           "model_output_solution_first_error_step": None, "ground_truth_solution": ""}
    (r,) = load_dataset(write(tmp_path / "mr.jsonl", [row])).records
    assert r.labels == (True, True, True)


@pytest.mark.parametrize(("change", "field", "message"), [
    ({"model_output_solution_first_error_step": 4}, "model_output_solution_first_error_step",
     "is step 4, but the solution has 3 steps"),
    ({"model_output_solution_first_error_step": 0}, "model_output_solution_first_error_step",
     "is step 0"),
    ({"model_output_solution_first_error_step": None}, "model_output_solution_first_error_step",
     "is missing for a solution not marked correct"),
    ({"model_output_steps": []}, "model_output_steps", "is empty"),
    ({"model_output_steps": ["Step 1: 2+2 = 4", "Step 2: \r"]},
     r"model_output_steps\[1\]", "is empty after removing its 'Step k:' prefix"),
    ({"question": ""}, "question", "is missing"),
])
def test_bad_rows_name_file_line_and_field(tmp_path: Path, change: dict, field: str,
                                           message: str) -> None:
    path = write(tmp_path / "mr.jsonl", [ROW, {**ROW, **change}])
    with pytest.raises(DataError, match=rf"mr\.jsonl:2: field '{field}': {message}"):
        load_dataset(path)
    data = load_dataset(path, skip_invalid=True)
    assert [(s.line, s.field) for s in data.skipped] == [(2, field.replace("\\", ""))]


def test_a_step_file_mixing_layouts_is_refused(tmp_path: Path) -> None:
    trl = {"prompt": QUESTION, "completions": ["a = 1"], "labels": [True]}
    path = write(tmp_path / "mixed.jsonl", [trl, ROW])
    with pytest.raises(DataError, match=r"mixed\.jsonl:2: field 'model_output_steps': this row "
                       r"is in the mr-gsm8k layout but the file's earlier rows are trl-steps"):
        load_dataset(path)
