"""``verify:rules`` — instruction constraints given per row, checked by rule (RLVR-IF style).

Each row carries a ``constraints`` list (``[{"type": "max_words", "value": 100}, ...]``; the
types are ``rewardlab.verify.rules.CONSTRAINT_TYPES``). The reward is 1 when every constraint
passes, else 0; with ``partial=true`` it is the share that pass. The constraints travel as the
row's reference (their JSON text, ``rewardlab.data.reference_text``), so they reach the model
through ``score``/``eval`` rows, served requests (``reference`` / OpenRLHF ``labels``) and the
RL adapters' dataset columns (``constraints``) exactly as a math answer does.

``score`` writes, beside each reward, how many constraints passed and the reason for each
that failed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rewardlab.data import Prompt
from rewardlab.errors import CapabilityError, ConfigError
from rewardlab.models._module import SaveLoadMixin
from rewardlab.models.base import ReferenceGrader, ReferenceScorer
from rewardlab.models.registry import config_from_options
from rewardlab.verify.rules import Check, Constraint, parse_constraints

__all__ = ["RuleVerdict", "RulesConfig", "RulesVerifier"]

#: Parsed constraint lists kept per model, keyed by their JSON text (rows often share them).
_CACHE_SIZE = 4096


@dataclass(frozen=True, kw_only=True, slots=True)
class RulesConfig:
    """Settings of ``verify:rules``; every field is also a spec option.

    Args:
        partial: reward the share of constraints that pass instead of all-or-nothing.
    """

    partial: bool = False


@dataclass(frozen=True, slots=True)
class RuleVerdict:
    """One response checked against its constraints."""

    value: float
    constraints: tuple[Constraint, ...]
    checks: tuple[Check, ...]

    def to_json(self) -> dict[str, Any]:
        failed = [{"index": i, "type": c.type, "reason": k.reason}
                  for i, (c, k) in enumerate(zip(self.constraints, self.checks, strict=True))
                  if not k.passed]
        return {"value": self.value, "passed": len(self.checks) - len(failed),
                "total": len(self.checks), "failed": failed}


class RulesVerifier(SaveLoadMixin, ReferenceScorer, ReferenceGrader):
    """Reward a response by the instruction constraints of its row.

    Example:
        >>> rules = RulesVerifier(partial=True)
        >>> rules.score_with_references(
        ...     ["q"], ["Yes. It is Paris."],
        ...     ['[{"type": "regex", "value": "^Yes"}, {"type": "max_words", "value": 2}]'])
        array([0.5])
    """

    kind = "verify"
    config_class = RulesConfig
    spec: str | None = None
    #: references are lists of objects (as JSON text), which the server and adapters pass on
    structured_references = True
    #: a valid reference, for a server's warm-up call
    warm_up_reference = '[{"type": "min_words", "value": 1}]'

    @classmethod
    def from_spec(cls, arg: str, options: dict[str, str]) -> RulesVerifier:
        return cls(**asdict(config_from_options(RulesConfig, options, spec=f"verify:{arg}")))

    # --- constraints -----------------------------------------------------------------------

    def constraints(self, reference: Any, fail: Callable[[str, str], Exception] | None = None
                    ) -> tuple[Constraint, ...]:
        """The validated constraints of one reference (a JSON list, or the list itself)."""
        cache: dict[str, tuple[Constraint, ...]] = self.__dict__.setdefault("_parsed", {})
        key = reference if isinstance(reference, str) else None
        if key is not None and key in cache:
            return cache[key]
        kwargs = {"fail": fail} if fail is not None else {}
        parsed = tuple(parse_constraints(reference, field="constraints", **kwargs))
        if key is not None:
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            cache[key] = parsed
        return parsed

    def check_reference(self, reference: Any, fail: Callable[[str, str], Exception]) -> None:
        """Validate one row's constraints before scoring (errors name file, line, field)."""
        self.constraints(reference, fail)

    # --- scoring ---------------------------------------------------------------------------

    def score(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """Always raises: the constraints come with each row (``score_with_references``)."""
        raise CapabilityError(
            f"model '{self.spec or 'verify:rules'}' checks each response against its row's "
            "constraints, and score(prompts, responses) carries none. In Python call "
            "score_with_references(prompts, responses, constraints) with each row's list (or "
            "its JSON text); data files need a 'constraints' column")

    def grade_with_references(self, prompts: Sequence[Prompt], responses: Sequence[str],
                              references: Sequence[Any]) -> list[RuleVerdict]:
        """Per response, the reward and every constraint's check."""
        if not len(prompts) == len(responses) == len(references):
            raise ConfigError(f"got {len(prompts)} prompts, {len(responses)} responses and "
                              f"{len(references)} constraint lists; they must pair up")
        out = []
        for i, (response, reference) in enumerate(zip(responses, references, strict=True)):
            if reference is None:
                raise ConfigError(f"item {i} has no constraints, which model "
                                  f"'{self.spec or 'verify:rules'}' checks its response against")
            constraints = self.constraints(reference)
            checks = tuple(c.check(response) for c in constraints)
            passed = sum(k.passed for k in checks)
            value = passed / len(checks) if self.config.partial else float(
                passed == len(checks))
            out.append(RuleVerdict(value, constraints, checks))
        return out

    def score_with_references(self, prompts: Sequence[Prompt], responses: Sequence[str],
                              references: Sequence[Any]) -> np.ndarray:
        """Rewards float64 ``(n,)``: 1/0 (all pass), or the share passed with ``partial``."""
        verdicts = self.grade_with_references(prompts, responses, references)
        return np.array([v.value for v in verdicts], dtype=np.float64)

    # --- persistence: no weights; the config is the whole model ----------------------------

    def saved_state(self) -> dict[str, Any]:
        return {"verifier": "rules"}
