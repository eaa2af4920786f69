"""Preference pairs judged side by side by a generative judge, with the order balanced.

A judge that reads two responses may prefer whichever it sees first. Showing the chosen
response first in every pair would turn that bias into accuracy, so pair ``i`` shows the
chosen response first when ``i`` is even and second when it is odd: a judge that always answers
"A" scores exactly 0.5. With ``swap`` every pair is asked in both orders and averaged, and the
order-consistency rate says how often the two orders agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardlab.data import PairRecord
from rewardlab.errors import CapabilityError
from rewardlab.models.base import PairwiseJudge, describe

__all__ = ["chosen_shown_first", "judge_pair_rewards", "judge_summary", "uses_comparison"]


def uses_comparison(model: object) -> bool:
    """Pairs are compared side by side (not scored one response at a time) by this model."""
    return isinstance(model, PairwiseJudge) and bool(getattr(model, "compares_pairs", False))


def chosen_shown_first(n: int, first_index: int = 0) -> np.ndarray:
    """Which pairs show the chosen response first: every other one by the pair's position in
    its data set (``first_index`` is the position of the first of these ``n``), so a file
    scored in chunks, shards or at once asks each pair in the same order.

    Example:
        >>> chosen_shown_first(5).tolist()
        [True, False, True, False, True]
        >>> chosen_shown_first(2, first_index=3).tolist()
        [False, True]
    """
    return (np.arange(n) + first_index) % 2 == 0


def judge_pair_rewards(model: Any, records: Sequence[PairRecord], *, swap: bool | None = None,
                       first_index: int = 0
                       ) -> tuple[np.ndarray, np.ndarray, list[Any], np.ndarray]:
    """``(reward_chosen, reward_rejected, judgments, chosen_first)``: P(chosen better) and its
    complement per pair, the judge's ``PairJudgment`` per pair (in the order it was shown),
    and which pairs showed the chosen response first (``first_index``: the position of
    ``records[0]`` in its data set, see ``chosen_shown_first``)."""
    if not hasattr(model, "judge_pairs"):
        raise CapabilityError(f"model '{describe(model)}' cannot judge pairs side by side")
    first = chosen_shown_first(len(records), first_index)
    prompts = [r.prompt for r in records]
    a = [r.chosen if f else r.rejected for r, f in zip(records, first, strict=True)]
    b = [r.rejected if f else r.chosen for r, f in zip(records, first, strict=True)]
    judgments = model.judge_pairs(prompts, a, b, swap=swap)
    p_first = np.array([j.p for j in judgments], dtype=np.float64)
    p_chosen = np.where(first, p_first, 1.0 - p_first)
    return p_chosen, 1.0 - p_chosen, judgments, first


def judge_summary(judgments: Sequence[Any], *, swap: bool) -> dict[str, float]:
    """Position-bias figures of a judged set of pairs.

    ``first_shown_wins``: share of the questions asked (both orders with ``swap``) in which the
    response shown first won (0.5: no position preference); ``order_consistency``: share of
    swapped pairs whose two orders pick the same response; ``no_verdict``: share of pairs
    without a verdict; ``truncated``: share of pairs whose prompt was cut to fit.
    """
    verdicts = [v for j in judgments for v in (j.forward, j.backward) if v is not None]
    values = np.array([v.value for v in verdicts], dtype=np.float64)
    seen = values[~np.isnan(values)]
    first_wins = np.where(seen > 0.5, 1.0, np.where(seen < 0.5, 0.0, 0.5))
    n = max(len(judgments), 1)
    out = {
        "swap": float(swap),
        "first_shown_wins": float(first_wins.mean()) if seen.size else math.nan,
        "no_verdict": sum(math.isnan(j.p) for j in judgments) / n,
        "truncated": sum(any(v.truncated for v in (j.forward, j.backward) if v is not None)
                         for j in judgments) / n,
    }
    if swap:
        consistent = [j.consistent for j in judgments if j.consistent is not None]
        out["order_consistency"] = (sum(consistent) / len(consistent) if consistent
                                    else math.nan)
    return out
