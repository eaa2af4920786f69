"""RewardBench 2 rows, read as best-of-n records.

RewardBench 2 rows (``prompt``, ``chosen`` and ``rejected`` as *lists* of replies,
``num_correct``, ``total_completions``, ``subset``, ``id``) ask a best-of-n question: is a
chosen reply at the top of all the candidates? They become ``BestOfNRecord``s with the chosen
replies first, labelled correct, so the best-of-n machinery (``bench``, ``eval``, ``score``)
handles them; the pairwise parser would read a list of strings as chat messages and reject it.
"""

from __future__ import annotations

from typing import Any

from rewardlab.data._fields import (
    RowContext,
    read_id,
    read_prompt,
    read_subset,
    read_text,
    type_name,
)
from rewardlab.data._records import BestOfNRecord

__all__ = ["parse_rewardbench2"]


def _replies(row: dict[str, Any], key: str, ctx: RowContext) -> tuple[str, ...]:
    value = row.get(key)
    if not isinstance(value, list) or not value:
        raise ctx.fail(key, f"must be a non-empty list of replies (RewardBench 2 layout), got "
                       f"{type_name(value)}")
    return tuple(read_text(v, ctx, f"{key}[{i}]") for i, v in enumerate(value))


def _count(row: dict[str, Any], key: str, expected: int, ctx: RowContext, rule: str) -> None:
    if row.get(key) is None:
        return
    value = row[key]
    if isinstance(value, bool) or not isinstance(value, int) or value != expected:
        raise ctx.fail(key, f"is {value!r} but {rule} is {expected}; RewardBench 2 rows list "
                       "every correct reply in 'chosen'")


def parse_rewardbench2(row: dict[str, Any], ctx: RowContext) -> BestOfNRecord:
    """One RewardBench 2 row: the chosen replies, then the rejected ones, labelled correct and
    incorrect; ``num_correct`` / ``total_completions`` must agree with the lists."""
    chosen = _replies(row, "chosen", ctx)
    rejected = _replies(row, "rejected", ctx)
    _count(row, "num_correct", len(chosen), ctx, "the number of 'chosen' replies")
    _count(row, "total_completions", len(chosen) + len(rejected), ctx,
           "the number of 'chosen' and 'rejected' replies")
    prompt = read_prompt(row, ctx)
    if prompt is None:
        raise ctx.fail("prompt", "is missing; a RewardBench 2 row needs the 'prompt' its "
                       "replies answer")
    return BestOfNRecord(prompt=prompt[1], responses=chosen + rejected, id=read_id(row, ctx),
                         is_correct=(True,) * len(chosen) + (False,) * len(rejected),
                         subset=read_subset(row, ctx), line=ctx.line)
