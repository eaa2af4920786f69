"""One contract for every registered kind: what any command may assume of any model.

The checks are public (``rewardlab.testing.check_reward_model``), so a third-party kind is
held to the same contract. A new kind adds a factory to ``FACTORIES``; the first test fails
until it does.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from rewardlab import RewardModel, Saveable, SpecError, known_kinds, resolve
from rewardlab.models.judge import LLMJudge
from rewardlab.testing import check_reward_model


def _embed(fixtures: dict) -> RewardModel:
    return fixtures["trained_embed"]


def _verify(fixtures: dict) -> RewardModel:
    return resolve("verify:math")


def _seq(fixtures: dict) -> RewardModel:
    return fixtures["trained_seq"]


def _ensemble(fixtures: dict) -> RewardModel:
    from rewardlab.models.ensemble import EnsembleRewardModel

    return EnsembleRewardModel([fixtures["trained_embed"], fixtures["trained_seq"]], agg="uwo")


def _prm(fixtures: dict) -> RewardModel:
    return fixtures["trained_prm"]


@functools.cache
def _judge(fixtures: object = None) -> RewardModel:
    # the real default model (loaded once), its context kept small: long HH prompts are cut
    return resolve("judge:default?n_ctx=256")


def _vote(fixtures: dict) -> RewardModel:
    from rewardlab.models.vote import VoteRewardModel

    return VoteRewardModel(fixtures["trained_embed"], tiebreak=0.3)


def _rubric(fixtures: dict) -> RewardModel:
    # one rubric file for every row, deterministic criteria only: no model is loaded
    path = fixtures["tmp_path_factory"].mktemp("rubric") / "rubric.json"
    path.write_text(json.dumps([
        {"text": "At most 40 words", "kind": "max_words", "value": 40, "weight": 2},
        {"text": "Not empty", "kind": "min_words", "value": 1, "hard": True}]))
    return resolve(f"rubric:?file={path}&agg=gate")


def _likelihood(fixtures: dict) -> RewardModel:
    from tiny_models import tiny_causal_lm

    return resolve(f"likelihood:hf:{tiny_causal_lm(fixtures['tmp_path_factory'].mktemp('lm'))}"
                   "?mode=followup")


def _prm_seq(fixtures: dict) -> RewardModel:
    """A tiny two-label token classifier saved as TRL's PRMTrainer leaves one: scores at
    once (``prm:seq:DIR``)."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    from rewardlab.models._encoder import resolve_encoder_path

    directory = fixtures["tmp_path_factory"].mktemp("prm-seq")
    tok = AutoTokenizer.from_pretrained(resolve_encoder_path("minilm"))
    config = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64, num_labels=2)
    torch.manual_seed(0)
    BertForTokenClassification(config).save_pretrained(directory)
    tok.save_pretrained(directory)
    return resolve(f"prm:seq:{directory}")


FACTORIES: dict[str, Callable[[dict], RewardModel]] = {
    "embed": _embed, "verify": _verify, "seq": _seq, "ensemble": _ensemble, "prm": _prm,
    "judge": lambda fixtures: _judge(), "vote": _vote,
    "similarity": lambda fixtures: resolve("similarity:chrf"), "rubric": _rubric,
    "multi": lambda fixtures: fixtures["trained_multi"],
    "multi:seq": lambda fixtures: fixtures["trained_multi_seq"],
    "personal": lambda fixtures: fixtures["trained_personal"], "likelihood": _likelihood,
    "prm_seq": _prm_seq}


def test_every_registered_kind_is_under_contract() -> None:
    # a key may name a variant of a kind (multi:seq beside multi:embed)
    assert set(known_kinds()) == {name.split(":")[0] for name in FACTORIES}


@pytest.fixture(params=sorted(FACTORIES))
def model(request: pytest.FixtureRequest) -> RewardModel:
    return FACTORIES[request.param](_LazyFixtures(request))


class _LazyFixtures(dict):
    """Trained models by fixture name, each built on first use: a run of one kind's
    contract (``-k prm``) does not fine-tune the others."""

    def __init__(self, request: pytest.FixtureRequest) -> None:
        super().__init__()
        self.request = request

    def __missing__(self, name: str) -> RewardModel:
        return self.request.getfixturevalue(name)


@pytest.fixture(scope="module")
def inputs(hh_small) -> tuple[list, list[str]]:
    test = hh_small[1]
    prompts = [r.prompt for r in test][:10]
    replies = [r.chosen for r in test][:10]
    return [*prompts, "A plain string prompt"], [*replies, ""]


def test_kind_passes_check_reward_model(model: RewardModel, inputs, tmp_path: Path) -> None:
    """The public contract (``rewardlab.testing.check_reward_model``): float64 ``(n,)``,
    bitwise-deterministic, batch- and order-invariant to fp32 round-off, clone, and a
    save/load round trip to fp32 round-off for the Saveable kinds."""
    prompts, responses = inputs
    if isinstance(model, LLMJudge):  # every row is an LLM forward pass, six of them a check
        prompts, responses = prompts[-6:], responses[-6:]
    ran = check_reward_model(model, prompts=prompts, responses=responses,
                             references=["42"] * len(responses), directory=tmp_path / "saved")
    assert {"scores", "deterministic", "batch_invariance", "order_invariance", "clone",
            "mismatched_inputs"} <= set(ran)
    assert ("save_load" in ran) == isinstance(model, Saveable)


@pytest.mark.parametrize("spec", ["embed:minilm?epochs=2&head=linear",
                                  "vote:(embed:minilm?epochs=2)",
                                  "ensemble:(embed:minilm?epochs=2),(embed:minilm?seed=1)"])
def test_trainable_kind_refuses_to_score_before_fit(spec: str, hh_small) -> None:
    """From a factory, the contract also checks ``NotFittedError`` before ``fit`` (the
    texts are in the session's embedding cache, so each fit costs well under a second)."""
    ran = check_reward_model(lambda: resolve(spec), data=hh_small[0].take(range(12)))
    assert ran[:2] == ["protocol", "not_fitted"]


@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_unknown_spec_options_are_refused(kind: str) -> None:
    arg = {"multi": "embed:minilm", "personal": "embed:minilm",  # heads over embed:
           "likelihood": "policy:default"}.get(kind, "minilm")
    with pytest.raises(SpecError, match="unknown option 'nonsense'"):
        resolve(f"{kind}:{arg}?nonsense=1")
