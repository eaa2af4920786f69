"""First-error evaluation: ProcessBench's accuracies and F1, the trivial baselines, per
subset, on real PRMBench and error-injected data."""

from __future__ import annotations

from dataclasses import replace

import pytest

from rewardlab.data import load_dataset
from rewardlab.errors import DataError
from rewardlab.evaluate.process import (
    ProcessResult,
    evaluate_process,
    first_error_accuracies,
    harmonic_f1,
)


@pytest.fixture(scope="module")
def prmbench():
    return load_dataset("bundled:prmbench")


def test_harmonic_mean_is_zero_unless_both_sides_are_right() -> None:
    assert harmonic_f1(1.0, 1.0) == 1.0
    assert harmonic_f1(0.0, 1.0) == harmonic_f1(1.0, 0.0) == 0.0
    assert harmonic_f1(0.6, 0.9) == pytest.approx(0.72)
    assert harmonic_f1(float("nan"), 1.0) != harmonic_f1(float("nan"), 1.0)  # NaN


def test_an_exact_index_is_needed_and_misses_are_told_apart() -> None:
    actual = [2, 2, 2, 2, None, None]
    predicted = [2, 0, 3, None, None, 1]
    f = first_error_accuracies(predicted, actual)
    assert (f["acc_erroneous"], f["acc_correct"]) == (0.25, 0.5)
    assert (f["early"], f["late"], f["missed"]) == (0.25, 0.25, 0.25)
    assert f["first_error_f1"] == pytest.approx(2 * 0.25 * 0.5 / 0.75)
    with pytest.raises(ValueError, match="2 predictions for 3 solutions"):
        first_error_accuracies([None, None], [None, 1, 2])


def test_trivial_baselines_on_prmbench(prmbench) -> None:
    actual = [r.first_error for r in prmbench]
    n_err = sum(a is not None for a in actual)
    first_step = sum(a == 0 for a in actual) / n_err
    result = evaluate_process(None, prmbench, predictions=[None] * len(prmbench))  # type: ignore[arg-type]
    o = result.overall
    assert (o.n, o.n_erroneous, o.n_correct) == (len(prmbench), 200, len(prmbench) - 200)
    assert (o.acc_erroneous, o.acc_correct, o.first_error_f1) == (0.0, 1.0, 0.0)
    base = o.baselines
    assert base["always_none"] == {"first_error_f1": 0.0, "acc_erroneous": 0.0,
                                   "acc_correct": 1.0}
    assert base["always_first_step"] == {"first_error_f1": 0.0, "acc_erroneous": first_step,
                                         "acc_correct": 0.0}


def test_perfect_predictions_and_per_subset_figures(prmbench) -> None:
    result = evaluate_process(None, prmbench,  # type: ignore[arg-type]
                              predictions=[r.first_error for r in prmbench])
    assert result.overall.first_error_f1 == 1.0 and result.overall.f1_ci95 == (1.0, 1.0)
    subsets = {s.name: s for s in result.subsets}
    assert set(subsets) == {r.subset for r in prmbench}
    assert subsets["original"].acc_correct == 1.0
    assert subsets["circular"].n_erroneous == 25 and subsets["circular"].n_correct == 0
    # a subset of erroneous solutions only has no F1: there is nothing to get right as "none"
    assert subsets["circular"].first_error_f1 != subsets["circular"].first_error_f1


def test_the_interval_holds_the_estimate(prmbench) -> None:
    predicted = [r.first_error if i % 3 else None for i, r in enumerate(prmbench)]
    o = evaluate_process(None, prmbench, predictions=predicted).overall  # type: ignore[arg-type]
    assert 0 < o.f1_ci95[0] <= o.first_error_f1 <= o.f1_ci95[1] < 1


def test_json_has_the_documented_keys(trained_prm, injected_steps) -> None:
    result = evaluate_process(trained_prm, injected_steps[1])
    assert isinstance(result, ProcessResult)
    body = result.to_json()
    for key in ("first_error_f1", "acc_erroneous", "acc_correct", "f1_ci95", "n",
                "n_erroneous", "n_correct", "baselines", "subsets", "threshold"):
        assert key in body
    assert body["task"] == "steps" and body["threshold"] == trained_prm.threshold_
    assert result.metrics["process/first_error_f1"] == body["first_error_f1"]
    assert set(body["subsets"]) <= {"arithmetic", "quantity", "correct"}


def test_data_must_be_labelled_steps(prmbench) -> None:
    with pytest.raises(DataError, match="first-error evaluation needs steps data"):
        evaluate_process(None, load_dataset("bundled:gsm8k_examples", limit=2))  # type: ignore[arg-type]
    unlabelled = replace(prmbench, records=tuple(replace(r, labels=None)
                                                 for r in prmbench.records[:3]))
    with pytest.raises(DataError, match=r"bundled:prmbench:1: field 'labels'"):
        evaluate_process(None, unlabelled, predictions=[None] * 3)  # type: ignore[arg-type]
