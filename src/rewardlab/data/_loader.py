"""Load a data file into a typed ``Dataset``: read, detect the layout, validate every row.

A bad row either stops the load with a ``DataError`` naming file, line and field, or, with
``skip_invalid=True``, is kept in ``Dataset.skipped`` with its reason. Nothing is dropped
without a trace.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rewardlab.data._columns import LABEL_FIELDS
from rewardlab.data._fields import DEFAULT_MAX_CHARS, RowContext
from rewardlab.data._formats import (
    detect_task,
    parse_best_of_n,
    parse_pair,
    parse_point,
    unknown_layout,
)
from rewardlab.data._records import TASKS, Dataset, Task
from rewardlab.data._rewardbench import parse_rewardbench2
from rewardlab.data._rows import read_rows
from rewardlab.data._sources import BUNDLED, bundled_path, resolve_source
from rewardlab.data._steps import parse_steps
from rewardlab.errors import DataError

__all__ = [
    "BUNDLED",
    "bundled_path",
    "load_data",
    "load_dataset",
    "parse_row",
    "require_task",
    "resolve_source",
]


def _best_of_n(row: dict[str, Any], ctx: RowContext) -> tuple[Any, str]:
    if "responses" not in row and "chosen" in row:
        return parse_rewardbench2(row, ctx), "rewardbench-2"
    return parse_best_of_n(row, ctx)


_PARSERS: dict[Task, Callable[[dict[str, Any], RowContext], tuple[Any, str]]] = {
    "pairwise": parse_pair,
    "pointwise": parse_point,
    "best-of-n": _best_of_n,
    "steps": parse_steps,
}


def parse_row(task: Task, row: dict[str, Any], ctx: RowContext) -> tuple[Any, str]:
    """One row of ``task`` as ``(record or list of records, layout name)``, exactly as
    ``load_dataset`` reads it (Ray's shard workers parse through this too).

    Raises:
        DataError: the row is bad; the message names file, line and field.
    """
    return _PARSERS[task](row, ctx)


def load_dataset(
    source: str | Path,
    *,
    format: Task | None = None,
    skip_invalid: bool = False,
    max_chars: int = DEFAULT_MAX_CHARS,
    limit: int | None = None,
) -> Dataset[Any]:
    """Read a data file of pairs, pointwise scores, best-of-n candidates or labelled steps.

    Args:
        source: a ``.jsonl``/``.json``/``.csv``/``.tsv``/``.parquet`` path, or ``bundled:NAME``.
        format: ``"pairwise"``, ``"pointwise"``, ``"best-of-n"`` or ``"steps"``; detected
            from the first row's fields when omitted.
        skip_invalid: keep going past bad rows, recording each in ``Dataset.skipped``.
        max_chars: longest text a field may hold.
        limit: read at most this many valid rows (for a quick look at a big file).

    Returns:
        A ``Dataset`` whose records are in file order.

    Raises:
        DataError: the file is missing, empty, unreadable, of an unknown layout, or (without
            ``skip_invalid``) has a bad row.

    Example:
        >>> data = load_dataset("bundled:hh_harmless", limit=3)
        >>> data.task, data.form, len(data)
        ('pairwise', 'hh', 3)
    """
    if format is not None and format not in TASKS:
        raise DataError(
            f"unknown format '{format}'; use one of {', '.join(TASKS)}", file=str(source)
        )
    task: Task | None = format
    forms: Counter[str] = Counter()

    def parse(row: dict[str, Any], ctx: RowContext) -> Any:
        nonlocal task
        if task is None:
            task = _detect(row, ctx.file, ctx.line, ctx.location)
        record, form = _PARSERS[task](row, ctx)
        forms[form] += 1
        return record

    read = read_rows(source, parse, skip_invalid=skip_invalid, limit=limit, max_chars=max_chars)
    file, records, skipped, location = str(source), read.records, read.skipped, read.location
    if not records:
        raise DataError(f"none of its {len(skipped)} rows is valid; "
                        f"{skipped[0].as_first_problem(location)}", file=file)
    assert task is not None
    form = ",".join(name for name, _ in forms.most_common())
    return Dataset(task=task, records=tuple(records), source=file, form=form,
                   skipped=tuple(skipped))


def load_data(data: str | Path | Dataset[Any], *, format: Task | None = None,
              skip_invalid: bool = False, max_chars: int = DEFAULT_MAX_CHARS,
              limit: int | None = None) -> Dataset[Any]:
    """A ``Dataset`` passes through; a path (or ``bundled:NAME``) is read with ``load_dataset``
    (``limit``: the first N valid rows, for a quick look).

    The front doors (``rewardlab.api``) and the consumers that take "a path or a dataset"
    (the audit) share it from here, below both of them.
    """
    if isinstance(data, Dataset):
        return data if limit is None else data.take(range(min(limit, len(data))))
    return load_dataset(data, format=format, skip_invalid=skip_invalid, max_chars=max_chars,
                        limit=limit)


def _detect(row: dict[str, Any], file: str, line: int, location: str) -> Task:
    task = detect_task(row)
    if task is None:
        raise unknown_layout(row, file=file, line=line, location=location)
    return task


def require_task(dataset: Dataset[Any], allowed: tuple[Task, ...], *, purpose: str) -> None:
    """Raise a DataError naming the file when ``dataset`` is not of an ``allowed`` task; the
    message says which labels each allowed task carries (``LABEL_FIELDS``), since a file of
    unlabelled replies is the usual reason, and that ``score`` needs none."""
    if dataset.task not in allowed:
        wanted = " or ".join(allowed) if len(allowed) < 3 else (
            f"{', '.join(allowed[:-1])} or {allowed[-1]}")
        needs = "; ".join(LABEL_FIELDS[task] for task in allowed)
        raise DataError(
            f"{purpose} needs {wanted} data, but the file holds {dataset.task} rows: {needs}. "
            "Rows without labels can be scored with `rewardlab score`",
            file=dataset.source,
        )
