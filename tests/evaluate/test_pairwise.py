"""Pairwise evaluation on real pairs, with reward models whose answers we know."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from rewardlab.data import load_dataset
from rewardlab.errors import DataError
from rewardlab.evaluate import evaluate_pairwise


class LengthModel:
    """A real (if naive) reward model: longer replies score higher."""

    spec = "length"

    def __init__(self, sign: float = 1.0) -> None:
        self.sign = sign

    def score(self, prompts: Sequence, responses: Sequence[str]) -> np.ndarray:
        return self.sign * np.array([len(r) for r in responses], dtype=np.float64)


def test_length_models_reproduce_the_length_baselines(hh) -> None:
    longer = evaluate_pairwise(LengthModel(), hh)
    shorter = evaluate_pairwise(LengthModel(-1.0), hh)
    o = longer.overall
    assert o.n == 1812
    assert o.accuracy == pytest.approx(o.longer_wins)
    assert shorter.overall.accuracy == pytest.approx(o.shorter_wins)
    assert o.longer_wins + o.shorter_wins == pytest.approx(1.0)
    assert o.ci95[0] < o.accuracy < o.ci95[1]
    # HH harmless prefers the shorter reply more often than not (refusals are short)
    assert o.shorter_wins > 0.55


def test_subsets_and_json(tmp_path: Path) -> None:
    rows = [
        {"prompt": "p", "chosen": "long answer", "rejected": "short", "subset": "a"},
        {"prompt": "p", "chosen": "tiny", "rejected": "much longer", "subset": "a"},
        {"prompt": "p", "chosen": "xx", "rejected": "yy", "subset": "b"},
    ]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = evaluate_pairwise(LengthModel(), load_dataset(path))
    body = result.to_json()
    assert body["n"] == 3 and body["accuracy"] == pytest.approx(0.5)  # 1, 0, tie=0.5
    assert set(body["subsets"]) == {"a", "b"}
    assert body["subsets"]["a"]["accuracy"] == 0.5 and body["subsets"]["b"]["accuracy"] == 0.5
    assert len(body["ci95"]) == 2 and body["primary_metric"] == "pairwise/accuracy"
    assert body["metrics"]["pairwise/a/accuracy"] == 0.5
    assert set(body["baselines"]) == {"longer_wins", "shorter_wins"}
    json.dumps(body)  # serialisable


def test_rewardbench_ties(tmp_path: Path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"prompt": "p", "chosen": "ab", "rejected": "cd"}) + "\n")
    data = load_dataset(path)
    assert evaluate_pairwise(LengthModel(), data).overall.accuracy == 0.5
    assert evaluate_pairwise(LengthModel(), data, ties="loss").overall.accuracy == 0.0


def test_pairwise_evaluation_needs_pairs() -> None:
    with pytest.raises(DataError, match="pairwise evaluation needs pairwise data"):
        evaluate_pairwise(LengthModel(), load_dataset("bundled:gsm8k_examples", limit=3))


def test_per_user_summary_never_names_rows_without_a_user_as_user_none() -> None:
    from rewardlab.evaluate.pairwise import per_user_summary

    fits = tuple({"user_fit": f} for f in ("adapted", "population", "population", "population"))
    s = per_user_summary(np.array([1.0, 0.0, 1.0, 0.0]), ["a", "ghost", None, None], fits)
    assert s["users_scored_with_population_examples"] == ["ghost"]
    assert s["users_scored_with_population"] == 1 and s["pairs_without_user"] == 2
    assert s["n_users"] == 3  # the rows without a user still count as one group


def test_accuracy_against_k_says_why_it_is_missing(trained_personal, hh_small) -> None:
    from dataclasses import replace

    one_each = hh_small[1].take(range(3))
    data = replace(one_each, records=tuple(replace(r, user=f"x{i}")
                                           for i, r in enumerate(one_each.records)))
    result = evaluate_pairwise(trained_personal, data)
    assert result.accuracy_vs_k is None
    assert "no user has 2 or more pairs" in result.to_json()["accuracy_vs_k_skipped"]
