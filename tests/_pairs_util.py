"""Helpers for tests of attribute and personalised models: opposite preferences, users."""

from __future__ import annotations

from dataclasses import replace

from rewardlab.data import Dataset, PairRecord


def flipped(data: Dataset[PairRecord]) -> Dataset[PairRecord]:
    """``data`` with every pair's sides swapped: the opposite preference."""
    return replace(data, records=tuple(replace(r, chosen=r.rejected, rejected=r.chosen)
                                       for r in data.records))


def with_user(data: Dataset[PairRecord], user: str) -> Dataset[PairRecord]:
    """``data`` with every pair judged by ``user``."""
    return replace(data, records=tuple(replace(r, user=user) for r in data.records))
