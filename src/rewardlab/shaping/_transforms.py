"""Reward transforms: preference-as-reward, process-reward clip and delta, length penalties.

These reshape a reward before any advantage is computed, to take away the easy ways a policy
can hack a learned reward: unbounded growth (PAR, log-sigmoid), repeating steps a process
reward model likes (clip, delta), and running long (overlong and length penalties).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from rewardlab.shaping._common import (
    GroupLayout,
    as_float_array,
    as_plain_array,
    check_nan_policy,
    fail,
    finite_mask,
)

__all__ = [
    "clip_process_rewards",
    "delta_process_rewards",
    "kimi_length_rewards",
    "lsc_rewards",
    "overlong_penalty",
    "par_rewards",
]

_ELEMENTWISE_POLICIES = ("raise", "propagate")


def _against_reference(owner: str, rewards: Any, reference: Any, nan_policy: str
                       ) -> tuple[np.ndarray, Any]:
    """``rewards - reference`` with a trailing axis of references, plus the result restorer."""
    check_nan_policy(owner, nan_policy, _ELEMENTWISE_POLICIES)
    r, restore = as_float_array(rewards, "rewards", owner)
    ref, _ = as_float_array(reference, "reference", owner)
    finite_mask(r, "rewards", owner, nan_policy, "propagate")
    finite_mask(ref, "reference", owner, nan_policy, "propagate")
    # several references per reward sit on an extra last axis
    many = ref if ref.ndim == r.ndim + 1 else ref[..., None]
    try:
        shape = np.broadcast_shapes((*r.shape, 1), many.shape)
    except ValueError:
        shape = None
    if shape is None or shape[:-1] != r.shape:
        raise fail(owner, "reference",
                   f"broadcastable to the rewards' shape {r.shape} (one reference reward per "
                   "reward, per group as (n_groups, 1), or several on an extra last axis)",
                   f"shape {ref.shape}")
    return r[..., None] - many, restore


def par_rewards(rewards: Any, reference: Any, *,
                nan_policy: Literal["raise", "propagate"] = "raise") -> Any:
    r"""Preference as reward: the sigmoid of the reward minus a reference response's reward.

    Implements PAR (Fu et al., 2025, *Reward Shaping to Mitigate Reward Hacking in RLHF*,
    arXiv:2502.18770): :math:`r_{RL} = \frac{1}{M}\sum_{m} \sigma(r - r_{ref,m})`, where
    :math:`r_{ref,m}` are the rewards of reference responses to the same prompt (e.g. the
    SFT policy's). Under a Bradley–Terry reward model this is the probability that the
    response is preferred to the reference: bounded in ``[0, 1]``, steep near the
    reference and flat far above it, so chasing ever higher raw reward stops paying.

    Args:
        rewards: rewards of any shape; NumPy or torch (the result has the same kind).
        reference: reference rewards broadcastable to ``rewards`` (use ``(n_groups, 1)`` for
            one reference per group of a 2-D batch), or with one extra last axis holding
            ``M`` references per reward, which are averaged over.
        nan_policy: ``"raise"`` names the first NaN or infinite value; ``"propagate"``
            returns NaN where a reward (or all its references) is missing.

    Returns:
        Shaped rewards in ``[0, 1]``, shaped like ``rewards``; non-decreasing in ``rewards``.

    Example:
        >>> par_rewards([0.0, 1.0, 3.0], reference=1.0).round(3)
        array([0.269, 0.5  , 0.881])
    """
    diff, restore = _against_reference("par_rewards", rewards, reference, nan_policy)
    with np.errstate(invalid="ignore"):  # NaN in, NaN out: asked for with "propagate"
        return restore(np.mean(np.exp(-np.logaddexp(0.0, -diff)), axis=-1))


def lsc_rewards(rewards: Any, reference: Any, *,
                nan_policy: Literal["raise", "propagate"] = "raise") -> Any:
    r"""Log-sigmoid centred rewards: :math:`\log \sigma(r - r_{ref})`, PAR's log variant.

    Implements the log-sigmoid transformation of Wang et al., 2024 (*Transforming and
    Combining Rewards for Aligning Large Language Models*, arXiv:2402.00742), which Fu et al.
    (2025, arXiv:2502.18770) compare with PAR as "LSC". It is the log-probability of being
    preferred to the reference: at most 0, with diminishing returns above the reference and
    a roughly linear penalty below it. Several references are averaged in log space.

    Args:
        rewards: rewards of any shape; NumPy or torch.
        reference: reference rewards, as for ``par_rewards``.
        nan_policy: ``"raise"`` names the first NaN or infinite value; ``"propagate"``
            returns NaN where a reward (or its reference) is missing.

    Returns:
        Shaped rewards ``<= 0``, shaped like ``rewards``; non-decreasing in ``rewards``.

    Example:
        >>> lsc_rewards([0.0, 1.0, 3.0], reference=1.0).round(3)
        array([-1.313, -0.693, -0.127])
    """
    diff, restore = _against_reference("lsc_rewards", rewards, reference, nan_policy)
    with np.errstate(invalid="ignore"):  # NaN in, NaN out: asked for with "propagate"
        return restore(np.mean(-np.logaddexp(0.0, -diff), axis=-1))


def _step_mask(owner: str, steps: np.ndarray, lengths: Any) -> np.ndarray | None:
    """For 2-D step rewards, the mask of real steps given per-row ``lengths``."""
    if lengths is None:
        return None
    if steps.ndim != 2:
        raise fail(owner, "lengths", "None unless step_rewards are 2-D (responses, steps)",
                   f"lengths for step rewards of shape {steps.shape}")
    n = as_plain_array(lengths)
    if n.shape != (steps.shape[0],) or n.dtype.kind not in "iu" or (n < 0).any() or (
            n > steps.shape[1]).any():
        raise fail(owner, "lengths", f"{steps.shape[0]} step counts in [0, {steps.shape[1]}]",
                   f"{n.tolist()!r}")
    return np.arange(steps.shape[1]) < n[:, None]


def clip_process_rewards(step_rewards: Any, *, threshold: float, lengths: Any = None,
                         nan_policy: Literal["raise", "propagate"] = "raise") -> Any:
    r"""Clip mechanism for process rewards: :math:`\min(r_k - \eta, 0)`.

    Implements the Clip mechanism of Gao et al., 2024 (*On Designing Effective RL Reward at
    Training Time for LLM Reasoning*, arXiv:2410.15115). A process reward model can be
    hacked by repeating steps it likes; after clipping every step's reward is ``<= 0``, so
    more steps can never add reward, while a step the PRM doubts (below the threshold
    ``eta``) is still penalised in proportion.

    Args:
        step_rewards: per-step rewards of any shape, e.g. ``(n_responses, n_steps)``.
        threshold: ``eta``; rewards at or above it become 0.
        lengths: for 2-D step rewards, the number of real steps in each row; later entries
            are padding (any value, NaN included) and come back as 0.
        nan_policy: ``"raise"`` names the first NaN or infinite real step; ``"propagate"``
            returns NaN there.

    Returns:
        Clipped step rewards ``<= 0``, same shape; non-decreasing in ``step_rewards``.

    Example:
        >>> clip_process_rewards([[0.9, 0.2, 0.6]], threshold=0.5)
        array([[ 0. , -0.3,  0. ]])
    """
    owner = "clip_process_rewards"
    check_nan_policy(owner, nan_policy, _ELEMENTWISE_POLICIES)
    if not isinstance(threshold, int | float) or not np.isfinite(threshold):
        raise fail(owner, "threshold", "a finite number", repr(threshold))
    r, restore = as_float_array(step_rewards, "step_rewards", owner)
    real = _step_mask(owner, r, lengths)
    checked = r if real is None else np.where(real, r, 0.0)
    finite_mask(checked, "step_rewards", owner, nan_policy, "propagate")
    out = np.minimum(checked - threshold, 0.0)
    return restore(out if real is None else np.where(real, out, 0.0))


def delta_process_rewards(step_rewards: Any, responses: Any = None, *, lengths: Any = None,
                          keep_last: bool = False,
                          nan_policy: Literal["raise", "propagate"] = "raise") -> Any:
    r"""Delta mechanism for process rewards: each step's reward minus the next step's.

    Implements the Delta mechanism of Gao et al., 2024 (*On Designing Effective RL Reward at
    Training Time for LLM Reasoning*, arXiv:2410.15115): :math:`\tilde r_k = r_k - r_{k+1}`
    for every step but the last, whose shaped reward is 0. The return from step ``t`` then
    telescopes to :math:`r_t - r_K`: bounded by the PRM's range however many steps a
    response has, so padding a solution with steps the PRM likes earns nothing. With
    ``keep_last=True`` the last step keeps :math:`r_K` and the return from step ``t`` is
    :math:`r_t` itself.

    Args:
        step_rewards: ``(n_responses, n_steps)`` (with ``lengths`` for ragged rows), or 1-D
            with ``responses``: one response id per step, each response's steps contiguous
            and in order.
        responses: response ids for 1-D step rewards, or ``None``.
        lengths: for 2-D step rewards, the number of real steps per row; the rest is padding
            (any value) and comes back as 0.
        keep_last: give the last step its own reward instead of 0.
        nan_policy: ``"raise"`` names the first NaN or infinite real step; ``"propagate"``
            returns NaN in the shaped rewards that depend on it.

    Returns:
        Shaped step rewards, same shape as ``step_rewards``.

    Example:
        >>> delta_process_rewards([[0.9, 0.2, 0.6]])
        array([[ 0.7, -0.4,  0. ]])
        >>> delta_process_rewards([0.9, 0.2, 0.5, 0.4], responses=[0, 0, 1, 1])
        array([0.7, 0. , 0.1, 0. ])
    """
    owner = "delta_process_rewards"
    check_nan_policy(owner, nan_policy, _ELEMENTWISE_POLICIES)
    r, restore = as_float_array(step_rewards, "step_rewards", owner)
    if responses is None:
        if r.ndim != 2:
            raise fail(owner, "step_rewards", "2-D (n_responses, n_steps), or 1-D with "
                       "'responses' (one response id per step)", f"shape {r.shape}")
        real = _step_mask(owner, r, lengths)
        n_real = np.full(r.shape[0], r.shape[1]) if real is None else real.sum(axis=1)
        values = r if real is None else np.where(real, r, 0.0)
        finite_mask(values, "step_rewards", owner, nan_policy, "propagate")
        nxt = np.concatenate([values[:, 1:], np.zeros((r.shape[0], 1))], axis=1)
        col = np.arange(r.shape[1])
        last = col == (n_real - 1)[:, None]
        out = np.where(last, values if keep_last else 0.0, values - nxt)
        if real is not None:
            out = np.where(real, out, 0.0)
        return restore(out)
    if lengths is not None:
        raise fail(owner, "lengths", "None with 1-D step rewards ('responses' marks the "
                   "steps of each response)", "lengths")
    ids = as_plain_array(responses)
    if r.ndim != 1 or ids.shape != r.shape:
        raise fail(owner, "responses", f"one response id per step, shape {r.shape}",
                   f"shape {ids.shape}")
    finite_mask(r, "step_rewards", owner, nan_policy, "propagate")
    if r.size == 0:
        return restore(r.copy())
    starts = np.ones(r.size, dtype=bool)
    starts[1:] = ids[1:] != ids[:-1]
    if np.unique(ids).size != int(starts.sum()):
        first_seen: dict[Any, int] = {}
        for i in np.flatnonzero(starts):  # only runs are visited, to name the culprit
            key = ids[i].item() if hasattr(ids[i], "item") else ids[i]
            if key in first_seen:
                raise fail(owner, "responses", "contiguous: all steps of a response together "
                           "and in order", f"response {key!r} starting again at step {i}")
            first_seen[key] = int(i)
    is_last = np.ones(r.size, dtype=bool)
    is_last[:-1] = starts[1:]
    nxt = np.append(r[1:], 0.0)
    return restore(np.where(is_last, r if keep_last else 0.0, r - nxt))


def overlong_penalty(lengths: Any, *, max_length: int, cache_length: int) -> Any:
    r"""DAPO's soft overlong punishment, to add to the reward of each response.

    Implements Eq. 13 of DAPO (Yu et al., 2025, *DAPO: An Open-Source LLM Reinforcement
    Learning System at Scale*, arXiv:2503.14476): 0 up to :math:`L_{max} - L_{cache}`
    tokens, then falling linearly to -1 at :math:`L_{max}`, and -1 beyond. Truncated
    responses would otherwise be scored as if complete; the ramp tells the policy it is
    running long before it hits the wall. Same formula as TRL's
    ``get_soft_overlong_punishment``.

    Args:
        lengths: response lengths in tokens, any shape; NumPy or torch.
        max_length: :math:`L_{max}`.
        cache_length: :math:`L_{cache}`, the width of the ramp (0: a hard cut at
            ``max_length``).

    Returns:
        Penalties in ``[-1, 0]``, shaped like ``lengths``; non-increasing in length.

    Raises:
        ConfigError: a length is NaN, infinite or negative (the first one is named by
            index), or ``cache_length > max_length``.

    Example:
        >>> overlong_penalty([50, 80, 90, 100, 120], max_length=100, cache_length=20)
        array([ 0. ,  0. , -0.5, -1. , -1. ])
    """
    owner = "overlong_penalty"
    for name, value in (("max_length", max_length), ("cache_length", cache_length)):
        if not isinstance(value, int | np.integer) or isinstance(value, bool) or value < 0:
            raise fail(owner, name, "an integer >= 0", repr(value))
    if cache_length > max_length:
        raise fail(owner, "cache_length", f"<= max_length ({max_length})", repr(cache_length))
    n, restore = as_float_array(lengths, "lengths", owner)
    finite_mask(n, "lengths", owner, "raise", None)
    if (n < 0).any():
        raise fail(owner, "lengths", "token counts >= 0", f"{n[n < 0][0]:g}")
    start = max_length - cache_length
    ramp = (start - n) / cache_length if cache_length else np.zeros_like(n)
    out = np.where(n <= start, 0.0, np.where(n <= max_length, ramp, -1.0))
    return restore(out)


def kimi_length_rewards(lengths: Any, correct: Any, groups: Any = None) -> Any:
    r"""Kimi k1.5's length reward: shorter than the group's others earns, longer costs.

    Implements the length penalty of Kimi k1.5 (Kimi Team, 2025, *Kimi k1.5: Scaling
    Reinforcement Learning with LLMs*, arXiv:2501.12599): within the responses to one prompt,
    :math:`\lambda_i = 0.5 - (len_i - len_{min})/(len_{max} - len_{min})`; a correct
    response gets :math:`\lambda_i`, an incorrect one :math:`\min(0, \lambda_i)`, so brevity
    is never rewarded for a wrong answer. A group whose responses are all the same length
    gets 0. Add the result (scaled) to the task reward.

    Args:
        lengths: response lengths, ``(n_groups, group_size)`` or 1-D with ``groups``.
        correct: whether each response is correct, shaped like ``lengths``.
        groups: one group id per response for ragged groups, or ``None``.

    Returns:
        Rewards in ``[-0.5, 0.5]`` shaped like ``lengths``; within a group non-increasing in
        length for responses of equal correctness.

    Raises:
        ConfigError: a length is NaN or infinite (the first one is named by index), or the
            shapes disagree.

    Example:
        >>> kimi_length_rewards([[10, 20, 30]], correct=[[True, True, False]])
        array([[ 0.5,  0. , -0.5]])
    """
    owner = "kimi_length_rewards"
    n, restore = as_float_array(lengths, "lengths", owner)
    finite_mask(n, "lengths", owner, "raise", None)
    ok = as_plain_array(correct)
    if ok.shape != n.shape:
        raise fail(owner, "correct", f"shaped like lengths, {n.shape}", f"shape {ok.shape}")
    ok = ok.astype(bool)
    layout = GroupLayout.of(n, groups, owner, name="lengths")
    low = layout.expand(layout.min(n, None))
    span = layout.expand(layout.max(n, None)) - low
    lam = 0.5 - np.divide(n - low, span, out=np.full(np.broadcast_shapes(n.shape, span.shape),
                                                     0.5), where=span > 0)
    return restore(np.where(ok, lam, np.minimum(lam, 0.0)))
