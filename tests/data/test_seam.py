"""The public row-reading seam of ``rewardlab.data`` (issue 18 part 5): a format is one
parser over ``read_rows``; field readers name file, line and field; one column vocabulary."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import rewardlab
from rewardlab.data import (
    REFERENCE_KEYS,
    RowContext,
    load_dataset,
    parse_row,
    read_bool,
    read_id,
    read_number,
    read_problems,
    read_reference,
    read_rows,
    read_text,
)
from rewardlab.errors import DataError

SRC = Path(rewardlab.__file__).parent


def parse_task(row: dict, ctx: RowContext) -> tuple:
    """A format of our own: a code task with an id, a prompt and a timeout in seconds."""
    return (read_id(row, ctx), read_text(row.get("prompt"), ctx, "prompt"),
            read_number(row.get("timeout", 1), ctx, "timeout"))


def test_a_new_format_is_one_parser_over_read_rows(tmp_path: Path) -> None:
    path = tmp_path / "tasks.csv"
    path.write_text("id,prompt,timeout\na,def f(): pass,2\nb,x,soon\nc,y,3\n")
    with pytest.raises(DataError, match=r"tasks\.csv:3: field 'timeout': must be a number, "
                                        "got the text 'soon'"):
        read_rows(path, parse_task)
    read = read_rows(path, parse_task, skip_invalid=True)
    assert read.records == [("a", "def f(): pass", 2.0), ("c", "y", 3.0)]
    assert [(s.line, s.field) for s in read.skipped] == [(3, "timeout")]
    assert read_rows(path, parse_task, skip_invalid=True, limit=1).records == [
        ("a", "def f(): pass", 2.0)]
    assert len(read_rows(path, parse_task, skip_invalid=True, row_limit=2).records) == 1


def test_field_readers_name_file_line_and_field() -> None:
    ctx = RowContext(file="f.jsonl", line=7, index=6, max_chars=5)
    assert read_bool("true", ctx, "ok") is True and read_number("2.5", ctx, "x") == 2.5
    with pytest.raises(DataError) as info:
        read_text("too long", ctx, "response")
    assert (info.value.file, info.value.line, info.value.field) == ("f.jsonl", 7, "response")
    assert str(info.value).startswith("f.jsonl:7: field 'response': is 8 characters long")
    with pytest.raises(DataError, match="field 'ok': must be true or false"):
        read_bool("maybe", ctx, "ok")
    assert read_reference({"answer": 72, "reference": "7"}, ctx) == "7"  # vocabulary order
    assert read_reference({"answer": 72}, ctx) == "72" and read_reference({}, ctx) is None


def test_parse_row_is_what_load_dataset_does(tmp_path: Path) -> None:
    row = {"prompt": "p", "chosen": "a", "rejected": "b", "id": "x"}
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(row) + "\n")
    record, form = parse_row("pairwise", row, RowContext(file=str(path), line=1, index=0))
    assert record == load_dataset(path)[0] and form == "explicit"


def test_rewardbench2_rows_are_a_best_of_n_format(tmp_path: Path) -> None:
    path = tmp_path / "rb2.jsonl"
    path.write_text(json.dumps({"id": "1", "prompt": "p", "subset": "Math", "num_correct": 1,
                                "chosen": ["right"], "rejected": ["w1", "w2"]}) + "\n")
    for data in (load_dataset(path), load_dataset(path, format="best-of-n")):
        (r,) = data
        assert (data.task, data.form) == ("best-of-n", "rewardbench-2")
        assert (r.responses, r.is_correct, r.subset) == (("right", "w1", "w2"),
                                                          (True, False, False), "Math")


def test_gsm8k_problems_are_read_in_data() -> None:
    problems, skipped = read_problems("bundled:gsm8k_examples", limit=2)
    assert [p.id for p in problems] == [0, 1] and not skipped
    assert problems[0].question.startswith("Janet") and problems[0].solution.endswith("A: 18")


def _string_tuples(path: Path) -> list[tuple[str, ...]]:
    tree = ast.parse(path.read_text())
    return [tuple(e.value for e in node.elts) for node in ast.walk(tree)
            if isinstance(node, ast.Tuple) and node.elts
            and all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts)]


def test_the_column_vocabulary_is_defined_once() -> None:
    """No module but ``data/_columns.py`` spells out a list of reference columns."""
    names = set(REFERENCE_KEYS)
    owners = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
              if any(len(names & set(t)) >= 2 for t in _string_tuples(p))]
    assert owners == ["data/_columns.py"]


def test_no_package_imports_a_private_data_module() -> None:
    offenders = [str(p.relative_to(SRC)) for p in SRC.rglob("*.py")
                 if p.parent.name != "data" and "rewardlab.data._" in p.read_text()]
    assert offenders == []
