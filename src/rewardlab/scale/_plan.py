"""Plan a scoring job: cut the input into shards whose boundaries depend only on its bytes.

Resume is only safe if a rerun cuts the file exactly as the first run did, so shards are
fixed row ranges: shard *i* holds raw rows ``i*shard_rows`` to ``(i+1)*shard_rows - 1``
(blank JSONL lines belong to no row, as in the loader). One streaming pass over the file
finds the byte offset of every shard start and hashes the content for the job manifest; it
keeps one small ``Shard`` per shard and never the rows, so the driver's memory does not grow
with the input. Parquet row ranges come from the footer; the pass only hashes the bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from rewardlab.data import (
    TASKS,
    Task,
    detect_task,
    file_type,
    iter_lines,
    resolve_source,
    unknown_layout,
)
from rewardlab.errors import ConfigError, DataError
from rewardlab.scale._rows import iter_shard_rows

__all__ = ["DEFAULT_SHARD_ROWS", "JobPlan", "Shard", "plan_job"]

#: Rows per shard: small enough that a lost shard costs seconds of work on a warm cache and
#: that 2 workers share 20k rows evenly, large enough that per-shard overhead (one marker
#: file, one task) stays under 1% of the work.
DEFAULT_SHARD_ROWS = 5_000
_HASH_BLOCK = 1 << 20
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True, slots=True)
class Shard:
    """One unit of work and of output: a fixed range of raw input rows.

    ``start``/``end`` are byte offsets for JSONL and 0-based row numbers for Parquet;
    ``first_line`` is the 1-based line (JSONL) or row (Parquet) of its first row and
    ``first_index`` the 0-based index of that row among all rows (the default ``id``).
    """

    index: int
    start: int
    end: int
    first_line: int
    first_index: int
    rows: int

    @property
    def name(self) -> str:
        return f"{self.index:05d}"


@dataclass(frozen=True)
class JobPlan:
    """The input as the job sees it: where it is, what it holds, and how it is cut."""

    source: str
    path: Path
    file_type: str
    location: str
    size: int
    digest: str
    task: Task
    shard_rows: int
    shards: tuple[Shard, ...]

    @property
    def n_rows(self) -> int:
        return sum(s.rows for s in self.shards)


def resolve_input(source: str | Path) -> tuple[Path, str]:
    """The file behind ``source`` (a path or ``bundled:NAME``) and its type, if ``--ray``
    can stream it: JSONL (also a ``.json`` file of lines) or Parquet."""
    text = str(source)
    path = resolve_source(source)
    kind = file_type(path)
    if kind == "json":
        with path.open("rb") as fh:
            head = fh.read(4096).removeprefix(_BOM).lstrip()
        kind = "jsonl" if head.startswith(b"{") else kind
    if kind not in ("jsonl", "parquet"):
        raise DataError(
            f"scoring with Ray streams JSON Lines or Parquet files in shards, and this is a "
            f"{kind.upper()} file; convert it (e.g. pandas: df.to_json(lines=True, "
            "orient='records')) or score it without --ray",
            file=text,
        )
    return path, kind


def plan_job(source: str | Path, *, shard_rows: int = DEFAULT_SHARD_ROWS,
             format: Task | None = None, skip_invalid: bool = False) -> JobPlan:
    """Read ``source`` once (streaming) and return its shards, digest and task.

    Raises:
        DataError: the file is missing, not JSONL/Parquet, empty, or its layout cannot be
            told from its first row (pass ``format``).
        ConfigError: ``shard_rows`` is not positive or ``format`` is unknown.
    """
    if shard_rows < 1:
        raise ConfigError(f"The 'shard_rows' parameter must be at least 1. Got {shard_rows}.")
    if format is not None and format not in TASKS:
        raise ConfigError(f"The 'format' parameter must be one of {', '.join(TASKS)}. "
                          f"Got {format!r}.")
    path, kind = resolve_input(source)
    if kind == "jsonl":
        digest, shards = _plan_jsonl(path, shard_rows)
    else:
        digest, shards = _plan_parquet(path, shard_rows)
    if not shards:
        raise DataError("the file holds no rows", file=str(source))
    plan = JobPlan(source=str(source), path=path.resolve(), file_type=kind,
                   location="row" if kind == "parquet" else "line", size=path.stat().st_size,
                   digest=digest, task=format or "pairwise", shard_rows=shard_rows,
                   shards=tuple(shards))
    task = format or _detect_task(plan, skip_invalid=skip_invalid)
    return JobPlan(**{**plan.__dict__, "task": task}) if task != plan.task else plan


def _plan_jsonl(path: Path, shard_rows: int) -> tuple[str, list[Shard]]:
    """Shard starts at every ``shard_rows``-th non-blank line; hash the bytes on the way."""
    h = hashlib.blake2b(digest_size=20)
    shards: list[Shard] = []
    offset = rows = 0
    start = first_line = None
    with path.open("rb") as fh:
        for number, (raw, size) in enumerate(iter_lines(_Hashed(fh, h)), start=1):
            body = b"x" if raw is None else raw.removeprefix(_BOM) if number == 1 else raw
            if body.strip():  # the loader's rule: blank lines are not rows (a too-long one is)
                if rows % shard_rows == 0:
                    if start is not None:
                        shards.append(_shard(len(shards), start, offset, first_line, rows,
                                             shard_rows))
                    start, first_line = offset, number
                rows += 1
            offset += size
    if start is not None:
        shards.append(_shard(len(shards), start, offset, first_line, rows, shard_rows))
    return h.hexdigest(), shards


class _Hashed:
    """A binary file that feeds every byte read through it to a hash, so the one pass that
    finds the shard starts (reading lines with a size limit) also digests the content."""

    def __init__(self, fh: BinaryIO, h: Any) -> None:
        self.fh, self.h = fh, h

    def readline(self, size: int = -1, /) -> bytes:
        raw = self.fh.readline(size)
        self.h.update(raw)
        return raw


def _shard(index: int, start: int, end: int, first_line: int | None, rows: int,
           shard_rows: int) -> Shard:
    count = rows - index * shard_rows
    return Shard(index=index, start=start, end=end, first_line=first_line or 1,
                 first_index=index * shard_rows, rows=count)


def _plan_parquet(path: Path, shard_rows: int) -> tuple[str, list[Shard]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        n = pq.ParquetFile(path).metadata.num_rows
    except (pa.ArrowException, OSError) as exc:
        raise DataError(f"not a readable Parquet file ({exc})", file=str(path)) from None
    shards = [Shard(index=i, start=lo, end=min(lo + shard_rows, n), first_line=lo + 1,
                    first_index=lo, rows=min(lo + shard_rows, n) - lo)
              for i, lo in enumerate(range(0, n, shard_rows))]
    return _file_digest(path), shards


def _file_digest(path: Path) -> str:
    h = hashlib.blake2b(digest_size=20)
    with path.open("rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


def _detect_task(plan: JobPlan, *, skip_invalid: bool) -> Task:
    """The task the first readable row implies, as the loader decides it.

    Rows before it that cannot be read are left to the workers, which report (or, without
    ``skip_invalid``, stop at) them with their line.
    """
    for raw in _leading_rows(plan):
        if raw.error is not None or not isinstance(raw.value, dict):
            continue
        task = detect_task(raw.value)
        if task is not None:
            return task
        if not skip_invalid:
            raise unknown_layout(raw.value, file=plan.source, line=raw.line,
                                 location=plan.location)
    raise DataError("no row has fields from which the data format can be told; pass --format",
                    file=plan.source)


def _leading_rows(plan: JobPlan) -> Iterator[Any]:
    for shard in plan.shards:
        yield from iter_shard_rows(plan.path, plan.file_type, shard, source=plan.source)
