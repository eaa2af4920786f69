"""Ray scoring end to end on a real local Ray: exactly-once output equal to ``rewardlab score``,
resume after a killed worker and a killed driver, refusal of another job's directory, and the
errors that must come before any worker starts."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from _tolerance import fp32_tol
from rewardlab.errors import (
    DataError,
    ModelFormatError,
    OutputError,
    UnknownKindError,
)
from rewardlab.scale import ClusterError, check_reachable, score_distributed


def test_every_row_exactly_once_equal_to_score_without_ray(finished_job, gsm_bad,
                                                            reference_scores, read_parts) -> None:
    result, out = finished_job
    rows = read_parts(out)
    assert rows == reference_scores(gsm_bad, skip_invalid=True)  # same rows, columns, order
    assert len({r["id"] for r in rows}) == len(rows) == 299
    assert (result.n_input_rows, result.n_rows, result.n_skipped) == (302, 299, 3)
    assert result.n_shards == result.shards_scored == 8 and result.workers == 2
    skipped = [json.loads(line) for line in (out / "_skipped.jsonl").read_text().splitlines()]
    assert [(s["line"], s["field"]) for s in skipped] == [(11, None), (51, None),
                                                          (201, "question")]
    assert "malformed JSON" in skipped[0]["reason"] and skipped[1]["row"] == [1, 2]
    assert [s.line for s in result.skipped] == [11, 51, 201]
    assert not list(out.glob(".*")) and not list((out / "_shards").glob(".*"))
    # the verifier's reasons, tallied over every shard as score without Ray tallies them
    tally = Counter(reason for r in rows for reason in r["reasons"])
    assert dict(result.reasons) == dict(tally) and sum(tally.values()) > 299


def test_the_same_command_again_redoes_nothing(finished_job, gsm_bad) -> None:
    _, out = finished_job
    mtimes = {p: p.stat().st_mtime_ns for p in out.glob("part-*")}
    again = score_distributed("verify:math", gsm_bad, out=out, shard_rows=40, workers=2,
                              skip_invalid=True)
    assert (again.shards_resumed, again.shards_scored, again.n_rows) == (8, 0, 299)
    assert again.reasons == finished_job[0].reasons  # read back from the shards' markers
    assert {p: p.stat().st_mtime_ns for p in out.glob("part-*")} == mtimes


@pytest.mark.slow
def test_a_trained_model_reaches_the_workers_and_parquet_reads_as_one_table(
        ray_session, trained_embed, hh_small, tmp_path) -> None:
    """A saved ``embed:`` head travels through the object store; the parts hold the same
    rewards as scoring in this process."""
    model_dir = trained_embed.save(tmp_path / "rm")
    data = tmp_path / "pairs.parquet"
    pairs = [{"id": f"p{i}", "prompt": r.prompt if isinstance(r.prompt, str) else
              "\n".join(m.content for m in r.prompt), "chosen": r.chosen,
              "rejected": r.rejected} for i, r in enumerate(hh_small[0].records[:40])]
    pq.write_table(pa.Table.from_pylist(pairs), data, row_group_size=16)
    out = tmp_path / "pq"
    result = score_distributed(str(model_dir), data, out=out, shard_rows=15,
                               output_format="parquet", workers=1)
    table = pq.read_table(out)  # _job.json and _shards/ are ignored by name
    assert result.n_rows == table.num_rows == 40 and result.shards_scored == 3
    assert table.column_names == ["id", "reward_chosen", "reward_rejected"]
    assert table.column("id").to_pylist() == [p["id"] for p in pairs]
    local = trained_embed.score([p["prompt"] for p in pairs], [p["chosen"] for p in pairs])
    np.testing.assert_allclose(table.column("reward_chosen").to_numpy(), local,
                               **fp32_tol(local))  # other threads, other batches


@pytest.mark.slow
def test_a_bad_row_stops_the_job_with_its_line(ray_session, gsm_bad, gsm_clean, tmp_path
                                               ) -> None:
    # in the first shard: found by the driver before any worker starts
    with pytest.raises(DataError, match=r"gsm_bad.jsonl:11: malformed JSON"):
        score_distributed("verify:math", gsm_bad, out=tmp_path / "a", shard_rows=40)
    assert not (tmp_path / "a").exists()
    # further on: found by a worker, reported with the same message; finished shards stay
    lines = gsm_clean.read_text().splitlines()[:60]
    lines[45] = "[1, 2]"
    late = tmp_path / "late.jsonl"
    late.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"late.jsonl:46: must be a JSON object"):
        score_distributed("verify:math", late, out=tmp_path / "b", shard_rows=20)
    assert not (tmp_path / "b" / "part-00002.jsonl").exists()


@pytest.mark.slow
def test_a_killed_worker_is_replaced_and_nothing_is_lost(ray_session, gsm_clean, tmp_path,
                                                         reference_scores, read_parts) -> None:
    out = tmp_path / "kill"
    killed: dict[str, int] = {}

    def kill_a_worker() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            markers = sorted((out / "_shards").glob("*[0-9].json"))
            if len(markers) >= 3:
                pid = int(json.loads(markers[-1].read_text())["worker"].rsplit(":", 1)[1])
                os.kill(pid, signal.SIGKILL)
                killed.update(pid=pid, finished=len(markers))
            time.sleep(0.005)

    killer = threading.Thread(target=kill_a_worker)
    killer.start()
    result = score_distributed("verify:math", gsm_clean, out=out, shard_rows=8, workers=2)
    killer.join()
    assert killed, "the job ended before a worker could be killed"
    assert killed["finished"] < result.n_shards == 30
    assert read_parts(out) == reference_scores(gsm_clean)
    # the killed worker had committed shards (its marker was read before the kill), and is
    # gone; Ray restarted it and retried what it held, so nothing is missing or doubled. A
    # shard it had finished may be scored again by the retry and its marker rewritten by
    # another worker: committing is idempotent, so the parts above are still exact.
    with pytest.raises(ProcessLookupError):
        os.kill(killed["pid"], 0)


@pytest.mark.slow
def test_a_killed_driver_is_resumed_by_the_same_command(ray_session, gsm_clean, tmp_path,
                                                        reference_scores, read_parts) -> None:
    out = tmp_path / "resume"
    address = ray_session.get_runtime_context().gcs_address
    cmd = [sys.executable, "-m", "rewardlab.cli", "--no-progress", "score", "verify:math",
           str(gsm_clean), "--out", str(out), "--ray", "--address", address, "--shard-rows", "8",
           "--workers", "2"]
    driver = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while len(list((out / "_shards").glob("*[0-9].json"))) < 5:
            assert driver.poll() is None, "the driver ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        driver.send_signal(signal.SIGKILL)
        driver.wait(30)
    finally:
        if driver.poll() is None:
            driver.kill()
    finished = len(list((out / "_shards").glob("*[0-9].json")))
    assert 5 <= finished < 30
    result = score_distributed("verify:math", gsm_clean, out=out, shard_rows=8, workers=2)
    assert result.shards_resumed >= finished  # a committed shard is never redone
    assert result.shards_resumed + result.shards_scored == 30 and result.shards_scored > 0
    assert read_parts(out) == reference_scores(gsm_clean)


def test_another_jobs_directory_is_refused_untouched(finished_job, gsm_bad, gsm_clean,
                                                     tmp_path) -> None:
    _, out = finished_job
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    with pytest.raises(OutputError, match=r"holds the shards of a different scoring job.*"
                       r"options.shard_rows: 40 there, 60 now.*Use a new --out"):
        score_distributed("verify:math", gsm_bad, out=out, shard_rows=60, skip_invalid=True)
    with pytest.raises(OutputError, match=r"different scoring job.*input.blake2b"):
        score_distributed("verify:math", gsm_clean, out=out, shard_rows=40, skip_invalid=True)
    with pytest.raises(OutputError, match=r"different scoring job.*model: 'verify:math' "
                       r"there, 'verify:math\?fallback=last-number' now"):
        score_distributed("verify:math?fallback=last-number", gsm_bad, out=out, shard_rows=40,
                          skip_invalid=True)
    parts = {p: p.stat().st_mtime_ns for p in out.glob("part-*")}
    assert parts == {p: t for p, t in before.items() if p.name.startswith("part-")}
    # the same bytes under another path are the same input: resumed, not refused
    moved = tmp_path / "moved.jsonl"
    moved.write_bytes(gsm_bad.read_bytes())
    again = score_distributed("verify:math", moved, out=out, shard_rows=40, skip_invalid=True)
    assert (again.shards_resumed, again.shards_scored) == (8, 0)
    assert {p: p.stat().st_mtime_ns for p in out.glob("part-*")} == parts
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(OutputError, match=r"not empty and has no _job\.json"):
        score_distributed("verify:math", gsm_clean, out=foreign)
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="it is a file; with --ray, --out names a directory"):
        score_distributed("verify:math", gsm_clean, out=tmp_path / "file")


def test_an_unreachable_address_fails_in_seconds(ray_session, gsm_clean, tmp_path,
                                                 unused_port) -> None:
    start = time.monotonic()
    with pytest.raises(ClusterError, match=r"cannot reach the Ray cluster at 127.0.0.1:\d+ "
                       r"\(Connection refused.*leave out --address"):
        score_distributed("verify:math", gsm_clean, out=tmp_path / "o",
                          address=f"127.0.0.1:{unused_port}")
    with pytest.raises(ClusterError, match=r"no-such-host\.invalid \("):
        score_distributed("verify:math", gsm_clean, out=tmp_path / "o",
                          address="no-such-host.invalid")
    # a port that accepts connections but never answers (a firewall, a hung process)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with pytest.raises(ClusterError, match=rf"127.0.0.1:{port} \(no answer; waited at "
                           r"most 1 s\)"):
            score_distributed("verify:math", gsm_clean, out=tmp_path / "o",
                              address=f"ray://127.0.0.1:{port}", connect_timeout=1.0)
    assert time.monotonic() - start < 6
    assert not (tmp_path / "o").exists()
    # the real head answers the same check
    check_reachable(ray_session.get_runtime_context().gcs_address, timeout=5)


def test_a_model_that_cannot_score_fails_before_any_worker(gsm_clean, tmp_path) -> None:
    out = tmp_path / "o"
    with pytest.raises(UnknownKindError, match="unknown model kind 'verfy'"):
        score_distributed("verfy:math", gsm_clean, out=out)
    with pytest.raises(ModelFormatError, match="no model directory"):
        score_distributed(str(tmp_path / "no-such-model/"), gsm_clean, out=out)
    # a verifier needs reference answers: pairs may carry one (a rubric's), these have none
    with pytest.raises(DataError, match="hh_harmless:1: field 'reference'"):
        score_distributed("verify:math", "bundled:hh_harmless", out=out)
    assert not out.exists()
