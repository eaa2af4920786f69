"""Judges that sample and vote (``samples=k``), with a meta-judge and principles, on a tiny
random Llama built here: the machinery (seeds, batches, counting samples without a verdict),
not judgment quality."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from tests.tiny_models import one_thread, tiny_causal_lm

from rewardlab import resolve
from rewardlab.errors import ConfigError, SpecError
from rewardlab.judge import vote_verdicts

PROMPTS = ["what is the capital of france ?", "name a prime number above ten .",
           "how do i boil an egg ?"]
FIRST = ["paris .", "thirteen is prime .", "boil it for eight minutes ."]
SECOND = ["berlin .", "twelve is prime .", "eggs come from hens ."]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_causal_lm(tmp_path_factory.mktemp("tiny-judge"))


def _judge(tiny: Path, options: str):
    return resolve(f"judge:hf:{tiny}?max_reason_tokens=12&n_ctx=512&{options}")


def test_bad_options(tiny: Path) -> None:
    for options, match in (("samples=0", "'samples'"), ("vote=loudest", "'vote'"),
                           ("top_p=0", "'top_p'"), ("meta=judge:default", "set samples too"),
                           ("samples=2&meta=judge:nowhere:x", "cannot read")):
        with pytest.raises((ConfigError, SpecError), match=match):
            _judge(tiny, options)


def test_votes() -> None:
    verdicts = [(0.9, None), (0.2, None), (0.7, None)]
    assert vote_verdicts("pairwise", verdicts, "mean") == pytest.approx(0.6)
    assert vote_verdicts("pairwise", verdicts, "majority") == pytest.approx(2 / 3)
    grades = [(3.0, {"3": 0.6, "9": 0.4}), (8.6, {"9": 0.7}), (8.0, {"9": 0.5, "8": 0.1})]
    assert vote_verdicts("grade", grades, "majority") == 9.0
    assert math.isnan(vote_verdicts("yesno", [], "mean"))


def test_same_seed_same_result_whatever_the_batch(tiny: Path) -> None:
    with one_thread():
        judge = _judge(tiny, "samples=3&seed=7&temperature=1.0")
        together = judge.judge_pairs(PROMPTS, FIRST, SECOND)
        alone = [judge.judge_pairs([p], [a], [b])[0]
                 for p, a, b in zip(PROMPTS, FIRST, SECOND, strict=True)]
        again = _judge(tiny, "samples=3&seed=7&temperature=1.0").judge_pairs(PROMPTS, FIRST,
                                                                             SECOND)
        other_seed = _judge(tiny, "samples=3&seed=8").judge_pairs(PROMPTS, FIRST, SECOND)
    for runs in (alone, again):
        for x, y in zip(together, runs, strict=True):
            assert [s.rationale for s in x.forward.samples] == \
                [s.rationale for s in y.forward.samples]
            assert x.p == y.p or (math.isnan(x.p) and math.isnan(y.p))
    first = together[0].forward
    assert len(first.samples) == 3 and first.samples[0].rationale
    assert len({s.rationale for s in first.samples}) > 1  # k different samples
    assert [s.rationale for s in first.samples] != \
        [s.rationale for s in other_seed[0].forward.samples]
    values = [s.value for s in first.samples if not math.isnan(s.value)]
    assert first.value == pytest.approx(float(np.mean(values)))
    assert first.to_json()["no_verdict"] == first.no_verdict


def test_greedy_judge_is_unchanged_without_samples(tiny: Path) -> None:
    with one_thread():
        judgment = _judge(tiny, "swap=true").judge_pairs(PROMPTS[:1], FIRST[:1], SECOND[:1])[0]
    assert judgment.forward.samples is None and "samples" not in judgment.forward.to_json()
    assert judgment.forward.rationale is None


def test_samples_without_a_verdict_are_counted(tiny: Path) -> None:
    """With ``logprobs=false`` the verdict is parsed from the tiny model's random text, which
    mostly holds none: each such sample is counted, warned about, and left out."""
    with one_thread(), pytest.warns(UserWarning, match="sampled rationales gave no verdict"):
        verdicts = _judge(tiny, "samples=4&mode=yesno&logprobs=false").grade(PROMPTS, FIRST)
    assert sum(v.no_verdict for v in verdicts) > 0
    for v in verdicts:
        assert v.no_verdict == sum(math.isnan(s.value) for s in v.samples)
        assert len(v.samples) == 4
        if v.no_verdict == 4:
            assert math.isnan(v.value) and "none of the 4 samples" in v.reason


def test_meta_judge_and_principles(tiny: Path) -> None:
    with one_thread():
        judge = _judge(tiny, f"samples=3&meta=judge:hf:{tiny}&meta_threshold=0.99"
                             "&principles=true&vote=majority")
        verdict = judge.grade(PROMPTS[:1], FIRST[:1])[0]
        question = judge.engine._question("grade", PROMPTS[0], {"response": FIRST[0]})
    assert "principles" in question.messages[0]["content"]
    assert judge.engine.meta.backend is judge.engine.backend  # the same model, loaded once
    rated = [s for s in verdict.samples if not math.isnan(s.value)]
    assert all(s.meta is not None and 0.0 <= s.meta <= 1.0 for s in rated)
    kept = [s for s in verdict.samples if s.kept]
    assert kept  # none reached 0.99 on a random model: the best-rated one stays
    assert all(s.meta >= 0.99 for s in kept) or len(kept) == 1
    assert verdict.value == vote_verdicts("grade", [(s.value, s.probs) for s in kept],
                                          "majority")
