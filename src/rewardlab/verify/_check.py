"""Check math answers against references: exact numbers in-process, math-verify otherwise.

Two paths, measured on the 3,276 GSM8K example solutions (benchmarks/verify_math.py):

- **exact**: when both the answer and the reference are plain numbers (``18``, ``$1,200``,
  ``3.5 hours``, ``3/4``), their exact values decide: equal values are correct, values more
  than 1e-6 apart are wrong (math-verify's rounding to six places cannot make them equal).
  This decides 99.8% of the GSM8K solutions (the rest have no answer or a non-number) at a
  few microseconds each.
- **math-verify** for the rest (LaTeX, expressions, percentages, numbers with multipliers,
  fractions against decimals), run in a worker process with a per-item time limit: an answer
  like ``9^{9^{9^9}}`` gets reward 0 with reason ``timeout`` after ``timeout`` seconds, and
  the worker is replaced. The parent never imports sympy.

Every outcome is a ``Verdict`` with a reason; nothing a response contains can raise.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

from rewardlab._validation import check_option, check_positive, check_range
from rewardlab.errors import ConfigError, MissingDependencyError
from rewardlab.verify._extract import extract_answer, parse_number, reference_answer

__all__ = ["FALLBACKS", "REASONS", "MathChecker", "Verdict", "close_worker"]

#: Why a response got its reward.
REASONS = ("correct", "wrong-answer", "no-answer", "answer-unparsable",
           "reference-unparsable", "timeout", "error")
FALLBACKS = ("none", "last-number")

_WORKER_SCRIPT = Path(__file__).with_name("_mv_worker.py")
#: Importing sympy and math-verify takes ~1 s, more on a busy machine; the item time limit
#: starts only once the worker says it is ready.
_STARTUP_TIMEOUT = 120.0
#: math-verify compares a float with a number after rounding both to six decimals: numbers
#: further apart than 1e-6 cannot round to the same value, so exact arithmetic decides them;
#: closer ones (0.333333 against 1/3) go to math-verify, whose rounding may call them equal.
_ROUNDING = Fraction(1, 10**6)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of checking one response.

    Attributes:
        reward: 1.0 when correct; ``format_score`` when a marked answer is not correct; else 0.
        correct: whether the answer equals the reference.
        reason: one of ``REASONS``.
        answer: the answer extracted from the response (None when there is none).
        reference: the answer extracted from the reference.
        marker: how the answer was found (``boxed``, ``hash``, ``answer-line``,
            ``answer-is``, ``last-number``).
        method: what decided: ``text`` (identical answers), ``exact`` (exact numbers) or
            ``math-verify``.
        detail: more about an ``error``.
    """

    reward: float
    correct: bool
    reason: str
    answer: str | None = None
    reference: str | None = None
    marker: str | None = None
    method: str | None = None
    detail: str | None = None

    @property
    def value(self) -> float:
        """The reward, under the name ``ReferenceGrader`` verdicts give it."""
        return self.reward

    def to_json(self) -> dict[str, Any]:
        return {"reward": self.reward, "correct": self.correct, "reason": self.reason,
                "answer": self.answer, "reference": self.reference, "marker": self.marker,
                "method": self.method, "detail": self.detail}


class _Worker:
    """One math-verify child process, shared by every checker in this process.

    Requests go one at a time under a lock, so a hung item can be told apart from the next:
    the parent waits ``timeout`` seconds for each answer and kills the child when none comes.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._stderr: IO[str] | None = None
        self._pid = os.getpid()
        self.starts = 0

    def _start(self) -> None:
        if importlib.util.find_spec("math_verify") is None:
            raise MissingDependencyError(
                "verify:math needs the math-verify package: "
                "pip install 'math-verify[antlr4_13_2]' (a dependency of rewardlab)")
        # kept open for the worker's whole life (its stderr), closed in close()
        self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        proc = subprocess.Popen(
            [sys.executable, "-u", str(_WORKER_SCRIPT)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=self._stderr, text=True, encoding="utf-8",
        )
        lines: queue.Queue[str | None] = queue.Queue()

        def pump(stream: IO[str]) -> None:
            for line in stream:
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, args=(proc.stdout,), daemon=True,
                         name="rewardlab-math-verify").start()
        self._proc, self._lines, self._pid = proc, lines, os.getpid()
        self.starts += 1
        try:
            first = lines.get(timeout=_STARTUP_TIMEOUT)
        except queue.Empty:
            first = None
        hello = json.loads(first) if first else {}
        if not hello.get("ready"):
            why = hello.get("error") or self._stderr_text() or "it exited at once"
            self.close()
            raise MissingDependencyError(
                f"the math-verify worker did not start: {why}. Install it with "
                "pip install 'math-verify[antlr4_13_2]'")

    def _stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read()[-500:].strip()

    def close(self) -> None:
        """Stop the child (it is started again on the next request)."""
        proc, self._proc = self._proc, None
        if proc is not None and self._pid == os.getpid():
            proc.kill()
            proc.wait()
            for stream in (proc.stdin, proc.stdout):
                if stream is not None:
                    stream.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def check(self, gold: str, pred: str, timeout: float) -> dict[str, Any]:
        """math-verify's verdict on one answer: a dict with ``status`` (and ``detail``)."""
        with self._lock:
            if self._pid != os.getpid():  # a forked child must not share its parent's worker
                self._proc, self._stderr = None, None
            if self._proc is None or self._proc.poll() is not None:
                self.close()
                self._start()
            assert self._proc is not None and self._proc.stdin is not None
            try:
                self._proc.stdin.write(json.dumps({"gold": gold, "pred": pred}) + "\n")
                self._proc.stdin.flush()
                line = self._lines.get(timeout=timeout)
            except queue.Empty:
                self.close()
                return {"status": "timeout"}
            except OSError as exc:  # the child died between requests
                self.close()
                return {"status": "error", "detail": f"math-verify worker failed: {exc}"}
            if line is None:
                detail = self._stderr_text()[-200:] or "the worker exited"
                self.close()
                return {"status": "error", "detail": f"math-verify worker died: {detail}"}
            return json.loads(line)


