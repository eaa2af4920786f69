"""The process-reward-model commands end to end: label inject-errors, train, eval, score."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewardlab.data import bundled_path


@pytest.fixture(scope="module")
def steps_file(tmp_path_factory) -> Path:
    """The first 30 bundled GSM8K problems, error-injected (as the ``injected_steps``
    fixture makes them, so their embeddings are shared)."""
    from rewardlab import api

    path = tmp_path_factory.mktemp("steps") / "steps.jsonl"
    api.inject_errors("bundled:gsm8k_examples", out=path, limit=30)
    return path


def test_label_inject_errors_writes_trl_prm_rows(run_cli, tmp_path: Path) -> None:
    out_file = tmp_path / "steps.jsonl"
    result = run_cli("label", "inject-errors", "bundled:gsm8k_examples", "--out", out_file,
                     "--limit", "12", "--seed", "3")
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in out_file.read_text().splitlines()]
    assert "from 12 problems" in result.out and f"wrote {len(rows)} solutions" in result.out
    assert {r["subset"] for r in rows} <= {"arithmetic", "quantity", "correct"}
    for row in rows:
        assert len(row["completions"]) == len(row["labels"])
        if row["subset"] != "correct":
            assert row["labels"].index(False) == row["corruption"]["step"]
    again = tmp_path / "again.jsonl"
    run_cli("label", "inject-errors", "bundled:gsm8k_examples", "--out", again, "--limit", "12",
            "--seed", "3", "--no-correct")
    assert again.read_text().splitlines() == [line for line in out_file.read_text().splitlines()
                                              if '"subset": "correct"' not in line]


def test_label_help_lists_inject_errors(run_cli) -> None:
    result = run_cli("label", "--help")
    assert result.code == 0 and "inject-errors" in result.out


def test_train_eval_score_a_prm(run_cli, steps_file: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "prm"
    result = run_cli("train", steps_file, "--model", "prm:minilm", "--epochs", "20",
                     "--max-length", "128", "--out", out_dir)
    assert result.code == 0, result.err
    assert json.loads((out_dir / "rewardlab.json").read_text())["kind"] == "prm"

    report = tmp_path / "eval.json"
    result = run_cli("eval", out_dir, steps_file, "--json", report)
    assert result.code == 0, result.err
    body = json.loads(report.read_text())
    assert 0 <= body["first_error_f1"] <= 1 and body["n"] == len(steps_file.read_text()
                                                                .splitlines())
    assert {"acc_erroneous", "acc_correct", "baselines"} <= set(body)
    assert "always step 1" in " ".join(result.out.split())

    scores = tmp_path / "scores.jsonl"
    result = run_cli("score", out_dir, steps_file, "--out", scores)
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in scores.read_text().splitlines()]
    inputs = [json.loads(line) for line in steps_file.read_text().splitlines()]
    assert [r["id"] for r in rows] == [r["id"] for r in inputs]
    for row, given in zip(rows, inputs, strict=True):
        assert len(row["step_scores"]) == len(given["completions"])
        assert row["reward"] == pytest.approx(min(row["step_scores"]))


def test_a_pairwise_model_on_step_data_is_a_clean_error(run_cli, trained_embed, steps_file,
                                                         tmp_path: Path) -> None:
    saved = trained_embed.save(tmp_path / "rm")
    result = run_cli("eval", saved, steps_file)
    assert result.code == 2 and "cannot evaluate first errors" in " ".join(result.err.split())
    assert "Traceback" not in result.err


def test_bad_step_rows_name_the_line(run_cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "q", "completions": ["a = 1", "b = 2"],
                               "labels": [True]}) + "\n")
    result = run_cli("train", bad, "--model", "prm:minilm", "--out", tmp_path / "m")
    text = " ".join(result.err.split())
    assert result.code == 2
    assert "bad.jsonl:1: field 'labels': has 1 entries but there are 2 steps" in text
    result = run_cli("label", "inject-errors", bad, "--out", tmp_path / "s.jsonl")
    assert result.code == 2 and "field 'answer': is missing or empty" in " ".join(
        result.err.split())


@pytest.mark.slow
def test_train_the_recommended_prm_on_the_bundled_mix_and_eval_by_question_type(
        run_cli, tmp_path: Path) -> None:
    """`rewardlab train bundled:prm_train --model prm:default` (here its first 24 rows,
    real MR-GSM8K solutions), then eval on MR-GSM8K prints per error type and per question
    type."""
    out_dir = tmp_path / "prm"
    result = run_cli("train", "bundled:prm_train", "--model", "prm:default?max_length=128",
                     "--epochs", "5", "--limit", "24", "--out", out_dir)
    assert result.code == 0, result.err
    mr = tmp_path / "mr.jsonl"
    lines = (bundled_path("mr_gsm8k_dev")).read_text(encoding="utf-8").splitlines()
    mr.write_text("\n".join(lines[:6]) + "\n", encoding="utf-8")
    report = tmp_path / "eval.json"
    result = run_cli("eval", out_dir, mr, "--json", report)
    assert result.code == 0, result.err
    assert "question: original" in result.out and "correct" in result.out
    saved = json.loads(report.read_text())
    assert set(saved["question_types"]) == {"original"}
    assert saved["n_erroneous"] == 6 and saved["n_correct"] == 6
