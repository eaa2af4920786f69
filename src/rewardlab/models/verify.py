"""``verify:math`` — a rule-based reward: 1 when a response's final answer equals the reference.

The reward needs a reference answer, which ``score(prompts, responses)`` cannot carry, so the
verifier is a ``ReferenceScorer``: ``score_with_references(prompts, responses, references)``.
``rewardlab eval`` passes each best-of-n row's ``reference`` (or ``ground_truth`` /
``answer``) field; plain ``score`` raises ``CapabilityError`` saying so.

Answer extraction and checking live in ``rewardlab.verify``; this module is the kind: the
spec, the config, and the two scoring methods. On GSM8K's 3,276 labelled example solutions it
agrees with every ``is_correct`` label (benchmarks/verify_math.py).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rewardlab._validation import check_option, check_positive, check_range
from rewardlab.data import Prompt
from rewardlab.errors import CapabilityError, ConfigError, SpecError
from rewardlab.models._module import SaveLoadMixin
from rewardlab.models.base import ReferenceGrader, ReferenceScorer
from rewardlab.models.registry import config_from_options, register_kind
from rewardlab.verify import FALLBACKS, MathChecker, Verdict

__all__ = ["OTHER_VERIFIERS", "VERIFIERS", "MathVerifier", "VerifyConfig"]

#: What ``verify:ARG`` may name.
VERIFIERS = ("math", "code", "rules", "toolcall")
#: Verifiers other than math, each a kind class in its own module: ``verify:NAME`` (and a
#: saved ``verify`` model whose state names NAME) resolves to ``module.Class``.
OTHER_VERIFIERS: dict[str, tuple[str, str]] = {
    "code": ("rewardlab.models.verify_code", "CodeVerifier"),
    "rules": ("rewardlab.models.rules", "RulesVerifier"),
    "toolcall": ("rewardlab.models.toolcall", "ToolCallVerifier"),
}


def _other_verifier(name: str) -> Any:
    module, cls = OTHER_VERIFIERS[name]
    return getattr(importlib.import_module(module), cls)


@dataclass(frozen=True, kw_only=True, slots=True)
class VerifyConfig:
    """Settings of ``verify:math``; every field is also a spec option.

    Args:
        format_score: reward for a marked answer (``#### x``, ``A: x``, ``\\boxed{x}``,
            "the answer is x") that is wrong, as verl's GSM8K reward does; 0 keeps rewards
            binary.
        fallback: ``none``, or ``last-number`` to read the last number of a response that
            marks no answer.
        timeout: seconds math-verify may spend on one answer; past it the reward is 0 with
            reason ``timeout``.
    """

    format_score: float = 0.0
    fallback: str = "none"
    timeout: float = 2.0

    def __post_init__(self) -> None:
        check_range("VerifyConfig", "format_score", self.format_score, 0.0, 1.0)
        check_option("VerifyConfig", "fallback", self.fallback, FALLBACKS)
        check_positive("VerifyConfig", "timeout", self.timeout)


@register_kind("verify")
class MathVerifier(SaveLoadMixin, ReferenceScorer, ReferenceGrader):
    """Reward 1.0 when the response's final answer equals the reference answer, else 0.0
    (or ``format_score`` for a marked but wrong answer).

    Example:
        >>> verifier = MathVerifier()
        >>> verifier.score_with_references(["q", "q"], ["A: 18", "A: 26"], ["#### 18"] * 2)
        array([1., 0.])
    """

    kind = "verify"
    config_class = VerifyConfig
    spec: str | None = None

    @classmethod
    def from_spec(cls, arg: str, options: dict[str, str]) -> Any:
        if arg in OTHER_VERIFIERS:
            return _other_verifier(arg).from_spec(arg, options)
        config = config_from_options(VerifyConfig, options, spec=f"verify:{arg}")
        if arg not in VERIFIERS:
            raise SpecError(f"unknown verifier '{arg}' in 'verify:{arg}'; known: "
                            f"{', '.join(VERIFIERS)} (e.g. verify:math)")
        return cls(**asdict(config))

    @property
    def checker(self) -> MathChecker:
        if getattr(self, "_checker", None) is None:
            c = self.config
            self._checker = MathChecker(format_score=c.format_score, fallback=c.fallback,
                                        timeout=c.timeout)
        return self._checker

    # --- scoring -------------------------------------------------------------------------

    def score(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """Always raises: a verifier needs references (see ``score_with_references``)."""
        _check_lengths(prompts, responses)
        raise CapabilityError(
            f"model '{self.spec or 'verify:math'}' checks answers against reference answers, "
            "and score(prompts, responses) carries none. In Python call "
            "score_with_references(prompts, responses, references); `rewardlab eval` passes "
            "the 'reference' (or 'ground_truth' / 'answer') field of best-of-n rows")

    def score_with_references(self, prompts: Sequence[Prompt], responses: Sequence[str],
                              references: Sequence[str]) -> np.ndarray:
        """Rewards float64 ``(n,)``: response ``i`` checked against ``references[i]``."""
        verdicts = self.verdicts(prompts, responses, references)
        return np.array([v.reward for v in verdicts], dtype=np.float64)

    def verdicts(self, prompts: Sequence[Prompt], responses: Sequence[str],
                 references: Sequence[str]) -> list[Verdict]:
        """Per response, the reward with its reason, extracted answer and reference answer."""
        _check_lengths(prompts, responses)
        if len(references) != len(responses):
            raise ConfigError(f"got {len(responses)} responses but {len(references)} "
                              "references; they must pair up one to one")
        missing = next((i for i, r in enumerate(references) if not isinstance(r, str)), None)
        if missing is not None:
            raise ConfigError(f"references[{missing}] is {references[missing]!r}; every "
                              "response needs its reference answer as a string")
        return self.checker.check(responses, references)

    def grade_with_references(self, prompts: Sequence[Prompt], responses: Sequence[str],
                              references: Sequence[str]) -> list[Verdict]:
        """``verdicts`` as a ``ReferenceGrader``'s, so ``rewardlab score`` writes each reward's
        reason beside it: a 0 for an unreadable reference (``reference-unparsable``) or an
        unmarked answer (``no-answer``) is not taken for a wrong one."""
        return self.verdicts(prompts, responses, references)

    # --- persistence: a verifier has no weights, its config is the whole model -----------

    def saved_state(self) -> dict[str, Any]:
        return {"verifier": "math"}

    @classmethod
    def from_saved(cls, directory: Any, config: dict[str, Any], state: dict[str, Any]) -> Any:
        """A saved ``verify`` model: math, or the verifier its state names."""
        name = state.get("verifier", "math")
        if name in OTHER_VERIFIERS:
            return _other_verifier(name)(**config)
        return cls(**config)


def _check_lengths(prompts: Sequence[Prompt], responses: Sequence[str]) -> None:
    if len(prompts) != len(responses):
        raise ConfigError(f"score() got {len(prompts)} prompts but {len(responses)} "
                          "responses; they must pair up one to one")
