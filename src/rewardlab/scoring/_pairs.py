"""Preference pairs scored: both sides in one call, or compared side by side by a judge.

A generative judge in ``mode=pairwise`` reads two responses at once and may prefer whichever
it sees first. Showing the chosen response first in every pair would turn that bias into
accuracy, so pair ``i`` shows the chosen response first when its position in its data set is
even and second when it is odd: a judge that always answers "A" scores exactly 0.5. Every
other model scores the two sides one response at a time, in one ``score_batch`` call (so a
model can share work between them: the prompt of a pair is embedded once).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardlab.data import PairRecord, Prompt
from rewardlab.errors import CapabilityError
from rewardlab.models.base import PairwiseJudge, describe
from rewardlab.scoring._batch import ScoredBatch, call_model, needs_references, score_batch
from rewardlab.scoring._check import check_items, check_rewards

__all__ = [
    "ScoredPairs",
    "chosen_shown_first",
    "compare_pairs",
    "judge_pair_rewards",
    "score_pair_batch",
    "score_pairs",
    "uses_comparison",
]


def uses_comparison(model: object) -> bool:
    """Pairs are compared side by side (not scored one response at a time) by this model: a
    ``PairwiseJudge`` whose mode says so (``compares_pairs``, e.g. ``judge:`` with
    ``mode=pairwise``). A judge that grades single responses is a ``PairwiseJudge`` too, for
    the position probe, but scores pairs one side at a time."""
    return isinstance(model, PairwiseJudge) and bool(getattr(model, "compares_pairs", False))


def chosen_shown_first(n: int, first_index: int = 0) -> np.ndarray:
    """Which pairs show the chosen response first: every other one by the pair's position in
    its data set (``first_index`` is the position of the first of these ``n``), so a file
    scored in chunks, shards or at once asks each pair in the same order.

    Example:
        >>> chosen_shown_first(5).tolist()
        [True, False, True, False, True]
        >>> chosen_shown_first(2, first_index=3).tolist()
        [False, True]
    """
    return (np.arange(n) + first_index) % 2 == 0


def compare_pairs(model: Any, prompts: Sequence[Prompt], responses_a: Sequence[str],
                  responses_b: Sequence[str], *, swap: bool | None = None) -> np.ndarray:
    """P(A better than B) per pair from a ``PairwiseJudge``'s ``compare``, checked: float64
    ``(n,)``, NaN where the judge gave no verdict.

    Raises:
        CapabilityError: ``model`` cannot compare two responses.
        ScoringError: ``compare`` broke the contract or raised.
    """
    if not isinstance(model, PairwiseJudge):
        raise CapabilityError(f"model '{describe(model)}' cannot compare two responses side "
                              "by side: it is not a PairwiseJudge")
    if not responses_a:  # as score_batch: nothing to ask, so the model is not called
        return np.zeros(0)
    kwargs = {} if swap is None else {"swap": swap}
    out = call_model(model, "compare", model.compare, prompts, responses_a, responses_b,
                     **kwargs)
    return check_rewards(out, len(responses_a), model=describe(model), method="compare",
                         what="probabilities")


def judge_pair_rewards(model: Any, records: Sequence[PairRecord], *, swap: bool | None = None,
                       first_index: int = 0
                       ) -> tuple[np.ndarray, np.ndarray, list[Any], np.ndarray]:
    """``(reward_chosen, reward_rejected, judgments, chosen_first)``: P(chosen better) and its
    complement per pair, the judge's ``PairJudgment`` per pair (in the order it was shown),
    and which pairs showed the chosen response first (``first_index``: the position of
    ``records[0]`` in its data set, see ``chosen_shown_first``).

    Raises:
        CapabilityError: ``model`` gives no judgments of pairs (``judge_pairs``).
        ScoringError: ``judge_pairs`` broke the contract or raised.
    """
    judge_pairs = getattr(model, "judge_pairs", None)  # a judge's verdicts with rationale
    if judge_pairs is None:
        raise CapabilityError(f"model '{describe(model)}' cannot judge pairs side by side")
    first = chosen_shown_first(len(records), first_index)
    prompts = [r.prompt for r in records]
    a = [r.chosen if f else r.rejected for r, f in zip(records, first, strict=True)]
    b = [r.rejected if f else r.chosen for r, f in zip(records, first, strict=True)]
    judgments = call_model(model, "judge_pairs", judge_pairs, prompts, a, b, swap=swap)
    check_items(judgments, len(records), model=describe(model), method="judge_pairs",
                what="judgments", per="pair")
    p_first = call_model(model, "judge_pairs", lambda: np.array(
        [j.p for j in judgments], dtype=np.float64))
    p_chosen = np.where(first, p_first, 1.0 - p_first)
    return p_chosen, 1.0 - p_chosen, judgments, first


def score_pairs(model: Any, records: Sequence[PairRecord], *,
                references: Sequence[str | None] | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Rewards of the chosen and of the rejected side, each response scored on its own, both
    sides in one ``score_batch`` call (``references``: one per pair, for verifiers)."""
    rewards = _both_sides(model, records, references).rewards
    return rewards[:len(records)], rewards[len(records):]