_WORKER = _Worker()
atexit.register(_WORKER.close)


class MathChecker:
    """Checks answers against references; see the module docstring for how.

    Args:
        format_score: reward for a response whose answer is marked (``#### x``, ``A: x``,
            ``\\boxed{x}``, "the answer is x") but not correct, as in verl's GSM8K reward.
            0 (the default) keeps rewards binary.
        fallback: ``none``, or ``last-number`` to read the last number of a response that
            marks no answer (such answers never earn ``format_score``).
        timeout: seconds math-verify may spend on one answer.

    Example:
        >>> checker = MathChecker()
        >>> [v.reward for v in checker.check(["#### 1,000", "A: 12"], ["1000", "13"])]
        [1.0, 0.0]
    """

    def __init__(self, *, format_score: float = 0.0, fallback: str = "none",
                 timeout: float = 2.0) -> None:
        check_range("MathChecker", "format_score", format_score, 0.0, 1.0)
        check_option("MathChecker", "fallback", fallback, FALLBACKS)
        check_positive("MathChecker", "timeout", timeout)
        self.format_score = float(format_score)
        self.fallback = fallback
        self.timeout = float(timeout)

    def check(self, responses: Sequence[str], references: Sequence[str]) -> list[Verdict]:
        """One verdict per (response, reference). Identical slow comparisons run once."""
        if len(responses) != len(references):
            raise ConfigError(f"got {len(responses)} responses but {len(references)} "
                              "references; they must pair up one to one")
        memo: dict[tuple[str, str], dict[str, Any]] = {}
        return [self._one(r, ref, memo) for r, ref in zip(responses, references, strict=True)]

    def _one(self, response: str, reference: str,
             memo: dict[tuple[str, str], dict[str, Any]]) -> Verdict:
        ref = reference_answer(reference)
        found = extract_answer(response, fallback=self.fallback == "last-number")
        if found is None:
            return Verdict(0.0, False, "no-answer", reference=ref or None)
        if not ref:
            return self._verdict("reference-unparsable", found.text, ref, found.marker, None)
        if "".join(found.text.split()) == "".join(ref.split()):
            return self._verdict("correct", found.text, ref, found.marker, "text")
        mine, theirs = parse_number(found.text), parse_number(ref)
        if mine is not None and theirs is not None:
            if mine == theirs:
                return self._verdict("correct", found.text, ref, found.marker, "exact")
            if abs(mine - theirs) > _ROUNDING:
                return self._verdict("wrong-answer", found.text, ref, found.marker, "exact")
        key = (ref, found.text)
        if key not in memo:
            memo[key] = _WORKER.check(ref, found.text, self.timeout)
        result = memo[key]
        status = result.get("status", "error")
        if status not in REASONS:
            status = "error"
        return self._verdict(status, found.text, ref, found.marker, "math-verify",
                             result.get("detail"))

    def _verdict(self, reason: str, answer: str, ref: str, marker: str, method: str | None,
                 detail: str | None = None) -> Verdict:
        correct = reason == "correct"
        if correct:
            reward = 1.0
        elif marker != "last-number":
            reward = self.format_score
        else:
            reward = 0.0
        return Verdict(reward, correct, reason, answer, ref or None, marker, method, detail)


def close_worker() -> None:
    """Stop the shared math-verify worker (it restarts on demand); for tests and servers."""
    _WORKER.close()
