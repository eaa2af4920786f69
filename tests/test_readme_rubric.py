"""The README's rubric section runs as written: its YAML and JSONL blocks are the files its
commands read."""

from __future__ import annotations

import json

import pytest

from test_readme import blocks, run_all, section, section_commands

TITLE = "### Rubrics and instruction constraints"


@pytest.mark.slow
def test_rubric_examples_run(run_cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    text = section(TITLE)
    (rubric,), (rows,) = blocks("yaml", text), blocks("jsonl", text)
    (tmp_path / "rubric.yaml").write_text(rubric, encoding="utf-8")
    (tmp_path / "rows.jsonl").write_text(rows, encoding="utf-8")
    commands = section_commands(TITLE)
    assert len(commands) == 2
    run_all(run_cli, commands)
    rules = [json.loads(x) for x in (tmp_path / "rules.jsonl").read_text().splitlines()]
    assert [r["reward"] for r in rules] == [1.0, 0.0]
    assert {f["type"] for f in rules[1]["failed"]} == {"max_words", "ends_with"}
    scored = [json.loads(x) for x in (tmp_path / "rubric.jsonl").read_text().splitlines()]
    assert [[c["score"] for c in r["criteria"]] for r in scored] == [[1.0, 1.0, 1.0],
                                                                     [1.0, 0.0, 0.0]]
    assert [r["reward"] for r in scored] == [1.0, 0.25]
