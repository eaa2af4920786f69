"""The audit tests' shared fixture; the planted models and small data live in
``_audit_models``."""

from __future__ import annotations

import pytest
from _audit_models import content

from rewardlab.data import Dataset, PairRecord


@pytest.fixture(scope="session")
def hh_pairs(hh: Dataset[PairRecord]) -> Dataset[PairRecord]:
    """200 real HH harmless pairs whose texts are all distinct in content (the oracle looks
    texts up by content, so a text may belong to one side of one pair only, and an empty
    reply would look like every content-free master key)."""
    seen: set[str] = set()
    keep = []
    for i, r in enumerate(hh.records):
        sides = {content(r.chosen), content(r.rejected)}
        if len(sides) == 2 and "" not in sides and not sides & seen:
            keep.append(i)
            seen |= sides
    return hh.take(keep[:200])
