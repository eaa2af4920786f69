"""One shard scored without Ray: the part equals ``rewardlab score`` on those rows, and a
shard that fails leaves nothing behind that could pass for output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewardlab import resolve
from rewardlab.errors import DataError
from rewardlab.scale import ShardJob, plan_job, score_shard
from rewardlab.scale._manifest import read_marker


def _job(plan, out: Path, **options) -> ShardJob:
    return ShardJob(path=str(plan.path), file_type=plan.file_type, source=plan.source,
                    location=plan.location, task=plan.task, out=str(out),
                    output_format="jsonl", columns=("id", "rewards"), chunk_rows=7,
                    **options)


def test_a_shard_part_is_the_score_output_of_its_rows(gsm_bad, tmp_path, reference_scores
                                                      ) -> None:
    plan = plan_job(gsm_bad, shard_rows=40)
    out = tmp_path / "out"
    out.mkdir()
    model = resolve("verify:math")
    marker = score_shard(model, _job(plan, out, skip_invalid=True), plan.shards[1])
    rows = [json.loads(line) for line in (out / "part-00001.jsonl").read_text().splitlines()]
    reference = reference_scores(gsm_bad, skip_invalid=True)
    assert rows == reference[39:78]  # shards 0 and 1 each lose one row to skipping
    assert (marker["rows"], marker["records"], marker["skipped"]) == (40, 39, 1)
    assert read_marker(out, "00001", "jsonl") == marker
    skipped = json.loads((out / "_shards" / "00001.skipped.jsonl").read_text())
    assert skipped["line"] == 51 and skipped["row"] == [1, 2]
    # a part whose size no longer matches its marker is not a finished shard
    with (out / "part-00001.jsonl").open("a") as fh:
        fh.write("{}\n")
    assert read_marker(out, "00001", "jsonl") is None


def test_a_failing_shard_leaves_no_part_and_no_temporary(gsm_bad, tmp_path) -> None:
    plan = plan_job(gsm_bad, shard_rows=40)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(DataError, match=r"gsm_bad.jsonl:51: must be a JSON object"):
        score_shard(resolve("verify:math"), _job(plan, out), plan.shards[1])
    assert list(out.rglob("*")) == []


def test_parquet_parts_keep_judge_columns_and_refuse_surprises(tmp_path) -> None:
    import pyarrow.parquet as pq

    from rewardlab.errors import OutputError
    from rewardlab.scale._shard import _PartWriter

    columns = ("id", "reward_chosen", "reward_rejected", "chosen_shown_first", "judgment")
    writer = _PartWriter(tmp_path / "part-00000.parquet", "parquet", columns)
    writer.write([{"id": 1, "reward_chosen": 0.8, "reward_rejected": 0.2,
                   "chosen_shown_first": True, "judgment": {"p": 0.8}},
                  {"id": "b", "reward_chosen": None, "reward_rejected": None,
                   "chosen_shown_first": False, "judgment": {"p": None}, "reason": "no verdict"}])
    writer.commit()
    rows = pq.read_table(tmp_path / "part-00000.parquet").to_pylist()
    assert rows[0] == {"id": "1", "reward_chosen": 0.8, "reward_rejected": 0.2,
                       "chosen_shown_first": True, "judgment": '{"p": 0.8}', "reason": None}
    assert rows[1]["reason"] == "no verdict" and rows[1]["reward_chosen"] is None
    writer = _PartWriter(tmp_path / "part-00001.parquet", "parquet", ("id", "reward"))
    with pytest.raises(OutputError, match=r"column\(s\) extra.*use --output-format jsonl"):
        writer.write([{"id": 1, "reward": 1.0, "extra": 2}])
    writer.discard()
    assert not list(tmp_path.glob(".*"))


def test_parquet_parts_keep_a_verifiers_reasons_as_lists_and_booleans(tmp_path) -> None:
    import pyarrow.parquet as pq

    from rewardlab.data import load_dataset
    from rewardlab.scale._shard import _PartWriter
    from rewardlab.scoring import iter_scored_rows

    data = load_dataset("bundled:gsm8k_examples", limit=3)
    best_of_n = list(iter_scored_rows(resolve("verify:math"), data))
    writer = _PartWriter(tmp_path / "part-00000.parquet", "parquet", tuple(best_of_n[0]))
    writer.write(best_of_n)
    writer.commit()
    back = pq.read_table(tmp_path / "part-00000.parquet").to_pylist()
    assert [r["reasons"] for r in back] == [r["reasons"] for r in best_of_n]
    assert set(back[0]["reasons"]) <= {"correct", "wrong-answer", "no-answer"}
    point = {"id": 0, "reward": 1.0, "correct": True, "reason": "correct", "answer": "4"}
    writer = _PartWriter(tmp_path / "part-00001.parquet", "parquet", tuple(point))
    writer.write([point])
    writer.commit()
    assert pq.read_table(tmp_path / "part-00001.parquet").to_pylist() == [point | {"id": "0"}]
