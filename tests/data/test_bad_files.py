"""Files that used to be read wrongly or without bound (issue 18 defects 1 and 2, duplicate
CSV columns, the all-invalid message): each is one clear error naming the file and where."""

from __future__ import annotations

import json
import os
import re
import tracemalloc
from pathlib import Path

import pytest

from rewardlab.data import iter_raw_rows, load_dataset, resolve_source
from rewardlab.errors import DataError

ROW = {"prompt": "p", "chosen": "good", "rejected": "bad"}


def test_a_symlink_to_dev_zero_is_refused_before_reading(tmp_path: Path) -> None:
    link = tmp_path / "zero.jsonl"
    link.symlink_to("/dev/zero")
    with pytest.raises(DataError, match=r"zero\.jsonl: is not a regular file \(a device\)"):
        load_dataset(link)
    with pytest.raises(DataError, match="is not a regular file"):
        iter_raw_rows(link)


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.jsonl"
    os.mkfifo(fifo)
    with pytest.raises(DataError, match=r"pipe\.jsonl: is not a regular file \(a FIFO\)"):
        load_dataset(fifo)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="is a directory"):
        resolve_source(tmp_path)


def test_an_enormous_line_is_an_error_and_is_never_held_in_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    with path.open("wb") as fh:
        fh.write(json.dumps(ROW).encode() + b"\n")
        fh.write(b'{"prompt": "' + b"x" * 8_000_000 + b'"}\n')
        fh.write(json.dumps(ROW).encode() + b"\n")
    tracemalloc.start()
    try:
        _, rows = iter_raw_rows(path, max_line_bytes=100_000)
        read = list(rows)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4_000_000  # the 8 MB line was read past in chunks, never whole
    assert [r.line for r in read] == [1, 2, 3]
    assert read[0].value == ROW and read[2].value == ROW
    err = read[1].error
    assert err is not None and (err.file, err.line) == (str(path), 2)
    assert "8,000,015 bytes long, over the 100,000 bytes" in err.reason


def test_the_line_limit_follows_max_chars(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(ROW) + "\n")
    assert len(load_dataset(path, max_chars=10)) == 1  # the limit never falls below 64 MiB


def test_json_with_two_arrays_is_an_error_naming_the_position(tmp_path: Path) -> None:
    path = tmp_path / "two.json"
    path.write_text(json.dumps([ROW]) + "\n\n  " + json.dumps([ROW, ROW]) + "\n")
    with pytest.raises(DataError, match=r"two\.json:3: more text after the array ends "
                                        r"\(column 3: '\[\{"):
        load_dataset(path)
    path.write_text(json.dumps([ROW]) + " trailing")
    with pytest.raises(DataError, match=r"two\.json:1: more text after the array ends "
                                        r"\(column \d+: 'trailing'\)"):
        load_dataset(path, skip_invalid=True)
    path.write_text(json.dumps([ROW], indent=2) + "\n\n")  # trailing whitespace is fine
    assert len(load_dataset(path)) == 1


def test_csv_with_two_columns_of_one_name_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("prompt,chosen,rejected,chosen\np,good,bad,worse\n")
    with pytest.raises(DataError, match=r"d\.csv:1: field 'chosen': columns 2 and 4 are both "
                                        "named 'chosen'"):
        load_dataset(path)


def test_all_invalid_message_names_no_field_when_the_row_has_none(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text('{"question": "q", "output": "o"}\n[1]\n')
    with pytest.raises(DataError) as info:
        load_dataset(path, skip_invalid=True)
    text = str(info.value)
    assert "None" not in text
    assert "none of its 2 rows is valid; the first problem, at line 1: cannot tell" in text


@pytest.mark.parametrize(("row", "field"), [
    ('{"prompt": "p", "chosen": "ok \\ud800", "rejected": "bad"}', "chosen"),
    ('{"prompt": [{"role": "user", "content": "\\udc00"}], "response": "r"}',
     "prompt[0].content"),
    ('{"prompt": "p", "responses": ["a", "b \\udfff"]}', "responses[1]"),
])
def test_a_lone_surrogate_escape_is_named_by_line_and_field(tmp_path: Path, row: str,
                                                             field: str) -> None:
    """Valid JSON, but not a character: refused when read, not by a tokenizer later."""
    path = tmp_path / "s.jsonl"
    path.write_text(row + "\n")
    with pytest.raises(DataError, match=rf"s\.jsonl:1: field '{re.escape(field)}': holds a lone "
                                        r"UTF-16 surrogate \(\\ud[89a-f]\w\w at character \d\)"):
        load_dataset(path)


def test_a_surrogate_pair_is_one_character_and_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "emoji.jsonl"
    path.write_text('{"prompt": "p", "response": "\\ud83d\\ude00"}\n')
    assert load_dataset(path).records[0].response == "\U0001f600"


@pytest.mark.parametrize(("name", "text", "reference"), [
    ("blank.jsonl", '{"prompt": "q", "response": "#### 4", "reference": ""}\n', None),
    ("spaces.jsonl", '{"prompt": "q", "response": "#### 4", "reference": "  \\n"}\n', None),
    ("cell.csv", "prompt,response,reference\nq,#### 4,\n", None),
    ("next.jsonl", '{"prompt": "q", "response": "#### 4", "reference": "", "answer": "4"}\n',
     "4"),
    ("nan.jsonl", '{"prompt": "q", "response": "#### nan", "reference": NaN}\n', None),
])
def test_a_blank_reference_is_no_reference(tmp_path: Path, name: str, text: str,
                                           reference: str | None) -> None:
    """As in the server: a verifier then names the row, instead of scoring it 0 silently."""
    from rewardlab import api

    path = tmp_path / name
    path.write_text(text)
    assert load_dataset(path).records[0].reference == reference
    if reference is None:
        with pytest.raises(DataError, match=rf"{name}:\d: field 'reference': has no reference"):
            api.score("verify:math", path, out=tmp_path / "out.jsonl")


@pytest.mark.parametrize(("row", "message"), [
    ({"prompt": "p", "responses": []}, "field 'responses': must be a non-empty list, got an "
                                       "empty list"),
    ({"messages": []}, "field 'messages': must be a non-empty list of {'role', 'content'} "
                       "messages, got an empty list"),
    ({"prompt": "p", "chosen": "a", "rejected": "b", "id": {}}, "field 'id': must be a string "
                                                                "or an integer, got an empty "
                                                                "object"),
])
def test_an_empty_list_is_called_empty(tmp_path: Path, row: dict, message: str) -> None:
    """Not ``must be a non-empty list, got list``."""
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(DataError, match=re.escape(f"e.jsonl:1: {message}")):
        load_dataset(path)


def test_an_infinite_reference_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "inf.jsonl"
    path.write_text('{"prompt": "q", "response": "#### inf", "answer": Infinity}\n')
    with pytest.raises(DataError, match=r"inf\.jsonl:1: field 'answer': is inf, which is no "
                                        "reference answer"):
        load_dataset(path)


@pytest.mark.parametrize("name", ["pretty.jsonl", "pretty.json"])
def test_pretty_printed_json_lines_say_so(tmp_path: Path, name: str) -> None:
    """Not only ``malformed JSON: Expecting property name ... (column 2)`` at line 1."""
    path = tmp_path / name
    path.write_text(json.dumps(ROW, indent=2) + "\n")
    with pytest.raises(DataError, match=rf"{name}:1: malformed JSON: .*; JSON Lines holds one "
                                        "whole object per line, .*pretty-printed"):
        load_dataset(path)
