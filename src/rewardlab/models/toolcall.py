"""``verify:toolcall`` — a rule-based reward: a response's tool calls against reference calls.

The reference of each response is the Berkeley Function Calling Leaderboard's
``ground_truth`` (every acceptable value per argument, ``""`` = may be omitted, ``[]`` = no
call is correct), with the row's tools when it has them: ``rewardlab.data`` builds the
``{"tools": [...], "ground_truth": [...]}`` document from a row's ``tools`` (or BFCL's
``function``) and ``ground_truth`` (or ``reference``). The checks live in
``rewardlab.verify.toolcall``; this module is the kind: its spec, config and scoring methods.
It is reached through ``verify:toolcall`` (the ``verify`` kind dispatches here) and saves as
a ``verify`` model whose state names the verifier.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from rewardlab.data import Prompt
from rewardlab.errors import CapabilityError, ConfigError
from rewardlab.models._module import SaveLoadMixin
from rewardlab.models.base import ReferenceGrader, ReferenceScorer
from rewardlab.models.registry import config_from_options
from rewardlab.verify.toolcall import ToolCallChecker, ToolVerdict, parse_tool_reference

__all__ = ["ToolCallConfig", "ToolCallVerifier"]


@dataclass(frozen=True, kw_only=True, slots=True)
class ToolCallConfig:
    """Settings of ``verify:toolcall``; every field is also a spec option.

    Args:
        partial: reward the share of checks that pass (format, function name, each argument;
            ToolRL-style credit) instead of 1 only when every check passes.
    """

    partial: bool = False


class ToolCallVerifier(SaveLoadMixin, ReferenceScorer, ReferenceGrader):
    """Reward 1.0 when a response's tool calls match the reference calls (in any order),
    else 0.0; with ``partial=true`` the share of checks passed.

    Example:
        >>> verifier = ToolCallVerifier()
        >>> ref = '[{"get_weather": {"city": ["Paris"]}}]'
        >>> verifier.score_with_references(["q", "q"], ['get_weather(city="Paris")',
        ...                                             'get_weather(city="Rome")'], [ref] * 2)
        array([1., 0.])
    """

    kind: ClassVar[str] = "verify"
    config_class = ToolCallConfig
    #: references are JSON (reference calls with tools); consumers pass lists and objects on
    #: as their JSON text (``rewardlab.scoring.takes_structured_references``)
    structured_references: ClassVar[bool] = True
    #: what the server scores once at start-up (its references are not answers)
    warm_up_example: ClassVar[tuple[str, str, str]] = (
        "What is 2 + 3?", "add(a=2, b=3)", '[{"add": {"a": [2], "b": [3]}}]')
    spec: str | None = None

    @classmethod
    def from_spec(cls, arg: str, options: dict[str, str]) -> ToolCallVerifier:
        config = config_from_options(ToolCallConfig, options, spec=f"verify:{arg}")
        return cls(**asdict(config))

    @property
    def checker(self) -> ToolCallChecker:
        if getattr(self, "_checker", None) is None:
            self._checker = ToolCallChecker(partial=self.config.partial)
        return self._checker

    def check_reference(self, reference: Any, fail: Callable[[str, str], Exception]) -> None:
        """Validate one row's reference calls before scoring, so a bad one is named by its
        file, line and field (or request field) rather than by its place in a batch."""
        try:
            parse_tool_reference(reference)
        except ConfigError as exc:
            raise fail("reference", str(exc)) from None

    def score(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """Always raises: the verifier needs reference calls (``score_with_references``)."""
        _check_lengths(prompts, responses)
        raise CapabilityError(
            f"model '{self.spec or 'verify:toolcall'}' checks tool calls against reference "
            "calls, and score(prompts, responses) carries none. In Python call "
            "score_with_references(prompts, responses, references); `rewardlab score` and "
            "`eval` read a row's 'ground_truth' (or 'reference') with its 'tools' / 'function'")

    def score_with_references(self, prompts: Sequence[Prompt], responses: Sequence[str],
                              references: Sequence[Any]) -> np.ndarray:
        """Rewards float64 ``(n,)``: response ``i``'s calls against ``references[i]``."""
        return np.array([v.reward for v in self.verdicts(prompts, responses, references)],
                        dtype=np.float64)

    def verdicts(self, prompts: Sequence[Prompt], responses: Sequence[str],
                 references: Sequence[Any]) -> list[ToolVerdict]:
        """Per response, the reward with its reason, every check and the calls read."""
        _check_lengths(prompts, responses)
        if len(references) != len(responses):
            raise ConfigError(f"got {len(responses)} responses but {len(references)} "
                              "references; they must pair up one to one")
        missing = next((i for i, r in enumerate(references) if r is None), None)
        if missing is not None:
            raise ConfigError(f"references[{missing}] is None; every response needs its "
                              "reference calls (BFCL ground_truth; [] when no call is correct)")
        return self.checker.check(responses, references)

    def grade_with_references(self, prompts: Sequence[Prompt], responses: Sequence[str],
                              references: Sequence[Any]) -> list[ToolVerdict]:
        """``verdicts`` as a ``ReferenceGrader``'s, so ``rewardlab score`` writes each reward's
        reason, every check and the calls read beside it."""
        return self.verdicts(prompts, responses, references)

    def saved_state(self) -> dict[str, Any]:
        return {"verifier": "toolcall"}


def _check_lengths(prompts: Sequence[Prompt], responses: Sequence[str]) -> None:
    if len(prompts) != len(responses):
        raise ConfigError(f"score() got {len(prompts)} prompts but {len(responses)} "
                          "responses; they must pair up one to one")
