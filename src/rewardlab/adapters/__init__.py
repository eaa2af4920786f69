"""Any rewardlab reward model, in the shape an RL trainer calls.

- TRL ``GRPOTrainer``: ``TRLRewardFunction`` / ``AsyncTRLRewardFunction`` (a ``reward_funcs``
  entry), or ``trl_reward_funcs`` for one function per reward with TRL doing the GDPO
  combination.
- verl: ``rewardlab/adapters/verl.py`` is a file ``custom_reward_function.path`` can point
  at (``compute_score``; the model from ``REWARDLAB_REWARD_SPEC``); ``VerlScorer`` for code.
- OpenRLHF: ``rewardlab/adapters/openrlhf.py`` is a file ``--remote_rm_url`` can point at
  (``reward_func``); ``OpenRLHFRewardFunc`` for code.

All of them take a spec (``embed:minilm``, ``verify:math``), a saved model directory, a model
object, or several of those with weights (``CombinedReward``), load each model once per
process, give reference answers to models that judge against them, and stop with the model
and sample named when a reward is NaN.

Example:
    >>> from rewardlab.adapters import TRLRewardFunction
    >>> reward = TRLRewardFunction("verify:math")
    >>> reward.__name__
    'rewardlab_verify_math'
"""

from rewardlab.adapters._core import (
    REFERENCE_KEYS,
    CombinedReward,
    RewardTerm,
    Scores,
    parse_reward_config,
    reward_terms,
)
from rewardlab.adapters.openrlhf import OpenRLHFRewardFunc
from rewardlab.adapters.trl import AsyncTRLRewardFunction, TRLRewardFunction, trl_reward_funcs
from rewardlab.adapters.verl import VerlScorer

__all__ = [
    "REFERENCE_KEYS",
    "AsyncTRLRewardFunction",
    "CombinedReward",
    "OpenRLHFRewardFunc",
    "RewardTerm",
    "Scores",
    "TRLRewardFunction",
    "VerlScorer",
    "parse_reward_config",
    "reward_terms",
    "trl_reward_funcs",
]
