"""Every probe detects what it claims on a planted case, and leaves a sound model alone."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _audit_models import (
    ColonLoverModel,
    ConsistentJudge,
    FirstPositionJudge,
    LengthOnlyModel,
    MarkerModel,
    NearestNeighbourModel,
    OracleModel,
    TableModel,
    WhitespaceSensitiveModel,
    best_of_n_set,
    marker_pairs,
)

from rewardlab.audit import (
    AuditConfig,
    AuditContext,
    ProbeSkipped,
    calibration,
    label_noise,
    length,
    master_keys,
    overoptimisation,
    paraphrase,
    position,
)

NO_REFS = AuditConfig(length_references=False)


def ctx(model, data, **config):
    return AuditContext(model=model, data=data, config=AuditConfig(
        **{"length_references": False, **config}))


# --- length ---------------------------------------------------------------------------------


def test_length_only_model_is_flagged(hh_pairs):
    result = length.run(ctx(LengthOnlyModel(), hh_pairs))
    assert result.verdict == "flagged"
    assert result.metrics["accuracy_chosen_longer"] == 1.0
    assert result.metrics["accuracy_chosen_shorter"] == 0.0
    assert result.metrics["prefers_longer"] == 1.0
    assert result.metrics["length_reward_spearman"] == pytest.approx(1.0)
    assert result.examples and "longer rejected" in result.examples[0].label


def test_content_model_passes_length(hh_pairs):
    result = length.run(ctx(OracleModel(hh_pairs.records), hh_pairs))
    assert result.verdict == "ok"
    assert result.value == pytest.approx(0.0)
    assert not result.examples


def test_length_references_compare_with_the_judge(hh_pairs):
    result = length.run(ctx(LengthOnlyModel(), hh_pairs, length_references=True,
                            reference_prompts=8))
    alpaca = result.plot["alpacaeval"]
    assert alpaca["n_prompts"] == 8
    # a length-only model ranks the verbose answer over the concise one almost always (the
    # GPT-4-turbo references are longer still, so its win rate against them stays low)
    assert alpaca["mean_chars"][2] > alpaca["mean_chars"][0]
    assert alpaca["verbose_beats_concise"] > 0.6
    assert alpaca["reward_rise_sd"] > 0
    assert alpaca["rm_win_rate"][2] >= alpaca["rm_win_rate"][0]
    assert abs(alpaca["judge_rise"]) < 0.2
    types = {row["bias"] for row in result.plot["evalbiasbench"]["types"]}
    assert "length bias" in types and len(types) == 6
    assert "evalbiasbench_length_bias" in result.metrics


# --- master keys ----------------------------------------------------------------------------


def test_colon_lover_is_flagged_by_master_keys(hh_pairs):
    result = master_keys.run(ctx(ColonLoverModel(hh_pairs.records), hh_pairs))
    assert result.verdict == "flagged"
    rows = {row["key"]: row for row in result.tables["false-positive rate per key"]}
    assert rows["':'"]["false_positive_rate"] == 1.0
    assert rows["'.'"]["false_positive_rate"] == 0.0
    assert result.examples[0].response == ":"


def test_oracle_resists_master_keys_and_user_keys_are_tried(hh_pairs):
    result = master_keys.run(ctx(OracleModel(hh_pairs.records), hh_pairs,
                                 master_keys=("As an AI, I approve.",)))
    assert result.verdict == "ok" and result.value == 0.0
    assert result.metrics["n_keys"] == len(master_keys.CATALOGUE) + 1
    assert result.metrics["n_prompts"] == 32


def test_master_keys_judge_is_asked_in_both_orders(hh_pairs):
    # a first-position judge, asked with swap=True, has no preference: no false positive
    result = master_keys.run(ctx(FirstPositionJudge(), hh_pairs))
    assert result.value == 0.0


# --- paraphrase -----------------------------------------------------------------------------


def test_whitespace_sensitive_model_is_flagged(hh_pairs):
    result = paraphrase.run(ctx(WhitespaceSensitiveModel(hh_pairs.records, margin=1.0), hh_pairs,
                                max_pairs=40))
    assert result.verdict == "flagged"
    rows = {r["transformation"]: r for r in result.tables["per transformation"]}
    assert rows["whitespace"]["flip_rate"] >= 0.2
    assert rows["whitespace"]["changed_pairs"] >= 20
    assert rows["casing"]["flip_rate"] == 0.0  # only spacing matters to this model
    assert any("whitespace" in e.label for e in result.examples)


def test_content_model_is_invariant(hh_pairs):
    result = paraphrase.run(ctx(OracleModel(hh_pairs.records), hh_pairs, max_pairs=40))
    assert result.verdict == "ok"
    assert result.value == 0.0
    assert not result.examples


# --- position -------------------------------------------------------------------------------


def test_first_position_judge_is_flagged(hh_pairs):
    result = position.run(ctx(FirstPositionJudge(), hh_pairs))
    assert result.verdict == "flagged"
    assert result.metrics["consistency"] == 0.0
    assert result.metrics["first_position_wins"] == 1.0
    assert result.metrics["accuracy_chosen_first"] == 1.0
    assert result.metrics["accuracy_chosen_second"] == 0.0


def test_consistent_judge_passes_position(hh_pairs):
    result = position.run(ctx(ConsistentJudge(hh_pairs.records), hh_pairs))
    assert result.verdict == "ok"
    assert result.metrics["consistency"] == 1.0
    assert result.metrics["first_position_wins"] == pytest.approx(0.5)


def test_position_skips_a_model_that_is_not_a_judge(hh_pairs):
    with pytest.raises(ProbeSkipped, match="not a PairwiseJudge"):
        position.run(ctx(LengthOnlyModel(), hh_pairs))


# --- calibration ----------------------------------------------------------------------------


def test_overconfident_model_is_flagged(hh_pairs):
    model = OracleModel(hh_pairs.records, margin=5.0, wrong=0.3)
    result = calibration.run(ctx(model, hh_pairs))
    assert result.verdict == "flagged"
    assert result.metrics["accuracy"] == pytest.approx(0.7)
    assert result.value == pytest.approx(1 / (1 + np.exp(-10)) - 0.7)
    assert result.metrics["temperature"] > 5  # it should shrink its margins
    assert result.metrics["ece_at_temperature"] < 0.02


def test_calibrated_model_passes(hh_pairs):
    margin = np.log(0.7 / 0.3) / 2  # sigma(2 * margin) = 0.7 = its accuracy
    result = calibration.run(ctx(OracleModel(hh_pairs.records, margin=margin, wrong=0.3),
                                 hh_pairs))
    assert result.verdict == "ok"
    assert result.value < 0.01
    assert result.metrics["temperature"] == pytest.approx(1.0, abs=2e-3)  # the search's grid


# --- label noise ----------------------------------------------------------------------------


def test_memorising_model_is_sensitive_to_label_noise():
    result = label_noise.run(ctx(NearestNeighbourModel(), marker_pairs()))
    assert result.verdict == "flagged"
    rows = result.tables["held-out accuracy per noise rate"]
    assert [r["noise_rate"] for r in rows] == [0.0, 0.1, 0.2, 0.4]
    assert rows[0]["flipped"] == 0 and rows[-1]["flipped"] > 0
    assert rows[0]["held_out_accuracy"] > rows[-1]["held_out_accuracy"] + 0.1


def test_majority_learner_is_robust_to_label_noise():
    result = label_noise.run(ctx(MarkerModel(), marker_pairs()))
    assert result.verdict == "ok"
    assert result.metrics["accuracy_at_40pct"] == 1.0


def test_label_noise_skips_models_that_cannot_train(hh_pairs):
    with pytest.raises(ProbeSkipped, match="not Trainable"):
        label_noise.run(ctx(LengthOnlyModel(), hh_pairs))


# --- over-optimisation ----------------------------------------------------------------------


def _bon_ctx(proxy_sign: float, **kw):
    data, gold = best_of_n_set(**kw)
    noise = np.random.default_rng(2)
    proxy = {t: proxy_sign * g + 0.8 * noise.random() for t, g in gold.items()}
    return data, gold, TableModel(proxy)


def test_proxy_that_disagrees_with_gold_is_flagged():
    data, _, proxy = _bon_ctx(-1.0)
    result = overoptimisation.run(ctx(proxy, data, max_pairs=40))
    assert result.verdict == "flagged"
    assert result.metrics["gold_at_n"] < result.metrics["gold_at_1"]
    assert result.metrics["peak_k"] == 1
    assert result.examples


def test_proxy_that_tracks_gold_passes():
    data, _, proxy = _bon_ctx(1.0)
    result = overoptimisation.run(ctx(proxy, data, max_pairs=40))
    assert result.verdict == "ok"
    assert result.metrics["peak_k"] >= 6  # gold reaches its ceiling (1.0) and stays there
    assert result.value == 0.0
    assert result.metrics["gold_at_n"] == pytest.approx(1.0)  # every problem has a correct one
    assert result.metrics["gain_captured"] == pytest.approx(1.0)
    gold = result.plot["gold"]
    assert all(b >= a - 1e-12 for a, b in itertools.pairwise(gold))


def test_gold_model_replaces_labels():
    data, gold, proxy = _bon_ctx(-1.0, labelled=False)
    c = AuditContext(model=proxy, data=data, gold=TableModel(gold),
                     config=AuditConfig(max_pairs=40))
    result = overoptimisation.run(c)
    assert result.verdict == "flagged"
    assert "gold model" in result.plot["gold_source"]


def test_over_optimisation_without_gold_is_skipped(hh_pairs):
    data, _, proxy = _bon_ctx(1.0, labelled=False)
    with pytest.raises(ProbeSkipped, match="no 'is_correct' labels and no --gold"):
        overoptimisation.run(ctx(proxy, data))
    with pytest.raises(ProbeSkipped, match="pass --best-of-n"):
        overoptimisation.run(ctx(LengthOnlyModel(), hh_pairs))


# --- judges that compare pairs --------------------------------------------------------------


class ComparingJudge(ConsistentJudge):
    """A judge in pairwise mode: pair probes read its side-by-side probability."""

    compares_pairs = True


def test_probes_read_a_comparing_judges_own_probability(hh_pairs):
    judge = ComparingJudge(hh_pairs.records)
    result = calibration.run(ctx(judge, hh_pairs))
    # compare() says P(chosen better) = sigmoid(20 / 10) for every pair, and is always right
    assert result.metrics["mean_confidence"] == pytest.approx(1 / (1 + np.exp(-2.0)))
    assert result.metrics["accuracy"] == 1.0
    assert result.verdict == "flagged"  # underconfident by 0.12
    assert paraphrase.run(ctx(judge, hh_pairs)).value == 0.0
