"""Shard planning and shard reading, without Ray: the cut depends only on the input, and
reading every shard gives back exactly the loader's rows."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rewardlab.data import iter_raw_rows, load_dataset
from rewardlab.errors import ConfigError, DataError
from rewardlab.scale import plan_job
from rewardlab.scale._rows import iter_record_chunks, iter_shard_rows


def _rows_of(plan) -> list:
    return [r for s in plan.shards
            for r in iter_shard_rows(plan.path, plan.file_type, s, source=plan.source)]


def test_jsonl_shards_cover_every_row_once_with_the_loaders_lines(gsm_bad: Path) -> None:
    plan = plan_job(gsm_bad, shard_rows=37)
    whole = list(iter_raw_rows(gsm_bad)[1])
    assert plan.n_rows == len(whole) == 302  # 300 rows + 2 bad ones; the blank line is no row
    assert [s.rows for s in plan.shards] == [37] * 8 + [6]
    assert [s.first_index for s in plan.shards] == [37 * i for i in range(9)]
    ours = _rows_of(plan)
    assert [r.line for r in ours] == [r.line for r in whole]
    assert [r.value for r in ours] == [r.value for r in whole]
    assert [str(r.error) for r in ours] == [str(r.error) for r in whole]
    # byte ranges tile the file
    assert plan.shards[0].start == 0 and plan.shards[-1].end == gsm_bad.stat().st_size
    assert all(a.end == b.start for a, b in zip(plan.shards, plan.shards[1:], strict=False))


def test_plan_is_deterministic_and_digest_follows_content(gsm_clean: Path, tmp_path: Path
                                                         ) -> None:
    a, b = plan_job(gsm_clean, shard_rows=50), plan_job(gsm_clean, shard_rows=50)
    assert a.shards == b.shards and a.digest == b.digest and a.task == "best-of-n"
    copy = tmp_path / "copy.jsonl"
    copy.write_bytes(gsm_clean.read_bytes())
    assert plan_job(copy, shard_rows=50).digest == a.digest  # content, not path
    copy.write_bytes(gsm_clean.read_bytes().replace(b"Janet", b"Jane"))
    assert plan_job(copy, shard_rows=50).digest != a.digest


def test_bom_blank_lines_and_crlf_match_the_loader(tmp_path: Path) -> None:
    rows = [{"prompt": f"q{i}", "chosen": f"a{i}", "rejected": f"b{i}"} for i in range(7)]
    text = "\r\n\r\n".join(json.dumps(r) for r in rows) + "\r\n\n"
    path = tmp_path / "crlf.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    plan = plan_job(path, shard_rows=3)
    assert [s.rows for s in plan.shards] == [3, 3, 1]
    loaded = load_dataset(path)
    records = [rec for s in plan.shards for chunk in iter_record_chunks(
        iter_shard_rows(plan.path, "jsonl", s, source=str(path)), s, task="pairwise",
        source=str(path), location="line", chunk_rows=2, skip_invalid=False)
        for rec in chunk.records]
    assert records == list(loaded.records)  # same ids (row index), lines, texts


def test_parquet_shards_read_row_ranges_across_row_groups(tmp_path: Path) -> None:
    rows = [{"prompt": f"q{i}", "response": f"r{i}", "score": float(i)} for i in range(100)]
    path = tmp_path / "points.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=16)
    plan = plan_job(path, shard_rows=30)
    assert plan.task == "pointwise" and [s.rows for s in plan.shards] == [30, 30, 30, 10]
    ours = _rows_of(plan)
    assert [r.line for r in ours] == list(range(1, 101))
    assert [r.value for r in ours] == rows


def test_unstreamable_and_bad_inputs_are_refused(tmp_path: Path) -> None:
    array = tmp_path / "rows.json"
    array.write_text('[{"prompt": "p", "chosen": "a", "rejected": "b"}]')
    with pytest.raises(DataError, match=r"rows.json: scoring with Ray streams JSON Lines or "
                       "Parquet.*without --ray"):
        plan_job(array)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n")
    with pytest.raises(DataError, match="holds no rows"):
        plan_job(empty)
    with pytest.raises(DataError, match="no such file"):
        plan_job(tmp_path / "missing.jsonl")
    odd = tmp_path / "odd.jsonl"
    odd.write_text('{"text": "no layout"}\n')
    with pytest.raises(DataError, match=r"odd.jsonl:1: cannot tell the data format"):
        plan_job(odd)
    with pytest.raises(ConfigError, match=r"'shard_rows' parameter must be at least 1\. Got 0"):
        plan_job(odd, shard_rows=0)


def test_an_enormous_line_is_a_row_error_in_the_plan_and_the_shard(tmp_path: Path) -> None:
    """Issue 18, defect 1 under --ray: the planning pass and the shard reader read lines with
    a size limit, so one enormous line is a row error with its line, not a memory blow-up."""
    from rewardlab.data import DEFAULT_MAX_LINE_BYTES

    row = json.dumps({"prompt": "q", "chosen": "a", "rejected": "b"}).encode() + b"\n"
    path = tmp_path / "big.jsonl"
    with path.open("wb") as fh:
        fh.write(row)
        fh.write(b'{"prompt": "' + b"x" * DEFAULT_MAX_LINE_BYTES + b'"}\n')
        fh.write(row * 2)
    plan = plan_job(path, shard_rows=2)
    assert [s.rows for s in plan.shards] == [2, 2]
    assert plan.shards[-1].end == path.stat().st_size
    rows = _rows_of(plan)
    assert [r.line for r in rows] == [1, 2, 3, 4]
    assert rows[1].error is not None and "bytes a row may take" in rows[1].error.reason
    assert rows[2].value == rows[3].value == json.loads(row)
    small = list(iter_shard_rows(plan.path, "jsonl", plan.shards[0], source=str(path),
                                 max_line_bytes=10))
    assert [r.error is not None for r in small] == [True, True]
