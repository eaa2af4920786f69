"""Read one shard of the input and turn its rows into records, exactly as the loader would.

A worker reads only its own byte range (JSONL) or row range (Parquet) straight from the
input file, so rows never pass through the driver. Each row keeps its absolute line number
and index, so error messages and default ids match ``rewardlab score`` without ``--ray``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rewardlab.data import (
    DEFAULT_MAX_CHARS,
    DEFAULT_MAX_LINE_BYTES,
    RawRow,
    RowContext,
    SkippedRow,
    Task,
    iter_lines,
    jsonl_row,
    parse_row,
    too_long_row,
)
from rewardlab.errors import DataError

if TYPE_CHECKING:
    from rewardlab.scale._plan import Shard

__all__ = ["ParsedChunk", "iter_record_chunks", "iter_shard_rows"]

_PARQUET_BATCH = 1024


def iter_shard_rows(path: Path, file_type: str, shard: Shard, *, source: str,
                    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES) -> Iterator[RawRow]:
    """The raw rows of ``shard``, each with its absolute line (JSONL) or row (Parquet); a
    line longer than ``max_line_bytes`` is a row error, never read whole (as in the loader)."""
    if file_type == "parquet":
        return _parquet_range(path, shard, source)
    return _jsonl_range(path, shard, source, max_line_bytes)


def _jsonl_range(path: Path, shard: Shard, source: str, max_line_bytes: int
                 ) -> Iterator[RawRow]:
    with path.open("rb") as fh:
        fh.seek(shard.start)
        offset, number = shard.start, shard.first_line - 1
        for raw, size in iter_lines(fh, max_line_bytes):
            if offset >= shard.end:
                return
            offset += size
            number += 1
            row = (too_long_row(source, number, size, max_line_bytes) if raw is None
                   else jsonl_row(raw, number, source))
            if row is not None:
                yield row


def _parquet_range(path: Path, shard: Shard, source: str) -> Iterator[RawRow]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(path)
        meta = parquet.metadata
        groups, first_row, row = [], None, 0
        for g in range(meta.num_row_groups):  # only the row groups that overlap the shard
            n = meta.row_group(g).num_rows
            if row + n > shard.start and row < shard.end:
                groups.append(g)
                first_row = row if first_row is None else first_row
            row += n
        number = first_row or 0
        for batch in parquet.iter_batches(batch_size=_PARQUET_BATCH, row_groups=groups):
            lo, hi = max(shard.start - number, 0), min(shard.end - number, batch.num_rows)
            if lo < hi:
                for k, value in enumerate(batch.slice(lo, hi - lo).to_pylist()):
                    yield RawRow(number + lo + k + 1, value=value)
            number += batch.num_rows
            if number >= shard.end:
                return
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"the Parquet file cannot be read in rows {shard.start + 1}-"
                        f"{shard.end} ({exc})", file=source) from None


@dataclass
class ParsedChunk:
    """Up to ``chunk_rows`` consecutive raw rows of a shard: the records they gave, the rows
    that were skipped, and how many raw rows they were."""

    records: list[Any] = field(default_factory=list)
    skipped: list[SkippedRow] = field(default_factory=list)
    rows: int = 0
    forms: dict[str, int] = field(default_factory=dict)


def iter_record_chunks(rows: Iterator[RawRow], shard: Shard, *, task: Task, source: str,
                       location: str, chunk_rows: int, skip_invalid: bool,
                       max_chars: int = DEFAULT_MAX_CHARS, cells_are_text: bool = False
                       ) -> Iterator[ParsedChunk]:
    """Parse raw rows with the loader's own parsers, ``chunk_rows`` raw rows at a time.

    Raises:
        DataError: a row is bad and ``skip_invalid`` is off (the loader's message).
    """
    seen: set[Any] = set()  # per shard: see RowContext.seen (PRMBench originals)
    chunk = ParsedChunk()
    for k, raw in enumerate(rows):
        chunk.rows += 1
        try:
            value = raw.json_object(source, location)
            ctx = RowContext(file=source, line=raw.line, index=shard.first_index + k,
                             location=location, max_chars=max_chars, seen=seen,
                             cells_are_text=cells_are_text)
            record, form = parse_row(task, value, ctx)
        except DataError as exc:
            if not skip_invalid:
                raise
            chunk.skipped.append(raw.skipped(exc))
        else:
            chunk.records.extend(record if isinstance(record, list) else [record])
            chunk.forms[form] = chunk.forms.get(form, 0) + 1
        if chunk.rows >= chunk_rows:
            yield chunk
            chunk = ParsedChunk()
    if chunk.rows:
        yield chunk
