"""The one check of what a model's scoring method returned.

Every path that scores (``score``, ``eval``, the server, the RL adapters, ``bench``,
``audit``) calls this, so a model that breaks the contract gets the same message everywhere,
naming the model and the check that failed, instead of five hand-written shape checks with
two exception types.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardlab.errors import ScoringError

__all__ = ["check_rewards"]


def check_rewards(out: Any, n: int, *, model: str, method: str = "score",
                  what: str = "rewards") -> np.ndarray:
    """``out`` as float64 of shape ``(n,)``, or ``ScoringError`` naming what is wrong.

    NaN and infinities pass: a judge with no verdict gives NaN, and each consumer has its own
    policy for them (``score`` writes null, the server answers 502, the adapters raise or
    omit). A list is refused on purpose, though numpy could convert it: the contract is an
    array, and a kind that returns lists usually returns them in the wrong shape too.

    Args:
        out: what ``model.<method>`` returned.
        n: how many responses it was given.
        model: the model's name for the message (``describe(model)``).
        method: the method that was called.
        what: what ``out`` holds, for the message (``rewards``, ``uncertainty``).

    Raises:
        ScoringError: ``out`` is not a numeric array of shape ``(n,)``.

    Example:
        >>> check_rewards(np.array([1, 2]), 2, model="m").dtype
        dtype('float64')
        >>> check_rewards([0.5], 1, model="my:kind")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        rewardlab.errors.ScoringError: model 'my:kind' failed the scoring check: ... list ...
    """
    where = f"model '{model}' failed the scoring check: {method}() returned"
    if not isinstance(out, np.ndarray):
        raise ScoringError(f"{where} {type(out).__name__} as {what}; it must return a numpy "
                           f"array of shape ({n},)")
    if out.dtype.kind not in "biuf":
        raise ScoringError(f"{where} {what} of dtype {out.dtype}; it must return numbers "
                           "(float64)")
    if out.shape != (n,):
        raise ScoringError(f"{where} {what} of shape {out.shape} for {n} responses; a reward "
                           f"model returns one value per response, shape ({n},)")
    return out.astype(np.float64, copy=False)


def check_items(out: Any, n: int, *, model: str, method: str, what: str,
                per: str = "response") -> list[Any]:
    """``out`` if it is a list of ``n`` items (a judge's verdicts or judgments), else
    ``ScoringError``: the one check for methods that return one object per input rather than
    an array, worded as ``check_rewards`` words its own.

    Example:
        >>> check_items(["v"], 1, model="m", method="grade", what="verdicts")
        ['v']
    """
    if not isinstance(out, list) or len(out) != n:
        size = len(out) if isinstance(out, list) else type(out).__name__
        raise ScoringError(f"model '{model}' failed the scoring check: {method}() returned "
                           f"{size} {what} for {n} {per}s; it returns one per {per}")
    return out
