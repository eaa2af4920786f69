"""Group-relative advantages: GRPO, Dr. GRPO, RLOO and GDPO's decoupled multi-reward form.

All four compare each response with the other responses to the same prompt, so a reward
model's offset per prompt cancels out. They differ in the baseline (group mean, or the mean
of the *other* responses), in the scale (group std, batch std, none) and in how several
rewards are combined.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np

from rewardlab._validation import check_int, check_option, check_positive
from rewardlab.shaping._common import (
    GroupLayout,
    as_float_array,
    check_nan_policy,
    fail,
    finite_mask,
)

__all__ = [
    "dr_grpo_advantages",
    "gdpo_advantages",
    "grpo_advantages",
    "rloo_advantages",
]

Scale = Literal["group", "batch", "none"]
_SCALES = ("group", "batch", "none")
_GROUP_POLICIES = ("raise", "omit")
_ROUNDING = 1e-12


def _check_stats(owner: str, ddof: int, eps: float) -> None:
    check_int(owner, "ddof", ddof, minimum=0)
    check_positive(owner, "eps", eps, allow_zero=True)


def _centre(x: np.ndarray, layout: GroupLayout, valid: np.ndarray | None
            ) -> tuple[np.ndarray, np.ndarray]:
    """Rewards minus their group mean, and each group's count of valid rewards.

    Groups whose valid rewards are all equal (or that have fewer than two) get exactly zero,
    not the rounding residue of ``x - mean(x)``: a constant group carries no relative signal,
    and dividing its residue by a near-zero std would invent one. Invalid rewards get 0.
    """
    xv = x if valid is None else np.where(valid, x, 0.0)
    n = layout.count(valid)
    mean = np.divide(layout.sum(xv), n, out=np.zeros(layout.n_groups), where=n > 0)
    centred = xv - layout.expand(mean)
    flat = (layout.max(x, valid) == layout.min(x, valid)) | (n < 2)
    if flat.any():
        if layout.codes is None:
            centred[flat] = 0.0
        else:
            centred[flat[layout.codes]] = 0.0
    if valid is not None:
        centred[~valid] = 0.0
    return centred, n


def _group_std(centred: np.ndarray, layout: GroupLayout, n: np.ndarray, ddof: int
               ) -> np.ndarray:
    dof = n - ddof
    return np.sqrt(np.divide(layout.sum_squares(centred), dof, out=np.zeros(layout.n_groups),
                             where=dof > 0))


def _batch_std(x: np.ndarray, valid: np.ndarray | None, ddof: int) -> float:
    values = x if valid is None else x[valid]
    if values.size - ddof <= 0:
        return 0.0
    return float(np.std(values, ddof=ddof))


def _safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den``, with 0 where ``den`` is 0 (only where ``num`` is 0 too: flat groups)."""
    den = np.where(den > 0, den, 1.0)
    return num / den


def _normalise(x: np.ndarray, layout: GroupLayout, valid: np.ndarray | None, *, scale: str,
               ddof: int, eps: float) -> np.ndarray:
    centred, n = _centre(x, layout, valid)
    if scale == "none":
        return centred
    if scale == "group":
        std = _group_std(centred, layout, n, ddof) + eps
        return _safe_divide(centred, layout.expand(std))
    return _safe_divide(centred, np.asarray(_batch_std(x, valid, ddof) + eps))


