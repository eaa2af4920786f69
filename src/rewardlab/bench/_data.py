"""Loading a suite task's data: every layout, RewardBench 2's list-valued rows included, is
read by ``rewardlab.data.load_dataset``; a bad row is left out with its reason, not the file.

A benchmark data set with one broken pair (JudgeBench has a pair whose ``chosen`` equals its
``rejected``, so does MT-Bench's human-judgement set) is still a benchmark: its valid rows are
scored, and the invalid ones are listed with their reasons beside the table
(``invalid_rows_note``) rather than turning the whole file into one skipped row.
"""

from __future__ import annotations

from typing import Any

from rewardlab.data import (
    BestOfNRecord,
    Dataset,
    is_rewardbench2_row,
    load_dataset,
    split_by_prompt,
)
from rewardlab.errors import DataError

__all__ = ["invalid_rows_note", "is_rewardbench2_row", "load_task_data", "read_rewardbench2"]

#: Invalid rows named one by one in the table's note; the JSON lists them all.
_SHOWN = 3


def read_rewardbench2(source: str, *, max_chars: int = 100_000) -> Dataset[BestOfNRecord]:
    """Read a RewardBench 2 file into best-of-n records (chosen replies first, correct);
    ``load_dataset`` reads the layout (``rewardlab.data``'s ``rewardbench-2`` form).

    Raises:
        DataError: a row is malformed; the message names file, line and field.

    Example:
        >>> data = read_rewardbench2(path_to_rb2_jsonl)  # doctest: +SKIP
        >>> data.records[0].is_correct  # doctest: +SKIP
        (True, False, False, False)
    """
    return load_dataset(source, format="best-of-n", max_chars=max_chars)


def load_task_data(source: str, task: str | None, *,
                   holdout: tuple[float, int] | None = None) -> Dataset[Any]:
    """The records of one suite task: ``task`` is a data task (``pairwise``, ``best-of-n``,
    ``steps``) or None to detect it; ``holdout`` keeps ``split_by_prompt``'s test part. Bad
    rows are left out and kept in ``Dataset.skipped`` (see ``invalid_rows_note``).

    Raises:
        DataError: missing or unreadable file, no valid row, or rows of another task.
    """
    data = load_dataset(source, format=task, skip_invalid=True)  # type: ignore[arg-type]
    if task is not None and data.task != task:
        raise DataError(f"holds {data.task} rows, but the suite asks for {task}", file=source)
    if holdout is not None:
        data = split_by_prompt(data, test_fraction=holdout[0], seed=holdout[1])[1]
    return data


def invalid_rows_note(task: str, data: Dataset[Any]) -> dict[str, Any] | None:
    """The note that lists ``data``'s invalid rows (None when there are none): ``rows`` (how
    many), ``reason`` (the first few, for the table) and ``invalid`` (each row's ``line``,
    ``field`` and ``reason``, for the JSON)."""
    if not data.skipped:
        return None
    rows = [{"line": s.line, "field": s.field, "reason": s.reason} for s in data.skipped]
    shown = "; ".join(f"line {r['line']}" + (f", field '{r['field']}'" if r["field"] else "")
                      + f": {r['reason']}" for r in rows[:_SHOWN])
    more = f"; and {len(rows) - _SHOWN} more" if len(rows) > _SHOWN else ""
    return {"task": task, "data": data.source, "rows": len(rows),
            "reason": f"invalid, not scored: {shown}{more}", "invalid": rows}