def _both_sides(model: Any, records: Sequence[PairRecord],
                references: Sequence[str | None] | None) -> ScoredBatch:
    """Every pair's chosen responses, then its rejected ones, in one ``score_batch`` call,
    each side with the pair's reference, attribute weights and user."""
    prompts = [r.prompt for r in records]
    references = _row_references(model, records, references)
    refs = None if references is None else [*references, *references]
    weights, users = pair_conditions(records)
    return score_batch(model, prompts + prompts,
                       [r.chosen for r in records] + [r.rejected for r in records],
                       references=refs, weights=weights, users=users)


def _row_references(model: Any, records: Sequence[PairRecord],
                    references: Sequence[str | None] | None) -> Sequence[str | None] | None:
    """The pairs' own references (a ``rubric`` or ``constraints`` column, shared by both
    sides) for a model that needs them, when the caller gave none."""
    if references is None and needs_references(model):
        return [r.reference for r in records]
    return references


def pair_conditions(records: Sequence[PairRecord]
                    ) -> tuple[list[Any] | None, list[str | None] | None]:
    """Both sides' attribute weights and users from the pairs' ``weights`` / ``user``
    columns (chosen sides first, as the rewards are asked for), None where no row has any."""
    weights = [getattr(r, "weights", None) for r in records]
    users = [getattr(r, "user", None) for r in records]
    return ([*weights, *weights] if any(w is not None for w in weights) else None,
            [*users, *users] if any(u is not None for u in users) else None)


@dataclass(frozen=True)
class ScoredPairs:
    """What ``score_pair_batch`` returns.

    Attributes:
        chosen, rejected: rewards of each side, float64 ``(n,)``; for a judge that compares,
            P(chosen better) and its complement.
        uncertainty: ``(chosen, rejected)`` uncertainty, for models that have one.
        judgments: a comparing judge's ``PairJudgment`` per pair (in the order shown).
        chosen_first: which pairs showed the chosen response first (comparing judges).
        details: ``(chosen, rejected)`` per-pair details of models that give them
            (``multi:``'s rewards by attribute, ``personal:``'s user fit).
    """

    chosen: np.ndarray
    rejected: np.ndarray
    uncertainty: tuple[np.ndarray, np.ndarray] | None = None
    judgments: list[Any] | None = None
    chosen_first: np.ndarray | None = None
    details: tuple[tuple[dict[str, Any], ...], tuple[dict[str, Any], ...]] | None = None


def score_pair_batch(model: Any, records: Sequence[PairRecord], *, swap: bool | None = None,
                     first_index: int = 0,
                     references: Sequence[str | None] | None = None) -> ScoredPairs:
    """Score preference pairs the way ``model`` reads them: a judge that compares pairs
    compares them (order balanced by position, ``swap`` asks both orders; see
    ``judge_pair_rewards``), any other model scores both sides in one ``score_batch`` call,
    with the uncertainty of models that have one."""
    if uses_comparison(model):
        chosen, rejected, judgments, first = judge_pair_rewards(model, records, swap=swap,
                                                                first_index=first_index)
        return ScoredPairs(chosen, rejected, judgments=judgments, chosen_first=first)
    n = len(records)
    batch = _both_sides(model, records, references)
    spread = batch.uncertainty
    info = batch.details
    return ScoredPairs(batch.rewards[:n], batch.rewards[n:],
                       uncertainty=None if spread is None else (spread[:n], spread[n:]),
                       details=None if info is None else (info[:n], info[n:]))
