"""Checking answers: agreement with GSM8K's labels, math-verify's cases, and bad input.

Bad input never raises and never hangs: it gets reward 0 and a reason.
"""

from __future__ import annotations

import threading
import time

import pytest

from rewardlab.data import load_dataset
from rewardlab.errors import ConfigError
from rewardlab.verify import REASONS, MathChecker


@pytest.fixture(scope="module")
def checker() -> MathChecker:
    return MathChecker(timeout=1.0)


def test_agrees_with_every_gsm8k_label() -> None:
    """All 819 problems, 3,276 labelled solutions (the fast path makes this ~0.2 s)."""
    data = load_dataset("bundled:gsm8k_examples")
    responses = [text for r in data for text in r.responses]
    references = [r.reference for r in data for _ in r.responses]
    labels = [ok for r in data for ok in r.is_correct]
    verdicts = MathChecker().check(responses, references)
    disagreements = [(i, v) for i, (v, ok) in enumerate(zip(verdicts, labels, strict=True))
                     if v.correct != ok]
    assert disagreements == []
    assert {v.reason for v in verdicts} <= set(REASONS)
    assert sum(v.method == "exact" or v.method == "text" for v in verdicts) > 3200


@pytest.mark.parametrize(("response", "reference"), [
    ("#### 1,000", "1000"),
    ("A: $18.00", "#### 18"),
    ("the answer is \\frac{6}{4}.", "1.5"),
    ("\\boxed{\\frac{\\sqrt{2}}{2}}", "\\frac{1}{\\sqrt{2}}"),   # math-verify: symbolic
    ("The answer is 0.333333", "\\frac{1}{3}"),                  # math-verify: rounding
    ("A: 10%", "10"),                                            # math-verify: percentages
    ("\\boxed{x^2 + 2x + 1}", "(x+1)^2"),
    ("A: Paris", "Paris"),                                       # identical text
])
def test_equal_answers(checker: MathChecker, response: str, reference: str) -> None:
    verdict = checker.check([response], [reference])[0]
    assert (verdict.reward, verdict.correct, verdict.reason) == (1.0, True, "correct"), verdict


@pytest.mark.parametrize(("response", "reference"), [
    ("#### 1,001", "1000"),
    ("A: 8.333333333333334", "300"),
    ("The answer is 0.3333", "\\frac{1}{3}"),
    ("\\boxed{x^2 + 1}", "(x+1)^2"),
])
def test_different_answers(checker: MathChecker, response: str, reference: str) -> None:
    verdict = checker.check([response], [reference])[0]
    assert (verdict.reward, verdict.correct, verdict.reason) == (0.0, False, "wrong-answer")


@pytest.mark.parametrize(("response", "reference", "reason"), [
    ("I am not sure what to do here.", "18", "no-answer"),
    ("A: \\frac{3", "5", "answer-unparsable"),
    ("A: 5", "Lyon", "reference-unparsable"),
    ("A: 5", "   ", "reference-unparsable"),
])
def test_bad_input_gets_zero_and_a_reason(checker: MathChecker, response: str,
                                          reference: str, reason: str) -> None:
    verdict = checker.check([response], [reference])[0]
    assert (verdict.reward, verdict.correct, verdict.reason) == (0.0, False, reason)


def test_a_timeout_prone_answer_is_cut_off_and_the_next_one_still_works() -> None:
    checker = MathChecker(timeout=0.5)
    checker.check(["\\boxed{\\sqrt{4}}"], ["2"])  # start the worker outside the timing
    start = time.perf_counter()
    verdicts = checker.check(["\\boxed{9^{9^{9^{9}}}}", "\\boxed{\\sqrt{4}}"], ["5", "2"])
    assert time.perf_counter() - start < 30  # the worker restarts (~1 s), it never hangs
    assert (verdicts[0].reward, verdicts[0].reason) == (0.0, "timeout")
    assert verdicts[0].answer == "9^{9^{9^{9}}}"
    assert (verdicts[1].reward, verdicts[1].reason) == (1.0, "correct")


def test_works_off_the_main_thread(checker: MathChecker) -> None:
    """math-verify's own time limit is signal.alarm, which fails off the main thread."""
    out: list = []
    thread = threading.Thread(target=lambda: out.extend(
        checker.check(["\\boxed{\\sqrt{4}}", "A: 3"], ["2", "4"])))
    thread.start()
    thread.join(60)
    assert [v.reason for v in out] == ["correct", "wrong-answer"]


def test_format_score_rewards_a_marked_wrong_answer_only() -> None:
    checker = MathChecker(format_score=0.1, fallback="last-number")
    verdicts = checker.check(["#### 7", "#### 8", "so it is 8", "so it is 7", "no idea"],
                             ["7"] * 5)
    assert [v.reward for v in verdicts] == [1.0, 0.1, 0.0, 1.0, 0.0]
    assert [v.marker for v in verdicts] == ["hash", "hash", "last-number", "last-number", None]


def test_verdicts_say_what_was_compared(checker: MathChecker) -> None:
    verdict = checker.check(["She makes 9 * 2 = $18.\nA: $18"],
                            ["9 eggs\nShe makes $18.\n#### 18"])[0]
    assert (verdict.answer, verdict.reference, verdict.marker, verdict.method) == \
        ("$18", "18", "answer-line", "exact")
    assert verdict.to_json()["reason"] == "correct"


def test_misuse_is_an_error() -> None:
    with pytest.raises(ConfigError, match="must pair up"):
        MathChecker().check(["A: 1", "A: 2"], ["1"])
    with pytest.raises(ConfigError, match="'fallback' parameter of MathChecker"):
        MathChecker(fallback="first-number")
    with pytest.raises(ConfigError, match="'timeout' parameter"):
        MathChecker(timeout=0)
