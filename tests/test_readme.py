"""The README's examples run as written."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def blocks(language: str, text: str = README) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def section(title: str) -> str:
    """The README text under a heading, up to the next heading of any level."""
    body = README.split(f"{title}\n", 1)[1]
    return re.split(r"\n#{1,6} ", body, maxsplit=1)[0]


def section_commands(title: str) -> list[str]:
    """The `rewardlab ...` lines of the bash block(s) of one README section."""
    return [line for block in blocks("bash", section(title)) for line in block.splitlines()
            if line.startswith("rewardlab ")]


def run_all(run_cli, commands: list[str]) -> list:
    results = []
    for command in commands:
        result = run_cli(*shlex.split(command)[1:])
        assert result.code == 0, (command, result.out, result.err)
        results.append(result)
    return results


def test_quick_start_shows_the_two_commands_first() -> None:
    quick = README.split("## Quick start", 1)[1]
    first = blocks("bash")[0]
    assert quick.index(first) < quick.index("##")
    assert [line.split("#")[0].strip() for line in first.strip().splitlines()] == [
        "make demo", "make test"]


@pytest.mark.slow
def test_tool_call_and_similarity_examples_run(run_cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    commands = section_commands("### Tool calls and similarity to a reference")
    assert len(commands) == 4
    results = run_all(run_cli, commands)
    assert json.loads((tmp_path / "toolcalls.json").read_text())
    rows = [json.loads(line) for line in
            (tmp_path / "toolcall-credit.jsonl").read_text().splitlines()]
    assert len(rows) == 280 and all(max(r["rewards"]) == 1.0 for r in rows)
    assert "<every tool>" in results[2].out or "master-keys" in results[2].out


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
    commands = section_commands("## Use it")
    assert commands and commands[0] in usage
    run_all(run_cli, commands)
    assert (tmp_path / "my-rm" / "rewardlab.json").is_file()
    assert (tmp_path / "eval.json").is_file()
    assert len((tmp_path / "scores.jsonl").read_text().splitlines()) == 1812


@pytest.mark.slow
def test_fine_tuning_ensemble_and_noise_examples_run(run_cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    commands = section_commands("### Fine-tuning, ensembles and noisy labels")
    assert len(commands) == 4
    result = run_all(run_cli, commands)[-1]
    assert (tmp_path / "my-seq-rm" / "config.json").is_file()
    assert not (tmp_path / "my-seq-rm.checkpoints").exists()  # removed once the run succeeded
    rows = [json.loads(line) for line in
            (tmp_path / "ensemble-scores.jsonl").read_text().splitlines()]
    assert len(rows) == 1812 and rows[0]["uncertainty_chosen"] > 0
    assert "--noise-robust (noise-aware likelihood) down-weighted" in result.out


def test_verifier_examples_run(run_cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    commands = section_commands("### Verifiers and best-of-n")
    assert commands
    run_all(run_cli, commands)
    report = json.loads((tmp_path / "best-of-4.json").read_text())
    assert report["best_of_n_accuracy"] == pytest.approx(report["oracle"])
    assert len((tmp_path / "verified.jsonl").read_text().splitlines()) == 819
    vote = json.loads((tmp_path / "vote.json").read_text())
    assert vote["best_of_n_accuracy"] == pytest.approx(vote["majority"])
    assert vote["best_of_n_accuracy"] > vote["random"]
    assert json.loads((tmp_path / "vote-orm" / "rewardlab.json").read_text())["kind"] == "vote"


@pytest.mark.slow
def test_code_verifier_examples_run(run_cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    commands = section_commands("### Code: `verify:code`")
    assert len(commands) == 2
    run_all(run_cli, commands)
    report = json.loads((tmp_path / "humaneval.json").read_text())
    assert report["best_of_n_accuracy"] == pytest.approx(report["oracle"]) == 1.0
    keys = json.loads((tmp_path / "code-keys.json").read_text())["probes"]["master-keys"]
    assert keys["value"] == 0.0 and keys["metrics"]["n_keys"] >= 30


@pytest.mark.slow
def test_rollout_labels_example_runs(run_cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (command,) = section_commands("### Process reward models")
    run_all(run_cli, [command])
    rows = [json.loads(line) for line in (tmp_path / "mc-steps.jsonl").read_text().splitlines()]
    assert len(rows) == 4  # the four model solutions of the first GSM8K test problem
    for row in rows:
        assert len(row["labels"]) == len(row["completions"]) == len(row["mc_values"])
        assert all(0.0 <= v <= 1.0 for v in row["mc_values"])


@pytest.mark.slow
def test_judge_examples_run(run_cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    commands = section_commands("### Generative judges")
    assert len(commands) == 2
    swapped, _ = run_all(run_cli, commands)
    assert "order" in swapped.out and "consisten" in swapped.out
    rows = [json.loads(line) for line in (tmp_path / "graded.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    assert all(1.0 <= row["reward_chosen"] <= 10.0 for row in rows)


@pytest.mark.slow
def test_audit_and_bench_examples_run(run_cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    audit = section_commands("### Audit a reward model")
    bench = section_commands("### Benchmark table: `rewardlab bench`")
    assert audit[0].startswith("rewardlab train") and len(audit) == 3 and len(bench) == 1
    run_all(run_cli, audit + bench)
    report = json.loads((tmp_path / "audit.json").read_text())
    assert set(report["probes"]) == {"length", "master-keys", "paraphrase", "calibration"}
    assert "<svg" in (tmp_path / "audit.html").read_text()
    table = json.loads((tmp_path / "bench.json").read_text())
    (model,) = table["models"]
    assert table["limit"] == 20 and model["rows"]
    scored = [row for row in model["rows"] if row["skipped"] is None]
    assert scored and all(0 < row["n"] <= 20 and 0.0 <= row["score"] <= 1.0 for row in scored)


@pytest.mark.slow
def test_scale_up_laptop_example_runs(run_cli, tmp_path, monkeypatch) -> None:
    """The laptop commands of "Scale up" (2 local workers: seq:, then multi:seq:); the
    GPU/Ray ones are marked not run."""
    monkeypatch.chdir(tmp_path)
    commands = section_commands("### Scale up: GPUs, decoder LMs and many workers")
    assert len(commands) == 2 and all("--workers 2" in c for c in commands)
    run_all(run_cli, commands)
    assert (tmp_path / "rm-2w" / "config.json").is_file()
    heads = json.loads((tmp_path / "heads-2w" / "config.json").read_text())
    assert heads["id2label"] == {"0": "harmless", "1": "helpful"}
