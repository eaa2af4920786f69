"""Verdict scoring: pure functions from option probabilities (or text) to a reward."""

from __future__ import annotations

import math

import pytest

from rewardlab.judge import (
    expected_grade,
    pairwise_probability,
    parse_verdict,
    yes_probability,
)
from rewardlab.judge._verdict import reduce_options


def test_pairwise_probability_renormalises_over_the_two_letters() -> None:
    assert pairwise_probability({"A": 0.3, "B": 0.1}) == pytest.approx(0.75)
    assert pairwise_probability({"A": 0.0, "B": 0.2}) == 0.0
    assert math.isnan(pairwise_probability({"A": 0.0, "B": 0.0}))
    assert math.isnan(pairwise_probability({}))


def test_expected_grade_is_the_mean_under_the_grade_distribution() -> None:
    assert expected_grade({"1": 0.1, "10": 0.1}) == pytest.approx(5.5)
    assert expected_grade({str(g): 1.0 for g in range(1, 11)}) == pytest.approx(5.5)
    assert expected_grade({"7": 0.02}) == pytest.approx(7.0)
    assert math.isnan(expected_grade({"11": 1.0}))


def test_yes_probability() -> None:
    assert yes_probability({"Yes": 0.2, "No": 0.6}) == pytest.approx(0.25)
    assert math.isnan(yes_probability({"Maybe": 1.0}))


def test_reduce_options_by_mode() -> None:
    assert reduce_options("pairwise", {"A": 1, "B": 1}) == 0.5
    assert reduce_options("grade", {"3": 1}) == 3.0
    assert reduce_options("yesno", {"Yes": 1}) == 1.0
    assert reduce_options("reference", {"No": 1}) == 0.0


@pytest.mark.parametrize(("text", "expected"), [
    ("A", 1.0), ("B", 0.0), ("[[A]]", 1.0), ("Final verdict: [[B]]", 0.0),
    ("The better response is B.", 0.0), ("Response A is better because it is polite.", 1.0),
    ("Answer: **B**", 0.0), ("It's a tie.", 0.5), ("[[C]]", 0.5),
    ("Both are fine.", math.nan), ("", math.nan),
])
def test_parse_pairwise(text: str, expected: float) -> None:
    got = parse_verdict("pairwise", text)
    assert (math.isnan(got) and math.isnan(expected)) or got == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("7", 7.0), ("10", 10.0), ("Score: 8/10", 8.0), ("I would rate it 6/10.", 6.0),
    ("Grade: 3", 3.0), ("great answer", math.nan), ("0", math.nan),
])
def test_parse_grade(text: str, expected: float) -> None:
    got = parse_verdict("grade", text)
    assert (math.isnan(got) and math.isnan(expected)) or got == expected


def test_parse_yes_no() -> None:
    assert parse_verdict("yesno", "Yes, it does.") == 1.0
    assert parse_verdict("reference", "no") == 0.0
    assert math.isnan(parse_verdict("yesno", "Unclear"))
