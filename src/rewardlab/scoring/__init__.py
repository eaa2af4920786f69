"""The one scoring layer: routes a batch to a model by its declared capabilities and checks
what comes back. Everything that scores (evaluation, the server, the RL adapters, bench,
audit, ``score``) goes through here, so a new kind or capability is routed in one place."""

from rewardlab.scoring._check import check_rewards
from rewardlab.scoring._rows import iter_scored_rows
from rewardlab.scoring._tournament import preference_matrix

__all__ = ["check_rewards", "iter_scored_rows", "preference_matrix"]
