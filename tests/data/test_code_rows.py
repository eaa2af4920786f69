"""Code rows: HumanEval, MBPP and generic tests become one JSON reference, or a clear error."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rewardlab.data import load_dataset
from rewardlab.errors import DataError


def write(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_each_code_layout_becomes_a_json_reference(tmp_path: Path) -> None:
    rows = [
        {"prompt": "def f():\n", "test": "def check(c):\n    assert c() == 1", "entry_point": "f",
         "response": "    return 1"},
        {"prompt": "add", "test_list": ["assert add(1, 2) == 3"], "test_imports": ["import math"],
         "response": "def add(a, b): return a + b"},
        {"prompt": "echo", "tests": [{"input": "x", "output": "x"}], "response": "print(input())"},
        {"prompt": "p", "tests": ["assert g() == 2"], "responses": ["def g(): return 2", ""]},
    ]
    data = [load_dataset(write(tmp_path, [r])).records[0] for r in rows]
    refs = [json.loads(r.reference) for r in data]
    assert refs[0] == {"entry_point": "f", "prompt": "def f():\n",
                       "test": "def check(c):\n    assert c() == 1"}
    assert refs[1]["test_list"] == ["assert add(1, 2) == 3"]
    assert refs[1]["test_imports"] == ["import math"]
    assert refs[2] == {"tests": [{"input": "x", "output": "x"}]}
    assert refs[3] == {"tests": ["assert g() == 2"]}


@pytest.mark.parametrize(("row", "field"), [
    ({"tests": []}, "tests"),
    ({"test_list": []}, "test_list"),
    ({"test": "", "entry_point": "f"}, "test"),
    ({"test": "assert True", "entry_point": "not a name"}, "entry_point"),
    ({"tests": [{"input": "x"}]}, "tests[0]"),
    ({"tests": ["assert 1", {"input": "x", "output": "y"}]}, "tests"),
    ({"tests": ["72"]}, "tests[0]"),  # a math answer, not a test: it would pass any program
    ({"test_list": ["assert f(1) ==="]}, "test_list[0]"),
    ({"test": "assert f(1) == 2", "entry_point": "f"}, "test"),  # no check(candidate)
])
def test_a_task_without_usable_tests_names_its_field(tmp_path: Path, row: dict,
                                                     field: str) -> None:
    with pytest.raises(DataError, match=re.escape(f"rows.jsonl:1: field '{field}'")):
        load_dataset(write(tmp_path, [{"prompt": "p", "response": "x", **row}]))
    skipped = load_dataset(write(tmp_path, [{"prompt": "p", "response": "x", **row},
                                            {"prompt": "p", "response": "x",
                                             "tests": ["assert 1"]}]), skip_invalid=True)
    assert len(skipped) == 1 and len(skipped.skipped) == 1
