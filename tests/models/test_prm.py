"""``prm:`` — step scores, first errors, aggregated rewards, training on step labels, and the
saved directory; trained on error-injected real GSM8K solutions (``trained_prm``)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from _tolerance import assert_fp32_close
from rewardlab import resolve
from rewardlab.data import load_dataset
from rewardlab.errors import CapabilityError, ConfigError, DataError, NotFittedError, SpecError
from rewardlab.models.base import StepScorer
from rewardlab.models.prm import PRMConfig, ProcessRewardModel


@pytest.fixture(scope="module")
def test_set(injected_steps):
    return injected_steps[1]


def test_is_a_step_scorer_with_probabilities_per_step(trained_prm, test_set) -> None:
    assert isinstance(trained_prm, StepScorer)
    prompts, steps = [r.prompt for r in test_set], [r.steps for r in test_set]
    scores = trained_prm.score_steps(prompts, steps)
    assert [s.shape for s in scores] == [(len(r.steps),) for r in test_set]
    assert all(s.dtype == np.float64 and ((s >= 0) & (s <= 1)).all() for s in scores)


def test_steps_are_scored_independently_of_the_batch(trained_prm, test_set) -> None:
    prompts, steps = [r.prompt for r in test_set], [r.steps for r in test_set]
    together = trained_prm.score_steps(prompts, steps)
    alone = [trained_prm.score_steps([p], [s])[0] for p, s in zip(prompts[:3], steps[:3],
                                                                   strict=True)]
    for a, b in zip(alone, together[:3], strict=True):
        assert_fp32_close(a, b)


def test_first_error_follows_the_threshold(trained_prm, test_set) -> None:
    prompts, steps = [r.prompt for r in test_set], [r.steps for r in test_set]
    scores = trained_prm.score_steps(prompts, steps)
    t = trained_prm.threshold_
    expected = [next((k for k, p in enumerate(s) if p < t), None) for s in scores]
    assert trained_prm.first_error(prompts, steps) == expected
    assert trained_prm.first_error(prompts, steps, threshold=0.0) == [None] * len(steps)


def test_the_threshold_is_cross_fitted_unless_given(trained_prm, injected_steps) -> None:
    report = trained_prm.threshold_report_
    assert report["method"] == "cross-fitted" and report["folds"] == 3
    assert 0.05 <= trained_prm.threshold_ <= 0.95 and 0 <= report["out_of_fold_f1"] <= 1
    given = resolve("prm:minilm?features=position,checks&epochs=2&threshold=0.35")
    given.fit(injected_steps[0].take(range(6)))
    assert (given.threshold_, given.threshold_report_) == (0.35, {"method": "given"})


def test_score_splits_the_response_and_aggregates(trained_prm, test_set) -> None:
    r = next(r for r in test_set if len(r.steps) > 2)
    steps = trained_prm.score_steps([r.prompt], [r.steps])[0]
    reward = trained_prm.score([r.prompt], ["\n".join(r.steps)])
    assert reward.dtype == np.float64 and reward[0] == pytest.approx(steps.min())
    for agg, expected in (("prod", steps.prod()), ("mean", steps.mean()), ("last", steps[-1])):
        other = ProcessRewardModel(**{**trained_prm.get_config(), "agg": agg})
        other.head_, other.feature_mean_, other.feature_scale_ = (
            trained_prm.head_, trained_prm.feature_mean_, trained_prm.feature_scale_)
        assert other.score([r.prompt], ["\n".join(r.steps)])[0] == pytest.approx(expected)


def test_it_learns_to_find_injected_errors(trained_prm, test_set) -> None:
    """Trained on 30 problems, it beats both trivial baselines on 10 unseen ones."""
    from rewardlab.evaluate.process import evaluate_process

    o = evaluate_process(trained_prm, test_set).overall
    assert o.first_error_f1 > 0.4 and o.acc_erroneous > 0.3 and o.acc_correct > 0.3
    assert trained_prm.history_[-1]["accuracy"] > 0.8


def test_training_needs_labelled_steps(trained_prm, injected_steps) -> None:
    with pytest.raises(DataError, match="training a process reward model needs steps data"):
        resolve("prm:minilm").fit(load_dataset("bundled:gsm8k_examples", limit=2))
    train = injected_steps[0]
    unlabelled = replace(train, records=tuple(replace(r, labels=None) for r in train.records))
    with pytest.raises(DataError, match="field 'labels': has no 'labels'"):
        resolve("prm:minilm").fit(unlabelled)


def test_after_error_labels_can_be_used_as_wrong(injected_steps) -> None:
    # the steps after a first error count only with after_error=false
    train = injected_steps[0]
    assert any(r.first_error is not None and r.first_error < len(r.steps) - 1 for r in train)
    model = resolve("prm:minilm?features=position,checks&epochs=2&after_error=false").fit(train)
    ignoring = resolve("prm:minilm?features=position,checks&epochs=2").fit(train)
    total = sum(len(r.steps) for r in train)
    assert model.n_train_steps_ == total > ignoring.n_train_steps_


def test_not_fitted_names_the_fix() -> None:
    with pytest.raises(NotFittedError, match=r"prm:minilm' is not trained yet.*--model prm"):
        resolve("prm:minilm").score(["q"], ["a"])


def test_spec_options_and_config_checks() -> None:
    model = resolve("prm:minilm?agg=last&threshold=0.3&features=step,checks&split=sentence")
    assert (model.config.agg, model.config.threshold, model.config.features,
            model.config.split) == ("last", 0.3, ("step", "checks"), "sentence")
    with pytest.raises(ConfigError, match="The 'agg' parameter of PRMConfig must be one of"):
        resolve("prm:minilm?agg=max")
    with pytest.raises(ConfigError, match="'features' parameter of PRMConfig"):
        resolve("prm:minilm?features=reply")
    with pytest.raises(SpecError, match="must be a number"):
        resolve("prm:minilm?threshold=high")
    with pytest.raises(ConfigError, match="has no parameter 'loss'"):
        ProcessRewardModel(loss="bt")
    assert PRMConfig().agg == "min"


def test_save_writes_a_manifest_and_loads_back(trained_prm, test_set, tmp_path: Path) -> None:
    saved = trained_prm.save(tmp_path / "prm")
    manifest = json.loads((saved / "rewardlab.json").read_text())
    assert manifest["kind"] == "prm" and manifest["config"]["agg"] == "min"
    assert manifest["state"]["n_train_solutions"] == trained_prm.n_train_solutions_
    loaded = resolve(str(saved))
    prompts, steps = [r.prompt for r in test_set], [r.steps for r in test_set]
    assert loaded.first_error(prompts, steps) == trained_prm.first_error(prompts, steps)
    assert loaded.threshold_ == trained_prm.threshold_


def test_a_pairwise_model_cannot_score_steps(trained_embed, test_set) -> None:
    from rewardlab.evaluate.process import evaluate_process

    with pytest.raises(CapabilityError, match="cannot evaluate first errors: it is not "
                                              "StepScorer"):
        evaluate_process(trained_embed, test_set)
