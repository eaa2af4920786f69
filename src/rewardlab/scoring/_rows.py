"""Score every row of a dataset: one output row per input row, in order, with the row's id.

Rows are scored in chunks so memory stays bounded on big files; scores do not depend on how
rows are chunked, so the output is the same for any chunk size.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import numpy as np

from rewardlab._progress import progress
from rewardlab.data import BestOfNRecord, Dataset, PairRecord, PointRecord, StepRecord
from rewardlab.evaluate.best_of_n import score_best_of_n
from rewardlab.evaluate.judged import judge_pair_rewards, uses_comparison
from rewardlab.evaluate.pairwise import score_pairs
from rewardlab.models.base import RewardModel, StepScorer, UncertainScorer
from rewardlab.steps import aggregate_step_scores, first_error_index

__all__ = ["iter_scored_rows"]


def _clean(value: float) -> float | None:
    """JSON has no NaN: a missing reward (a judge with no verdict) is written as null."""
    return None if math.isnan(value) else float(value)


def iter_scored_rows(model: RewardModel, data: Dataset[Any], *, chunk_size: int = 2048,
                     first_index: int = 0) -> Iterator[dict[str, Any]]:
    """Yield one dict per record: ``id`` plus ``reward`` (pointwise), ``reward_chosen`` and
    ``reward_rejected`` (pairs), ``rewards`` (best-of-n) or ``reward`` of the whole solution
    (steps); models with an uncertainty (ensembles) add ``uncertainty`` /
    ``uncertainty_chosen`` / ``uncertainty_rejected``, process reward models add every
    step's ``step_scores`` and the ``first_error`` they predict, generative judges add their
    ``judgment`` (pairs) or ``probs`` / ``rationale`` (single responses) and, where a reward
    is null, the ``reason``. ``first_index``: where ``data`` starts in a larger data set (a
    Ray shard), so a judge shows each pair in the same order whichever way it is scored."""
    records = data.records
    with progress("scoring rows", total=len(records)) as advance:
        for start in range(0, len(records), chunk_size):
            chunk = records[start : start + chunk_size]
            yield from _score_chunk(model, data, chunk, first_index + start)
            advance(len(chunk))


def _score_chunk(model: RewardModel, data: Dataset[Any], chunk: tuple[Any, ...],
                 first_index: int) -> Iterator[dict[str, Any]]:
    if data.task == "pairwise" and uses_comparison(model):
        yield from _judge_pairs(model, chunk, first_index)
    elif data.task == "pointwise" and hasattr(model, "grade"):
        yield from _judge_points(model, chunk)
    elif data.task == "pairwise":
        pairs: tuple[PairRecord, ...] = chunk
        if isinstance(model, UncertainScorer):
            n = len(pairs)
            rewards, spread = model.score_with_uncertainty(
                [r.prompt for r in pairs] * 2,
                [r.chosen for r in pairs] + [r.rejected for r in pairs])
            for i, r in enumerate(pairs):
                yield {"id": r.id, "reward_chosen": _clean(rewards[i]),
                       "reward_rejected": _clean(rewards[n + i]),
                       "uncertainty_chosen": _clean(spread[i]),
                       "uncertainty_rejected": _clean(spread[n + i])}
            return
        chosen, rejected = score_pairs(model, pairs)
        for r, c, j in zip(pairs, chosen, rejected, strict=True):
            yield {"id": r.id, "reward_chosen": _clean(c), "reward_rejected": _clean(j)}
    elif data.task == "pointwise":
        points: tuple[PointRecord, ...] = chunk
        args = ([r.prompt for r in points], [r.response for r in points])
        if isinstance(model, UncertainScorer):
            rewards, spread = model.score_with_uncertainty(*args)
            for r, value, u in zip(points, rewards, spread, strict=True):
                yield {"id": r.id, "reward": _clean(value), "uncertainty": _clean(u)}
            return
        rewards = np.asarray(model.score(*args), dtype=np.float64)
        for r, value in zip(points, rewards, strict=True):
            yield {"id": r.id, "reward": _clean(value)}
    elif data.task == "steps":
        yield from _score_steps(model, chunk)
    else:
        groups: tuple[BestOfNRecord, ...] = chunk
        # the evaluator's scorer: verifiers get each row's reference answer
        per_row = score_best_of_n(model, replace(data, records=groups))
        for r, rewards in zip(groups, per_row, strict=True):
            yield {"id": r.id, "rewards": [_clean(v) for v in rewards]}


def _judge_pairs(model: Any, pairs: tuple[PairRecord, ...], first_index: int
                 ) -> Iterator[dict[str, Any]]:
    """A generative judge compares each pair (order balanced as in evaluation): the chosen
    side's reward is P(chosen better); the judgment (both orders with swap, probabilities,
    rationale, and the reason for a missing verdict) comes along."""
    chosen, rejected, judgments, first = judge_pair_rewards(model, pairs,
                                                            first_index=first_index)
    for r, c, j, judged, shown_first in zip(pairs, chosen, rejected, judgments, first,
                                            strict=True):
        row = {"id": r.id, "reward_chosen": _clean(c), "reward_rejected": _clean(j),
               "chosen_shown_first": bool(shown_first), "judgment": judged.to_json()}
        if judged.reason is not None:
            row["reason"] = judged.reason
        yield row


def _judge_points(model: Any, points: tuple[PointRecord, ...]) -> Iterator[dict[str, Any]]:
    """A generative judge grades each response; its rationale and any reason come along."""
    verdicts = model.grade([r.prompt for r in points], [r.response for r in points])
    for r, verdict in zip(points, verdicts, strict=True):
        yield {"id": r.id, "reward": _clean(verdict.value),
               **{k: v for k, v in verdict.to_json().items() if k != "value"}}


def _score_steps(model: RewardModel, solutions: tuple[StepRecord, ...]
                 ) -> Iterator[dict[str, Any]]:
    """A step-labelled row's solution: a process reward model scores its steps as given; any
    other model scores the steps joined by newlines as one response."""
    prompts = [r.prompt for r in solutions]
    if isinstance(model, StepScorer):
        step_scores = model.score_steps(prompts, [r.steps for r in solutions])
        threshold = getattr(model, "threshold_", None)
        # with the model's own threshold at hand, reuse the scores rather than score again
        first = (model.first_error(prompts, [r.steps for r in solutions]) if threshold is None
                 else [first_error_index(s, threshold) for s in step_scores])
        agg = getattr(getattr(model, "config", None), "agg", "min")
        rewards = aggregate_step_scores(step_scores, agg)
        for r, value, steps, f in zip(solutions, rewards, step_scores, first, strict=True):
            yield {"id": r.id, "reward": _clean(value),
                   "step_scores": [_clean(v) for v in steps], "first_error": f}
        return
    rewards = np.asarray(model.score(prompts, ["\n".join(r.steps) for r in solutions]),
                         dtype=np.float64)
    for r, value in zip(solutions, rewards, strict=True):
        yield {"id": r.id, "reward": _clean(value)}
