"""The one scoring layer: routes a batch to a model by its declared capabilities and checks
what comes back. Everything that scores (evaluation, the server, the RL adapters, bench,
audit, ``score``) goes through here, so a new kind or capability is routed in one place.

- ``score_batch`` (and ``ascore_batch``): prompts and responses, with optional reference
  answers and group ids, to a ``ScoredBatch`` (rewards, uncertainty, per-item details);
  ``route`` says which method of a model it calls;
- ``score_pair_batch`` / ``score_pairs``: both sides of preference pairs, or a judge's
  side-by-side comparison (``judge_pair_rewards``, ``compare_pairs``);
- ``score_best_of_n`` / ``score_best_of_n_details``: every candidate of best-of-n rows
  (with a ``multi:`` model's attributes, a ``personal:`` model's user fit or a verifier's
  reasons);
- ``score_solutions`` / ``first_errors``: solutions given as steps;
- ``check_rewards``: the one check of what a model returned (``ScoringError``);
- ``iter_scored_rows``: every row of a data set, as ``rewardlab score`` writes it.
"""

from rewardlab.scoring._batch import (
    Route,
    ScoredBatch,
    ascore_batch,
    call_model,
    needs_references,
    route,
    score_batch,
    takes_structured_references,
)
from rewardlab.scoring._best_of_n import score_best_of_n, score_best_of_n_details
from rewardlab.scoring._check import check_rewards
from rewardlab.scoring._pairs import (
    ScoredPairs,
    chosen_shown_first,
    compare_pairs,
    judge_pair_rewards,
    score_pair_batch,
    score_pairs,
    uses_comparison,
)
from rewardlab.scoring._rows import (
    check_row_weights,
    iter_scored_rows,
    row_reasons,
    skip_unscorable,
)
from rewardlab.scoring._steps import ScoredSteps, first_errors, score_solutions
from rewardlab.scoring._tournament import preference_matrix

__all__ = [
    "Route",
    "ScoredBatch",
    "ScoredPairs",
    "ScoredSteps",
    "ascore_batch",
    "call_model",
    "check_rewards",
    "check_row_weights",
    "chosen_shown_first",
    "compare_pairs",
    "first_errors",
    "iter_scored_rows",
    "judge_pair_rewards",
    "needs_references",
    "preference_matrix",
    "route",
    "row_reasons",
    "score_batch",
    "score_best_of_n",
    "score_best_of_n_details",
    "score_pair_batch",
    "score_pairs",
    "score_solutions",
    "skip_unscorable",
    "takes_structured_references",
    "uses_comparison",
]
