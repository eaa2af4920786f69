"""The served model, and how request texts become its prompts, responses and references.

The server holds exactly one model. ``ServedModel`` scores every batch through the scoring
layer (``rewardlab.scoring.score_batch``, which picks the model's method by its capabilities
and checks what comes back), records once what the routes need (reference answers for
verifiers, an uncertainty for ensembles) and warms the model up with one tiny call, so an
untrained model or a missing dependency stops ``rewardlab serve`` before it listens, not at the
first RL step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

# one query splitter for the server and the OpenRLHF adapter: one sample, one reward
from rewardlab.adapters._text import split_query
from rewardlab.data import Prompt
from rewardlab.models.base import RewardModel, describe
from rewardlab.models.registry import resolve
from rewardlab.scoring import route, score_batch, takes_structured_references
from rewardlab.serve.batcher import BatchScores

__all__ = ["ItemConditions", "ServedModel", "split_query"]


@dataclass(frozen=True, slots=True)
class ItemConditions:
    """What an item of a ``multi:`` or ``personal:`` model carries beside its texts: its
    reference (unused by these models), attribute weights and user. The batcher passes it in
    the reference slot untouched, so requests with different weights still share a batch."""

    reference: str | None = None
    weights: dict[str, float] | None = None
    user: str | None = None


class ServedModel:
    """The one model a server scores with, called the way its capabilities need.

    Args:
        model: a spec (``embed:minilm``), a saved model directory, or a model object.
    """

    def __init__(self, model: str | Path | RewardModel) -> None:
        self.model: RewardModel = resolve(model) if isinstance(model, str | Path) else model
        self.name = describe(self.model)
        how = route(self.model)
        self.needs_references = how == "references"
        #: references may be lists/objects (reference tool calls), passed on as JSON text
        self.structured_references = takes_structured_references(self.model)
        self.has_uncertainty = how == "uncertainty"
        #: rewards depend on the other responses in the call: score each request alone
        self.group_dependent = how == "groups"
        #: items may carry attribute weights (multi:) or a user (personal:)
        self.takes_weights = how == "attributes"
        self.takes_user = how == "users"

    def __repr__(self) -> str:
        return f"ServedModel({self.name!r})"

    def __call__(self, prompts: Sequence[Prompt], responses: Sequence[str],
                 references: Sequence[str | None]) -> BatchScores:
        """Score one batch (in the batcher's worker thread).

        Raises:
            ConfigError: a reference answer the model needs is missing.
            ScoringError: the model broke the scoring contract or raised (answered 502).
        """
        weights = users = None
        if self.takes_weights or self.takes_user:
            extras = [r if isinstance(r, ItemConditions) else ItemConditions(r)
                      for r in references]
            weights = [e.weights for e in extras] if self.takes_weights else None
            users = [e.user for e in extras] if self.takes_user else None
        batch = score_batch(self.model, prompts, responses,
                            references=references if self.needs_references else None,
                            weights=weights, users=users)
        return BatchScores(batch.rewards, batch.uncertainty, batch.details)

    def warm_up(self) -> None:
        """One tiny call: loads lazy weights and fails early if the model cannot score. A kind
        whose references are not answers (reference tool calls) gives its own example as
        ``warm_up_example = (prompt, response, reference)``."""
        example = getattr(self.model, "warm_up_example", None)
        if example is not None:
            prompt, response, reference = example
            self([prompt], [response], [reference])
            return
        # a verifier whose reference is not an answer (verify:code's tests) names its own
        reference = getattr(self.model, "warm_up_reference", "1") if self.needs_references else None
        self(["What is 0 + 1?"], ["0 + 1 = 1. The answer is 1."], [reference])