def grpo_advantages(rewards: Any, groups: Any = None, *, scale: Scale = "group", ddof: int = 1,
                    eps: float = 1e-4, nan_policy: Literal["raise", "omit"] = "raise") -> Any:
    r"""Group-normalised advantages, as in GRPO.

    Implements the outcome-reward advantage of Group Relative Policy Optimization (Shao et al.,
    2024, *DeepSeekMath*, arXiv:2402.03300): :math:`A_i = (r_i - \mathrm{mean}(r_G)) /
    \mathrm{std}(r_G)` over the responses ``G`` to one prompt. ``scale="batch"`` divides by the
    std of the whole batch instead (group mean, batch std: Liu et al., 2025, *Tricks or
    Traps? A Deep Dive into RL for LLM Reasoning*, arXiv:2508.08221; TRL's
    ``scale_rewards="batch"``); ``scale="none"`` is Dr. GRPO (see ``dr_grpo_advantages``).
    The defaults (``ddof=1``, ``eps=1e-4`` added to the std) match TRL's ``GRPOTrainer``.

    Every group's advantages sum to zero. A group whose rewards are all equal gets exactly
    zero advantage (it says nothing about which response is better), with no division by zero
    even when ``eps=0``.

    Args:
        rewards: ``(n_groups, group_size)``, or 1-D with ``groups``. NumPy or torch; the result
            has the same kind, device and floating dtype.
        groups: one group id per reward for ragged groups (any sortable ids), or ``None``.
        scale: ``"group"``, ``"batch"`` or ``"none"``.
        ddof: delta degrees of freedom of the std (1: the sample std, as TRL and verl use).
        eps: added to the std before dividing.
        nan_policy: ``"raise"`` (default) names the first NaN or infinite reward;
            ``"omit"`` leaves such rewards out of every mean and std and gives them
            advantage 0, so they push the policy neither way.

    Returns:
        Advantages shaped like ``rewards``.

    Raises:
        ConfigError: a reward is NaN or infinite (``nan_policy="raise"``), shapes disagree, or
            a parameter is out of range.

    Example:
        >>> grpo_advantages([[1.0, 0.0, 0.0, 1.0], [2.0, 2.0, 2.0, 2.0]], eps=0).round(3)
        array([[ 0.866, -0.866, -0.866,  0.866],
               [ 0.   ,  0.   ,  0.   ,  0.   ]])
        >>> grpo_advantages([3.0, 1.0, 5.0], groups=["a", "b", "a"], eps=0).round(3)
        array([-0.707,  0.   ,  0.707])
    """
    owner = "grpo_advantages"
    check_option(owner, "scale", scale, _SCALES)
    _check_stats(owner, ddof, eps)
    check_nan_policy(owner, nan_policy, _GROUP_POLICIES)
    x, restore = as_float_array(rewards, "rewards", owner)
    layout = GroupLayout.of(x, groups, owner)
    valid = finite_mask(x, "rewards", owner, nan_policy)
    return restore(_normalise(x, layout, valid, scale=scale, ddof=ddof, eps=eps))


def dr_grpo_advantages(rewards: Any, groups: Any = None, *,
                       nan_policy: Literal["raise", "omit"] = "raise") -> Any:
    r"""Group-centred advantages without std division, as in Dr. GRPO.

    Implements the advantage of Dr. GRPO (Liu et al., 2025, *Understanding R1-Zero-Like
    Training: A Critical Perspective*, arXiv:2503.20783): :math:`A_i = r_i -
    \mathrm{mean}(r_G)`. Dividing by the group std weights questions that are too easy or
    too hard (small std) more heavily; Dr. GRPO drops it. (The paper's other change, no
    per-response length normalisation, belongs to the loss, not the advantage.)

    Args:
        rewards: ``(n_groups, group_size)``, or 1-D with ``groups``; NumPy or torch.
        groups: one group id per reward for ragged groups, or ``None``.
        nan_policy: ``"raise"`` names the first NaN or infinite reward; ``"omit"`` leaves
            such rewards out of the group means and gives them advantage 0.

    Returns:
        Advantages shaped like ``rewards``; each group sums to zero.

    Example:
        >>> dr_grpo_advantages([[1.0, 0.0, 0.0, 1.0]])
        array([[ 0.5, -0.5, -0.5,  0.5]])
    """
    owner = "dr_grpo_advantages"
    check_nan_policy(owner, nan_policy, _GROUP_POLICIES)
    x, restore = as_float_array(rewards, "rewards", owner)
    layout = GroupLayout.of(x, groups, owner)
    valid = finite_mask(x, "rewards", owner, nan_policy)
    return restore(_normalise(x, layout, valid, scale="none", ddof=0, eps=0.0))


