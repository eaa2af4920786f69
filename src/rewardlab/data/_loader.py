"""Load a data file into a typed ``Dataset``: read, detect the layout, validate every row.

A bad row either stops the load with a ``DataError`` naming file, line and field, or, with
``skip_invalid=True``, is kept in ``Dataset.skipped`` with its reason. Nothing is dropped
without a trace.
"""

from __future__ import annotations

from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

from rewardlab.data._formats import DEFAULT_MAX_CHARS, PARSERS, RowContext, detect_task
from rewardlab.data._readers import iter_raw_rows
from rewardlab.data._records import TASKS, Dataset, SkippedRow, Task
from rewardlab.data._steps import parse_steps
from rewardlab.errors import DataError

__all__ = ["BUNDLED", "bundled_path", "load_dataset", "require_task"]

#: Data sets that ship inside the package (with their LICENSE files), by name.
BUNDLED = {
    "hh_harmless": "hh_harmless/pairs.jsonl",
    "gsm8k_examples": "gsm8k/example_model_solutions.jsonl",
    # 200 PRMBench rows, 25 per error type, drawn at random (seed 0) from the 2,842 rows of
    # ../shared/data/prmbench whose steps are all non-empty and whose error steps exist
    "prmbench": "prmbench/steps.jsonl",
    # the sets below are copied by tools/bundle_data.py (docs/data.md has the sample sizes)
    "llmbar": "llmbar/pairs.jsonl",
    "pandalm": "pandalm/pairs.jsonl",
    "finegrained_qa": "finegrained_qa/pairs.jsonl",
    "evalbiasbench": "evalbiasbench/pairs.jsonl",
    # not a pairwise file: the same prompts answered concisely / normally / verbosely, each
    # with a GPT-4-turbo preference against a reference; read by the audit's length probe
    "alpacaeval_length": "alpacaeval_length/annotations.jsonl",
}
_PARSERS = {**PARSERS, "steps": parse_steps}
_BUNDLED_PREFIX = "bundled:"


def bundled_path(name: str) -> Path:
    """Path of a bundled data set (a key of ``BUNDLED``, e.g. ``hh_harmless``)."""
    if name not in BUNDLED:
        raise DataError(
            f"no bundled data set named '{name}'; known: {', '.join(sorted(BUNDLED))}",
            file=_BUNDLED_PREFIX + name,
        )
    return Path(str(resources.files("rewardlab.data") / "bundled" / BUNDLED[name]))


def _resolve_source(source: str | Path) -> Path:
    text = str(source)
    if text.startswith(_BUNDLED_PREFIX):
        return bundled_path(text[len(_BUNDLED_PREFIX) :])
    path = Path(source)
    if not path.exists():
        raise DataError("no such file", file=text)
    if path.is_dir():
        raise DataError("is a directory; give a data file (.jsonl, .json, .csv, .parquet)",
                        file=text)
    return path


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
    path = _resolve_source(source)
    file = str(source)
    location, rows = iter_raw_rows(path)
    task: Task | None = format
    records: list[Any] = []
    skipped: list[SkippedRow] = []
    forms: Counter[str] = Counter()
    seen: set[Any] = set()  # shared by the rows of this load (see RowContext.seen)
    index = -1
    for raw in rows:
        index += 1
        if limit is not None and len(records) >= limit:
            break
        try:
            value = raw.json_object(file, location)
            if task is None:
                task = _detect(value, file, raw.line, location)
            ctx = RowContext(file=file, line=raw.line, index=index, location=location,
                             max_chars=max_chars, seen=seen,
                             cells_are_text=path.suffix.lower() in (".csv", ".tsv"))
            record, form = _PARSERS[task](value, ctx)
        except DataError as exc:
            if not skip_invalid:
                raise
            skipped.append(raw.skipped(exc))
            continue
        # a PRMBench row holds two solutions, so a parser may return a list of records
        records.extend(record if isinstance(record, list) else [record])
        forms[form] += 1

    if index < 0:
        raise DataError("the file holds no rows", file=file)
    if not records:
        first = skipped[0]
        raise DataError(
            f"none of its {len(skipped)} rows is valid; the first problem, at line "
            f"{first.line}, field '{first.field}': {first.reason}",
            file=file,
        )
    assert task is not None
    form = ",".join(name for name, _ in forms.most_common())
    return Dataset(task=task, records=tuple(records), source=file, form=form,
                   skipped=tuple(skipped))


def _detect(row: dict[str, Any], file: str, line: int, location: str) -> Task:
    task = detect_task(row)
    if task is None:
        fields = ", ".join(sorted(row)) or "none"
        raise DataError(
            f"cannot tell the data format from its fields ({fields}). Expected pairwise "
            "(prompt/chosen/rejected, or whole chosen/rejected dialogues), pointwise "
            "(prompt/response/score), best-of-n (prompt/responses) or steps "
            "(prompt/completions/labels); rename the fields or pass --format",
            file=file, line=line, location=location,
        )
    return task


def require_task(dataset: Dataset[Any], allowed: tuple[Task, ...], *, purpose: str) -> None:
    """Raise a DataError naming the file when ``dataset`` is not of an ``allowed`` task."""
    if dataset.task not in allowed:
        wanted = " or ".join(allowed) if len(allowed) < 3 else (
            f"{', '.join(allowed[:-1])} or {allowed[-1]}")
        raise DataError(
            f"{purpose} needs {wanted} data, but the file holds {dataset.task} rows",
            file=dataset.source,
        )
