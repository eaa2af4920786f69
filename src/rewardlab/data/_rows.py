"""The row-reading seam: read a file's rows with a parser, stopping or skipping at bad ones.

``load_dataset`` reads the four tasks through it, and any format with records of its own
(GSM8K problems for error injection, solutions to label with rollouts, and the formats still
to come: code tasks, tool calls, rubrics, per-user labels) is one parser away::

    def parse_problem(row: dict, ctx: RowContext) -> Problem: ...   # field readers inside
    read = read_rows("train.jsonl", parse_problem, skip_invalid=True)
    read.records, read.skipped                                      # nothing dropped silently

The parser gets each row as a dict, with a ``RowContext`` saying where it is; it returns a
record (or a list of records: one PRMBench row holds two solutions) or raises the
``DataError`` a field reader made. Whether that stops the read or skips the row is decided
here, once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from rewardlab.data._fields import DEFAULT_MAX_CHARS, RowContext
from rewardlab.data._readers import iter_raw_rows, line_limit
from rewardlab.data._records import SkippedRow
from rewardlab.data._sources import resolve_source
from rewardlab.errors import DataError

__all__ = ["RowParser", "RowsRead", "read_rows"]

T = TypeVar("T")
#: A parser of one row: its fields and where it is, to a record or a list of records.
RowParser = Callable[[dict[str, Any], RowContext], Any]


@dataclass(frozen=True)
class RowsRead(Generic[T]):
    """What ``read_rows`` read: the records in file order, the rows skipped with their
    reasons, and the unit of line numbers (``"line"``, or ``"row"`` for Parquet)."""

    records: list[T]
    skipped: list[SkippedRow]
    location: str


def read_rows(
    source: str | Path,
    parse: RowParser,
    *,
    skip_invalid: bool = False,
    limit: int | None = None,
    row_limit: int | None = None,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> RowsRead[Any]:
    """Parse every row of ``source`` (a path or ``bundled:NAME``) with ``parse``.

    Args:
        source: a ``.jsonl``/``.json``/``.csv``/``.tsv``/``.parquet`` file or ``bundled:NAME``.
        parse: ``parse(row, ctx)`` returns a record or a list of records, or raises
            ``DataError`` (a row that is not a JSON object never reaches it).
        skip_invalid: record a bad row in ``skipped`` and go on, instead of raising.
        limit: stop once this many records were read.
        row_limit: stop after this many raw rows (valid or not).
        max_chars: longest text a field may hold (``RowContext.max_chars``); lines longer
            than ``line_limit(max_chars)`` bytes are bad rows, never read whole.

    Raises:
        DataError: the file is missing, not a regular file, unreadable or holds no rows, or
            (without ``skip_invalid``) a row is bad.

    Example:
        >>> from rewardlab.data import read_id, read_text
        >>> read = read_rows("bundled:gsm8k_examples", lambda row, ctx: (
        ...     read_id(row, ctx), read_text(row["question"], ctx, "question")[:12]), limit=2)
        >>> read.records, read.location
        ([(0, 'Janet’s duck'), (1, 'A robe takes')], 'line')
    """
    path = resolve_source(source)
    file = str(source)
    location, rows = iter_raw_rows(path, max_line_bytes=line_limit(max_chars))
    cells_are_text = path.suffix.lower() in (".csv", ".tsv")
    records: list[Any] = []
    skipped: list[SkippedRow] = []
    seen: set[Any] = set()  # shared by the rows of this read (see RowContext.seen)
    index = -1
    for raw in rows:
        index += 1
        if (limit is not None and len(records) >= limit) or (
                row_limit is not None and index >= row_limit):
            break
        try:
            value = raw.json_object(file, location)
            ctx = RowContext(file=file, line=raw.line, index=index, location=location,
                             max_chars=max_chars, seen=seen, cells_are_text=cells_are_text)
            record = parse(value, ctx)
        except DataError as exc:
            if not skip_invalid:
                raise
            skipped.append(raw.skipped(exc))
            continue
        records.extend(record if isinstance(record, list) else [record])
    if index < 0:
        raise DataError("the file holds no rows", file=file)
    return RowsRead(records=records, skipped=skipped, location=location)
