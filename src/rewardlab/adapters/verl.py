"""rewardlab rewards as verl's ``compute_score``: point verl's custom reward function here.

verl loads ``custom_reward_function.path`` as a file and calls the function named by
``custom_reward_function.name`` (default ``compute_score``) with keyword arguments
``data_source``, ``solution_str`` (the decoded response), ``ground_truth``
(``reward_model.ground_truth`` of the row) and ``extra_info`` (the row's ``extra_info``
dict), plus ``reward_kwargs`` from the config; it accepts a float or a dict whose ``score``
is the reward (the other keys are logged). verl's batch reward manager calls the same name
with plural keywords (``data_sources``, ``solution_strs``, ``ground_truths``,
``extra_infos``) and expects a list. This file answers both::

    export REWARDLAB_REWARD_SPEC=/models/my-rm        # or JSON for several, see below
    python -m verl.trainer.main_ppo ... \\
        reward.custom_reward_function.path=$(python -c \\
            "import rewardlab.adapters.verl as m; print(m.__file__)") \\
        reward.custom_reward_function.name=compute_score

The model is loaded once per process, on the first call. ``REWARDLAB_REWARD_SPEC`` (or a
``reward_spec`` entry in ``custom_reward_function.reward_kwargs``) is a spec, a saved model
directory, or JSON: ``[{"spec": "/models/rm", "weight": 1}, {"spec": "verify:math",
"weight": 0.5}]``. The dict returned holds ``score`` (the weighted sum) and each reward by
name, which is verl's GDPO contract: with ``algorithm.adv_estimator=gdpo``,
``+algorithm.gdpo_reward_keys='["rm", "verify_math"]'`` (the names),
``+algorithm.gdpo_reward_weights`` and ``reward.reward_manager.name=gdpo``, verl normalises
each reward within its group before combining them.

verl does not pass the prompt: it is read from ``extra_info`` (``prompt``, ``question``,
``query`` or ``problem``, or the key in ``REWARDLAB_PROMPT_KEY`` / ``prompt_key``). Rewards
that only check a reference answer (``verify:math``) need no prompt. End-of-turn and padding
tokens at the end of ``solution_str`` are stripped and an HH prompt is read as a conversation,
as the OpenRLHF file and the server do, so a sample gets the same reward from each.

Attribute and personalised reward models read their per-sample conditions from
``extra_info`` too: ``weights`` (``{"harmless": 1, "helpful": 0.5}`` or
``"harmless=1,helpful=0.5"``) steers ``multi:`` terms and ``user`` picks a ``personal:``
term's user; a sample without them gets the defaults (``attribute_weights`` / ``user`` in a
JSON reward spec's options, else each model's own). A bad value stops the batch with an error
naming the sample and the field.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from typing import Any

from rewardlab.adapters._core import CombinedReward, parse_reward_config
from rewardlab.adapters._text import (
    END_MARKERS,
    hh_sample,
    prompt_from_messages,
    strip_end_markers,
)
from rewardlab.data import TOOL_KEYS, Prompt, tool_reference
from rewardlab.errors import ConfigError

__all__ = ["PROMPT_KEYS", "PROMPT_KEY_ENV", "SPEC_ENV", "VerlScorer", "compute_score"]

SPEC_ENV = "REWARDLAB_REWARD_SPEC"
PROMPT_KEY_ENV = "REWARDLAB_PROMPT_KEY"
#: ``extra_info`` keys read as the prompt, in this order, when none is named.
PROMPT_KEYS = ("prompt", "question", "query", "problem")



def _with_tools(ground_truth: Any, info: Any, i: int) -> Any:
    """Reference tool calls joined with the tools the row's ``extra_info`` carries (its
    ``tools`` or BFCL's ``function``), as ``rewardlab.data`` joins a data row's."""
    key = next((k for k in TOOL_KEYS if isinstance(info, Mapping) and info.get(k) is not None),
               None)
    if key is None or not isinstance(ground_truth, list | str) or (
            isinstance(ground_truth, str) and ground_truth.lstrip()[:1] != "["):
        return ground_truth
    return tool_reference(info[key], ground_truth,
                          lambda f, m: ConfigError(f"sample {i}, extra_info field '{f}': {m}"),
                          tools_field=key, calls_field="ground_truth")

class VerlScorer:
    """A rewardlab reward with verl's ``compute_score`` signature (single and batched).

    Args:
        rewards: a spec, saved directory, model, or several (as ``CombinedReward`` takes).
        weights: one weight per reward, for several.
        normalize: ``"none"``, or ``"group"`` (batched calls only, every group whole in the
            batch; verl's per-sample manager cannot group).
        prompt_key: the ``extra_info`` key holding the prompt; default: the first of
            ``PROMPT_KEYS`` present.
        end_markers: special tokens stripped from the end of each ``solution_str`` (verl
            decodes responses with or without them, depending on its reward manager).
        attribute_weights, user: defaults for samples whose ``extra_info`` has no
            ``weights`` / ``user`` (``multi:`` / ``personal:`` terms).

    Example:
        >>> score = VerlScorer("verify:math")
        >>> score(data_source="openai/gsm8k", solution_str="... #### 72", ground_truth="72")
        {'score': 1.0, 'verify_math': 1.0}
    """

    def __init__(self, rewards: Any, *, weights: Any = None, normalize: str = "none",
                 prompt_key: str | None = None,
                 end_markers: Sequence[str] = END_MARKERS,
                 attribute_weights: Mapping[str, float] | None = None,
                 user: str | None = None) -> None:
        self.reward = CombinedReward(rewards, weights=weights, normalize=normalize,  # type: ignore[arg-type]
                                     attribute_weights=attribute_weights, user=user)
        self.prompt_key, self.end_markers = prompt_key, tuple(end_markers)

    def _prompt(self, extra_info: Any, i: int) -> Prompt:
        info = extra_info if isinstance(extra_info, Mapping) else {}
        if self.prompt_key:
            if self.prompt_key not in info:
                raise ConfigError(f"sample {i}: extra_info has no '{self.prompt_key}' (the "
                                  f"prompt key); keys: {sorted(info) or 'none'}")
            return prompt_from_messages(info[self.prompt_key], f"extra_info['{self.prompt_key}']")
        key = next((k for k in PROMPT_KEYS if info.get(k) is not None), None)
        if key is not None:
            return prompt_from_messages(info[key], f"extra_info['{key}']")
        if self.reward.all_need_references():
            return ""  # a verifier checks the answer against the reference; no prompt needed
        raise ConfigError(
            f"sample {i}: verl passes compute_score no prompt, and extra_info has none of "
            f"{', '.join(PROMPT_KEYS)} (keys: {sorted(info) or 'none'}). Put the prompt in "
            f"extra_info when preparing the data, or name its key with {PROMPT_KEY_ENV}")

    def score_batch(self, solution_strs: Sequence[str], ground_truths: Sequence[Any],
                    extra_infos: Sequence[Any] | None = None) -> list[dict[str, float]]:
        """One ``{"score": ..., <reward name>: ...}`` dict per response."""
        n = len(solution_strs)
        infos = list(extra_infos) if extra_infos is not None else [None] * n
        if len(ground_truths) != n or len(infos) != n:
            raise ConfigError(f"got {n} solution_strs, {len(ground_truths)} ground_truths and "
                              f"{len(infos)} extra_infos; they must pair up")
        bad = next((i for i, s in enumerate(solution_strs) if not isinstance(s, str)), None)
        if bad is not None:
            raise ConfigError(f"solution_strs[{bad}] is {type(solution_strs[bad]).__name__}, "
                              "not text; verl passes the decoded response")
        # as OpenRLHF's queries and the server: end tokens stripped, an HH prompt read as its
        # conversation, so one sample gets one reward whichever trainer asks
        pairs = [hh_sample(self._prompt(info, i), strip_end_markers(s, self.end_markers))
                 for i, (info, s) in enumerate(zip(infos, solution_strs, strict=True))]
        weights, users = self.reward.check_conditions(
            n, _from_info(infos, "weights"), _from_info(infos, "user"),
            weights_field="extra_info['weights']", user_field="extra_info['user']")
        gts = list(ground_truths)
        if self.reward.takes_structured_references():
            gts = [_with_tools(gt, info, i) for i, (gt, info) in enumerate(
                zip(gts, infos, strict=True))]
        scores = self.reward.score([p for p, _ in pairs], [r for _, r in pairs], gts,
                                   attribute_weights=weights, users=users)
        names = list(scores.components)
        return [{"score": float(scores.total[i]),
                 **{k: float(scores.components[k][i]) for k in names}} for i in range(n)]

    def __call__(self, data_source: Any = None, solution_str: str | None = None,
                 ground_truth: Any = None, extra_info: Any = None, *,
                 data_sources: Sequence[Any] | None = None,
                 solution_strs: Sequence[str] | None = None,
                 ground_truths: Sequence[Any] | None = None,
                 extra_infos: Sequence[Any] | None = None,
                 **kwargs: Any) -> dict[str, float] | list[dict[str, float]]:
        if solution_strs is not None:
            gts = ground_truths if ground_truths is not None else [None] * len(solution_strs)
            return self.score_batch(solution_strs, gts, extra_infos)
        if solution_str is None:
            raise ConfigError("compute_score needs solution_str (one response) or "
                              "solution_strs (a batch)")
        if self.reward.normalize == "group":
            raise ConfigError("normalize='group' cannot work one response at a time; use "
                              "verl's batch reward manager, or normalize='none' with "
                              "algorithm.adv_estimator=gdpo")
        return self.score_batch([solution_str], [ground_truth], [extra_info])[0]


def _from_info(infos: Sequence[Any], key: str) -> list[Any] | None:
    """Each sample's ``extra_info[key]`` (None where absent); None when no sample has one."""
    values = [info.get(key) if isinstance(info, Mapping) else None for info in infos]
    return values if any(v is not None for v in values) else None


@functools.lru_cache(maxsize=8)
def _scorer(spec: str, prompt_key: str | None) -> VerlScorer:
    terms, options = parse_reward_config(spec)
    unknown = set(options) - {"normalize", "attribute_weights", "user"}
    if unknown:
        raise ConfigError(f"unknown options {sorted(unknown)} in the reward spec; verl's "
                          "compute_score takes 'normalize', 'attribute_weights' and 'user'")
    return VerlScorer(terms, normalize=options.get("normalize", "none"), prompt_key=prompt_key,
                      attribute_weights=options.get("attribute_weights"),
                      user=options.get("user"))


def compute_score(data_source: Any = None, solution_str: str | None = None,
                  ground_truth: Any = None, extra_info: Any = None, *,
                  reward_spec: str | None = None, prompt_key: str | None = None,
                  **kwargs: Any) -> dict[str, float] | list[dict[str, float]]:
    """verl's reward function, for the model named by ``REWARDLAB_REWARD_SPEC``.

    ``reward_spec`` and ``prompt_key`` (from ``custom_reward_function.reward_kwargs``)
    override the environment. Batched calls (``solution_strs=...``) return a list. Other
    keywords verl passes (``reward_router_address``, ...) are accepted and ignored.
    """
    spec = reward_spec or os.environ.get(SPEC_ENV)
    if not spec:
        raise ConfigError(f"no reward model: set {SPEC_ENV} to a model spec or saved model "
                          "directory (or reward_spec in custom_reward_function.reward_kwargs)")
    key = prompt_key if prompt_key is not None else os.environ.get(PROMPT_KEY_ENV) or None
    return _scorer(spec, key)(data_source, solution_str, ground_truth, extra_info, **kwargs)
