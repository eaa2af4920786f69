"""Best-of-n rows scored: every candidate of every row in one call."""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardlab.data import BestOfNRecord, Dataset
from rewardlab.scoring._batch import require_row_references, score_batch

__all__ = ["score_best_of_n"]


def score_best_of_n(model: Any, data: Dataset[BestOfNRecord]) -> list[np.ndarray]:
    """Every candidate's reward, per problem, scored in one ``score_batch`` call.

    A model that needs reference answers (a verifier) gets each row's ``reference``; a row
    without one is a ``DataError`` naming its line. A model whose rewards depend on the
    group (``vote:``) sees each prompt's candidates together.
    """
    records = data.records
    require_row_references(model, records, data.source)
    prompts = [r.prompt for r in records for _ in r.responses]
    responses = [text for r in records for text in r.responses]
    refs = [r.reference for r in records for _ in r.responses]
    flat = score_batch(model, prompts, responses, references=refs).rewards
    out, at = [], 0
    for r in records:
        out.append(flat[at : at + len(r.responses)])
        at += len(r.responses)
    return out
