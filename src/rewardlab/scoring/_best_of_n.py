"""Best-of-n rows scored: every candidate of every row in one call."""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardlab.data import BestOfNRecord, Dataset
from rewardlab.scoring._batch import require_row_references, score_batch

__all__ = ["score_best_of_n", "score_best_of_n_details"]


def score_best_of_n(model: Any, data: Dataset[BestOfNRecord]) -> list[np.ndarray]:
    """Every candidate's reward, per problem, scored in one ``score_batch`` call.

    A model that needs reference answers (a verifier) gets each row's ``reference``; a row
    without one is a ``DataError`` naming its line. A model whose rewards depend on the
    group (``vote:``) sees each prompt's candidates together. A row's ``weights`` (``multi:``)
    and ``user`` (``personal:``) apply to each of its candidates.
    """
    return score_best_of_n_details(model, data)[0]


def score_best_of_n_details(model: Any, data: Dataset[BestOfNRecord]
                            ) -> tuple[list[np.ndarray], list[tuple[dict[str, Any], ...]] | None]:
    """``score_best_of_n`` with each candidate's details beside its reward (a ``multi:``
    model's rewards by attribute, a ``personal:`` model's user and fit, a verifier's
    reason), None when the model gives none."""
    from rewardlab.scoring._rows import check_row_weights

    records = data.records
    require_row_references(model, records, data.source)
    row_weights = check_row_weights(model, records, data.source)
    prompts = [r.prompt for r in records for _ in r.responses]
    responses = [text for r in records for text in r.responses]
    refs = [r.reference for r in records for _ in r.responses]
    weights = None if row_weights is None else [
        w for w, r in zip(row_weights, records, strict=True) for _ in r.responses]
    users = [r.user for r in records for _ in r.responses]
    scored = score_batch(model, prompts, responses, references=refs, weights=weights,
                         users=users if any(u is not None for u in users) else None)
    out, details, at = [], [], 0
    for r in records:
        out.append(scored.rewards[at : at + len(r.responses)])
        if scored.details is not None:
            details.append(scored.details[at : at + len(r.responses)])
        at += len(r.responses)
    return out, details if scored.details is not None else None
