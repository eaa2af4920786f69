"""Evaluation: metrics as pure functions, and evaluators that return one result object."""

from rewardlab.evaluate.metrics import bootstrap_ci, pair_outcomes, pairwise_accuracy
from rewardlab.evaluate.pairwise import (
    PairwiseResult,
    SubsetResult,
    evaluate_pairwise,
    score_pairs,
)

__all__ = [
    "PairwiseResult",
    "SubsetResult",
    "bootstrap_ci",
    "evaluate_pairwise",
    "pair_outcomes",
    "pairwise_accuracy",
    "score_pairs",
]
