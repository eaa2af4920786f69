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
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rewardlab.data._records import SkippedRow
from rewardlab.errors import DataError

__all__ = [
    "DEFAULT_MAX_LINE_BYTES",
    "FILE_TYPES",
    "RawRow",
    "check_regular",
    "file_type",
    "iter_lines",
    "iter_raw_rows",
    "jsonl_row",
    "line_limit",
    "too_long_row",
]

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
#: Longest line read into memory (64 MiB). A row is read whole before its fields are checked
#: against ``max_chars``, so without a bound one enormous line (or ``/dev/zero``) grows memory
#: without a word; 64 MiB is over 150 fields of 100,000 four-byte characters, far past any real
#: row. ``line_limit`` raises it with ``max_chars``.
DEFAULT_MAX_LINE_BYTES = 64 << 20
_CHUNK = 1 << 20


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
            hint = _ARRAY_HINT if isinstance(self.value, list) and self.line == 1 and \
                not file.lower().endswith(".json") else ""
            raise DataError(
                f"must be a JSON object with named fields, got {type(self.value).__name__}"
                f"{hint}", file=file, line=self.line, location=location)
        return self.value

    def skipped(self, exc: DataError) -> SkippedRow:
        """This row left out for ``exc``, keeping what was read of it (its value, or the
        start of its text when it could not be parsed)."""
        return SkippedRow(exc.file, exc.line, exc.field, exc.reason,
                          self.value if self.error is None else self.text)


def line_limit(max_chars: int) -> int:
    """The longest line (in bytes) read for rows whose fields hold at most ``max_chars``
    characters: ``DEFAULT_MAX_LINE_BYTES``, or more when ``--max-chars`` asks for more."""
    return max(DEFAULT_MAX_LINE_BYTES, 16 * max_chars)


class LineSource(Protocol):
    """What ``iter_lines`` reads from: a binary file, or anything with its ``readline``."""

    def readline(self, size: int = -1, /) -> bytes: ...


def iter_lines(fh: LineSource, max_bytes: int = DEFAULT_MAX_LINE_BYTES
               ) -> Iterator[tuple[bytes | None, int]]:
    """The lines of a binary file as ``(line, size)``, holding at most ``max_bytes`` of one
    line in memory: ``line`` is None for a line longer than that (its bytes are read past in
    chunks, not kept), and ``size`` is always the line's full length in bytes, newline
    included, so byte offsets stay exact."""
    while True:
        raw = fh.readline(max_bytes + 1)
        if not raw:
            return
        if len(raw) <= max_bytes or raw.endswith(b"\n"):
            yield raw, len(raw)
            continue
        size = len(raw)
        while not raw.endswith(b"\n"):
            raw = fh.readline(_CHUNK)
            if not raw:
                break
            size += len(raw)
        yield None, size


def too_long_row(source: Path | str, number: int, size: int, max_bytes: int) -> RawRow:
    """Line ``number`` as a row holding the error that it is ``size`` bytes, over
    ``max_bytes``; shared by whole-file reading and Ray's byte-range shards."""
    err = DataError(
        f"the line is {size:,} bytes long, over the {max_bytes:,} bytes a row may take (a row "
        "is read whole); raise --max-chars if this is intended, or check that this is a JSON "
        "Lines file",
        file=str(source), line=number)
    return RawRow(number, error=err, text="")


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


def iter_raw_rows(path: Path, *, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
                  ) -> tuple[str, Iterator[RawRow]]:
    """Open ``path`` and return ``(location unit, rows)``; the unit is ``"line"`` or ``"row"``.

    A JSON Lines line longer than ``max_line_bytes`` becomes a row holding its error (the
    line is not read into memory), so ``--skip-invalid`` can step over it.

    Raises:
        DataError: ``path`` is not a regular file (a FIFO, a device such as ``/dev/zero``, a
            directory), or the whole file is unreadable.
    """
    check_regular(path)
    kind = file_type(path)
    if kind == "parquet":
        return "row", _parquet_rows(path)
    if kind == "jsonl":
        return "line", _jsonl_rows(path, max_line_bytes)
    if kind == "json":
        data = path.read_bytes()
        # A .json file that is really JSON Lines is common (HF `to_json` writes lines).
        if data.removeprefix(_BOM).lstrip().startswith(b"{"):
            return "line", _jsonl_rows(path, max_line_bytes)
        return "line", _json_array_rows(path, data)
    return "line", _csv_rows(path, delimiter="\t" if kind == "tsv" else ",")


def check_regular(path: Path) -> None:
    """Raise a DataError unless ``path`` is a regular file: a FIFO blocks, ``/dev/zero``
    never ends, a directory has no rows; each would hang or fill memory before any message."""
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise DataError(f"cannot be read ({exc.strerror or exc})", file=str(path)) from None
    if stat.S_ISDIR(mode):
        raise DataError("is a directory; give a data file (.jsonl, .json, .csv, .parquet)",
                        file=str(path))
    if not stat.S_ISREG(mode):
        kind = ("a FIFO" if stat.S_ISFIFO(mode) else "a device" if stat.S_ISCHR(mode)
                or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "special")
        raise DataError(f"is not a regular file ({kind}); give a data file (.jsonl, .json, "
                        ".csv, .parquet)", file=str(path))


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


#: said when a JSON Lines file starts like one JSON array (a .json file saved as .jsonl)
_ARRAY_HINT = ("; a .jsonl file holds one JSON object per line, and this one starts like a "
               "JSON array: name it .json to read it as one")


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
        hint = _ARRAY_HINT if number == 1 and text.lstrip().startswith("[") else ""
        if not hint and text.strip().endswith(("{", "[", ",")):  # an object opened, not closed
            hint = ("; JSON Lines holds one whole object per line, and this looks like JSON "
                    "spread over several lines (pretty-printed)")
        err = DataError(f"malformed JSON: {exc.msg} (column {exc.colno}){hint}",
                        file=str(source), line=number)
        return RawRow(number, error=err, text=text[:200])


def _jsonl_rows(path: Path, max_line_bytes: int) -> Iterator[RawRow]:
    with path.open("rb") as fh:
        for number, (raw, size) in enumerate(iter_lines(fh, max_line_bytes), start=1):
            row = (too_long_row(path, number, size, max_line_bytes) if raw is None
                   else jsonl_row(raw, number, path))
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
    rest = _skip_ws(text, pos + 1)
    if rest < len(text):
        line = text.count("\n", 0, rest) + 1
        column = rest - (text.rfind("\n", 0, rest) + 1) + 1
        raise DataError(
            f"more text after the array ends (column {column}: {text[rest:rest + 20]!r}); a "
            ".json file holds one array of rows; join the arrays into one, or write one row "
            "object per line (JSON Lines)",
            file=str(path), line=line)


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
    seen: dict[str, int] = {}
    for column, name in enumerate(header, start=1):
        if name in seen:
            raise DataError(f"columns {seen[name]} and {column} are both named '{name}'; "
                            "rename one (a row can hold a field only once)",
                            file=str(path), line=1, field=name)
        seen[name] = column
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
