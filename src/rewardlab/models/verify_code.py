"""``verify:code`` — a rule-based reward: 1 when a response's program passes its unit tests.

A ``ReferenceScorer`` like ``verify:math``: the row's tests are its reference (HumanEval
``test``/``entry_point``, MBPP ``test_list``, generic ``tests``; ``rewardlab.data`` gathers
them into one JSON reference). With ``partial=true`` the reward is the share of tests that
pass. Every program runs in the sandbox of ``rewardlab.verify`` (docs/verifiers.md has the
threat model), or on a SandboxFusion server with ``backend=sandbox-fusion&url=...``.

Spec: ``verify:code?partial=true&timeout=10&memory_mb=1024&workers=2``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rewardlab._validation import check_int, check_option, check_positive
from rewardlab.data import Prompt
from rewardlab.errors import CapabilityError, ConfigError, SpecError
from rewardlab.models._module import SaveLoadMixin
from rewardlab.models.base import ReferenceGrader, ReferenceScorer
from rewardlab.models.registry import config_from_options
from rewardlab.verify import CodeChecker, CodeVerdict, Limits, TaskError, parse_task

__all__ = ["BACKENDS", "CodeVerifier", "CodeVerifyConfig"]

#: Where programs run.
BACKENDS = ("local", "sandbox-fusion")


@dataclass(frozen=True, kw_only=True, slots=True)
class CodeVerifyConfig:
    """Settings of ``verify:code``; every field is also a spec option.

    Args:
        partial: reward the share of passing tests (1/0 otherwise).
        timeout: wall-clock seconds per program (loading it and running all its tests).
        memory_mb: address-space limit of the program's process.
        workers: sandbox processes running programs in parallel (0: one per core, up to 4).
        backend: ``local`` or ``sandbox-fusion`` (an HTTP SandboxFusion server at ``url``).
        url: the SandboxFusion server, e.g. ``http://sandbox:8080``.
    """

    partial: bool = False
    timeout: float = 10.0
    memory_mb: int = 1024
    workers: int = 0
    backend: str = "local"
    url: str = ""

    def __post_init__(self) -> None:
        check_positive("CodeVerifyConfig", "timeout", self.timeout)
        check_int("CodeVerifyConfig", "memory_mb", self.memory_mb, minimum=64)
        check_int("CodeVerifyConfig", "workers", self.workers, minimum=0)
        check_option("CodeVerifyConfig", "backend", self.backend, BACKENDS)
        if self.backend == "sandbox-fusion" and not self.url.startswith(("http://",
                                                                         "https://")):
            raise ConfigError("The 'url' parameter of CodeVerifyConfig must be the "
                              "SandboxFusion server's http(s) address when "
                              f"backend='sandbox-fusion'. Got {self.url!r} instead.")


class CodeVerifier(SaveLoadMixin, ReferenceScorer, ReferenceGrader):
    """Reward 1.0 when the response's program passes every test of its reference.

    Example:
        >>> verifier = CodeVerifier(workers=1)
        >>> ref = '{"tests": ["assert double(2) == 4", "assert double(0) == 0"]}'
        >>> verifier.score_with_references(["", ""], ["def double(x):\\n    return 2 * x",
        ...                                           "def double(x):\\n    return 4"], [ref] * 2)
        array([1., 0.])
    """

    kind = "verify"
    config_class = CodeVerifyConfig
    spec: str | None = None
    #: references may be JSON objects (the tests), which adapters and the server pass on
    structured_references = True
    #: what the server's warm-up call checks against (it also starts the sandbox pool)
    warm_up_reference = '{"tests": ["assert True"]}'

    @classmethod
    def from_spec(cls, arg: str, options: dict[str, str]) -> CodeVerifier:
        if arg != "code":
            raise SpecError(f"'verify:{arg}' is not verify:code")
        config = config_from_options(CodeVerifyConfig, options, spec=f"verify:{arg}")
        return cls(**asdict(config))

    @property
    def checker(self) -> CodeChecker:
        if getattr(self, "_checker", None) is None:
            c = self.config
            self._checker = CodeChecker(
                partial=c.partial, limits=Limits(timeout=c.timeout, memory_mb=c.memory_mb),
                workers=c.workers, backend=c.backend, url=c.url)
        return self._checker

    def check_reference(self, reference: Any, fail: Callable[[str, str], Exception]) -> None:
        """Validate one row's tests before scoring, so a bad one is named by its file, line
        and field (or request field) rather than by its place in a batch."""
        try:
            parse_task(reference)
        except TaskError as exc:
            raise fail("reference", str(exc)) from None

    def score(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """Always raises: the tests are the reference (see ``score_with_references``)."""
        raise CapabilityError(
            f"model '{self.spec or 'verify:code'}' runs each response against its unit "
            "tests, and score(prompts, responses) carries none. In Python call "
            "score_with_references(prompts, responses, references); data files give the "
            "tests as 'test' + 'entry_point' (HumanEval), 'test_list' (MBPP) or 'tests'")

    def score_with_references(self, prompts: Sequence[Prompt], responses: Sequence[str],
                              references: Sequence[str | Mapping[str, Any]]) -> np.ndarray:
        """Rewards float64 ``(n,)``: response ``i`` run against the tests ``references[i]``."""
        return np.array([v.reward for v in self.verdicts(prompts, responses, references)],
                        dtype=np.float64)

    def verdicts(self, prompts: Sequence[Prompt], responses: Sequence[str],
                 references: Sequence[str | Mapping[str, Any]]) -> list[CodeVerdict]:
        """Per response, the reward with its reason, tests passed and run, and detail."""
        if not len(prompts) == len(responses) == len(references):
            raise ConfigError(f"got {len(prompts)} prompts, {len(responses)} responses and "
                              f"{len(references)} references; they must pair up one to one")
        try:
            return self.checker.check(responses, references)
        except TaskError as exc:
            raise ConfigError(f"{exc}") from None

    def grade_with_references(self, prompts: Sequence[Prompt], responses: Sequence[str],
                              references: Sequence[str | Mapping[str, Any]]
                              ) -> list[CodeVerdict]:
        """``verdicts`` as a ``ReferenceGrader``'s, so ``rewardlab score`` writes each reward's
        reason (``passed``, ``wrong_answer``, ``timeout``, ...) and tests passed beside it."""
        return self.verdicts(prompts, responses, references)

    def saved_state(self) -> dict[str, Any]:
        return {"verifier": "code"}
