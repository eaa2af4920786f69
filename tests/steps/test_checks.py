"""Symbolic step checks: a wrong calculation, a wrong plain-text equation, a number from
nowhere — and quiet on correct real solutions."""

from __future__ import annotations

import numpy as np

from rewardlab.label import inject_errors, read_problems
from rewardlab.steps import CHECKS, numeric_checks

QUESTION = ("Natalia sold clips to 48 of her friends in April, and then she sold half as many "
            "clips in May. How many clips did Natalia sell altogether in April and May?")


def test_a_wrong_calculator_result_is_flagged_on_its_step_only() -> None:
    checks = numeric_checks(QUESTION, ["Natalia sold 48/2 = <<48/2=27>>27 clips in May.",
                                       "Natalia sold 48+27 = <<48+27=75>>75 clips.\n#### 75"])
    assert checks.shape == (2, len(CHECKS)) and checks.dtype == np.float32
    assert checks[:, 0].tolist() == [1.0, 0.0]


def test_a_number_from_nowhere_is_unsupported() -> None:
    checks = numeric_checks(QUESTION, ["Natalia sold 46/2 = <<46/2=23>>23 clips in May.",
                                       "Natalia sold 48+23 = <<48+23=71>>71 clips."])
    # 46 is not in the question; 23 was computed the step before
    assert checks[:, 2].tolist() == [0.5, 0.0]


def test_plain_text_equations_are_checked_but_not_fractions_or_chains() -> None:
    steps = ["She pays 6 x 2.5 = $18.00 for them.", "That is 1/2 * 1/2 = 1/4 of it.",
             "So 4080 + 4080 / 2 = 4080 + 2040 = 6120 years.", "8 x 1 1/2 = 12 rolls."]
    assert numeric_checks("6 croissants at $2.50", steps)[:, 1].tolist() == [1, 0, 0, 0]


def test_units_percentages_and_number_words_support_numbers() -> None:
    q = "A shirt costs $20 with a 10% discount for half a dozen hours of work."
    steps = ["The discount is 20*0.1 = <<20*0.1=2>>2 and she works 12/2 = <<12/2=6>>6 hours, "
             "or 6*60 = <<6*60=360>>360 minutes."]
    assert numeric_checks(q, steps)[0, 2] == 0.0


def test_correct_reference_solutions_are_mostly_quiet() -> None:
    problems, _ = read_problems("bundled:gsm8k_examples", limit=100)
    result = inject_errors(problems, seed=0)
    correct = [r for r in result.records if r.subset == "correct"]
    flagged = [numeric_checks(r.prompt, r.steps)[:, :2].any() for r in correct]
    assert sum(flagged) <= 0.05 * len(correct)
    # and the corrupted step of an arithmetic slip always is flagged
    slips = [r for r in result.records if r.subset == "arithmetic"]
    assert all(numeric_checks(r.prompt, r.steps)[r.first_error, 0] == 1 for r in slips)
