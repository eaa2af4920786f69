"""Error injection on real GSM8K solutions: one step made wrong, the error carried forward,
labels that put the first error exactly where the corruption is."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rewardlab.data import load_dataset
from rewardlab.errors import ConfigError, DataError
from rewardlab.label import CORRUPTIONS, inject_error, inject_errors, read_problems
from rewardlab.steps import evaluate_expression, split_steps

# two real rows of GSM8K's training set (openai/grade-school-math, MIT), raw format
RAW = [
    {"question": "Natalia sold clips to 48 of her friends in April, and then she sold half as "
                 "many clips in May. How many clips did Natalia sell altogether in April and May?",
     "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = "
               "<<48+24=72>>72 clips altogether in April and May.\n#### 72"},
    {"question": "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of "
                 "babysitting. How much did she earn?",
     "answer": "Weng earns 12/60 = $<<12/60=0.2>>0.2 per minute.\nWorking 50 minutes, she "
               "earned 0.2 x 50 = $<<0.2*50=10>>10.\n#### 10"},
]
CALC = re.compile(r"<<([^<>=]*)=([^<>]*)>>")


@pytest.fixture(scope="module")
def examples():
    problems, _ = read_problems("bundled:gsm8k_examples", limit=120)
    return problems, inject_errors(problems, seed=0)


def test_reads_the_bundled_reference_solutions() -> None:
    problems, skipped = read_problems("bundled:gsm8k_examples", limit=3)
    data = load_dataset("bundled:gsm8k_examples", limit=3)
    assert not skipped and [p.question for p in problems] == [r.prompt for r in data]
    assert [p.solution for p in problems] == [r.reference for r in data]
    assert problems[0].solution.endswith("A: 18") and problems[0].line == 1


def test_reads_raw_gsm8k_rows(tmp_path: Path) -> None:
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in RAW))
    problems, _ = read_problems(path)
    assert [(p.id, p.solution[-5:]) for p in problems] == [(0, "## 72"), (1, "## 10")]


def test_every_problem_gets_a_labelled_corruption(examples) -> None:
    problems, result = examples
    corrupted = [r for r in result.records if r.subset in CORRUPTIONS]
    correct = [r for r in result.records if r.subset == "correct"]
    assert len(corrupted) == len(correct) == len(problems) - len(result.uncorrupted)
    assert len(result.uncorrupted) < 0.15 * len(problems)
    assert {r.subset for r in corrupted} == set(CORRUPTIONS)
    for r in correct:
        assert all(r.labels) and r.first_error is None
    for r in corrupted:
        c = result.corruptions[r.id]
        assert r.first_error == c.step
        assert r.labels == tuple(k < c.step for k in range(len(r.steps)))


def test_steps_before_the_error_are_the_original_ones(examples) -> None:
    _, result = examples
    originals = {r.id.rsplit(":", 1)[0]: r for r in result.records if r.subset == "correct"}
    for r in result.records:
        if r.subset == "correct":
            continue
        original = originals[r.id.rsplit(":", 1)[0]]
        k = r.first_error
        assert len(r.steps) == len(original.steps)
        assert r.steps[:k] == original.steps[:k] and r.steps[k] != original.steps[k]


def test_the_error_is_carried_to_the_final_answer(examples) -> None:
    _, result = examples
    for r in result.records:
        if r.subset == "correct":
            continue
        c = result.corruptions[r.id]
        assert c.answer != c.corrupted_answer
        assert r.steps[-1].replace(",", "").endswith(c.corrupted_answer)
        # after the corrupted step every calculation is right again, on the wrong values
        # (GSM8K writes results rounded to cents, hence 0.01)
        for step in r.steps[c.step + 1:]:
            for m in CALC.finditer(step):
                value = evaluate_expression(m.group(1))
                assert value is not None and abs(value - float(m.group(2))) < 0.01, step
        wrong = [m for m in CALC.finditer(r.steps[c.step])
                 if abs(evaluate_expression(m.group(1)) - float(m.group(2))) > 0.01]
        # an arithmetic slip leaves a wrong calculation; a wrong quantity a right one
        assert bool(wrong) == (c.kind == "arithmetic")


def test_seeded_per_problem_not_per_file(examples) -> None:
    problems, result = examples
    again = inject_errors(list(reversed(problems[:20])), seed=0)
    first = {r.id: r for r in result.records}
    assert all(first[r.id] == r for r in again.records)
    other = inject_errors(problems[:20], seed=1)
    assert [r.steps for r in other.records] != [first[r.id].steps for r in other.records
                                                if r.id in first]


def test_a_quantity_error_and_an_arithmetic_error_on_raw_gsm8k() -> None:
    q, solution = RAW[0]["question"], RAW[0]["answer"]
    steps, c = inject_error(q, solution, kinds=("arithmetic",))
    assert c.kind == "arithmetic" and c.original == "24" and c.step == 0
    assert steps[0] == f"Natalia sold 48/2 = <<48/2={c.corrupted}>>{c.corrupted} clips in May."
    value = 48 + int(c.corrupted)
    assert steps[1] == (f"Natalia sold 48+{c.corrupted} = <<48+{c.corrupted}={value}>>{value} "
                        f"clips altogether in April and May.\n#### {value}")
    steps, c = inject_error(q, solution, kinds=("quantity",))
    assert c.kind == "quantity" and c.corrupted_answer != "72"
    assert split_steps(solution)[0] != steps[0]


def test_a_solution_without_calculations_cannot_be_corrupted() -> None:
    assert inject_error("How many legs has a cat?", "A cat has four legs.\n#### 4") is None
    result = inject_errors([*read_problems("bundled:gsm8k_examples", limit=1)[0]], seed=0)
    assert result.uncorrupted == ()


def test_rows_are_trl_prm_format_with_the_corruption(examples) -> None:
    _, result = examples
    rows = result.rows()
    row = next(r for r in rows if r["subset"] != "correct")
    assert set(row) == {"id", "prompt", "completions", "labels", "subset", "corruption",
                        "reference"}
    assert len(row["completions"]) == len(row["labels"])
    assert row["corruption"]["kind"] == row["subset"]
    # the correct solution of the same problem states the answer the corruption changed
    correct = next(r for r in rows if r["id"] == row["id"].rsplit(":", 1)[0] + ":correct")
    assert correct["reference"] == row["reference"] == row["corruption"]["answer"]
    assert row["corruption"]["corrupted_answer"] != row["reference"]


def test_bad_rows_and_options(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(RAW[0]) + "\n" + json.dumps({"question": "q"}) + "\n")
    with pytest.raises(DataError, match=r"bad\.jsonl:2: field 'answer': is missing or empty"):
        read_problems(path)
    problems, skipped = read_problems(path, skip_invalid=True)
    assert len(problems) == 1 and [s.line for s in skipped] == [2]
    with pytest.raises(ConfigError, match="'kinds' parameter of inject_error"):
        inject_error(RAW[0]["question"], RAW[0]["answer"], kinds=("sign",))
    with pytest.raises(ConfigError, match="must name at least one"):
        inject_errors(problems, kinds=())


def test_expressions_are_arithmetic_only() -> None:
    assert evaluate_expression("100-50-30-15") == 5.0
    assert evaluate_expression("20000*.8") == 16000.0
    assert evaluate_expression("(3+4)*2/7") == 2.0
    for bad in ("__import__('os').system('true')", "1/0", "2**99999", "x+1", "9**9**9"):
        assert evaluate_expression(bad) is None


@pytest.mark.parametrize(("row", "message"), [
    ({"question": "q", "answer": 72}, "field 'answer': must be text, got int"),
    ({"question": ["q"], "answer": "#### 2"}, "field 'question': must be text, got list"),
    ({"question": "q", "answer": ""}, "field 'answer': is missing or empty"),
    ({"question": "q"}, "field 'answer': is missing or empty"),
])
def test_a_problem_without_text_names_the_field_and_its_type(tmp_path: Path, row: dict,
                                                              message: str) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError, match=re.escape(f"p.jsonl:1: {message}")):
        read_problems(path)


def test_a_repeated_problem_id_is_refused_not_mixed_up(tmp_path: Path) -> None:
    """Output ids are built from the problem's id and references were keyed by them, so a
    second problem with the same id put its answer on the first one's correct solution."""
    rows = [{"id": "a", "question": "3 + 4?", "answer": "3+4=<<3+4=7>>7\n#### 7"},
            {"id": "a", "question": "10 - 2?", "answer": "10-2=<<10-2=8>>8\n#### 8"}]
    path = tmp_path / "dup.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DataError, match=r"dup\.jsonl:2: field 'id': 'a' is also the id of "
                                        "line 1; problem ids must be unique"):
        read_problems(path)
    problems, skipped = read_problems(path, skip_invalid=True)
    assert [p.question for p in problems] == ["3 + 4?"] and skipped[0].line == 2
