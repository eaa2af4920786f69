"""Round-robin judgments of a group of responses, for tournament-style RL advantages."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rewardlab.data import Prompt
from rewardlab.scoring._pairs import compare_pairs

__all__ = ["preference_matrix"]


def preference_matrix(judge: object, prompt: Prompt, responses: Sequence[str]) -> np.ndarray:
    """``P[i, j]`` = P(response i beats response j), every ordered pair asked once.

    Asking ``(i, j)`` and ``(j, i)`` shows each pair in both orders, so a position-biased
    judge's preference for the first slot cancels when ``rewardlab.shaping.win_rates`` /
    ``win_rate_advantages`` symmetrise the matrix (their default). The diagonal is NaN; so is
    any pair the judge gave no verdict for (pass ``nan_policy="omit"`` to the shaping function).

    Example:
        >>> class Longer:  # a stand-in judge: the longer response wins
        ...     def compare(self, prompts, a, b, *, swap=False):
        ...         return np.array([float(len(x) > len(y)) for x, y in zip(a, b)])
        >>> preference_matrix(Longer(), "q", ["a", "bbb", "cc"]).tolist()
        [[nan, 0.0, 0.0], [1.0, nan, 1.0], [1.0, 0.0, nan]]
    """
    k = len(responses)
    pairs = [(i, j) for i in range(k) for j in range(k) if i != j]
    out = np.full((k, k), np.nan)
    # compare_pairs checks the capability (even with no pair to ask) and the answer
    p = compare_pairs(judge, [prompt] * len(pairs), [responses[i] for i, _ in pairs],
                      [responses[j] for _, j in pairs], swap=False)
    for (i, j), value in zip(pairs, p, strict=True):
        out[i, j] = value
    return out
