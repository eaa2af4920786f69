"""Score every row of a dataset: one output row per input row, in order, with the row's id.

Rows are scored in chunks so memory stays bounded on big files; scores do not depend on how
rows are chunked, so the output is the same for any chunk size.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import numpy as np

from rewardlab._progress import progress
from rewardlab.data import BestOfNRecord, Dataset, PairRecord, PointRecord
from rewardlab.evaluate.pairwise import score_pairs
from rewardlab.models.base import RewardModel

__all__ = ["iter_scored_rows"]


def _clean(value: float) -> float | None:
    """JSON has no NaN: a missing reward (a judge with no verdict) is written as null."""
    return None if math.isnan(value) else float(value)


def iter_scored_rows(model: RewardModel, data: Dataset[Any], *, chunk_size: int = 2048
                     ) -> Iterator[dict[str, Any]]:
    """Yield one dict per record: ``id`` plus ``reward`` (pointwise), ``reward_chosen`` and
    ``reward_rejected`` (pairs) or ``rewards`` (best-of-n)."""
    records = data.records
    with progress("scoring rows", total=len(records)) as advance:
        for start in range(0, len(records), chunk_size):
            chunk = records[start : start + chunk_size]
            yield from _score_chunk(model, data.task, chunk)
            advance(len(chunk))


def _score_chunk(model: RewardModel, task: str, chunk: tuple[Any, ...]
                 ) -> Iterator[dict[str, Any]]:
    if task == "pairwise":
        pairs: tuple[PairRecord, ...] = chunk
        chosen, rejected = score_pairs(model, pairs)
        for r, c, j in zip(pairs, chosen, rejected, strict=True):
            yield {"id": r.id, "reward_chosen": _clean(c), "reward_rejected": _clean(j)}
    elif task == "pointwise":
        points: tuple[PointRecord, ...] = chunk
        rewards = np.asarray(model.score([r.prompt for r in points],
                                         [r.response for r in points]), dtype=np.float64)
        for r, value in zip(points, rewards, strict=True):
            yield {"id": r.id, "reward": _clean(value)}
    else:
        groups: tuple[BestOfNRecord, ...] = chunk
        prompts = [r.prompt for r in groups for _ in r.responses]
        responses = [resp for r in groups for resp in r.responses]
        flat = np.asarray(model.score(prompts, responses), dtype=np.float64)
        at = 0
        for r in groups:
            k = len(r.responses)
            yield {"id": r.id, "rewards": [_clean(v) for v in flat[at : at + k]]}
            at += k
