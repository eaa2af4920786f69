"""``embed:`` trains on best-of-n data as an outcome reward model (correct over incorrect)."""

from __future__ import annotations

import pytest

from rewardlab import resolve
from rewardlab.data import best_of_n_to_pairs, load_dataset
from rewardlab.errors import DataError
from rewardlab.evaluate import evaluate_best_of_n, evaluate_pairwise


@pytest.mark.slow
def test_best_of_n_rows_train_an_outcome_model() -> None:
    data = load_dataset("bundled:gsm8k_examples", limit=8)  # 32 real solutions
    model = resolve("embed:minilm?features=reply&epochs=60&head=linear").fit(data)
    pairs = best_of_n_to_pairs(data)
    assert model.n_train_pairs_ == len(pairs) > 0
    # the head separates the pairs it was trained on, and ranks candidates accordingly
    assert evaluate_pairwise(model, pairs).overall.accuracy > 0.9
    result = evaluate_best_of_n(model, data).overall
    assert result.pairwise_accuracy > 0.9
    assert result.best_of_n_accuracy > result.random


def test_best_of_n_rows_without_labels_cannot_train(tmp_path) -> None:
    path = tmp_path / "bon.jsonl"
    path.write_text('{"prompt": "p", "responses": ["a", "b"]}\n')
    with pytest.raises(DataError, match="has neither 'is_correct' labels nor 'scores'"):
        resolve("embed:minilm").fit(load_dataset(path))
