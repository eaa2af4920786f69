"""Loading a suite task's data, including RewardBench 2's list-valued rows.

RewardBench 2 rows (``prompt``, ``chosen`` and ``rejected`` as *lists* of replies,
``num_correct``, ``total_completions``, ``subset``, ``id``) are a best-of-n question: is a
chosen reply at the top of all the candidates? They are read here into ``BestOfNRecord``s
(chosen first, labelled correct), so the best-of-n machinery scores them; the shared
pairwise parser would read a list of strings as chat messages and reject it. Every other
layout goes through ``rewardlab.data.load_dataset``.
"""

from __future__ import annotations

from typing import Any

from rewardlab.data import BestOfNRecord, Dataset, load_dataset, split_by_prompt
from rewardlab.data._formats import RowContext, _prompt, _row_id, _subset, _text
from rewardlab.data._loader import _resolve_source
from rewardlab.data._readers import iter_raw_rows
from rewardlab.errors import DataError

__all__ = ["is_rewardbench2_row", "load_task_data", "read_rewardbench2"]


def is_rewardbench2_row(row: Any) -> bool:
    """A RewardBench 2 row: ``chosen`` is a list whose items are plain strings."""
    chosen = row.get("chosen") if isinstance(row, dict) else None
    return isinstance(chosen, list) and bool(chosen) and all(isinstance(c, str) for c in chosen)


def _replies(row: dict[str, Any], key: str, ctx: RowContext) -> tuple[str, ...]:
    value = row.get(key)
    if not isinstance(value, list) or not value:
        raise ctx.fail(key, f"must be a non-empty list of replies (RewardBench 2 layout), got "
                       f"{type(value).__name__ if value is not None else 'null'}")
    return tuple(_text(v, ctx, f"{key}[{i}]") for i, v in enumerate(value))


def _count(row: dict[str, Any], key: str, expected: int, ctx: RowContext, rule: str) -> None:
    if row.get(key) is None:
        return
    value = row[key]
    if isinstance(value, bool) or not isinstance(value, int) or value != expected:
        raise ctx.fail(key, f"is {value!r} but {rule} is {expected}; RewardBench 2 rows list "
                       "every correct reply in 'chosen'")


def _parse_rb2(row: dict[str, Any], ctx: RowContext) -> BestOfNRecord:
    chosen = _replies(row, "chosen", ctx)
    rejected = _replies(row, "rejected", ctx)
    _count(row, "num_correct", len(chosen), ctx, "the number of 'chosen' replies")
    _count(row, "total_completions", len(chosen) + len(rejected), ctx,
           "the number of 'chosen' and 'rejected' replies")
    prompt = _prompt(row, ctx)
    if prompt is None:
        raise ctx.fail("prompt", "is missing; a RewardBench 2 row needs the 'prompt' its "
                       "replies answer")
    return BestOfNRecord(prompt=prompt[1], responses=chosen + rejected, id=_row_id(row, ctx),
                         is_correct=(True,) * len(chosen) + (False,) * len(rejected),
                         subset=_subset(row, ctx), line=ctx.line)


def read_rewardbench2(source: str, *, max_chars: int = 100_000) -> Dataset[BestOfNRecord]:
    """Read a RewardBench 2 file into best-of-n records (chosen replies first, correct).

    Raises:
        DataError: a row is malformed; the message names file, line and field.

    Example:
        >>> data = read_rewardbench2(path_to_rb2_jsonl)  # doctest: +SKIP
        >>> data.records[0].is_correct  # doctest: +SKIP
        (True, False, False, False)
    """
    location, rows = iter_raw_rows(_resolve_source(source))
    records = []
    for index, raw in enumerate(rows):
        if raw.error is not None:
            raise raw.error
        ctx = RowContext(file=source, line=raw.line, index=index, location=location,
                         max_chars=max_chars)
        if not isinstance(raw.value, dict):
            raise ctx.fail(None, "must be a JSON object with named fields")
        records.append(_parse_rb2(raw.value, ctx))
    if not records:
        raise DataError("the file holds no rows", file=source)
    return Dataset(task="best-of-n", records=tuple(records), source=source, form="rewardbench-2")


def _first_row(source: str) -> Any:
    _, rows = iter_raw_rows(_resolve_source(source))
    for raw in rows:
        return raw.value
    return None


def load_task_data(source: str, task: str | None, *,
                   holdout: tuple[float, int] | None = None) -> Dataset[Any]:
    """The records of one suite task: ``task`` is a data task (``pairwise``, ``best-of-n``,
    ``steps``) or None to detect it; ``holdout`` keeps ``split_by_prompt``'s test part.

    Raises:
        DataError: missing file, unreadable or malformed rows, or rows of another task.
    """
    if task in (None, "best-of-n") and is_rewardbench2_row(_first_row(source)):
        data: Dataset[Any] = read_rewardbench2(source)
    else:
        data = load_dataset(source, format=task)  # type: ignore[arg-type]
    if task is not None and data.task != task:
        raise DataError(f"holds {data.task} rows, but the suite asks for {task}", file=source)
    if holdout is not None:
        data = split_by_prompt(data, test_fraction=holdout[0], seed=holdout[1])[1]
    return data
