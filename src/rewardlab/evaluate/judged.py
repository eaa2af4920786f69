"""Position-bias figures of preference pairs judged side by side by a generative judge.

The judging itself (order balanced by position, ``swap`` asking both orders) is the scoring
layer's ``rewardlab.scoring.judge_pair_rewards``; this module summarises the judgments: how
often the response shown first won, and with ``swap`` how often the two orders agree.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

# the scoring side lives in the scoring layer; re-exported for code that imported it here
from rewardlab.scoring import chosen_shown_first, judge_pair_rewards, uses_comparison

__all__ = ["chosen_shown_first", "judge_pair_rewards", "judge_summary", "uses_comparison"]


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
