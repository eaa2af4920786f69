"""Read raw rows from JSONL, JSON, CSV/TSV and Parquet files, keeping each row's location.

A reader never stops at a bad row it can step over (a malformed JSON line, bytes that are not
UTF-8): it yields the row with its error, so ``--skip-invalid`` can report it and go on. Errors
that leave the rest of the file unreadable (a broken JSON array, a corrupt Parquet file) are
raised at once.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardlab.data._records import SkippedRow
from rewardlab.errors import DataError

__all__ = ["FILE_TYPES", "RawRow", "file_type", "iter_raw_rows"]

FILE_TYPES = ("jsonl", "json", "csv", "tsv", "parquet")
_SUFFIXES = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".csv": "csv",
    ".tsv": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class RawRow:
    """A row as read from its file: its 1-based line (or row) number and its parsed value.

    ``error`` is set instead of ``value`` when the row itself could not be parsed.
    """

    line: int
    value: Any = None
    error: DataError | None = None
    text: str | None = None

    def json_object(self, file: str, location: str) -> dict[str, Any]:
        """The row's fields; the reader's error for a row that could not be read, or one
        naming the row when its JSON is not an object."""
        if self.error is not None:
            raise self.error
        if not isinstance(self.value, dict):
            raise DataError(
                f"must be a JSON object with named fields, got {type(self.value).__name__}",
                file=file, line=self.line, location=location)
        return self.value

    def skipped(self, exc: DataError) -> SkippedRow:
        """This row left out for ``exc``, keeping what was read of it (its value, or the
        start of its text when it could not be parsed)."""
        return SkippedRow(exc.file, exc.line, exc.field, exc.reason,
                          self.value if self.error is None else self.text)


def file_type(path: Path) -> str:
    """The file's type from its suffix, or by sniffing its first bytes if the suffix is unknown."""
    kind = _SUFFIXES.get(path.suffix.lower())
    if kind is not None:
        return kind
    with path.open("rb") as fh:
        head = fh.read(4096)
    if head.startswith(b"PAR1"):
        return "parquet"
    stripped = head.removeprefix(_BOM).lstrip()
    if stripped.startswith(b"["):
        return "json"
    if stripped.startswith(b"{"):
        return "jsonl"
    raise DataError(
        f"cannot tell the file type from the suffix '{path.suffix}'; "
        "use .jsonl, .json, .csv, .tsv or .parquet",
        file=str(path),
    )


def iter_raw_rows(path: Path) -> tuple[str, Iterator[RawRow]]:
    """Open ``path`` and return ``(location unit, rows)``; the unit is ``"line"`` or ``"row"``."""
    kind = file_type(path)
    if kind == "parquet":
        return "row", _parquet_rows(path)
    if kind == "jsonl":
        return "line", _jsonl_rows(path)
    if kind == "json":
        data = path.read_bytes()
        # A .json file that is really JSON Lines is common (HF `to_json` writes lines).
        if data.removeprefix(_BOM).lstrip().startswith(b"{"):
            return "line", _jsonl_rows(path)
        return "line", _json_array_rows(path, data)
    return "line", _csv_rows(path, delimiter="\t" if kind == "tsv" else ",")


def _decode(raw: bytes, path: Path, line: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataError(
            f"the bytes are not valid UTF-8 (byte 0x{raw[exc.start]:02x} at column "
            f"{exc.start + 1}); re-encode the file as UTF-8",
            file=str(path),
            line=line,
        ) from None


def jsonl_row(raw: bytes, number: int, source: Path | str) -> RawRow | None:
    """Line ``number`` (1-based) of a JSON Lines file as a ``RawRow``, or None when it is
    blank. A bad line becomes a row holding its error (named after ``source``), so a reader
    can skip it or stop; shared by whole-file reading and Ray's byte-range shards."""
    if number == 1:
        raw = raw.removeprefix(_BOM)
    raw = raw.rstrip(b"\r\n")
    if not raw.strip():
        return None
    try:
        text = _decode(raw, Path(source), number)
    except DataError as exc:
        return RawRow(number, error=exc, text=raw.decode("utf-8", "replace")[:200])
    try:
        return RawRow(number, value=json.loads(text))
    except json.JSONDecodeError as exc:
        err = DataError(f"malformed JSON: {exc.msg} (column {exc.colno})", file=str(source),
                        line=number)
        return RawRow(number, error=err, text=text[:200])


def _jsonl_rows(path: Path) -> Iterator[RawRow]:
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, start=1):
            row = jsonl_row(raw, number, path)
            if row is not None:
                yield row


def _json_array_rows(path: Path, data: bytes) -> Iterator[RawRow]:
    """Walk a top-level JSON array item by item so each row keeps the line it starts on."""
    data = data.removeprefix(_BOM)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(
            "the bytes are not valid UTF-8; re-encode the file as UTF-8", file=str(path), line=line
        ) from None
    decoder = json.JSONDecoder()
    pos = _skip_ws(text, 0)
    if not text.startswith("[", pos):
        raise DataError(
            "a .json file must hold an array of row objects (or one object per line)",
            file=str(path),
            line=text.count("\n", 0, pos) + 1,
        )
    pos, line, counted = _skip_ws(text, pos + 1), 1, 0
    while pos < len(text) and text[pos] != "]":
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            value, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"malformed JSON: {exc.msg} (column {exc.colno}); the rest of the array "
                "cannot be read",
                file=str(path),
                line=exc.lineno,
            ) from None
        yield RawRow(line, value=value)
        pos = _skip_ws(text, end)
        if pos < len(text) and text[pos] == ",":
            pos = _skip_ws(text, pos + 1)
        elif pos < len(text) and text[pos] != "]":
            raise DataError(
                "malformed JSON: expected ',' or ']' after an array item",
                file=str(path),
                line=text.count("\n", 0, pos) + 1,
            )
    if pos >= len(text):
        raise DataError("malformed JSON: the array is not closed", file=str(path))


def _skip_ws(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _csv_rows(path: Path, *, delimiter: str) -> Iterator[RawRow]:
    data = path.read_bytes().removeprefix(_BOM)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataError(
            "the bytes are not valid UTF-8; re-encode the file as UTF-8", file=str(path), line=line
        ) from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as exc:
        raise DataError(f"malformed CSV header: {exc}", file=str(path), line=1) from None
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(f"malformed CSV: {exc}", file=str(path), line=start) from None
        if cells:
            if len(cells) != len(header):
                err = DataError(
                    f"has {len(cells)} cells but the header names {len(header)} columns",
                    file=str(path),
                    line=start,
                )
                yield RawRow(start, error=err, text=delimiter.join(cells)[:200])
            else:
                yield RawRow(start, value=dict(zip(header, cells, strict=True)))
        start = reader.line_num + 1


def _parquet_rows(path: Path) -> Iterator[RawRow]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"not a readable Parquet file ({exc})", file=str(path)) from None
    number = 0
    try:
        for batch in parquet.iter_batches(batch_size=4096):
            for value in batch.to_pylist():
                number += 1
                yield RawRow(number, value=value)
    except (pa.ArrowException, OSError) as exc:
        raise DataError(
            f"the Parquet file is corrupt after row {number} ({exc})", file=str(path)
        ) from None
