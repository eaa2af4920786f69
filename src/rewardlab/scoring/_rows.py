"""Score every row of a dataset: one output row per input row, in order, with the row's id.

Rows are scored in chunks so memory stays bounded on big files; scores do not depend on how
rows are chunked, so the output is the same for any chunk size.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from rewardlab._progress import progress
from rewardlab.data import (
    BestOfNRecord,
    Dataset,
    PairRecord,
    PointRecord,
    SkippedRow,
    StepRecord,
)
from rewardlab.errors import ConfigError, DataError
from rewardlab.models.base import AttributeScorer, RewardModel, describe
from rewardlab.scoring._batch import (
    needs_references,
    require_row_references,
    row_location,
    score_batch,
)
from rewardlab.scoring._best_of_n import score_best_of_n_details
from rewardlab.scoring._pairs import score_pair_batch
from rewardlab.scoring._steps import score_solutions

__all__ = ["check_row_weights", "iter_scored_rows", "row_reasons", "skip_unscorable"]


def row_reasons(row: dict[str, Any]) -> list[str]:
    """The reasons a scored row carries (a verifier's or judge's ``reason``, each side's for a
    pair, each candidate's for best-of-n), so ``score`` can tally them, locally or on Ray."""
    found = [row.get(k) for k in ("reason", "reason_chosen", "reason_rejected")]
    found += list(row.get("reasons") or ())
    return [v for v in found if isinstance(v, str)]


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
    if data.task == "pairwise":
        require_row_references(model, chunk, data.source)  # a rubric judges both sides
        yield from _score_pairs(model, chunk, first_index, data.source)
    elif data.task == "pointwise":
        points: tuple[PointRecord, ...] = chunk
        require_row_references(model, points, data.source)
        weights = check_row_weights(model, points, data.source)
        users = [r.user for r in points]
        batch = score_batch(model, [r.prompt for r in points], [r.response for r in points],
                            references=[r.reference for r in points], weights=weights,
                            users=users if any(u is not None for u in users) else None)
        for i, r in enumerate(points):
            row = {"id": r.id, "reward": _clean(batch.rewards[i])}
            if batch.uncertainty is not None:
                row["uncertainty"] = _clean(batch.uncertainty[i])
            if batch.details is not None:  # a judge's probabilities, rationale, reason
                row.update(batch.details[i])
            yield row
    elif data.task == "steps":
        solutions: tuple[StepRecord, ...] = chunk
        scored = score_solutions(model, [r.prompt for r in solutions],
                                 [r.steps for r in solutions])
        for i, r in enumerate(solutions):
            row = {"id": r.id, "reward": _clean(scored.rewards[i])}
            if scored.step_scores is not None and scored.first_error is not None:
                row["step_scores"] = [_clean(v) for v in scored.step_scores[i]]
                row["first_error"] = scored.first_error[i]
            if scored.reasons is not None and scored.reasons[i] is not None:
                row["reason"] = scored.reasons[i]
            yield row
    else:
        groups: tuple[BestOfNRecord, ...] = chunk
        # verifiers get each row's reference answer
        per_row, details = score_best_of_n_details(model, replace(data, records=groups))
        for i, (r, rewards) in enumerate(zip(groups, per_row, strict=True)):
            row = {"id": r.id, "rewards": [_clean(v) for v in rewards]}
            first = details[i][0] if details is not None else {}
            if "user" in first:  # personal:: one user per row, so one fit
                row.update(user=first["user"], user_fit=first["user_fit"])
            if "rewards_by_attribute" in first:  # multi:: one mapping per candidate
                row["rewards_by_attribute"] = [d["rewards_by_attribute"] for d in details[i]]
            if "reason" in first:  # a verifier's: why each candidate got its reward
                row["reasons"] = [d.get("reason") for d in details[i]]
            yield row


def _score_pairs(model: RewardModel, pairs: tuple[PairRecord, ...], first_index: int,
                 source: str) -> Iterator[dict[str, Any]]:
    """Both sides' rewards; a generative judge that compares pairs (order balanced as in
    evaluation) adds the judgment (both orders with swap, probabilities, rationale, and the
    reason for a missing verdict); an ensemble adds each side's uncertainty."""
    check_row_weights(model, pairs, source)
    scored = score_pair_batch(model, pairs, first_index=first_index)
    for i, r in enumerate(pairs):
        row: dict[str, Any] = {"id": r.id, "reward_chosen": _clean(scored.chosen[i]),
                               "reward_rejected": _clean(scored.rejected[i])}
        if scored.uncertainty is not None:
            row["uncertainty_chosen"] = _clean(scored.uncertainty[0][i])
            row["uncertainty_rejected"] = _clean(scored.uncertainty[1][i])
        if scored.judgments is not None and scored.chosen_first is not None:
            judged = scored.judgments[i]
            row["chosen_shown_first"] = bool(scored.chosen_first[i])
            row["judgment"] = judged.to_json()
            if judged.reason is not None:
                row["reason"] = judged.reason
        if scored.details is not None:  # multi:'s rewards by attribute, personal:'s user
            for side, info in zip(("chosen", "rejected"), scored.details, strict=True):
                row.update({f"{k}_{side}" if k != "user" else k: v
                            for k, v in info[i].items()})
        yield row


def check_row_weights(model: RewardModel, records: Sequence[Any], source: str
                      ) -> list[Any] | None:
    """The rows' ``weights`` column, each checked by the model before anything is scored, so
    an unknown attribute or a bad weight is reported with its file and line."""
    weights = [getattr(r, "weights", None) for r in records]
    if not any(w is not None for w in weights):
        return None
    if not isinstance(model, AttributeScorer):
        first = next(r for r in records if getattr(r, "weights", None) is not None)
        raise DataError(f"has attribute weights, but model '{describe(model)}' has no "
                        "attribute heads; weights steer multi: models (drop the column)",
                        file=source, line=first.line, field="weights")
    for r in records:
        if r.weights is not None:
            try:
                model.check_weights(r.weights)
            except ConfigError as exc:
                raise DataError(str(exc), file=source, line=r.line, field="weights") from None
    return weights


def skip_unscorable(model: RewardModel, data: Dataset[Any]) -> Dataset[Any]:
    """``--skip-invalid`` for rows the model itself refuses, which the data layer cannot
    know about: a row without the reference a verifier needs (or with one its
    ``check_reference`` refuses), or a ``weights`` column the model cannot apply (an
    unknown attribute, a model without attribute heads). Each is moved to
    ``data.skipped`` with its file, line, field and reason, instead of stopping the run.

    Raises:
        DataError: no row is left to score (naming the first problem).
    """
    refs = needs_references(model)
    if not refs and not any(getattr(r, "weights", None) is not None for r in data.records):
        return data
    kept, skipped = [], []
    for record in data.records:
        try:
            if refs:
                require_row_references(model, (record,), data.source)
            if getattr(record, "weights", None) is not None:
                check_row_weights(model, (record,), data.source)
        except DataError as exc:
            skipped.append(SkippedRow(exc.file, exc.line, exc.field, exc.reason))
            continue
        kept.append(record)
    if not skipped:
        return data
    if not kept:
        raise DataError(f"none of its {len(data.records)} valid rows can be scored by model "
                        f"'{describe(model)}'; "
                        f"{skipped[0].as_first_problem(row_location(data.source))}",
                        file=data.source)
    everything = sorted((*data.skipped, *skipped), key=lambda s: (s.line is None, s.line or 0))
    return replace(data, records=tuple(kept), skipped=tuple(everything))
