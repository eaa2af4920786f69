"""Turn best-of-n candidates into preference pairs, so pairwise trainers learn from them.

An outcome reward model (ORM) is trained on correct-vs-incorrect solutions of the same
problem: every correct candidate is preferred to every incorrect one. Pairs never cross
problems, since "this solution is right and that one, to another question, is wrong" says
nothing about which of two answers to one question is better.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from rewardlab.data._records import BestOfNRecord, Dataset, PairRecord
from rewardlab.errors import DataError

__all__ = ["best_of_n_to_pairs"]


def _pairs_of(record: BestOfNRecord, source: str) -> list[PairRecord]:
    if record.is_correct is not None:
        good = [i for i, ok in enumerate(record.is_correct) if ok]
        bad = [i for i, ok in enumerate(record.is_correct) if not ok]
        order = [(i, j) for i in good for j in bad]
    elif record.scores is not None:
        s = record.scores
        n = len(s)
        order = [(i, j) for i in range(n) for j in range(n) if s[i] > s[j]]
    else:
        raise DataError("has neither 'is_correct' labels nor 'scores'; best-of-n rows need one "
                        "of them to become training pairs", file=source, line=record.line,
                        field="is_correct")
    return [
        PairRecord(prompt=record.prompt, chosen=record.responses[i],
                   rejected=record.responses[j], id=f"{record.id}:{i}>{j}",
                   subset=record.subset, line=record.line)
        for i, j in order
        if record.responses[i] != record.responses[j]
    ]


def best_of_n_to_pairs(data: Dataset[Any]) -> Dataset[PairRecord]:
    """Pairwise data from best-of-n data: within each problem, every correct candidate over
    every incorrect one (or, for rows with ``scores`` instead of labels, every higher-scored
    candidate over every lower-scored one; ties give no pair).

    A problem whose candidates are all correct or all wrong gives no pairs; identical texts
    on both sides are left out (they carry no preference). Pair ids are ``ID:i>j``, and each
    pair keeps its problem's line, so errors still point at the file.

    Raises:
        DataError: a row has neither labels nor scores, or no problem yields a pair.

    Example:
        >>> from rewardlab.data import load_dataset
        >>> pairs = best_of_n_to_pairs(load_dataset("bundled:gsm8k_examples", limit=2))
        >>> pairs.task, len(pairs), pairs[0].id
        ('pairwise', 6, '0:3>0')
    """
    if data.task == "pairwise":
        return data
    if data.task != "best-of-n":
        raise DataError(f"cannot make preference pairs from {data.task} rows; training needs "
                        "pairwise or best-of-n data", file=data.source)
    pairs = [pair for record in data.records for pair in _pairs_of(record, data.source)]
    if not pairs:
        raise DataError(f"none of its {len(data)} best-of-n rows has both a correct and an "
                        "incorrect candidate, so there is no pair to learn from",
                        file=data.source)
    return replace(data, task="pairwise", records=tuple(pairs), form=f"{data.form}->pairs")
