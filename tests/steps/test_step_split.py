"""Step splitting: by line, sentence or separator, with a bare answer line kept with its step."""

from __future__ import annotations

import pytest

from rewardlab.errors import ConfigError
from rewardlab.steps import split_steps

# a real GSM8K reference solution (bundled example solutions, MIT)
SOLUTION = ("Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\n"
            "She makes 9 * 2 = $<<9*2=18>>18 every day at the farmer’s market.\nA: 18")


def test_newline_steps_keep_the_answer_line_with_the_last_step() -> None:
    assert split_steps(SOLUTION) == [
        "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.",
        "She makes 9 * 2 = $<<9*2=18>>18 every day at the farmer’s market.\nA: 18"]


def test_answer_line_can_stand_alone() -> None:
    assert split_steps(SOLUTION, merge_answer=False)[-1] == "A: 18"


@pytest.mark.parametrize("answer", ["#### 72", "A: 72", "The answer is 72.",
                                    "Final answer: 72", "So the answer is $72"])
def test_answer_line_forms(answer: str) -> None:
    assert len(split_steps(f"x = 70 + 2\n{answer}")) == 1


def test_a_reasoning_line_that_mentions_answers_is_a_step() -> None:
    text = "x = 70 + 2\nAnswering the first part, we still need to add the remaining 5 eggs."
    assert len(split_steps(text)) == 2


def test_blank_lines_and_padding_are_not_steps() -> None:
    assert split_steps("\n  a = 1  \n\n\n b = 2\n") == ["a = 1", "b = 2"]
    assert split_steps("   \n\n") == []


def test_sentences_never_cut_inside_numbers() -> None:
    text = "Weng earns 12/60 = $0.2 per minute. Working 50 minutes, she earned $10.\n#### 10"
    assert split_steps(text, "sentence") == [
        "Weng earns 12/60 = $0.2 per minute.", "Working 50 minutes, she earned $10.\n#### 10"]


def test_explicit_separator_as_in_trl_and_math_shepherd() -> None:
    assert split_steps("a = 1 ки b = 2 ки", "separator", separator="ки") == ["a = 1", "b = 2"]
    assert split_steps("a = 1\n\nb = 2\nc", "separator", separator="\n\n") == ["a = 1",
                                                                              "b = 2\nc"]


def test_bad_mode_and_separator() -> None:
    with pytest.raises(ConfigError, match="'mode' parameter of split_steps must be one of"):
        split_steps("a", "paragraph")
    with pytest.raises(ConfigError, match="'separator' parameter"):
        split_steps("a", "separator", separator="")