def rloo_advantages(rewards: Any, groups: Any = None, *,
                    nan_policy: Literal["raise", "omit"] = "raise") -> Any:
    r"""REINFORCE leave-one-out advantages: each reward minus the mean of the others.

    Implements RLOO (Kool et al., 2019, *Buy 4 REINFORCE Samples, Get a Baseline for Free!*;
    applied to LLMs by Ahmadian et al., 2024, *Back to Basics: Revisiting REINFORCE Style
    Optimization for Learning from Human Feedback in LLMs*, arXiv:2402.14740):
    :math:`A_i = r_i - \frac{1}{k-1}\sum_{j \ne i} r_j = \frac{k}{k-1}(r_i - \bar r)`. The
    baseline does not depend on the response it is subtracted from, so the gradient estimate
    stays unbiased. A group with a single (valid) reward has no baseline: advantage 0.

    Args:
        rewards: ``(n_groups, group_size)``, or 1-D with ``groups``; NumPy or torch.
        groups: one group id per reward for ragged groups, or ``None``.
        nan_policy: ``"raise"`` names the first NaN or infinite reward; ``"omit"`` leaves
            such rewards out of the baselines (``k`` counts valid rewards only) and gives
            them advantage 0.

    Returns:
        Advantages shaped like ``rewards``; each group sums to zero.

    Example:
        >>> rloo_advantages([[1.0, 0.0, 0.0, 1.0]]).round(4)
        array([[ 0.6667, -0.6667, -0.6667,  0.6667]])
    """
    owner = "rloo_advantages"
    check_nan_policy(owner, nan_policy, _GROUP_POLICIES)
    x, restore = as_float_array(rewards, "rewards", owner)
    layout = GroupLayout.of(x, groups, owner)
    valid = finite_mask(x, "rewards", owner, nan_policy)
    centred, n = _centre(x, layout, valid)
    factor = np.divide(n, n - 1, out=np.zeros(layout.n_groups), where=n > 1)
    return restore(centred * layout.expand(factor))


def _stack_rewards(rewards: Any, owner: str) -> tuple[np.ndarray, Any, list[str] | None]:
    """Several rewards as one float array with the reward axis last, and their names."""
    names: list[str] | None = None
    if isinstance(rewards, Mapping):
        names = [str(k) for k in rewards]
        parts = list(rewards.values())
    elif isinstance(rewards, list | tuple):
        parts = list(rewards)
    else:
        stacked, restore = as_float_array(rewards, "rewards", owner)
        if stacked.ndim < 2:
            raise fail(owner, "rewards", "an array whose last axis holds the rewards "
                       "(shape (n, n_rewards) or (n_groups, group_size, n_rewards)), a list "
                       "of reward arrays, or a dict of them", f"shape {stacked.shape}")
        return stacked, restore, None
    if not parts:
        raise fail(owner, "rewards", "at least one reward array", "none")
    arrays = []
    restore = None
    for i, part in enumerate(parts):
        label = f"rewards[{names[i]!r}]" if names else f"rewards[{i}]"
        array, back = as_float_array(part, label, owner)
        if arrays and array.shape != arrays[0].shape:
            raise fail(owner, label, f"shaped like the first reward, {arrays[0].shape}",
                       f"shape {array.shape}")
        arrays.append(array)
        restore = restore or back
    return np.stack(arrays, axis=-1), restore, names


def _weights(weights: Any, k: int, names: list[str] | None, owner: str) -> np.ndarray:
    if weights is None:
        return np.ones(k)
    if isinstance(weights, Mapping):
        if names is None or set(map(str, weights)) != set(names):
            raise fail(owner, "weights", "a dict with exactly the reward names "
                       f"{names}" if names else "a sequence (the rewards have no names)",
                       f"keys {sorted(map(str, weights))}")
        weights = [weights[name] for name in names]
    w, _ = as_float_array(weights, "weights", owner)
    if w.shape != (k,) or not np.isfinite(w).all():
        raise fail(owner, "weights", f"{k} finite numbers, one per reward",
                   f"{np.asarray(weights).tolist()!r}")
    return w


