"""Check programs against their tests: the outcome of every response, with its reason.

``CodeChecker.check(responses, references)`` extracts each response's code (the last fenced
block of Markdown), builds the program (a HumanEval completion continues its prompt), runs it
in the sandbox (``_sandbox.py``: a warm pool of harness processes, a fresh runner process per
program) or on a SandboxFusion server (``_fusion.py``), and returns one ``CodeVerdict`` per
response. A bad reference raises ``TaskError`` naming the item before anything runs; nothing
a response contains raises.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rewardlab.verify._code_tasks import CodeTask, TaskError, extract_code, parse_task
from rewardlab.verify._sandbox import Limits, SandboxResult, shared_pool

__all__ = ["CODE_REASONS", "CodeChecker", "CodeVerdict"]

#: Why a program got its reward (``passed`` for a full pass).
CODE_REASONS = ("passed", "syntax_error", "runtime_error", "wrong_answer", "timeout", "memory",
                "no_code", "forbidden", "task_error", "harness_error")


@dataclass(frozen=True, slots=True)
class CodeVerdict:
    """The outcome of one program.

    Attributes:
        reward: 1.0 when every test passed (or, with ``partial``, the share that passed).
        reason: ``passed`` or the first failure's kind (one of ``CODE_REASONS``).
        passed, total: tests passed and run.
        detail: the failure in a few words (the assertion, the exception, the limit).
        seconds: wall-clock time in the sandbox.
    """

    reward: float
    reason: str
    passed: int = 0
    total: int = 0
    detail: str = ""
    seconds: float = 0.0

    @property
    def value(self) -> float:
        """The reward, under the name ``ReferenceGrader`` verdicts give it."""
        return self.reward

    def to_json(self) -> dict[str, Any]:
        return {"reward": self.reward, "reason": self.reason, "passed": self.passed,
                "total": self.total, "detail": self.detail, "seconds": round(self.seconds, 4)}


class CodeChecker:
    """Runs responses against code references.

    Args:
        partial: reward the share of passing tests instead of all-or-nothing.
        limits: the sandbox's per-program limits.
        workers: harness processes of the local pool (0: up to 4, one per core).
        backend: ``local`` (this machine's sandbox) or ``sandbox-fusion`` (an HTTP server).
        url: the SandboxFusion server (``backend="sandbox-fusion"``).

    Example:
        >>> checker = CodeChecker(limits=Limits(timeout=5), workers=1)
        >>> ref = {"tests": ["assert add(1, 2) == 3"]}
        >>> [v.reason for v in checker.check(["def add(a, b):\\n    return a + b",
        ...                                   "def add(a, b):\\n    return a - b"], [ref, ref])]
        ['passed', 'wrong_answer']
    """

    def __init__(self, *, partial: bool = False, limits: Limits | None = None,
                 workers: int = 0, backend: str = "local", url: str = "") -> None:
        self.partial, self.limits = partial, limits or Limits()
        self.workers, self.backend, self.url = workers, backend, url

    def tasks(self, references: Sequence[str | Mapping[str, Any]]) -> list[CodeTask]:
        """Every reference parsed; ``TaskError`` names the first bad one."""
        out = []
        for i, ref in enumerate(references):
            try:
                out.append(parse_task(ref))
            except TaskError as exc:
                raise TaskError(f"references[{i}]: {exc}") from None
        return out

    def check(self, responses: Sequence[str], references: Sequence[str | Mapping[str, Any]]
              ) -> list[CodeVerdict]:
        """One verdict per response, response ``i`` run against ``references[i]``."""
        tasks = self.tasks(references)
        verdicts: list[CodeVerdict | None] = [None] * len(responses)
        jobs, where = [], []
        for i, (response, task) in enumerate(zip(responses, tasks, strict=True)):
            code = extract_code(response) if isinstance(response, str) else None
            if code is None:
                verdicts[i] = CodeVerdict(0.0, "no_code", 0, task.size,
                                          "the response holds no code")
                continue
            jobs.append(task.job(code))
            where.append(i)
        for i, result in zip(where, self._run(jobs), strict=True):
            verdicts[i] = self.verdict(result)
        return verdicts  # type: ignore[return-value]

    def broken_tasks(self, solutions: Sequence[str],
                     references: Sequence[str | Mapping[str, Any]]
                     ) -> list[tuple[int, CodeVerdict]]:
        """Tasks whose own reference solution (HumanEval's ``canonical_solution``, MBPP's
        ``code``) does not pass their tests, with the verdict: a problem of the task, to be
        reported and left out, not a model failure.

        Example:
            >>> checker = CodeChecker(workers=1)
            >>> refs = [{"tests": ["assert sq(3) == 9"]}, {"tests": ["assert sq(3) == 6"]}]
            >>> [(i, v.reason) for i, v in checker.broken_tasks(["def sq(x): return x * x"] * 2,
            ...                                                refs)]
            [(1, 'wrong_answer')]
        """
        verdicts = self.check(solutions, references)
        return [(i, v) for i, v in enumerate(verdicts) if v.reason != "passed"]

    def _run(self, jobs: list[dict[str, Any]]) -> list[SandboxResult]:
        if not jobs:
            return []
        if self.backend == "sandbox-fusion":
            from rewardlab.verify._fusion import run_fusion

            return run_fusion(self.url, jobs, self.limits, workers=self.workers or 4)
        return shared_pool(self.workers or None).run(jobs, self.limits)

    def verdict(self, result: SandboxResult) -> CodeVerdict:
        total = max(result.total, 1)
        if result.ok:
            return CodeVerdict(1.0, "passed", result.passed, result.total, "",
                               result.seconds)
        reward = result.passed / total if self.partial else 0.0
        return CodeVerdict(reward, result.reason or "runtime_error", result.passed, total,
                           result.detail, result.seconds)
