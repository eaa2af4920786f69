"""The judging shared by every backend, driven by a scripted fake backend: swap averaging,
order consistency, rationales, the text fallback, NaN with reasons, and row order."""

from __future__ import annotations

import math
import random
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from rewardlab.judge import JudgeEngine, load_template, order_consistency
from rewardlab.llm import ItemFailure


class Scripted:
    """A fake backend: P(A) is a function of the two responses as shown (A first)."""

    name = "fake"

    def __init__(self, p_a: Callable[[str, str], float | None], *, logprobs: bool = True,
                 n_ctx: int | None = None, threads: int = 1, text: str | None = None) -> None:
        self.p_a, self.logprobs, self.n_ctx, self.threads = p_a, logprobs, n_ctx, threads
        self.text = text
        self.asked: list[str] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def count_chat_overhead(self) -> int:
        return 3

    def _shown(self, messages) -> tuple[str, str]:
        user = messages[0]["content"]
        a = re.search(r"\[Response A\]\n(.*?)\n\n\[Response B\]", user, re.S).group(1)
        b = re.search(r"\[Response B\]\n(.*?)\n\n", user, re.S).group(1)
        return a, b

    def option_probs(self, messages, options: Sequence[str]):
        self.asked.append(messages[-1]["content"])
        if not self.logprobs:
            return None
        a, b = self._shown(messages)
        p = self.p_a(a, b)
        if p is None:
            raise ItemFailure("HTTP 500 from fake after 5 tries")
        return {"A": p, "B": 1 - p}

    def generate(self, messages, max_tokens: int) -> str:
        if messages[-1]["role"] == "user" and messages[-1]["content"].startswith("So "):
            return self.text or "A"
        if len(messages) == 1 and "few sentences" in messages[0]["content"]:
            return "Both answers are polite; A is more accurate."
        return self.text if self.text is not None else "A"

    def map(self, fn, items):
        if self.threads == 1:
            return [fn(x) for x in items]
        def slow(x):
            time.sleep(random.random() / 200)
            return fn(x)
        with ThreadPoolExecutor(self.threads) as pool:
            return list(pool.map(slow, items))


def _engine(backend, *, reason: bool = False) -> JudgeEngine:
    templates = {m: load_template(m, None) for m in ("pairwise", "grade", "yesno", "reference")}
    return JudgeEngine(backend=backend, templates=templates, rubric="Be fair.", reason=reason,
                       max_reason_tokens=32)


def _always_a(a: str, b: str) -> float:
    return 0.9


def _prefers_long(a: str, b: str) -> float:
    return 0.8 if len(a) > len(b) else 0.2


def test_a_position_biased_judge_is_inconsistent_and_averages_to_half() -> None:
    engine = _engine(Scripted(_always_a))
    judged = engine.pairs(["q", "q"], ["long answer", "x"], ["x", "long answer"], swap=True)
    assert [j.p for j in judged] == pytest.approx([0.5, 0.5])
    assert [j.consistent for j in judged] == [False, False]
    assert order_consistency(judged) == 0.0
    single = engine.pairs(["q"], ["long answer"], ["x"], swap=False)[0]
    assert single.p == pytest.approx(0.9) and single.backward is None
    assert single.consistent is None


def test_a_consistent_judge_keeps_its_preference_under_swap() -> None:
    engine = _engine(Scripted(_prefers_long))
    judged = engine.pairs(["q", "q"], ["long answer", "x"], ["x", "long answer"], swap=True)
    assert [j.p for j in judged] == pytest.approx([0.8, 0.2])
    assert order_consistency(judged) == 1.0
    # the two orders of a pair are asked one after the other (they share a prefix)
    backend = Scripted(_prefers_long)
    _engine(backend).pairs(["q1", "q2"], ["a1", "a2"], ["b1", "b2"], swap=True)
    order = [re.search(r"\[Conversation\]\n(\S+)", m).group(1) for m in backend.asked]
    assert order == ["q1", "q1", "q2", "q2"]


def test_one_missing_order_leaves_the_other_and_both_missing_gives_nan_with_reason() -> None:
    def broken_when_x_first(a: str, b: str) -> float | None:
        return None if a.startswith("x") else 0.7

    engine = _engine(Scripted(broken_when_x_first))
    half, none = engine.pairs(["q", "q"], ["good", "x1"], ["x2", "x3"], swap=True)
    assert half.p == pytest.approx(0.7) and half.reason is None
    assert math.isnan(half.backward.value) and "HTTP 500" in half.backward.reason
    assert math.isnan(none.p) and "HTTP 500" in none.reason
    assert half.consistent is None


def test_rationale_is_asked_first_and_kept() -> None:
    backend = Scripted(_prefers_long)
    judged = _engine(backend, reason=True).pairs(["q"], ["long answer"], ["x"], swap=False)[0]
    assert judged.forward.rationale == "Both answers are polite; A is more accurate."
    assert backend.asked == ["So which response is better? Answer with a single letter: A "
                             "or B."]
    assert judged.to_json()["forward"]["rationale"].startswith("Both answers")


def test_text_fallback_parses_the_reply() -> None:
    engine = _engine(Scripted(_always_a, logprobs=False, text="Response B is better."))
    judged = engine.pairs(["q"], ["a"], ["b"], swap=False)[0]
    assert judged.p == 0.0 and judged.forward.text == "Response B is better."
    assert judged.forward.probs is None
    silent = _engine(Scripted(_always_a, logprobs=False, text="Hmm."))
    verdict = silent.pairs(["q"], ["a"], ["b"], swap=False)[0]
    assert math.isnan(verdict.p) and "no verdict in the reply 'Hmm.'" in verdict.reason


def test_rows_keep_their_order_when_answered_concurrently() -> None:
    def p_from_text(a: str, b: str) -> float:
        return int(a.removeprefix("r")) / 1000

    backend = Scripted(p_from_text, threads=8)
    n = 200
    judged = _engine(backend).pairs(["q"] * n, [f"r{i}" for i in range(n)], ["x"] * n,
                                    swap=False)
    np.testing.assert_allclose([j.p for j in judged], np.arange(n) / 1000)


def test_too_long_prompts_are_cut_with_a_warning_and_marked() -> None:
    backend = Scripted(_prefers_long, n_ctx=150)
    long_question = " ".join(f"w{i}" for i in range(400))
    with pytest.warns(UserWarning, match="1 of 2 judge prompts were longer"):
        judged = _engine(backend).pairs([long_question, "short"], ["a a", "a"], ["b", "b"],
                                        swap=False)
    assert judged[0].forward.truncated and not judged[1].forward.truncated
    assert not math.isnan(judged[0].p)
    assert backend.asked[0].endswith("Answer with a single letter: A or B.")


def test_instructions_that_do_not_fit_give_nan_with_reason() -> None:
    engine = _engine(Scripted(_prefers_long, n_ctx=80))
    with pytest.warns(UserWarning):
        judged = engine.pairs(["q " * 100], ["a"], ["b"], swap=False)[0]
    assert math.isnan(judged.p) and "raise n_ctx" in judged.reason


def test_mismatched_lengths_are_refused() -> None:
    from rewardlab.errors import ConfigError

    with pytest.raises(ConfigError, match="must pair up"):
        _engine(Scripted(_always_a)).pairs(["q", "q"], ["a"], ["b", "c"], swap=False)
