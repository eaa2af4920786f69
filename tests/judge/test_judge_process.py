"""``judge:...?mode=process``: ProcessBench's critic question, its answer parsed into step
scores, and a reply naming a step that does not exist kept as a per-item reason."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rewardlab import resolve
from rewardlab.judge import load_template
from rewardlab.judge._process import ask_earliest_errors, parse_earliest_error, tag_steps
from rewardlab.llm import ItemFailure
from rewardlab.models.base import StepScorer
from rewardlab.scoring import first_errors, score_solutions

QUESTION = "Tom has 3 apples and buys 4 more. How many apples does he have?"
STEPS = ["Tom starts with 3 apples.", "He buys 4, so 3 + 4 = 8 apples.", "#### 8"]


class Critic:
    """A fake backend whose reply is fixed per solution (by its first step)."""

    name, n_ctx = "fake", None

    def __init__(self, replies: dict[str, str | None]) -> None:
        self.replies, self.asked = replies, []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def count_chat_overhead(self) -> int:
        return 3

    def generate(self, messages, max_tokens: int) -> str:
        content = messages[0]["content"]
        self.asked.append(content)
        for key, reply in self.replies.items():
            if f"<paragraph_0>\n{key}" in content:
                if reply is None:
                    raise ItemFailure("HTTP 500 from fake after 5 tries")
                return reply
        raise AssertionError("unexpected question")

    def map(self, fn, items):
        return [fn(x) for x in items]


def test_the_question_has_processbench_shape() -> None:
    critic = Critic({"Tom": "\\boxed{1}"})
    ask_earliest_errors(critic, load_template("process", None), [QUESTION], [STEPS])
    asked = critic.asked[0]
    assert QUESTION in asked and tag_steps(STEPS) in asked
    assert "<paragraph_2>\n#### 8\n</paragraph_2>" in asked
    assert "earliest" in asked and "-1" in asked and "\\boxed{}" in asked


def test_replies_become_step_scores_and_bad_ones_reasons() -> None:
    critic = Critic({"A": "Step 1 adds wrong. \\boxed{1}", "B": "All fine: \\boxed{-1}",
                     "C": "The error is in \\boxed{5}", "D": "I cannot tell.", "E": None})
    steps = [["A", "x", "y"], ["B", "x"], ["C", "x"], ["D", "x"], ["E", "x"]]
    verdicts = ask_earliest_errors(critic, load_template("process", None), ["q"] * 5, steps)
    assert [v.first_error for v in verdicts] == [1, None, None, None, None]
    assert verdicts[0].step_scores.tolist() == [1.0, 0.0, 0.0]
    assert verdicts[1].step_scores.tolist() == [1.0, 1.0] and verdicts[1].reason is None
    assert np.isnan(verdicts[2].step_scores).all()
    assert verdicts[2].reason == ("the judge named step 5, but the solution has 2 steps "
                                  "(indexed 0 to 1)")
    assert "no step index" in verdicts[3].reason
    assert verdicts[4].reason == "HTTP 500 from fake after 5 tries"


@pytest.mark.parametrize(("reply", "expected"), [
    ("\\boxed{0}", (0, None)), ("\\boxed{ -1 }", (None, None)),
    ("first \\boxed{2} then \\boxed{0}", (0, None)),  # the last box is the answer
    ("paragraph 1", (1, None)),  # nothing boxed: the last integer
])
def test_parse_earliest_error(reply: str, expected: tuple) -> None:
    assert parse_earliest_error(reply, 3) == expected


def test_process_mode_is_a_step_scorer_through_scoring(monkeypatch: pytest.MonkeyPatch) -> None:
    judge = resolve("judge:gguf:default?mode=process")
    assert isinstance(judge, StepScorer)
    critic = Critic({"Tom": "\\boxed{1}", "He": "\\boxed{9}"})
    monkeypatch.setattr(type(judge), "engine", property(lambda self: _FakeEngine(critic)))
    scored = score_solutions(judge, [QUESTION] * 2, [STEPS, ["He has 7."]])
    assert scored.first_error == [1, None]
    assert scored.rewards[0] == 0.0 and math.isnan(scored.rewards[1])
    assert scored.reasons == [None, "the judge named step 9, but the solution has 1 steps "
                                    "(indexed 0 to 0)"]
    assert first_errors(judge, [QUESTION], [STEPS]) == [1]


class _FakeEngine:
    def __init__(self, backend) -> None:
        self.backend = backend
        self.templates = {"process": load_template("process", None)}


@pytest.mark.slow
def test_the_local_smollm2_judge_answers_through_the_real_path() -> None:
    """SmolLM2-135M on llama.cpp: far too small to find errors, but every reply is either a
    valid step index or a per-item reason, never a silent guess."""
    judge = resolve("judge:gguf:default?mode=process&max_reason_tokens=12")
    (verdict,) = judge.judge_steps([QUESTION], [STEPS])
    assert verdict.text is not None
    if verdict.reason is None:
        assert verdict.first_error is None or 0 <= verdict.first_error < len(STEPS)
    else:
        assert np.isnan(verdict.step_scores).all()
