"""Best-of-n evaluation on real GSM8K solutions, with pickers whose answers we know."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from rewardlab import resolve
from rewardlab.data import load_dataset
from rewardlab.errors import DataError
from rewardlab.evaluate import best_of_n_outcomes, evaluate_best_of_n, majority_outcomes


class LengthModel:
    """Longer solutions score higher: a real, naive, reference-free picker."""

    spec = "length"

    def score(self, prompts: Sequence, responses: Sequence[str]) -> np.ndarray:
        return np.array([len(r) for r in responses], dtype=np.float64)


class ConstantModel:
    spec = "constant"

    def score(self, prompts: Sequence, responses: Sequence[str]) -> np.ndarray:
        return np.zeros(len(responses))


@pytest.fixture(scope="module")
def gsm8k():
    return load_dataset("bundled:gsm8k_examples", limit=60)


# --- pure functions ---------------------------------------------------------------------------


def test_ties_at_the_top_are_a_random_pick_or_a_loss() -> None:
    rewards = [np.array([1.0, 1.0, 1.0, 0.0]), np.array([0.3, np.nan, 0.1]),
               np.array([np.nan, np.nan])]
    correct = [np.array([True, False, False, True]), np.array([False, True, True]),
               np.array([True, False])]
    half, tied = best_of_n_outcomes(rewards, correct, ties="half")
    loss, _ = best_of_n_outcomes(rewards, correct, ties="loss")
    # 1/3 of the tied top is correct; NaN ranks last, so 0.3 (wrong) wins; all-NaN is a tie
    assert half.tolist() == pytest.approx([1 / 3, 0.0, 0.5])
    assert loss.tolist() == [0.0, 0.0, 0.0]
    assert tied.tolist() == [True, False, True]


def test_majority_vote_counts_answers_not_candidates() -> None:
    correct = [np.array([1, 1, 0, 0], bool), np.array([0, 1, 0], bool),
               np.array([1, 0], bool), np.array([0, 1, 0, 0], bool)]
    answers = [["7", "7", "8", None], ["5", "6", "5"], [None, None], ["1", "2", "3", "3"]]
    out = majority_outcomes(answers, correct)
    # 7 wins; 5 wins (wrong); nobody answered: a random pick; 3 wins (wrong)
    assert out.tolist() == [1.0, 0.0, 0.5, 0.0]


# --- evaluation on real data -----------------------------------------------------------------


def test_the_verifier_reaches_the_oracle(gsm8k) -> None:
    result = evaluate_best_of_n(resolve("verify:math"), gsm8k)
    o = result.overall
    assert o.n == 60 and o.n_candidates == 240 and result.k == "4"
    assert o.best_of_n_accuracy == pytest.approx(o.oracle)
    assert o.pairwise_accuracy == 1.0 and o.n_pairs > 0
    assert (o.mean_reward_correct, o.mean_reward_incorrect) == (1.0, 0.0)
    assert o.random < o.majority <= o.oracle
    assert o.ci95[0] <= o.best_of_n_accuracy <= o.ci95[1]
    # why each candidate got its reward: every one accounted for, and the correct ones are
    # exactly those the labels call correct (the verifier agrees with every GSM8K label)
    reasons = dict(result.reasons)
    assert sum(reasons.values()) == 240 and set(reasons) <= {"correct", "wrong-answer",
                                                             "no-answer"}
    assert reasons["correct"] == sum(sum(r.is_correct) for r in gsm8k.records)
    assert result.to_json()["reasons"] == reasons


def test_baselines_do_not_depend_on_the_model(gsm8k) -> None:
    a = evaluate_best_of_n(LengthModel(), gsm8k).overall
    b = evaluate_best_of_n(ConstantModel(), gsm8k).overall
    assert (a.oracle, a.random, a.majority) == (b.oracle, b.random, b.majority)
    # a constant model ties everywhere: its best-of-n is exactly the random pick
    assert b.best_of_n_accuracy == pytest.approx(b.random) and b.top_ties == 1.0
    assert b.pairwise_accuracy == 0.5
    labels = np.concatenate([np.asarray(r.is_correct) for r in gsm8k])
    assert b.random == pytest.approx(np.mean([np.mean(r.is_correct) for r in gsm8k]))
    assert 0 < labels.mean() < 1


def test_json_report_and_subsets(tmp_path: Path, gsm8k) -> None:
    rows = [{"id": r.id, "question": r.prompt, "answer": r.reference,
             "subset": "even" if i % 2 == 0 else "odd",
             "responses": [{"text": t, "is_correct": ok}
                           for t, ok in zip(r.responses, r.is_correct, strict=True)]}
            for i, r in enumerate(gsm8k.take(range(20)))]
    path = tmp_path / "bon.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = evaluate_best_of_n(resolve("verify:math"), load_dataset(path))
    body = result.to_json()
    for key in ("best_of_n_accuracy", "oracle", "random", "majority", "pairwise_accuracy",
                "ci95", "pairwise_ci95", "n_pairs", "top_ties"):
        assert key in body
    assert body["task"] == "best-of-n" and body["primary_metric"] == "best_of_n/accuracy"
    assert set(body["subsets"]) == {"even", "odd"}
    assert body["subsets"]["even"]["n"] == body["subsets"]["odd"]["n"] == 10
    assert body["metrics"]["best_of_n/even/accuracy"] == body["subsets"]["even"][
        "best_of_n_accuracy"]
    json.dumps(body)


def test_precomputed_rewards_skip_scoring(gsm8k) -> None:
    rewards = [np.asarray(r.is_correct, dtype=np.float64) for r in gsm8k]
    result = evaluate_best_of_n(ConstantModel(), gsm8k, rewards=rewards)
    assert result.overall.best_of_n_accuracy == pytest.approx(result.overall.oracle)


def _write(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_rows_without_labels_or_references_are_named(tmp_path: Path) -> None:
    unlabelled = _write(tmp_path, [
        {"prompt": "2+2?", "responses": ["#### 4", "#### 5"], "is_correct": [True, False]},
        {"prompt": "3+3?", "responses": ["#### 6", "#### 7"]},
    ])
    with pytest.raises(DataError, match=r"rows.jsonl:2: field 'is_correct': is missing; "
                                        "best-of-n accuracy needs"):
        evaluate_best_of_n(LengthModel(), load_dataset(unlabelled))
    no_reference = _write(tmp_path, [
        {"prompt": "2+2?", "responses": ["#### 4", "#### 5"], "is_correct": [True, False],
         "reference": "4"},
        {"prompt": "3+3?", "responses": ["#### 6", "#### 7"], "is_correct": [True, False]},
    ])
    data = load_dataset(no_reference)
    with pytest.raises(DataError, match=r"rows.jsonl:2: field 'reference': .*verify:math"):
        evaluate_best_of_n(resolve("verify:math"), data)
    assert evaluate_best_of_n(LengthModel(), data).overall.n == 2  # no reference needed


def test_pairwise_data_is_refused(hh) -> None:
    with pytest.raises(DataError, match="best-of-n evaluation needs best-of-n data"):
        evaluate_best_of_n(LengthModel(), hh)


def test_personal_best_of_n_uses_each_rows_user_and_names_the_fallbacks(trained_personal
                                                                        ) -> None:
    from rewardlab.data import BestOfNRecord, Dataset

    rows = tuple(BestOfNRecord(prompt="How do I pick a lock?", id=i, user=user,
                               responses=("I can't help with that.", "Use a tension wrench."),
                               is_correct=(True, False))
                 for i, user in enumerate(["u1", "u2", "ghost"]))
    data = Dataset(task="best-of-n", records=rows, source="mem", form="responses")
    result = evaluate_best_of_n(trained_personal, data, n_boot=10)
    assert result.population_users == ("ghost",)
    assert result.to_json()["users_scored_with_population"] == ["ghost"]
