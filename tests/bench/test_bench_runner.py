"""Running suites: bad input becomes skipped rows, the score cache makes re-runs cost only
new rows, several models are compared on the same rows, and the CLI prints and writes it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from rewardlab.bench import run_bench


@pytest.fixture
def bad_suite(tmp_path: Path) -> Path:
    """One good task and every kind of bad input the issue lists."""
    path = tmp_path / "bad.toml"
    path.write_text(
        '[[task]]\nname = "good"\ndata = "bundled:evalbiasbench"\ntask = "pairwise"\n'
        'section = "Bias"\n'
        '[[task]]\nname = "missing"\ndata = "no/such/file.jsonl"\nsection = "Chat"\n'
        '[[task]]\nname = "odd"\ndata = "bundled:pandalm"\ntask = "ranking"\n'
        'section = "Chat"\n'
        '[[task]]\nname = "llmbar"\ndata = "bundled:llmbar"\ntask = "pairwise"\n'
        'subsets = { "LLMBar/Natural" = "Chat Hard", "LLMBar/Nope" = "Chat Hard" }\n'
        '[[task]]\nname = "steps"\ndata = "bundled:prmbench"\ntask = "first-error"\n'
        'section = "Process"\n', encoding="utf-8")
    return path


def test_bad_input_rows_are_skipped_with_reasons(bad_suite: Path, length_model) -> None:
    result = run_bench([length_model()], bad_suite, limit=5, n_boot=200)
    (m,) = result.models
    rows = {r.key: r for r in m.rows}
    assert rows["good"].skipped is None and rows["good"].n == 5
    assert "no/such/file.jsonl: no such file" in rows["missing"].skipped
    assert "unknown task 'ranking'" in rows["odd"].skipped
    assert rows["llmbar/LLMBar/Nope"].skipped == "subset 'LLMBar/Nope' has no rows in " \
                                                 "bundled:llmbar"
    assert rows["llmbar/LLMBar/Natural"].skipped is None
    assert "cannot score steps (it is not a StepScorer" in rows["steps"].skipped
    assert result.any_skipped
    sections = {s.name: s for s in m.sections}
    assert sections["Process"].score != sections["Process"].score  # NaN: nothing scored
    assert sections["Chat Hard"].n_skipped == 1 and sections["Chat Hard"].n == 5
    # the overall score is over the sections that were scored
    assert m.overall == pytest.approx((sections["Bias"].score + sections["Chat Hard"].score) / 2)
    assert {n["task"] for n in result.left_out} == {"llmbar"}


@pytest.mark.slow
def test_score_cache_makes_a_rerun_free_and_a_new_file_cost_only_itself(
        embed_dir: Path, small_suite: Path, tmp_path: Path) -> None:
    # a copy is a new spec, so a new fingerprint: its scores start uncached (its embeddings
    # come from the session's embedding cache)
    model = shutil.copytree(embed_dir, tmp_path / "rm")
    first = run_bench([str(model)], small_suite, limit=3, n_boot=200).models[0]
    assert first.cache_hits == 0 and first.cache_misses == 2 * 3 * 7  # hh + 6 bias subsets
    again = run_bench([str(model)], small_suite, limit=3, n_boot=200).models[0]
    assert again.cache_misses == 0
    assert [r.score for r in again.rows] == [r.score for r in first.rows]
    bigger = small_suite.read_text() + ('[[task]]\nname = "gsm"\ndata = "bundled:gsm8k_examples"'
                                        '\ntask = "best-of-n"\nsection = "Reasoning"\n')
    small_suite.write_text(bigger, encoding="utf-8")
    grown = run_bench([str(model)], small_suite, limit=3, n_boot=200).models[0]
    assert grown.cache_misses == 3 * 4  # only the new file: 3 problems x 4 solutions
    uncached = run_bench([str(model)], small_suite, limit=3, n_boot=200, cache=False)
    assert uncached.models[0].overall == pytest.approx(grown.overall)


@pytest.mark.slow
def test_same_model_twice_is_no_difference(embed_dir: Path, small_suite: Path) -> None:
    result = run_bench([str(embed_dir), str(embed_dir)], small_suite, limit=3, n_boot=500)
    assert result.comparisons
    for c in result.comparisons:
        assert c.diff == 0 and c.p_value == 1.0


@pytest.mark.slow
def test_process_rows_need_a_step_scorer(embed_dir: Path, prm_dir: Path, tmp_path: Path
                                         ) -> None:
    path = tmp_path / "proc.toml"
    path.write_text('[[task]]\ndata = "bundled:prmbench"\ntask = "first-error"\n'
                    'section = "Process"\n[[task]]\ndata = "bundled:hh_harmless"\n'
                    'section = "Safety"\n', encoding="utf-8")
    result = run_bench([str(prm_dir), str(embed_dir)], path, limit=8, n_boot=300)
    prm, embed = result.models
    prm_rows = {r.key: r for r in prm.rows}
    assert prm_rows["prmbench"].skipped is None
    assert prm_rows["prmbench"].metric == "first-error F1"
    assert 0 <= prm_rows["prmbench"].score <= 1
    assert {"acc_erroneous", "acc_correct"} <= set(prm_rows["prmbench"].details)
    assert next(r for r in embed.rows if r.key == "prmbench").skipped
    # compared only where both scored: Safety and the overall over it
    assert [c.section for c in result.comparisons] == ["Safety", "overall"]


@pytest.mark.slow
def test_cli_prints_the_table_writes_json_and_html_and_strict_fails(
        run_cli, embed_dir: Path, bad_suite: Path, tmp_path: Path) -> None:
    report, page = tmp_path / "b.json", tmp_path / "b.html"
    res = run_cli("bench", embed_dir, "--suite", bad_suite, "--limit", "3", "--json", report,
                  "--html", page)
    assert res.code == 0, res.err
    assert "skipped [1]" in res.out and "no/such/file.jsonl: no such file" in res.out
    assert "overall" in res.out and "Bias" in res.out
    body = json.loads(report.read_text())
    (model,) = body["models"]
    assert model["sections"]["Bias"]["score"] is not None
    assert any(r["skipped"] for r in model["rows"])
    text = page.read_text()
    assert text.startswith("<!doctype html>") and "<script" not in text and "http" not in text
    assert "Bias" in text and "skipped [1]" in text
    strict = run_cli("bench", embed_dir, "--suite", bad_suite, "--limit", "3", "--strict")
    assert strict.code == 1


def test_cli_a_run_that_scored_nothing_exits_1(run_cli, tmp_path: Path) -> None:
    """Every row skipped is not a result: the table and the JSON still say why, and the exit
    status says nothing was measured."""
    path, report = tmp_path / "s.toml", tmp_path / "b.json"
    path.write_text('[[task]]\nname = "missing"\ndata = "no/such/file.jsonl"\n'
                    'section = "Chat"\n', encoding="utf-8")
    res = run_cli("bench", "verify:math", "--suite", path, "--json", report)
    assert res.code == 1, (res.out, res.err)
    assert "no/such/file.jsonl: no such file" in res.out
    err = " ".join(res.err.split())
    assert "error: nothing was scored for verify:math: every row of the suite was skipped" in err
    assert json.loads(report.read_text())["models"][0]["rows"][0]["skipped"]


def test_cli_malformed_suite_is_an_error(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[[task]]\ndata = "bundled:llmbar"\nsectoin = "X"\n', encoding="utf-8")
    res = run_cli("bench", "verify:math", "--suite", path)
    assert res.code == 2
    err = " ".join(res.err.split())  # the console wraps long lines
    assert err.startswith("error:") and "s.toml: field 'task[0].sectoin': is not a task key" in err
