"""Simulated users' pool: several pair files joined without two pairs sharing an id."""

from __future__ import annotations

from rewardlab.data import Dataset, PairRecord
from rewardlab.label.simulate import pool_from


def _set(source: str, ids: list) -> Dataset:
    return Dataset(task="pairwise", source=source, form="explicit", records=tuple(
        PairRecord(prompt="p", chosen=f"a{i}", rejected=f"b{i}", id=i) for i in ids))


def test_pool_keeps_disjoint_ids_and_qualifies_clashing_ones() -> None:
    assert [r.id for r in pool_from([_set("a", [0, 1]), _set("b", ["x"])]).records] == [0, 1,
                                                                                         "x"]
    # two files numbered from 0: every id is qualified by its file's place, so none repeats
    pool = pool_from([_set("a", [0, 1]), _set("b", [1, 2])])
    assert [r.id for r in pool.records] == ["1:0", "1:1", "2:1", "2:2"]
    assert pool.source == "a+b"
