"""Loading whole files: detection, overrides, skipping with reasons, and file-level errors."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rewardlab.data import BUNDLED, bundled_path, load_dataset, require_task
from rewardlab.errors import DataError

ROWS = [
    {"prompt": "p1", "chosen": "good", "rejected": "bad"},
    {"prompt": "p2", "chosen": "nice", "rejected": "nice"},  # identical: invalid
    {"prompt": "p3", "chosen": "fine", "rejected": "poor"},
]


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_every_file_type_gives_the_same_records(tmp_path: Path) -> None:
    good = [ROWS[0], ROWS[2]]
    jsonl = write_jsonl(tmp_path / "d.jsonl", good)
    js = tmp_path / "d.json"
    js.write_text(json.dumps(good, indent=1))
    csv = tmp_path / "d.csv"
    csv.write_text("prompt,chosen,rejected\np1,good,bad\np3,fine,poor\n")
    parquet = tmp_path / "d.parquet"
    pq.write_table(pa.Table.from_pylist(good), parquet)
    seen = [[(r.prompt, r.chosen, r.rejected, r.id) for r in load_dataset(p)]
            for p in (jsonl, js, csv, parquet)]
    assert all(s == seen[0] for s in seen)
    assert seen[0] == [("p1", "good", "bad", 0), ("p3", "fine", "poor", 1)]


def test_skip_invalid_keeps_the_rest_and_reports_each_skipped_row(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n{broken\n" + json.dumps(ROWS[1]) + "\n"
                    + json.dumps(ROWS[2]) + "\n")
    data = load_dataset(path, skip_invalid=True)
    assert [r.id for r in data] == [0, 3]  # ids are positions in the file, skipped rows count
    assert [(s.line, s.field) for s in data.skipped] == [(2, None), (3, "rejected")]
    assert "malformed JSON" in data.skipped[0].reason and data.skipped[0].raw == "{broken"
    assert data.skipped[1].raw == ROWS[1]


def test_without_skip_the_first_bad_row_stops_the_load(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"d\.jsonl:2: field 'rejected': is identical"):
        load_dataset(write_jsonl(tmp_path / "d.jsonl", ROWS))


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jsonl"
    path.write_text("")
    with pytest.raises(DataError, match=r"empty\.jsonl: the file holds no rows"):
        load_dataset(path)


def test_file_where_every_row_is_invalid(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [ROWS[1], ROWS[1]])
    with pytest.raises(DataError, match="none of its 2 rows is valid"):
        load_dataset(path, skip_invalid=True)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.jsonl: no such file"):
        load_dataset(tmp_path / "nope.jsonl")
    with pytest.raises(DataError, match="is a directory"):
        load_dataset(tmp_path)


def test_unrecognised_fields_suggest_the_layouts(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"question": "q", "output": "o"}])
    with pytest.raises(DataError, match=r"d\.jsonl:1: cannot tell the data format .*--format"):
        load_dataset(path)


def test_format_override_reads_rows_with_that_parser(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "p", "response": "r", "score": 1,
                                               "chosen": "x", "rejected": "y"}])
    assert load_dataset(path).task == "pairwise"
    assert load_dataset(path, format="pointwise").task == "pointwise"
    with pytest.raises(DataError, match="unknown format"):
        load_dataset(path, format="triples")  # type: ignore[arg-type]


def test_non_object_row(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [[1, 2]])
    with pytest.raises(DataError, match="must be a JSON object"):
        load_dataset(path)


def test_limit_reads_only_the_first_valid_rows() -> None:
    assert len(load_dataset("bundled:hh_harmless", limit=5)) == 5


def test_bundled_sets_exist_with_their_licenses() -> None:
    for name in BUNDLED:
        path = bundled_path(name)
        assert path.is_file() and (path.parent / "LICENSE").is_file()
    with pytest.raises(DataError, match="no bundled data set named 'nope'"):
        bundled_path("nope")


def test_bundled_hh_reads_every_row() -> None:
    data = load_dataset("bundled:hh_harmless")
    assert len(data) == 1812 and not data.skipped and data.form == "hh"


def test_require_task_names_the_file() -> None:
    data = load_dataset("bundled:gsm8k_examples", limit=1)
    with pytest.raises(DataError, match="bundled:gsm8k_examples: training needs pairwise data"):
        require_task(data, ("pairwise",), purpose="training")
