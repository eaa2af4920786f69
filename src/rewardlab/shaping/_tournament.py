"""Advantages from pairwise judgments within a group: win rates and tournaments.

A pairwise judge (an LLM asked "which answer is better?", or a preference model) often
separates responses more reliably than a pointwise score does. Within each group, a
response's win rate against the others becomes its reward, and the win rates are centred
(and optionally scaled) into advantages.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from rewardlab.errors import ConfigError
from rewardlab.shaping._advantages import _check_stats, _normalise
from rewardlab.shaping._common import (
    GroupLayout,
    as_float_array,
    as_plain_array,
    check_nan_policy,
    fail,
)

__all__ = ["tournament_advantages", "win_rate_advantages", "win_rates"]

_POLICIES = ("raise", "omit")


def _check_probabilities(p: np.ndarray, name: str, owner: str, skip: np.ndarray | None,
                         nan_policy: str) -> np.ndarray:
    """The mask of usable judgments; raises on NaN (policy allowing) or values outside [0, 1].

    Entries where ``skip`` is true (a matrix's diagonal) are neither checked nor used.
    """
    considered = np.ones(p.shape, dtype=bool) if skip is None else ~skip
    finite = np.isfinite(p)
    missing = considered & ~finite
    if missing.any() and nan_policy == "raise":
        index = np.unravel_index(np.flatnonzero(missing.ravel())[0], p.shape)
        raise ConfigError(
            f"The '{name}' parameter of {owner} must hold finite probabilities, but "
            f"{name}[{', '.join(map(str, index))}] is {p[index]}. A judge gave no verdict "
            f"there: find out why, or pass nan_policy='omit' to leave that judgment out."
        )
    usable = considered & finite
    outside = usable & ((p < 0) | (p > 1))
    if outside.any():
        index = np.unravel_index(np.flatnonzero(outside.ravel())[0], p.shape)
        raise fail(owner, name, "probabilities in [0, 1] (1: the first response wins)",
                   f"{name}[{', '.join(map(str, index))}] = {p[index]}")
    return usable


def _win_rates(p: np.ndarray, owner: str, symmetrize: bool, nan_policy: str) -> np.ndarray:
    k = p.shape[-1]
    diagonal = np.eye(k, dtype=bool)
    valid = _check_probabilities(p, "preferences", owner, np.broadcast_to(diagonal, p.shape),
                                 nan_policy)
    forward = np.where(valid, p, 0.0)
    if symmetrize:
        # The judgment of (j, i) read from i's side: a position-biased judge gives
        # p_ij + p_ji != 1, and averaging both orders cancels the bias.
        valid_back = np.swapaxes(valid, -1, -2)
        backward = np.where(valid_back, 1.0 - np.swapaxes(p, -1, -2), 0.0)
        seen = valid.astype(np.float64) + valid_back
        pair = np.divide(forward + backward, seen, out=np.zeros(p.shape), where=seen > 0)
        played = seen > 0
    else:
        pair, played = forward, valid
    games = played.sum(axis=-1)
    rates = np.divide(pair.sum(axis=-1), games, out=np.full(games.shape, np.nan),
                      where=games > 0)
    return rates


def _preferences(preferences: Any, owner: str) -> tuple[np.ndarray, Any, bool]:
    p, restore = as_float_array(preferences, "preferences", owner)
    single = p.ndim == 2
    if single:
        p = p[None]
    if p.ndim != 3 or p.shape[1] != p.shape[2]:
        raise fail(owner, "preferences", "(n_groups, k, k) or (k, k), entry [i, j] the "
                   "probability that response i beats response j", f"shape {p.shape}")
    return p, restore, single


def win_rates(preferences: Any, *, symmetrize: bool = True,
              nan_policy: Literal["raise", "omit"] = "raise") -> Any:
    r"""Each response's win rate against the others in its group, from pairwise judgments.

    The round-robin win rate used as the reward in Pref-GRPO (Wang et al., 2025, *Pref-GRPO:
    Pairwise Preference Reward-based GRPO for Stable Text-to-Image Reinforcement Learning*,
    arXiv:2508.20751): :math:`w_i = \frac{1}{k-1}\sum_{j \ne i} p_{ij}`. With
    ``symmetrize=True`` each pair's two judgments are averaged,
    :math:`\tilde p_{ij} = (p_{ij} + 1 - p_{ji})/2`, which cancels a judge's position bias and
    makes the win rates of a complete round robin average exactly 0.5.

    Args:
        preferences: ``(n_groups, k, k)`` (or ``(k, k)`` for one group); entry ``[g, i, j]``
            is the probability that response ``i`` beats response ``j`` (1, 0, 0.5 for a
            tie, or a judge's probability). The diagonal is ignored.
        symmetrize: average the two orders of each pair.
        nan_policy: ``"raise"`` names the first missing (NaN) judgment off the diagonal;
            ``"omit"`` leaves missing judgments out (a pair judged in one order only uses
            that order), and a response with no judgment at all gets the neutral 0.5.

    Returns:
        Win rates in ``[0, 1]``, ``(n_groups, k)`` (or ``(k,)``).

    Example:
        >>> p = [[0.5, 1.0, 1.0], [0.0, 0.5, 1.0], [0.0, 0.0, 0.5]]
        >>> win_rates(p)
        array([1. , 0.5, 0. ])
    """
    owner = "win_rates"
    check_nan_policy(owner, nan_policy, _POLICIES)
    p, restore, single = _preferences(preferences, owner)
    rates = np.nan_to_num(_win_rates(p, owner, symmetrize, nan_policy), nan=0.5)
    return restore(rates[0] if single else rates)


def win_rate_advantages(preferences: Any, *, scale: Literal["group", "none"] = "none",
                        symmetrize: bool = True, ddof: int = 1, eps: float = 1e-4,
                        nan_policy: Literal["raise", "omit"] = "raise") -> Any:
    r"""Advantages from round-robin pairwise judgments: win rates, centred within each group.

    Implements the Pref-GRPO advantage (Wang et al., 2025, arXiv:2508.20751): win rates
    (see ``win_rates``) take the place of pointwise rewards in GRPO. ``scale="group"``
    divides by the group std of the win rates as GRPO does; the default ``"none"`` keeps
    them on the win-rate scale (``[-1, 1]``), which cannot blow up tiny differences.

    Args:
        preferences: ``(n_groups, k, k)`` or ``(k, k)``, as for ``win_rates``.
        scale: ``"none"`` or ``"group"``.
        symmetrize: average the two orders of each pair.
        ddof: delta degrees of freedom of the group std.
        eps: added to the std before dividing.
        nan_policy: ``"raise"`` names the first missing (NaN) judgment; ``"omit"`` leaves
            missing judgments out, and a response with no judgment at all gets advantage 0
            and is left out of its group's mean.

    Returns:
        Advantages ``(n_groups, k)`` (or ``(k,)``); every group sums to zero.

    Example:
        >>> p = [[0.5, 1.0, 1.0], [0.0, 0.5, 1.0], [0.0, 0.0, 0.5]]
        >>> win_rate_advantages(p)
        array([ 0.5,  0. , -0.5])
    """
    owner = "win_rate_advantages"
    if scale not in ("group", "none"):
        raise fail(owner, "scale", "one of 'group', 'none'", repr(scale))
    _check_stats(owner, ddof, eps)
    check_nan_policy(owner, nan_policy, _POLICIES)
    p, restore, single = _preferences(preferences, owner)
    rates = _win_rates(p, owner, symmetrize, nan_policy)
    layout = GroupLayout.of(rates, None, owner)
    valid = np.isfinite(rates)
    adv = _normalise(rates, layout, None if valid.all() else valid, scale=scale, ddof=ddof,
                     eps=eps)
    return restore(adv[0] if single else adv)


def tournament_advantages(first: Any, second: Any, outcome: Any, groups: Any, *,
                          scale: Literal["group", "none"] = "none", ddof: int = 1,
                          eps: float = 1e-4,
                          nan_policy: Literal["raise", "omit"] = "raise") -> Any:
    r"""Advantages from any set of pairwise games within groups (knockout, Swiss, sampled).

    A sparse form of ``win_rate_advantages`` for when judging all :math:`k(k-1)/2` pairs
    is too expensive (knockout tournaments as in Liu et al., 2025, *PairJudge RM: Perform
    Best-of-N Sampling with Knockout Tournament*, arXiv:2501.13007) or groups are ragged.
    Each response's win rate is its wins over its games; advantages are win rates minus
    their group's mean (Pref-GRPO's win-rate reward, Wang et al., 2025, arXiv:2508.20751),
    optionally divided by the group std.

    Args:
        first: index (into the responses) of the first response of each game.
        second: index of the second response of each game; same group as ``first``.
        outcome: probability that ``first`` won each game (1, 0, 0.5 for a tie).
        groups: group id of each response; its length is the number of responses.
        scale: ``"none"`` or ``"group"``.
        ddof: delta degrees of freedom of the group std.
        eps: added to the std before dividing.
        nan_policy: ``"raise"`` names the first NaN outcome and the first response that
            played no game; ``"omit"`` drops games without an outcome and gives responses
            without a game advantage 0 (left out of the group mean).

    Returns:
        One advantage per response, in ``[-1, 1]`` with ``scale="none"``; every group sums to
        zero. The kind (NumPy or torch) follows ``outcome``.

    Example:
        >>> # a knockout among four: 0 beats 1, 3 beats 2, then 0 beats 3
        >>> tournament_advantages([0, 3, 0], [1, 2, 3], [1.0, 1.0, 1.0], groups=[7, 7, 7, 7])
        array([ 0.625, -0.375, -0.375,  0.125])
    """
    owner = "tournament_advantages"
    if scale not in ("group", "none"):
        raise fail(owner, "scale", "one of 'group', 'none'", repr(scale))
    _check_stats(owner, ddof, eps)
    check_nan_policy(owner, nan_policy, _POLICIES)
    o, restore = as_float_array(outcome, "outcome", owner)
    a, b = as_plain_array(first), as_plain_array(second)
    ids = as_plain_array(groups)
    if ids.ndim != 1:
        raise fail(owner, "groups", "1-D, one group id per response", f"shape {ids.shape}")
    n = ids.shape[0]
    layout = GroupLayout.of(np.zeros(n), ids, owner, name="groups")
    for name, idx in (("first", a), ("second", b)):
        if idx.shape != o.shape or o.ndim != 1:
            raise fail(owner, name, f"one response index per game, shape {o.shape}",
                       f"shape {idx.shape}")
        if idx.size and (idx.dtype.kind not in "iu" or idx.min() < 0 or idx.max() >= n):
            raise fail(owner, name, f"response indices in [0, {n})", f"{idx.tolist()!r}")
    assert layout.codes is not None
    same = layout.codes[a] == layout.codes[b]
    if not same.all() or (a == b).any():
        game = int(np.flatnonzero(~same | (a == b))[0])
        raise fail(owner, "first", "a different response of the same group as 'second' in "
                   "every game", f"game {game}: responses {int(a[game])} and {int(b[game])}")
    played = _check_probabilities(o, "outcome", owner, None, nan_policy)
    o = np.where(played, o, 0.0)
    wins = (np.bincount(a, weights=o, minlength=n)
            + np.bincount(b, weights=np.where(played, 1.0 - o, 0.0), minlength=n))
    games = np.bincount(a[played], minlength=n) + np.bincount(b[played], minlength=n)
    if (games == 0).any() and nan_policy == "raise":
        raise fail(owner, "first", "games that give every response at least one judgment",
                   f"no game for response {int(np.flatnonzero(games == 0)[0])}")
    rates = np.divide(wins, games, out=np.zeros(n), where=games > 0)
    valid = games > 0
    adv = _normalise(rates, layout, None if valid.all() else valid, scale=scale, ddof=ddof,
                     eps=eps)
    return restore(adv)
