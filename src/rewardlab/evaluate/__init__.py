"""Evaluation: metrics as pure functions, and evaluators that return one result object
(pairwise accuracy on preference pairs; best-of-n accuracy on labelled candidates; first-error
F1 of process reward models on step-labelled solutions)."""

from rewardlab.evaluate.best_of_n import (
    BestOfNResult,
    BestOfNSummary,
    best_of_n_outcomes,
    evaluate_best_of_n,
    majority_outcomes,
    score_best_of_n,
)
from rewardlab.evaluate.metrics import bootstrap_ci, pair_outcomes, pairwise_accuracy
from rewardlab.evaluate.pairwise import (
    PairwiseResult,
    SubsetResult,
    evaluate_pairwise,
    score_pairs,
)
from rewardlab.evaluate.process import (
    ProcessResult,
    ProcessSummary,
    evaluate_process,
    first_error_accuracies,
    harmonic_f1,
)

__all__ = [
    "BestOfNResult",
    "BestOfNSummary",
    "PairwiseResult",
    "ProcessResult",
    "ProcessSummary",
    "SubsetResult",
    "best_of_n_outcomes",
    "bootstrap_ci",
    "evaluate_best_of_n",
    "evaluate_pairwise",
    "evaluate_process",
    "first_error_accuracies",
    "harmonic_f1",
    "majority_outcomes",
    "pair_outcomes",
    "pairwise_accuracy",
    "score_best_of_n",
    "score_pairs",
]
