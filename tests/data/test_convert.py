"""Best-of-n rows become correct-over-incorrect pairs within each problem."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewardlab.data import best_of_n_to_pairs, load_dataset
from rewardlab.errors import DataError


def test_every_correct_over_every_incorrect_within_a_problem() -> None:
    data = load_dataset("bundled:gsm8k_examples", limit=30)
    pairs = best_of_n_to_pairs(data)
    assert pairs.task == "pairwise" and pairs.form == "gsm8k-examples->pairs"
    expected = sum(sum(r.is_correct) * (len(r.responses) - sum(r.is_correct)) for r in data)
    assert len(pairs) == expected > 0
    by_id = {r.id: r for r in data}
    for pair in pairs:
        problem, _, order = str(pair.id).partition(":")
        i, j = map(int, order.split(">"))
        record = by_id[int(problem)]
        assert record.is_correct[i] and not record.is_correct[j]
        assert (pair.chosen, pair.rejected) == (record.responses[i], record.responses[j])
        assert pair.prompt == record.prompt and pair.line == record.line


def test_pairwise_data_passes_through() -> None:
    data = load_dataset("bundled:hh_harmless", limit=3)
    assert best_of_n_to_pairs(data) is data


def _write(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "bon.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_scores_order_candidates_when_there_are_no_labels(tmp_path: Path) -> None:
    path = _write(tmp_path, [{"prompt": "p", "responses": ["a", "b", "c"],
                              "scores": [0.5, 0.9, 0.5]}])
    pairs = best_of_n_to_pairs(load_dataset(path))
    # b over a and b over c; a and c tie, which gives no pair
    assert sorted((p.chosen, p.rejected) for p in pairs) == [("b", "a"), ("b", "c")]


def test_rows_that_teach_nothing_are_errors(tmp_path: Path) -> None:
    no_labels = _write(tmp_path, [{"prompt": "p", "responses": ["a", "b"]}])
    with pytest.raises(DataError, match=r"bon.jsonl:1: field 'is_correct': has neither"):
        best_of_n_to_pairs(load_dataset(no_labels))
    all_right = _write(tmp_path, [{"prompt": "p", "responses": ["a", "b"],
                                   "is_correct": [True, True]}])
    with pytest.raises(DataError, match="none of its 1 best-of-n rows has both"):
        best_of_n_to_pairs(load_dataset(all_right))
