"""``vote:`` — a reference-free outcome reward: agreement with the other answers to a prompt.

Self-consistency (Wang et al., ICLR 2023) is the strongest reference-free picker of math
solutions, and Test-Time RL (Zuo et al., 2025) uses it as the reward itself: a response is
rewarded for reaching the answer most of its group reached. On GSM8K's example solutions it
beats a frozen-encoder ORM by far (held-out best-of-4: majority 0.456, ``embed:`` ORM
0.386, random 0.355) because the ORM cannot check arithmetic and the vote does not need to.
What the vote cannot do is choose between answers with equal support — half of all groups
of four on that data — and there a learned ORM helps, as in ORM-weighted voting (Uesato et
al., 2022; Li et al., 2023): ``vote:SPEC`` breaks ties by the model ``SPEC``.

The reward of a response in a group of ``n`` is
``(votes + tiebreak · σ(r − mean r)) / (n + tiebreak)``,
where ``votes`` counts the group's responses with the same final answer (itself included;
0 for a response with no extractable answer) and ``r`` is the ORM's reward. The ORM term is
below one vote, so it orders responses only within equal support; rewards lie in [0, 1).

A *group* is every response to the same prompt in one ``score`` call: how best-of-n
evaluation, ``score`` on best-of-n rows, pairwise evaluation, TRL's GRPO ``reward_funcs`` and
OpenRLHF batches present a prompt's samples. The reward therefore depends on the other
responses in the call (``GroupDependent``): the server scores such a model one request at a
time (never merged with other requests), and a caller that scores one response at a time
(verl's per-sample ``compute_score``) gets a constant — use the ORM itself there.

Spec: ``vote:`` (plain majority), ``vote:SPEC`` or ``vote:DIR`` (ORM tie-break), and
``vote:(SPEC?opts)?tiebreak=0.5`` when the ORM has options of its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab._validation import check_range
from rewardlab.data import Dataset, Prompt
from rewardlab.errors import ConfigError, ModelFormatError, RewardLabError
from rewardlab.models._module import SaveLoadMixin
from rewardlab.models.base import GroupDependent, Trainable, describe, require_capability
from rewardlab.models.registry import config_from_options, register_kind, resolve
from rewardlab.verify import vote_key

__all__ = ["VoteRewardModel", "prompt_groups"]

_ORM_DIR = "orm"


def prompt_groups(prompts: Sequence[Prompt]) -> list[list[int]]:
    """Positions of each distinct prompt, in order of first appearance.

    Example:
        >>> prompt_groups(["a", "b", "a", "c"])
        [[0, 2], [1], [3]]
    """
    groups: dict[Prompt, list[int]] = {}
    for i, prompt in enumerate(prompts):
        groups.setdefault(prompt, []).append(i)
    return list(groups.values())


@dataclass(frozen=True, slots=True)
class VoteConfig:
    """``tiebreak``: how much of one vote the ORM may add, in [0, 1)."""

    tiebreak: float = 0.5

    def __post_init__(self) -> None:
        check_range("vote", "tiebreak", self.tiebreak, 0.0, 1.0)


@register_kind("vote")
class VoteRewardModel(SaveLoadMixin, GroupDependent):
    """Majority-vote reward within each prompt's group, ties broken by an optional ORM.

    Example:
        >>> vote = VoteRewardModel()
        >>> vote.score(["q"] * 3, ["#### 4", "so 2+2=4. #### 4", "#### 5"]).round(3).tolist()
        [0.643, 0.643, 0.357]
    """

    kind = "vote"
    config_class = VoteConfig
    spec: str | None = None

    def __init__(self, orm: Any | None = None, *, tiebreak: float = 0.5) -> None:
        self.orm = orm
        self.config = VoteConfig(tiebreak=tiebreak)

    @property
    def tiebreak(self) -> float:
        """How much of one vote the ORM may add (``VoteConfig.tiebreak``)."""
        return self.config.tiebreak

    @classmethod
    def from_spec(cls, arg: str, options: dict[str, str]) -> VoteRewardModel:
        tiebreak = config_from_options(VoteConfig, options, spec=f"vote:{arg}").tiebreak
        inner = arg.strip()
        if inner.startswith("(") and inner.endswith(")"):
            inner = inner[1:-1].strip()
        orm = None
        if inner:
            try:
                orm = resolve(inner)
            except RewardLabError as exc:
                raise type(exc)(f"vote: tie-break model '{inner}': {exc}") from None
        return cls(orm, tiebreak=tiebreak)

    def score(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """Rewards in [0, 1), ``(n,)``: the share of the group voting for each answer; a
        group is every response to one prompt in this call."""
        return self.score_groups(prompts, responses)

    def score_groups(self, prompts: Sequence[Prompt], responses: Sequence[str],
                     groups: Sequence[Any] | None = None) -> np.ndarray:
        """Rewards in [0, 1), ``(n,)``, voting within ``groups`` (one id per response;
        default: equal prompts vote together)."""
        if len(prompts) != len(responses):
            raise ConfigError(f"score() got {len(prompts)} prompts but {len(responses)} "
                              "responses; they must pair up one to one")
        n = len(responses)
        if n == 0:
            return np.zeros(0, dtype=np.float64)
        keys = [vote_key(text) for text in responses]
        base = (np.zeros(n) if self.orm is None
                else np.asarray(self.orm.score(prompts, responses), dtype=np.float64))
        if groups is not None and len(groups) != n:
            raise ConfigError(f"score_groups() got {len(groups)} group ids for {n} "
                              "responses; give one per response")
        out = np.empty(n, dtype=np.float64)
        for idx in prompt_groups(prompts if groups is None else groups):
            group = [keys[i] for i in idx]
            counts: dict[str, int] = {}
            for key in group:
                if key is not None:
                    counts[key] = counts.get(key, 0) + 1
            votes = np.array([0 if k is None else counts[k] for k in group], dtype=np.float64)
            r = base[idx]
            finite = np.isfinite(r)
            centred = np.where(finite, r - (r[finite].mean() if finite.any() else 0.0), -np.inf)
            nudge = 1.0 / (1.0 + np.exp(-np.clip(centred, -60, 60)))
            out[idx] = (votes + self.tiebreak * nudge) / (len(idx) + self.tiebreak)
        return out

    # --- training and persistence --------------------------------------------------------

    @property
    def submodels(self) -> list[Any]:
        """The ORM, if any: ``clone`` passes training options (``--epochs``, ...) to it."""
        return [] if self.orm is None else [self.orm]

    def rebuild(self, submodels: Sequence[Any], **config: Any) -> VoteRewardModel:
        return VoteRewardModel(next(iter(submodels), None), **config)

    def fit(self, data: Dataset[Any]) -> VoteRewardModel:
        """Train the tie-break ORM (best-of-n data becomes correct-vs-incorrect pairs)."""
        if self.orm is None:
            raise ConfigError("vote: without a model has nothing to train; name the ORM that "
                              "breaks ties, e.g. --model vote:embed:minilm")
        require_capability(self.orm, Trainable, "train")
        self.orm.fit(data)
        return self

    def saved_submodels(self) -> dict[str, Any]:
        """The ORM's own directory (``orm/``) when there is one."""
        return {} if self.orm is None else {_ORM_DIR: self.orm}

    def saved_state(self) -> dict[str, Any]:
        return {"orm": None if self.orm is None else _ORM_DIR,
                "orm_kind": None if self.orm is None else getattr(self.orm, "kind",
                                                                  describe(self.orm))}

    @classmethod
    def from_saved(cls, directory: Path, config: dict[str, Any], state: dict[str, Any]
                   ) -> VoteRewardModel:
        name = state.get("orm")
        orm = None
        if name is not None:
            if not (directory / str(name)).is_dir():
                raise ModelFormatError(f"{directory} is missing its ORM folder '{name}'")
            orm = resolve(directory / str(name))
        return cls(orm, **config)
