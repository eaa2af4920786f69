"""Readers: every file type yields rows with the line (or row) they start on."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rewardlab.data._readers import file_type, iter_raw_rows
from rewardlab.errors import DataError


def rows_of(path: Path) -> list:
    return list(iter_raw_rows(path)[1])


def test_jsonl_lines_skip_blank_lines_and_keep_numbers(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2}\r\n')
    rows = rows_of(path)
    assert [(r.line, r.value) for r in rows] == [(1, {"a": 1}), (3, {"a": 2})]


def test_jsonl_bad_line_is_reported_with_its_line_and_reading_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"a": 1}\n{"a": \n{"a": 3}\n')
    rows = rows_of(path)
    assert rows[1].error is not None and rows[1].line == 2
    assert "malformed JSON" in str(rows[1].error) and str(rows[1].error).startswith(f"{path}:2:")
    assert rows[2].value == {"a": 3}


def test_jsonl_non_utf8_bytes_name_the_line(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'{"a": "ok"}\n{"a": "caf\xe9"}\n')
    rows = rows_of(path)
    assert rows[0].value == {"a": "ok"}
    assert rows[1].error is not None
    assert "not valid UTF-8" in str(rows[1].error) and f"{path}:2:" in str(rows[1].error)


def test_utf8_bom_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"a": 1}\n')
    assert rows_of(path)[0].value == {"a": 1}


def test_json_array_items_keep_the_line_they_start_on(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text('[\n  {"a": 1},\n  {"a": 2,\n   "b": 3}\n]\n')
    assert [(r.line, r.value) for r in rows_of(path)] == [(2, {"a": 1}), (3, {"a": 2, "b": 3})]


def test_json_file_holding_json_lines_is_read_as_lines(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text('{"a": 1}\n{"a": 2}\n')
    assert [r.value["a"] for r in rows_of(path)] == [1, 2]


def test_broken_json_array_stops_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text('[\n{"a": 1},\n{"a": }\n]')
    with pytest.raises(DataError, match=r"d\.json:3: malformed JSON"):
        rows_of(path)


def test_unclosed_json_array(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text('[{"a": 1}')
    with pytest.raises(DataError, match="not closed"):
        rows_of(path)


def test_csv_rows_are_dicts_with_start_lines_even_with_multiline_cells(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text('prompt,chosen,rejected\nq1,"line one\nline two",b\nq2,c,d\n')
    rows = rows_of(path)
    assert rows[0].line == 2 and rows[0].value["chosen"] == "line one\nline two"
    assert rows[1].line == 4 and rows[1].value == {"prompt": "q2", "chosen": "c", "rejected": "d"}


def test_csv_row_with_wrong_cell_count_is_a_row_error(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a,b\n1,2,3\n4,5\n")
    rows = rows_of(path)
    assert rows[0].error is not None and "3 cells" in str(rows[0].error)
    assert rows[1].value == {"a": "4", "b": "5"}


def test_tsv(tmp_path: Path) -> None:
    path = tmp_path / "d.tsv"
    path.write_text("a\tb\n1\t2\n")
    assert rows_of(path)[0].value == {"a": "1", "b": "2"}


def test_parquet_rows_are_numbered_as_rows(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    pq.write_table(pa.table({"chosen": ["x", "y"], "rejected": ["z", "w"]}), path)
    unit, rows = iter_raw_rows(path)
    rows = list(rows)
    assert unit == "row"
    assert [(r.line, r.value["chosen"]) for r in rows] == [(1, "x"), (2, "y")]


def test_corrupt_parquet_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    path.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(DataError, match="not a readable Parquet file"):
        rows_of(path)


def test_unknown_suffix_is_sniffed(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text(json.dumps({"a": 1}) + "\n")
    assert file_type(path) == "jsonl"
    path.write_text("hello")
    with pytest.raises(DataError, match="cannot tell the file type"):
        file_type(path)


@pytest.mark.parametrize("text", ['[{"a": 1}, {"a": 2}]\n', '[\n  {"a": 1}\n]\n'])
def test_a_json_array_saved_as_jsonl_says_to_name_it_json(tmp_path: Path, text: str) -> None:
    from rewardlab.data import load_dataset

    path = tmp_path / "d.jsonl"
    path.write_text(text)
    with pytest.raises(DataError, match=r"d.jsonl:1: .* starts like a JSON array: name it "
                                        r"\.json"):
        load_dataset(path)
