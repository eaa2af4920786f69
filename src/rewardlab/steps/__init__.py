"""Step primitives: split a solution into steps, check a step's arithmetic, turn per-step
scores into one reward and a first-error prediction, and score such predictions.

Pure functions below ``models/``: the ``prm:`` kind (``rewardlab.models.prm``), first-error
evaluation (``rewardlab.evaluate.process``), scoring and step labelling
(``rewardlab.label``) all read steps through this one package.
"""

from rewardlab.steps._arith import evaluate_expression
from rewardlab.steps._checks import CHECKS, numeric_checks
from rewardlab.steps._claims import CLAIM_CHECKS, arithmetic_claims, claim_checks, final_answer
from rewardlab.steps._scores import (
    AGGREGATIONS,
    aggregate_step_scores,
    first_error_accuracies,
    first_error_index,
    harmonic_f1,
)
from rewardlab.steps._split import SPLIT_MODES, split_steps

__all__ = [
    "AGGREGATIONS",
    "CHECKS",
    "CLAIM_CHECKS",
    "SPLIT_MODES",
    "aggregate_step_scores",
    "arithmetic_claims",
    "claim_checks",
    "evaluate_expression",
    "final_answer",
    "first_error_accuracies",
    "first_error_index",
    "harmonic_f1",
    "numeric_checks",
    "split_steps",
]
