"""What the commands write, end to end: an output that is an input is refused before any
work, a rerun that skips nothing leaves no stale skipped file, outputs honour the umask, and
Ctrl-C says what was kept (a real ``rewardlab`` process, a real SIGINT)."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

BEST_OF_N = {"prompt": "What is 2+2?", "responses": ["The answer is 4.", "The answer is 5."],
             "is_correct": [True, False], "reference": "4"}
PROBLEM = {"question": "Tom has 3 apples and buys 4 bags of 2 apples. How many apples does he "
           "have?", "answer": "He buys 4 * 2 = <<4*2=8>>8 apples.\nHe has 3 + 8 = <<3+8=11>>11 "
           "apples.\n#### 11"}


def write_rows(path: Path, *rows: dict) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def one_paragraph(text: str) -> str:
    return " ".join(text.split())  # rich wraps long lines


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return write_rows(tmp_path / "g.jsonl", BEST_OF_N)


# every command whose output path can name its input; MODEL is a model that does not exist,
# so a command that did any work before checking its outputs would fail on the model instead
REFUSED = {
    "score --out": ["score", "MODEL", "DATA", "--out", "DATA"],
    "score --ray --out": ["score", "MODEL", "DATA", "--ray", "--out", "DATA"],
    "eval --json": ["eval", "MODEL", "DATA", "--json", "DATA"],
    "train --out": ["train", "DATA", "--model", "MODEL", "--out", "DATA"],
    "train --out onto --eval-data": ["train", "OTHER", "--model", "MODEL", "--eval-data",
                                     "DATA", "--out", "DATA"],
    "label inject-errors --out": ["label", "inject-errors", "DATA", "--out", "DATA"],
    "label rollouts --out": ["label", "rollouts", "DATA", "--policy", "policy:gguf:MODEL",
                             "--out", "DATA"],
    "audit --json": ["audit", "MODEL", "DATA", "--json", "DATA"],
    "audit --html": ["audit", "MODEL", "DATA", "--html", "DATA"],
    "audit --html onto --best-of-n": ["audit", "MODEL", "OTHER", "--best-of-n", "DATA",
                                      "--html", "DATA"],
    "bench --json": ["bench", "MODEL", "--suite", "DATA", "--json", "DATA"],
    "bench --html": ["bench", "MODEL", "--suite", "DATA", "--html", "DATA"],
}


@pytest.mark.parametrize("case", REFUSED)
def test_an_output_onto_the_input_is_refused_before_any_work(run_cli, data: Path,
                                                             tmp_path: Path, case: str) -> None:
    other = write_rows(tmp_path / "other.jsonl", BEST_OF_N)
    before = data.read_bytes()
    names = {"MODEL": str(tmp_path / "no-such-model"), "DATA": str(data), "OTHER": str(other)}
    args = [names.get(a, a) for a in REFUSED[case]]
    result = run_cli(*args)
    text = one_paragraph(result.err)
    assert result.code == 2, (result.out, result.err)
    assert text.startswith("error: ") and "Traceback" not in result.err
    option = case.split()[-1] if "onto" not in case else case.split()[-3]
    assert f"{option} {data} is the input" in text and "would replace the input" in text
    assert data.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.jsonl", "other.jsonl"]


@pytest.mark.parametrize("link", ["symlink", "hardlink"])
def test_an_output_that_is_a_link_to_the_input_is_refused(run_cli, data: Path, link: str
                                                          ) -> None:
    out = data.with_name("out.jsonl")
    if link == "symlink":
        out.symlink_to(data)
    else:
        os.link(data, out)
    before = data.read_bytes()
    result = run_cli("score", "verify:math", data, "--out", out)
    assert result.code == 2
    assert f"--out {out} is the input DATA {data} (the same file)" in one_paragraph(result.err)
    assert data.read_bytes() == before


@pytest.mark.parametrize("command", [["score", "MODEL", "DATA"],
                                     ["label", "inject-errors", "DATA"]])
@pytest.mark.parametrize("name", ["scores.csv", "scores.PARQUET"])
def test_a_jsonl_output_named_as_another_format_is_refused_before_any_work(
        run_cli, data: Path, tmp_path: Path, command: list[str], name: str) -> None:
    # JSON lines in a file named .csv would be misread by whatever opens it next
    names = {"MODEL": str(tmp_path / "no-such-model"), "DATA": str(data)}
    result = run_cli(*[names.get(a, a) for a in command], "--out", tmp_path / name)
    text = one_paragraph(result.err)
    assert result.code == 2 and "Traceback" not in result.err
    assert f"--out {tmp_path / name}: this output is written as JSON Lines" in text
    assert "name it scores.jsonl" in text
    assert not (tmp_path / name).exists()


def test_two_outputs_on_one_file_are_refused(run_cli, data: Path, tmp_path: Path) -> None:
    report = tmp_path / "report"
    result = run_cli("bench", "verify:math", "--suite", data, "--json", report, "--html", report)
    assert result.code == 2
    assert f"--json {report} and --html {report} are the same file" in one_paragraph(result.err)
    assert not report.exists()


def test_distinct_outputs_still_work(run_cli, data: Path, tmp_path: Path) -> None:
    result = run_cli("score", "verify:math", data, "--out", tmp_path / "scores.jsonl")
    assert result.code == 0, result.err
    assert json.loads((tmp_path / "scores.jsonl").read_text())["rewards"] == [1.0, 0.0]


STALE = {
    "score": (["score", "verify:math", "DATA", "--out", "OUT", "--skip-invalid"],
              BEST_OF_N, {"prompt": "x", "responses": "not a list"}, "scores.jsonl"),
    "eval --json": (["eval", "verify:math", "DATA", "--json", "OUT", "--skip-invalid"],
                    BEST_OF_N, {"prompt": "x", "responses": "not a list"}, "eval.json"),
    "label inject-errors": (["label", "inject-errors", "DATA", "--out", "OUT", "--skip-invalid"],
                            PROBLEM, {"question": "no answer"}, "steps.jsonl"),
}


@pytest.mark.parametrize("case", STALE)
def test_a_rerun_that_skips_nothing_leaves_no_stale_skipped_file(run_cli, tmp_path: Path,
                                                                 case: str) -> None:
    args, good, bad, name = STALE[case]
    out = tmp_path / name
    skipped = out.with_name(out.stem + ".skipped.jsonl")
    first = write_rows(tmp_path / "first.jsonl", good, bad)
    second = write_rows(tmp_path / "second.jsonl", good)
    run = {"DATA": first, "OUT": out}
    result = run_cli(*[run.get(a, a) for a in args])
    assert result.code == 0, result.err
    assert [json.loads(line)["line"] for line in skipped.read_text().splitlines()] == [2]
    run["DATA"] = second
    result = run_cli(*[run.get(a, a) for a in args])
    assert result.code == 0, result.err
    assert out.exists() and not skipped.exists()
    assert "skipped" not in result.err


@pytest.fixture
def umask():
    before = os.umask(0o022)
    yield os.umask
    os.umask(before)


@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o077, 0o600)])
def test_outputs_honour_the_umask(run_cli, data: Path, tmp_path: Path, umask, mask: int,
                                  mode: int) -> None:
    umask(mask)
    out, report = tmp_path / "scores.jsonl", tmp_path / "eval.json"
    assert run_cli("score", "verify:math", data, "--out", out).code == 0
    assert run_cli("eval", "verify:math", data, "--json", report).code == 0
    assert stat.S_IMODE(out.stat().st_mode) == mode
    assert stat.S_IMODE(report.stat().st_mode) == mode


def _rewardlab() -> list[str]:
    script = Path(sys.executable).with_name("rewardlab")
    return [str(script)] if script.exists() else [sys.executable, "-m", "rewardlab.cli"]


def _interrupt_when(args: list[str], cwd: Path, ready: Callable[[int], bool], *,
                    wait: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``rewardlab ARGS``, send SIGINT once ``ready(pid)`` holds (or ``wait`` seconds
    have passed), and wait for it to exit."""
    proc = subprocess.Popen(  # SIGINT back to its default: pytest may run with it ignored
        [*_rewardlab(), *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + wait
    try:
        while proc.poll() is None and not ready(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _interrupt_while_reading(args: list[str], data: Path, cwd: Path
                             ) -> subprocess.CompletedProcess[str]:
    """SIGINT as soon as the command has ``data`` open (it is under way, past start-up)."""

    def reading(pid: int) -> bool:
        try:
            return any(os.readlink(fd) == str(data) for fd in Path(f"/proc/{pid}/fd").iterdir())
        except OSError:  # an fd closed while we looked
            return False

    return _interrupt_when(args, cwd, reading)


needs_proc = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(),
                                reason="watches /proc/PID/fd to interrupt mid-command")


@needs_proc
def test_ctrl_c_during_score_exits_130_and_says_nothing_was_written(tmp_path: Path) -> None:
    data = tmp_path / "big.jsonl"
    with data.open("w") as fh:  # ~10 s of reading and checking answers: SIGINT lands inside
        for i in range(100_000):
            fh.write(json.dumps({"prompt": f"What is {i} + 1?", "reference": str(i + 1),
                                 "responses": [f"It is {i + 1}.", f"It is {i}."]}) + "\n")
    out = tmp_path / "scores.jsonl"
    result = _interrupt_while_reading(["score", "verify:math", str(data), "--out", str(out)],
                                      data, tmp_path)
    assert result.returncode == 130, result.stderr
    assert result.stderr == f"interrupted: nothing was written to {out}\n"
    assert result.stdout == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.jsonl"]  # no temporary left


@needs_proc
def test_ctrl_c_during_train_exits_130_and_says_no_model_was_saved(tmp_path: Path) -> None:
    data = tmp_path / "pairs.jsonl"
    write_rows(data, *({"prompt": f"Is {i} even?", "chosen": f"{i} is {'odd' * (i % 2)}even.",
                        "rejected": f"{i} is a number I cannot judge, item {i}."}
                       for i in range(4000)))  # minutes of embedding: SIGINT lands inside
    out = tmp_path / "rm"
    result = _interrupt_while_reading(["train", str(data), "--out", str(out)], data, tmp_path)
    assert result.returncode == 130, result.stderr
    assert result.stderr == f"interrupted: no model saved to {out}\n"
    assert "Traceback" not in result.stderr
    assert not out.exists()


@pytest.mark.slow  # loads and fine-tunes seq:minilm until its first checkpoint (~10-40 s)
def test_ctrl_c_during_a_seq_fine_tune_names_the_checkpoints_kept(tmp_path: Path) -> None:
    data = write_rows(tmp_path / "pairs.jsonl", *(
        {"prompt": f"Is {i} even?", "chosen": f"{i} is {'odd' if i % 2 else 'even'}.",
         "rejected": f"{i} is {'even' if i % 2 else 'odd'}."} for i in range(16)))
    out = tmp_path / "rm"
    checkpoints = tmp_path / "rm.checkpoints"
    result = _interrupt_when(
        ["train", str(data), "--model", "seq:minilm", "--out", str(out), "--max-length", "16",
         "--batch-size", "2", "--epochs", "4", "--checkpoint-every", "1"],
        tmp_path, lambda _: checkpoints.is_dir(), wait=300)
    err = result.stderr
    assert result.returncode == 130, err
    assert " ".join(err.split()) == (f"interrupted: no model saved to {out}; the checkpoints "
                                     f"in {checkpoints} are kept (continue with --resume)")
    assert checkpoints.is_dir() and not out.exists()
