"""The README's examples run as written."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_quick_start_shows_the_two_commands_first() -> None:
    quick = README.split("## Quick start", 1)[1]
    first = blocks("bash")[0]
    assert quick.index(first) < quick.index("##")
    assert [line.split("#")[0].strip() for line in first.strip().splitlines()] == [
        "make demo", "make test"]


@pytest.mark.slow
def test_python_example_runs(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (code,) = blocks("python")
    exec(compile(code, "README.md", "exec"), {})
    assert (tmp_path / "my-small-rm" / "rewardlab.json").is_file()


@pytest.mark.slow
def test_cli_examples_run(run_cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    usage = README.split("## Use it", 1)[1]
    commands = [line for line in blocks("bash")[2].splitlines() if line.startswith("rewardlab ")]
    assert commands and commands[0] in usage
    for command in commands:
        result = run_cli(*shlex.split(command)[1:])
        assert result.code == 0, (command, result.err)
    assert (tmp_path / "my-rm" / "rewardlab.json").is_file()
    assert (tmp_path / "eval.json").is_file()
    assert len((tmp_path / "scores.jsonl").read_text().splitlines()) == 1812


@pytest.mark.slow
def test_fine_tuning_ensemble_and_noise_examples_run(run_cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    section = README.split("### Fine-tuning, ensembles and noisy labels", 1)[1]
    block = blocks("bash")[3]
    assert block in section
    commands = [line for line in block.splitlines() if line.startswith("rewardlab ")]
    assert len(commands) == 4
    for command in commands:
        result = run_cli(*shlex.split(command)[1:])
        assert result.code == 0, (command, result.err)
    assert (tmp_path / "my-seq-rm" / "config.json").is_file()
    assert not (tmp_path / "my-seq-rm.checkpoints").exists()  # removed once the run succeeded
    rows = [json.loads(line) for line in
            (tmp_path / "ensemble-scores.jsonl").read_text().splitlines()]
    assert len(rows) == 1812 and rows[0]["uncertainty_chosen"] > 0
    assert "--noise-robust (co-teaching) dropped" in result.out


def test_verifier_examples_run(run_cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    section = README.split("### Verifiers and best-of-n", 1)[1]
    block = blocks("bash")[4]
    assert block in section
    for command in [line for line in block.splitlines() if line.startswith("rewardlab ")]:
        result = run_cli(*shlex.split(command)[1:])
        assert result.code == 0, (command, result.err)
    report = json.loads((tmp_path / "best-of-4.json").read_text())
    assert report["best_of_n_accuracy"] == pytest.approx(report["oracle"])
    assert len((tmp_path / "verified.jsonl").read_text().splitlines()) == 819
