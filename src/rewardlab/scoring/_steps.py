"""Step-labelled solutions scored: a process reward model scores every step; any other model
scores the steps joined by newlines as one response."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardlab.data import Prompt
from rewardlab.errors import CapabilityError, ScoringError
from rewardlab.models.base import StepScorer, describe
from rewardlab.scoring._batch import call_model, score_batch
from rewardlab.scoring._check import check_rewards
from rewardlab.steps import aggregate_step_scores, first_error_index

__all__ = ["ScoredSteps", "first_errors", "score_solutions"]


@dataclass(frozen=True)
class ScoredSteps:
    """What ``score_solutions`` returns.

    Attributes:
        rewards: one reward per solution, float64 ``(n,)`` (a process reward model's step
            scores aggregated by its ``agg``).
        step_scores: per solution, every step's p(still correct) (``StepScorer`` only).
        first_error: per solution, the first step predicted wrong, or None (``StepScorer``
            only).
        reasons: per solution, why its step scores are NaN (a critic judge's unusable
            reply), or None; only from models that say (``last_reasons_``).
    """

    rewards: np.ndarray
    step_scores: list[np.ndarray] | None = None
    first_error: list[int | None] | None = None
    reasons: list[str | None] | None = None


def _step_scores(model: Any, prompts: Sequence[Prompt],
                 step_lists: Sequence[Sequence[str]]) -> list[np.ndarray]:
    out = call_model(model, "score_steps", model.score_steps, prompts, step_lists)
    name = describe(model)
    if not isinstance(out, list) or len(out) != len(step_lists):
        size = len(out) if isinstance(out, list) else type(out).__name__
        raise ScoringError(f"model '{name}' failed the scoring check: score_steps() returned "
                           f"{size} step-score arrays for {len(step_lists)} solutions; it "
                           "returns a list with one array per solution")
    return [check_rewards(s, len(steps), model=name, method="score_steps",
                          what=f"step scores of solution {i}")
            for i, (s, steps) in enumerate(zip(out, step_lists, strict=True))]


def score_solutions(model: Any, prompts: Sequence[Prompt],
                    step_lists: Sequence[Sequence[str]]) -> ScoredSteps:
    """Score solutions given as steps.

    A ``StepScorer`` scores the steps as given; with the model's own threshold at hand
    (``threshold_``) the first error is read from those scores rather than scored again, and
    the reward aggregates them with the model's ``config.agg`` (``min`` by default). Any other
    model scores the steps joined by newlines as one response.
    """
    if not isinstance(model, StepScorer):
        rewards = score_batch(model, prompts, ["\n".join(s) for s in step_lists]).rewards
        return ScoredSteps(rewards)
    step_scores = _step_scores(model, prompts, step_lists)
    reasons = getattr(model, "last_reasons_", None)
    if not isinstance(reasons, list) or len(reasons) != len(step_lists):
        reasons = None
    threshold = getattr(model, "threshold_", None)
    first = (first_errors(model, prompts, step_lists) if threshold is None
             else [first_error_index(s, threshold) for s in step_scores])
    agg = getattr(getattr(model, "config", None), "agg", "min")
    return ScoredSteps(aggregate_step_scores(step_scores, agg), step_scores, first,
                       list(reasons) if reasons is not None else None)


def first_errors(model: Any, prompts: Sequence[Prompt], step_lists: Sequence[Sequence[str]],
                 *, threshold: float | None = None) -> list[int | None]:
    """Per solution, the first step a ``StepScorer`` predicts wrong (0-based), or None.

    Raises:
        CapabilityError: ``model`` does not score steps.
        ScoringError: ``first_error`` broke the contract or raised.
    """
    name = describe(model)
    if not isinstance(model, StepScorer):
        raise CapabilityError(f"model '{name}' cannot score steps (it is not a StepScorer, "
                              "e.g. prm:); first-error evaluation needs one")
    kwargs = {} if threshold is None else {"threshold": threshold}
    out = call_model(model, "first_error", model.first_error, prompts, step_lists, **kwargs)
    if not isinstance(out, list) or len(out) != len(step_lists) or any(
            f is not None and (isinstance(f, bool) or not isinstance(f, int | np.integer))
            for f in out):
        what = (f"{len(out)} predictions" if isinstance(out, list)
                else type(out).__name__)
        raise ScoringError(f"model '{name}' failed the scoring check: first_error() returned "
                           f"{what} for {len(step_lists)} solutions; it returns one step "
                           "index (or None) per solution")
    return out
