"""Score one shard into its part file: the unit of work a Ray worker runs, without Ray.

The shard is read, parsed, scored and written ``chunk_rows`` rows at a time, so a worker's
memory is bounded by one chunk whatever the shard size. Scoring goes through
``rewardlab.scoring.iter_scored_rows``, the function behind ``rewardlab score``, so the
output rows are the same dicts in the same order. The part is written to a temporary file,
flushed to disk and renamed; the commit marker follows it (see ``_manifest``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
import tempfile
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardlab._io import _json_safe
from rewardlab.data import DEFAULT_MAX_CHARS, Dataset, Task
from rewardlab.errors import OutputError
from rewardlab.models.base import RewardModel
from rewardlab.scale._manifest import (
    FILE_MODE,
    marker_path,
    part_path,
    skipped_part_path,
    write_json_atomic,
)
from rewardlab.scale._plan import Shard
from rewardlab.scale._rows import iter_record_chunks, iter_shard_rows
from rewardlab.scoring import iter_scored_rows, row_reasons

__all__ = ["OUTPUT_FORMATS", "ShardJob", "ids_digest", "parquet_columns", "parquet_schema",
           "score_shard"]

OUTPUT_FORMATS = ("jsonl", "parquet")
_LIST_COLUMNS = ("rewards", "step_scores")
_TEXT_LIST_COLUMNS = ("reasons",)  # a verifier's, per best-of-n candidate
_INT_COLUMNS = ("first_error",)
_BOOL_COLUMNS = ("chosen_shown_first", "correct")
_JUDGE_COLUMNS = ("judgment", "rationale", "probs")


@dataclass(frozen=True, slots=True, kw_only=True)
class ShardJob:
    """Everything a worker needs to score any shard of one job, except the model.

    ``columns`` are the output columns the driver saw when it checked the model on the
    first rows; every Parquet part gets the same schema from them, even an empty one.
    ``run`` tells this run's attempts at a shard from an earlier run's.
    """

    path: str
    file_type: str
    source: str
    location: str
    task: Task
    out: str
    output_format: str
    columns: tuple[str, ...]
    run: str = ""
    skip_invalid: bool = False
    max_chars: int = DEFAULT_MAX_CHARS
    chunk_rows: int = 1024


class _IdsDigest:
    """An order-sensitive digest of the output ids, recomputed from the part to verify it."""

    def __init__(self) -> None:
        self._h = hashlib.blake2b(digest_size=16)

    def update(self, value: Any) -> None:
        self._h.update(str(value).encode("utf-8", "surrogatepass") + b"\n")

    def hexdigest(self) -> str:
        return self._h.hexdigest()


def ids_digest(ids: Iterable[Any]) -> str:
    digest = _IdsDigest()
    for value in ids:
        digest.update(value)
    return digest.hexdigest()


def parquet_columns(columns: tuple[str, ...]) -> tuple[str, ...]:
    """The columns every Parquet part has: those of the first scored row, plus the judges'
    ``reason``, which only rows without a verdict carry."""
    if any(c in columns for c in _JUDGE_COLUMNS) and "reason" not in columns:
        return (*columns, "reason")
    return columns


def parquet_schema(columns: tuple[str, ...]) -> Any:
    """One Arrow schema for every part: ``id`` as text (ids may be integers in one row and
    strings in the next), rewards and uncertainties as float64 (lists of them for best-of-n
    and steps), a verifier's per-candidate ``reasons`` as a list of text and its ``correct``
    as a boolean, and anything else as text: a judge's rationale and reason as they are, its
    judgment (an object) as JSON."""
    import pyarrow as pa

    def kind(name: str) -> Any:
        if name in _LIST_COLUMNS:
            return pa.list_(pa.float64())
        if name in _TEXT_LIST_COLUMNS:
            return pa.list_(pa.string())
        if name in _INT_COLUMNS:
            return pa.int64()
        if name in _BOOL_COLUMNS:
            return pa.bool_()
        if name.startswith(("reward", "uncertainty")):
            return pa.float64()
        return pa.string()

    return pa.schema([(name, kind(name)) for name in parquet_columns(columns)])


class _PartWriter:
    """A part file being written to a temporary name in ``OUT``; ``commit`` renames it."""

    def __init__(self, path: Path, output_format: str, columns: tuple[str, ...]) -> None:
        self.path = path
        fd, self._tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.fchmod(fd, FILE_MODE)
        self._fh = os.fdopen(fd, "wb")
        self._parquet = None
        if output_format == "parquet":
            import pyarrow.parquet as pq

            self._schema = parquet_schema(columns)
            self._parquet = pq.ParquetWriter(self._fh, self._schema)

    def write(self, rows: list[dict[str, Any]]) -> None:
        if self._parquet is not None:
            import pyarrow as pa

            table = pa.Table.from_pylist([self._cells(r) for r in rows], schema=self._schema)
            self._parquet.write_table(table)
            return
        self._fh.write(b"".join(
            json.dumps(_json_safe(r), ensure_ascii=False).encode("utf-8") + b"\n"
            for r in rows))

    def _cells(self, row: dict[str, Any]) -> dict[str, Any]:
        import pyarrow as pa

        unknown = set(row) - set(self._schema.names)
        if unknown:  # never drop a column silently
            raise OutputError(
                f"rows carry the column(s) {', '.join(sorted(unknown))}, which the first scored "
                f"row did not have, so they do not fit the Parquet parts' schema; use "
                "--output-format jsonl")
        cells = {}
        for name, value in row.items():
            kind = self._schema.field(name).type
            if name == "id":
                value = str(value)
            elif pa.types.is_string(kind) and value is not None and not isinstance(value, str):
                value = json.dumps(_json_safe(value), ensure_ascii=False)
            cells[name] = value
        return cells

    def commit(self) -> int:
        if self._parquet is not None:
            self._parquet.close()
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        os.replace(self._tmp, self.path)
        return self.path.stat().st_size

    def discard(self) -> None:
        if self._parquet is not None and self._parquet.is_open:
            with contextlib.suppress(Exception):  # the footer goes to a file deleted below
                self._parquet.close()
        if not self._fh.closed:
            self._fh.close()
        if os.path.exists(self._tmp):
            os.unlink(self._tmp)


def score_shard(model: RewardModel, job: ShardJob, shard: Shard) -> dict[str, Any]:
    """Score every row of ``shard`` into its part file and commit it; return its marker.

    Raises:
        DataError: a row is bad and ``job.skip_invalid`` is off; nothing is committed.
        OutputError: the part cannot be written.
    """
    start, started = time.perf_counter(), time.time()
    out = Path(job.out)
    part = part_path(out, shard.name, job.output_format)
    rows = iter_shard_rows(Path(job.path), job.file_type, shard, source=job.source)
    chunks = iter_record_chunks(rows, shard, task=job.task, source=job.source,
                                location=job.location, chunk_rows=job.chunk_rows,
                                skip_invalid=job.skip_invalid, max_chars=job.max_chars)
    try:
        writer = _PartWriter(part, job.output_format, job.columns)
    except OSError as exc:
        raise OutputError(f"cannot write {part}: {exc.strerror or exc}") from None
    digest, n_rows, n_records, skipped, forms = _IdsDigest(), 0, 0, [], {}
    reasons: Counter[str] = Counter()
    try:
        for chunk in chunks:
            first_index = shard.first_index + n_rows  # the chunk's first row in the file
            n_rows += chunk.rows
            skipped.extend(s.to_json() for s in chunk.skipped)
            for form, n in chunk.forms.items():
                forms[form] = forms.get(form, 0) + n
            if not chunk.records:
                continue
            data = Dataset(task=job.task, records=tuple(chunk.records), source=job.source,
                           form="")
            scored = list(iter_scored_rows(model, data, chunk_size=len(chunk.records),
                                           first_index=first_index))
            for row in scored:
                digest.update(row["id"])
                reasons.update(row_reasons(row))
            n_records += len(scored)
            writer.write(scored)
        size = writer.commit()
    except OSError as exc:
        raise OutputError(f"cannot write {part}: {exc.strerror or exc}") from None
    finally:
        writer.discard()
    if n_rows != shard.rows:  # the input changed under the job: never commit a short shard
        part.unlink(missing_ok=True)
        raise OutputError(f"shard {shard.index} of {job.source} should hold {shard.rows} rows "
                          f"but {n_rows} were read; the input file changed during the job")
    skipped_file = skipped_part_path(out, shard.name)
    if skipped:
        _write_lines(skipped_file, skipped)
    else:
        skipped_file.unlink(missing_ok=True)
    marker = {
        "shard": shard.index, "part": part.name, "bytes": size, "rows": n_rows,
        "records": n_records, "skipped": len(skipped), "forms": forms,
        "reasons": dict(reasons),
        "ids_digest": digest.hexdigest(), "first_line": shard.first_line,
        "seconds": round(time.perf_counter() - start, 3),
        "started": round(started, 3), "finished": round(time.time(), 3),
        "worker": f"{socket.gethostname()}:{os.getpid()}",
    }
    write_json_atomic(marker_path(out, shard.name), marker)
    return marker


def _write_lines(path: Path, rows: list[dict[str, Any]]) -> None:
    from rewardlab._io import write_jsonl

    write_jsonl(path, rows)
