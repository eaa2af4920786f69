"""Answer extraction and exact number reading, on real GSM8K text and on the formats models use."""

from __future__ import annotations

from fractions import Fraction

import pytest

from rewardlab.data import load_dataset
from rewardlab.verify import (
    answer_key,
    clean_answer,
    extract_answer,
    parse_number,
    reference_answer,
)


@pytest.fixture(scope="module")
def gsm8k():
    return load_dataset("bundled:gsm8k_examples", limit=40)


def test_every_gsm8k_reference_states_its_answer_on_an_a_line(gsm8k) -> None:
    for record in gsm8k:
        last_line = record.reference.strip().splitlines()[-1]
        assert last_line.startswith("A: ")
        assert reference_answer(record.reference) == last_line[3:].strip()


def test_gsm8k_solutions_are_read_from_their_a_line(gsm8k) -> None:
    unfinished = 0
    for text in (text for record in gsm8k for text in record.responses):
        lines = [line for line in text.splitlines() if line.startswith("A: ")]
        found = extract_answer(text)
        if not lines:  # a few solutions stop before stating an answer
            assert found is None
            unfinished += 1
            continue
        assert (found.text, found.marker) == (lines[-1][3:].strip(), "answer-line")
        assert parse_number(found.text) is not None
    assert unfinished == 1  # problem 4's 175b_finetuning solution


@pytest.mark.parametrize(("text", "answer", "marker"), [
    ("Natalia sold 48+24 = <<48+24=72>>72 clips.\n#### 72", "72", "hash"),
    ("So she makes $18 a day.\nA: $18", "$18", "answer-line"),
    ("**Final Answer:** 1,000", "1,000", "answer-line"),
    ("Thus the answer is $\\boxed{\\frac{1}{2}}$.", "\\frac{1}{2}", "boxed"),
    ("\\boxed{\\left\\{1, 2\\right\\}}", "\\left\\{1, 2\\right\\}", "boxed"),
    ("The answer is 3.5.", "3.5", "answer-is"),
    ("The final answer is: 12 apples. I hope that helps.", "12 apples", "answer-is"),
    # the marker that starts last wins: the final answer comes at the end
    ("Answer: let us compute.\n3 + 4 = 7\nThe answer is 7.", "7", "answer-is"),
    ("The answer is 6.\nWait, I made an error.\n#### 8", "8", "hash"),
])
def test_markers(text: str, answer: str, marker: str) -> None:
    found = extract_answer(text)
    assert found is not None and (found.text, found.marker) == (answer, marker)


@pytest.mark.parametrize("text", [
    "I do not know.",
    "There are 3 apples and 4 pears, so 7 fruits.",   # numbers, but no marked answer
    "\\boxed{\\frac{3}",                                 # a box that never closes
    "A: ",                                             # an empty answer line
    "#### \n",
])
def test_no_marked_answer(text: str) -> None:
    assert extract_answer(text) is None


def test_last_number_fallback_is_opt_in() -> None:
    text = "There are 3 apples and 4 pears, so 1,007 fruits."
    assert extract_answer(text) is None
    found = extract_answer(text, fallback=True)
    assert found is not None and (found.text, found.marker) == ("1,007", "last-number")
    # a marked answer always wins over the fallback
    assert extract_answer("7 + 5 = 12\nA: 12 eggs, from 3 hens", fallback=True).marker \
        == "answer-line"


def test_clean_answer_strips_wrappers_but_not_content() -> None:
    assert clean_answer(" $\\boxed{18}$. ") == "18"
    assert clean_answer("\\(\\frac{3}{4}\\)") == "\\frac{3}{4}"
    assert clean_answer("\\text{Paris}.") == "Paris"
    assert clean_answer("$5$ and $6$") == "$5$ and $6$"  # two formulas, not one wrapped


@pytest.mark.parametrize(("text", "value"), [
    ("18", Fraction(18)),
    ("-4", Fraction(-4)),
    ("−4", Fraction(-4)),          # unicode minus
    ("$1,200.50", Fraction(240100, 200)),
    ("\\$5", Fraction(5)),
    ("-$5", Fraction(-5)),
    ("3.5 hours", Fraction(7, 2)),
    ("18 \\text{ dollars}", Fraction(18)),
    ("3/4", Fraction(3, 4)),
    ("-\\frac{6}{4}", Fraction(-3, 2)),
    (".5", Fraction(1, 2)),
    ("1{,}000", Fraction(1000)),
])
def test_plain_numbers_are_read_exactly(text: str, value: Fraction) -> None:
    assert parse_number(text) == value


@pytest.mark.parametrize("text", [
    "10%", "2 million", "3 dozen", "1,5", "1/0", "x + 1", "\\sqrt{2}", "5+John's age",
    "9^9^9^9", "1" * 61, "-+5", "Paris", "",
])
def test_anything_else_is_left_to_math_verify(text: str) -> None:
    assert parse_number(text) is None


def test_equal_numbers_share_a_vote_key() -> None:
    assert answer_key("$1,000") == answer_key("1000.0") == answer_key("1000 dollars")
    assert answer_key("1000") != answer_key("1001")
    assert answer_key("x + 1") == answer_key("x+1") != answer_key("x+2")


def test_a_long_text_is_read_in_linear_time() -> None:
    import time

    text = "the answer is " + "1" * 50_000 + " " + "(" * 40_000 + "\n" * 5_000 + "A: 7"
    start = time.perf_counter()
    assert extract_answer(text, fallback=True).text == "7"
    assert time.perf_counter() - start < 1.0
