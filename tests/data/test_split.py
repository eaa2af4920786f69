from __future__ import annotations

import pytest

from rewardlab.data import render_prompt, split_by_prompt
from rewardlab.errors import ConfigError


def test_split_is_deterministic_and_keeps_conversations_on_one_side(hh) -> None:
    train, test = split_by_prompt(hh, seed=0)
    again_train, _ = split_by_prompt(hh, seed=0)
    assert [r.id for r in train] == [r.id for r in again_train]
    assert len(train) + len(test) == len(hh)
    assert 0.2 < len(test) / len(hh) < 0.33

    def first(r):
        return render_prompt(r.prompt[:1])

    assert not {first(r) for r in train} & {first(r) for r in test}


def test_other_seed_other_split(hh) -> None:
    a, _ = split_by_prompt(hh, seed=0)
    b, _ = split_by_prompt(hh, seed=1)
    assert [r.id for r in a] != [r.id for r in b]


def test_fraction_is_validated(hh) -> None:
    with pytest.raises(ConfigError, match="'test_fraction' parameter of split_by_prompt"):
        split_by_prompt(hh, test_fraction=1.5)


def test_kfold_partitions_the_data_by_prompt(hh) -> None:
    from rewardlab.data import kfold_by_prompt

    folds = list(kfold_by_prompt(hh, k=5, seed=0))
    assert len(folds) == 5
    tests = [{id(r) for r in test} for _, test in folds]
    assert sum(len(t) for t in tests) == len(hh)
    assert not set.intersection(*tests[:2])
    for train, test in folds:
        assert len(train) + len(test) == len(hh)
        assert not {render_prompt(r.prompt[:1]) for r in train} & {
            render_prompt(r.prompt[:1]) for r in test}


def test_kfold_ids_name_the_fold_kfold_by_prompt_tests_each_row_in(hh) -> None:
    from rewardlab.data import kfold_by_prompt, kfold_ids

    ids = kfold_ids(hh, k=4, seed=3)
    for fold, (_, test) in enumerate(kfold_by_prompt(hh, k=4, seed=3)):
        assert {id(r) for r in test} == {id(r) for r, f in zip(hh.records, ids, strict=True)
                                         if f == fold}
    assert set(ids) == {0, 1, 2, 3}
