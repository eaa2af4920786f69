"""``rewardlab score --ray`` through the real entry point: output, resume, and every bad
input as one ``error:`` line with exit status 2."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_rerunning_a_finished_job_reports_it_done(run_cli, finished_job, gsm_bad) -> None:
    _, out = finished_job
    result = run_cli("score", "verify:math", gsm_bad, "--out", out, "--ray", "--shard-rows",
                     "40", "--workers", "2", "--skip-invalid")
    assert result.code == 0, result.err
    text = " ".join(result.out.split())
    assert "scored 299 best-of-n rows into" in text
    assert "(8 jsonl shards: all finished by an earlier run; nothing left to score)" in text
    err = " ".join(result.err.split())
    assert "skipped 3 row(s); all written to" in err and "_skipped.jsonl" in err
    assert "gsm_bad.jsonl line 51: must be a JSON object" in err


def test_another_jobs_directory_is_an_error(run_cli, finished_job, gsm_bad) -> None:
    _, out = finished_job
    result = run_cli("score", "verify:math", gsm_bad, "--out", out, "--ray", "--shard-rows",
                     "80", "--skip-invalid")
    assert result.code == 2
    assert "error:" in result.err and "different scoring job" in result.err
    assert "Traceback" not in result.err


def test_ray_options_without_ray_are_an_error(run_cli, gsm_clean, tmp_path) -> None:
    result = run_cli("score", "verify:math", gsm_clean, "--out", tmp_path / "s.jsonl",
                     "--address", "10.0.0.1:6379", "--workers", "2")
    assert result.code == 2
    assert "--address, --workers only applies to Ray scoring; add --ray" in result.err
    assert not (tmp_path / "s.jsonl").exists()
    result = run_cli("score", "verify:math", gsm_clean, "--out", tmp_path / "o", "--ray",
                     "--limit", "5")
    assert result.code == 2 and "--limit does not apply to --ray" in result.err


def test_readme_example_runs(run_cli, ray_session, tmp_path, monkeypatch) -> None:
    """The README's Ray section, as written."""
    monkeypatch.chdir(tmp_path)
    section = README.read_text().split("### Score millions of rows on Ray\n", 1)[1]
    block = re.findall(r"```bash\n(.*?)```", section.split("\n#", 1)[0], flags=re.S)[0]
    (command,) = [line for line in block.splitlines() if line.startswith("rewardlab ")]
    result = run_cli(*shlex.split(command)[1:])
    assert result.code == 0, result.err
    parts = sorted((tmp_path / "scores").glob("part-*.jsonl"))
    rows = [json.loads(line) for part in parts for line in part.read_text().splitlines()]
    assert len(rows) == 819 and all(len(r["rewards"]) == 4 for r in rows)
    assert len({r["id"] for r in rows}) == 819


def test_unreachable_address_and_unstreamable_file_are_errors(run_cli, gsm_clean, tmp_path,
                                                              unused_port) -> None:
    result = run_cli("score", "verify:math", gsm_clean, "--out", tmp_path / "o", "--ray",
                     "--address", f"127.0.0.1:{unused_port}", "--connect-timeout", "2")
    assert result.code == 2 and "cannot reach the Ray cluster at 127.0.0.1" in result.err
    array = tmp_path / "rows.json"
    array.write_text('[{"prompt": "p", "chosen": "a", "rejected": "b"}]')
    result = run_cli("score", "verify:math", array, "--out", tmp_path / "o", "--ray")
    assert result.code == 2
    assert "scoring with Ray streams JSON Lines or Parquet" in " ".join(result.err.split())
