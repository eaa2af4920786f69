"""similarity: BLEU, chrF, ROUGE-L and MiniLM cosine against a reference text, as a kind."""

from __future__ import annotations

import numpy as np
import pytest

from rewardlab import load_model, resolve
from rewardlab.errors import CapabilityError, ConfigError, SpecError
from rewardlab.testing import check_reward_model
from rewardlab.verify.similarity import bleu, chrf, rouge_l

REF = "Paris is the capital of France."
RESPONSES = ["Paris is the capital of France.", "The capital of France is Paris.",
             "France's capital city is Paris.", "I like turtles.", ""]


@pytest.mark.parametrize("metric", ["bleu", "chrf", "rougeL"])
def test_overlap_orders_responses_by_closeness(metric: str) -> None:
    rewards = resolve(f"similarity:{metric}").score_with_references(
        ["q"] * 5, RESPONSES, [REF] * 5)
    assert rewards[0] == pytest.approx(1.0) and rewards[-1] == 0.0
    assert rewards[0] > rewards[1] > rewards[3] and rewards[2] > rewards[3]
    assert ((rewards >= 0) & (rewards <= 1)).all()


def test_metrics_match_their_libraries() -> None:
    import sacrebleu
    from rouge_score import rouge_scorer

    hyp, ref = "the cats sat on a mat today", "the cat sat on the mat"
    assert bleu(hyp, ref) == pytest.approx(sacrebleu.sentence_bleu(hyp, [ref]).score / 100)
    assert chrf(hyp, ref) == pytest.approx(sacrebleu.sentence_chrf(hyp, [ref]).score / 100)
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    assert rouge_l(hyp, ref) == pytest.approx(scorer.score(ref, hyp)["rougeL"].fmeasure)


@pytest.mark.slow
def test_embed_cosine(tmp_path) -> None:
    """One encoder load (the contract suite below runs on an overlap metric: the kind's
    save/load/clone code is the same for every metric)."""
    model = resolve("similarity:embed?max_length=64")
    rewards = model.score_with_references(["q"] * 4, RESPONSES[:4], [REF] * 4)
    assert rewards[0] == pytest.approx(1.0, abs=1e-5)
    assert rewards[1] > 0.9 and rewards[3] < 0.3
    # order and batch do not change a reward
    again = model.score_with_references(["q"] * 2, RESPONSES[3::-3], [REF] * 2)
    np.testing.assert_allclose(again, rewards[[3, 0]], rtol=1e-5, atol=1e-6)
    assert load_model(model.save(tmp_path / "m")).config.max_length == 64


def test_contract(tmp_path) -> None:
    ran = check_reward_model(resolve("similarity:chrf"), prompts=["a", "b"],
                             responses=["x y z", "hello there"], references=["x y", "hello"],
                             directory=tmp_path / "m")
    assert "save_load" in ran


def test_bad_specs_and_inputs() -> None:
    with pytest.raises(SpecError, match=r"unknown metric 'bleurt'.*bleu, chrf, rougeL, embed"):
        resolve("similarity:bleurt")
    model = resolve("similarity:chrf")
    with pytest.raises(CapabilityError, match="reference texts"):
        model.score(["q"], ["a"])
    with pytest.raises(ConfigError, match="must pair up"):
        model.score_with_references(["q"], ["a", "b"], ["r"])
    np.testing.assert_array_equal(model.score_with_references([], [], []), np.zeros(0))