def gdpo_advantages(rewards: Any, groups: Any = None, *, weights: Any = None, ddof: int = 1,
                    eps: float = 1e-4, batch_normalize: bool = True,
                    nan_policy: Literal["raise", "omit"] = "raise") -> Any:
    r"""Advantages from several rewards, each normalised within its group before combining.

    Implements GDPO, Group reward-Decoupled normalization Policy Optimization (Liu et al.,
    2026, *GDPO: Group reward-Decoupled Normalization Policy Optimization for Multi-reward RL
    Optimization*, arXiv:2601.05242): every reward ``k`` gets its own GRPO normalisation
    :math:`z_k = (r_k - \mathrm{mean}_G r_k)/(\mathrm{std}_G r_k + \epsilon)`, the results
    are combined as :math:`\sum_k w_k z_k`, and the sum is normalised over the whole batch.
    Summing raw rewards first (plain GRPO) lets a reward with a large spread drown the others
    and maps different reward combinations onto the same advantage; decoupling keeps them
    apart. This is TRL's ``multi_objective_aggregation="normalize_then_sum"`` and verl's
    ``adv_estimator=gdpo``.

    Args:
        rewards: the rewards, as a dict ``{name: array}``, a list of arrays (one per
            reward), or one array with the reward axis last: ``(n, n_rewards)`` with
            ``groups``, ``(n_groups, group_size, n_rewards)`` without.
        groups: one group id per response for ragged groups, or ``None``.
        weights: one weight per reward (a sequence, or a dict by name); default all 1.
        ddof: delta degrees of freedom of the group std.
        eps: added to each std before dividing.
        batch_normalize: finish with the batch-wide normalisation of the paper. With
            ``False`` the result is the weighted sum of group-normalised rewards, which still
            sums to zero within every group: what adapters hand a trainer that normalises
            again.
        nan_policy: ``"raise"`` names the first NaN or infinite reward; ``"omit"`` drops a
            missing reward from that response's sum (as TRL does with ``None`` rewards) and
            from its group's statistics; a response with no valid reward at all gets 0 and
            is left out of the batch normalisation.

    Returns:
        One advantage per response, shaped like a single reward array.

    Example:
        >>> correct = [[1.0, 1.0, 0.0, 0.0]]
        >>> short = [[1.0, 0.0, 1.0, 0.0]]
        >>> gdpo_advantages([correct, short], weights=[1.0, 0.5], eps=0,
        ...                 batch_normalize=False).round(3)
        array([[ 1.299,  0.433, -0.433, -1.299]])
    """
    owner = "gdpo_advantages"
    _check_stats(owner, ddof, eps)
    check_nan_policy(owner, nan_policy, _GROUP_POLICIES)
    stacked, restore, names = _stack_rewards(rewards, owner)
    w = _weights(weights, stacked.shape[-1], names, owner)
    shape = stacked.shape[:-1]
    layout = GroupLayout.of(np.empty(shape), groups, owner)
    combined = np.zeros(shape)
    scorable = np.zeros(shape, dtype=bool)
    for k in range(stacked.shape[-1]):  # a loop over rewards (a handful), not over groups
        x = stacked[..., k]
        label = f"rewards[{names[k]!r}]" if names else f"rewards[..., {k}]"
        valid = finite_mask(x, label, owner, nan_policy)
        combined += w[k] * _normalise(x, layout, valid, scale="group", ddof=ddof, eps=eps)
        scorable |= True if valid is None else valid
    if batch_normalize:
        values = combined[scorable]
        mean = float(values.mean()) if values.size else 0.0
        std = float(np.std(values, ddof=ddof)) if values.size > ddof else 0.0
        # The sum of unit-scale z-scores carries rounding noise of ~1e-16; a spread that small
        # is no signal, and dividing by it (eps=0) would blow the noise up to +-1.
        if std <= _ROUNDING * max(1.0, float(np.abs(values).max(initial=0.0))):
            combined = np.zeros(shape)
        else:
            combined = np.where(scorable, (combined - mean) / (std + eps), 0.0)
    return restore(combined)
