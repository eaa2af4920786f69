"""rewardlab rewards as an OpenRLHF custom reward file: pass this file to ``--remote_rm_url``.

OpenRLHF loads a ``--remote_rm_url`` ending in ``.py`` with ``importlib`` and calls its
``reward_func(queries, prompts, labels)``: ``queries`` are the decoded prompt + response texts
(special tokens included), ``prompts`` the prompts, ``labels`` the ``--label_key`` column. It
expects a dict: ``rewards`` (a float tensor, one per query, used for the advantages),
``scores`` (a float tensor used by ``--dynamic_filtering``, which keeps prompts whose mean
score lies in ``--dynamic_filtering_reward_range``, by default a 0-1 accuracy) and
``extra_logs`` (a dict of tensors, logged)::

    export REWARDLAB_REWARD_SPEC=/models/my-rm      # or JSON for several rewards
    python -m openrlhf.cli.train_ppo_ray ... \\
        --remote_rm_url $(python -c "import rewardlab.adapters.openrlhf as m; print(m.__file__)") \\
        --label_key answer

Each query is cut after its prompt and stripped of trailing end-of-turn and padding tokens,
and an HH prompt is read as its conversation, exactly as ``rewardlab serve``'s
``/get_reward`` does (one function, ``split_query``), so both give a query the same reward.

The model is loaded once per process. ``scores`` are the combined reward unless
``REWARDLAB_SCORES_FROM`` names one reward (e.g. the verifier's 0/1 accuracy for dynamic
filtering); ``extra_logs`` holds every reward by name. Recent OpenRLHF versions call the
function one sample at a time from worker threads; that is safe (each model is scored under
its own lock), and it is why per-group normalisation is left to OpenRLHF's advantage
estimator (``--advantage_estimator group_norm`` / ``rloo`` / ``dr_grpo``).

Attribute and personalised reward models take per-sample conditions as keyword lists beside
``labels``: ``weights`` (one ``{"harmless": 1}`` or ``"harmless=1,helpful=0.5"`` per query, or
None) steers ``multi:`` terms and ``users`` (or ``user``) picks each query's user for
``personal:`` terms; the defaults are ``attribute_weights`` / ``user`` in a JSON reward spec's
options. ``rewardlab serve``'s ``/get_reward`` takes the same two fields in its request body.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from typing import Any

from rewardlab.adapters._core import CombinedReward, parse_reward_config
from rewardlab.adapters._text import END_MARKERS, split_query
from rewardlab.errors import ConfigError

__all__ = ["SCORES_ENV", "SPEC_ENV", "OpenRLHFRewardFunc", "reward_func"]

SPEC_ENV = "REWARDLAB_REWARD_SPEC"
SCORES_ENV = "REWARDLAB_SCORES_FROM"


class OpenRLHFRewardFunc:
    """A rewardlab reward with OpenRLHF's ``reward_func(queries, prompts, labels)`` contract.

    Args:
        rewards: a spec, saved directory, model, or several (as ``CombinedReward`` takes).
        weights: one weight per reward, for several.
        normalize: ``"none"``, or ``"group"`` (every group whole within one call).
        scores_from: the reward whose raw values become ``scores``; default the combined one.
        end_markers: special tokens stripped from the end of each response.
        attribute_weights, user: defaults for queries without their own ``weights`` /
            ``users`` (``multi:`` / ``personal:`` terms).

    Example:
        >>> reward = OpenRLHFRewardFunc("verify:math")
        >>> out = reward(["Q: 2+2? A: #### 4</s>"], ["Q: 2+2? A:"], ["4"])
        >>> out["rewards"], out["scores"], sorted(out["extra_logs"])
        (tensor([1.]), tensor([1.]), ['verify_math'])
    """

    def __init__(self, rewards: Any, *, weights: Any = None, normalize: str = "none",
                 scores_from: str | None = None,
                 end_markers: Sequence[str] = END_MARKERS,
                 attribute_weights: Mapping[str, float] | None = None,
                 user: str | None = None) -> None:
        self.reward = CombinedReward(rewards, weights=weights, normalize=normalize,  # type: ignore[arg-type]
                                     attribute_weights=attribute_weights, user=user)
        if scores_from is not None and scores_from not in self.reward.names:
            raise ConfigError(f"scores_from names '{scores_from}', but the rewards are "
                              f"{self.reward.names}")
        self.scores_from, self.end_markers = scores_from, tuple(end_markers)

    def __call__(self, queries: Sequence[str], prompts: Sequence[str],
                 labels: Sequence[Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        import torch

        if len(queries) != len(prompts):
            raise ConfigError(f"got {len(queries)} queries but {len(prompts)} prompts")
        # the server's splitter (HH prompts read as conversations included): the same query
        # gets the same reward from this file and from `rewardlab serve`'s /get_reward
        pairs = [split_query(q, p, f"queries[{i}]", self.end_markers)
                 for i, (q, p) in enumerate(zip(queries, prompts, strict=True))]
        refs = list(labels) if labels is not None else None
        if refs is not None and all(r is None for r in refs):
            refs = None
        users = kwargs.get("users", kwargs.get("user"))
        weights, users = self.reward.check_conditions(
            len(pairs), _per_query(kwargs.get("weights"), "weights"),
            _per_query(users, "users"), weights_field="weights", user_field="users")
        scores = self.reward.score([p for p, _ in pairs], [r for _, r in pairs], refs,
                                   attribute_weights=weights, users=users)

        def tensor(values: Any) -> torch.Tensor:
            return torch.as_tensor(values, dtype=torch.float32)

        chosen = scores.components[self.scores_from] if self.scores_from else scores.total
        return {
            "rewards": tensor(scores.total),
            "scores": tensor(chosen),
            "extra_logs": {name: tensor(v) for name, v in scores.components.items()},
        }


def _per_query(values: Any, name: str) -> list[Any] | None:
    """A per-query keyword list (``weights``, ``users``) as a list; None when not given."""
    if values is None:
        return None
    if isinstance(values, str | bytes | Mapping) or not hasattr(values, "__len__"):
        raise ConfigError(f"'{name}' must be a list with one entry per query (None for the "
                          f"default), got {type(values).__name__}")
    return list(values)


@functools.lru_cache(maxsize=8)
def _func(spec: str, scores_from: str | None) -> OpenRLHFRewardFunc:
    terms, options = parse_reward_config(spec)
    unknown = set(options) - {"normalize", "attribute_weights", "user"}
    if unknown:
        raise ConfigError(f"unknown options {sorted(unknown)} in the reward spec; OpenRLHF's "
                          "reward_func takes 'normalize', 'attribute_weights' and 'user'")
    return OpenRLHFRewardFunc(terms, normalize=options.get("normalize", "none"),
                              scores_from=scores_from,
                              attribute_weights=options.get("attribute_weights"),
                              user=options.get("user"))


def reward_func(queries: Sequence[str], prompts: Sequence[str],
                labels: Sequence[Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    """OpenRLHF's custom reward function, for the model named by ``REWARDLAB_REWARD_SPEC``."""
    spec = os.environ.get(SPEC_ENV)
    if not spec:
        raise ConfigError(f"no reward model: set {SPEC_ENV} to a model spec or a saved model "
                          "directory before starting OpenRLHF")
    return _func(spec, os.environ.get(SCORES_ENV) or None)(queries, prompts, labels, **kwargs)
