"""Reward shaping and advantages for RL: pure functions over NumPy arrays or torch tensors.

Group-relative advantages (responses to the same prompt form a group):

- ``grpo_advantages``: GRPO, group mean and std (or batch std).
- ``dr_grpo_advantages``: Dr. GRPO, group mean only.
- ``rloo_advantages``: REINFORCE leave-one-out baselines.
- ``gdpo_advantages``: several rewards, each normalised in its group, then combined (GDPO).
- ``win_rates``, ``win_rate_advantages``, ``tournament_advantages``: from pairwise judgments.

Reward transforms:

- ``par_rewards`` / ``lsc_rewards``: sigmoid / log-sigmoid of the reward minus a reference
  response's reward (PAR and its log variant).
- ``clip_process_rewards`` / ``delta_process_rewards``: process (step) reward refinements.
- ``overlong_penalty`` (DAPO) and ``kimi_length_rewards`` (Kimi k1.5): length shaping.

Groups are a 2-D array ``(n_groups, group_size)`` or a flat array plus ``groups`` (one id per
reward). Every function is vectorised over groups, returns the kind of array it was given,
and reports NaN or infinite inputs by index unless told what to do with them
(``nan_policy``). Each docstring cites the method it implements.

Example:
    >>> from rewardlab.shaping import grpo_advantages
    >>> grpo_advantages([[1.0, 0.0], [0.5, 0.5]], eps=0).round(3)
    array([[ 0.707, -0.707],
           [ 0.   ,  0.   ]])
"""

from rewardlab.shaping._advantages import (
    dr_grpo_advantages,
    gdpo_advantages,
    grpo_advantages,
    rloo_advantages,
)
from rewardlab.shaping._common import NanPolicy
from rewardlab.shaping._tournament import tournament_advantages, win_rate_advantages, win_rates
from rewardlab.shaping._transforms import (
    clip_process_rewards,
    delta_process_rewards,
    kimi_length_rewards,
    lsc_rewards,
    overlong_penalty,
    par_rewards,
)

__all__ = [
    "NanPolicy",
    "clip_process_rewards",
    "delta_process_rewards",
    "dr_grpo_advantages",
    "gdpo_advantages",
    "grpo_advantages",
    "kimi_length_rewards",
    "lsc_rewards",
    "overlong_penalty",
    "par_rewards",
    "rloo_advantages",
    "tournament_advantages",
    "win_rate_advantages",
    "win_rates",
]
