"""Free-text checks: arithmetic claims without annotations (units, $, %, word operators),
equations in an unknown left alone, counts that cannot be fractional, answers that restate
what a reversed question gave."""

from __future__ import annotations

import numpy as np
import pytest

from rewardlab.steps import CLAIM_CHECKS, arithmetic_claims, claim_checks, final_answer


@pytest.mark.parametrize(("text", "wrong"), [
    ("So he has 3 + 4 = 8 apples.", True),
    ("So he has 3 + 4 = 7 apples.", False),
    ("distance = 50km/hr * 3 days = 150 km", False),  # a unit ratio is not a division
    ("He earns $10 x 5 hours = $60.", True),
    ("20% of 50 = 15", True),
    ("(3600/6000)*100% = 60%", False),
    ("10 divided by 4 = 2.5", False),
    ("twelve is 2 times 6 = 12", False),
])
def test_claims_in_prose_are_recomputed(text: str, wrong: bool) -> None:
    assert claim_checks("How many?", [text])[0, 0] == float(wrong)


@pytest.mark.parametrize("text", [
    "We can write: 30 + 4y = 54.", "x + 125 + 250 = 500", "3x + 115 = 250", "60*X = 240",
    "That is 1/2 * 1/2 = 1/4 of it.", "So 12 + 3 = 15 + 2 = 17 left.",
])
def test_equations_in_an_unknown_and_chains_are_not_false_alarms(text: str) -> None:
    assert claim_checks("How many?", [text])[0, 0] == 0.0


def test_a_chain_is_checked_at_its_last_equals() -> None:
    assert arithmetic_claims("12 + 3 = 15 + 2 = 18") == [("(15)+(2)", 18.0, 17.0)]


def test_fractional_counts_given_answers_and_negative_answers() -> None:
    q = ("A class of 50 students: 10 bake, 5 play basketball. If we know the answer to the "
         "above question is 25, what is the value of unknown variable X?")
    checks = claim_checks(q, ["15/2 = <<15/2=7.5>>7.5 students play.", "#### 25", "#### -3"])
    assert checks.shape == (3, len(CLAIM_CHECKS)) and checks.dtype == np.float32
    assert checks[:, 1].tolist() == [1, 0, 0]  # 7.5 students, in a whole-number question
    assert checks[:, 2].tolist() == [0, 1, 0]  # restates the given answer
    assert checks[:, 3].tolist() == [0, 0, 1]
    assert claim_checks("It costs $2.50 each.", ["5/2 = 2.5"])[0, 1] == 0.0  # money


def test_final_answer_forms() -> None:
    assert [final_answer(s) for s in ("#### 1,200", "The answer is: 7", "print(12)",
                                       "So 3 + 4 = 7.")] == [1200.0, 7.0, 12.0, None]
