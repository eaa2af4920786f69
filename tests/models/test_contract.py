"""One contract for every registered kind: what any command may assume of any model.

A new kind adds a factory to ``FACTORIES``; the first test fails until it does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from _tolerance import assert_fp32_close
from rewardlab import RewardModel, Saveable, SpecError, known_kinds, resolve
from rewardlab.errors import ConfigError
from rewardlab.models.base import ReferenceScorer


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


FACTORIES: dict[str, Callable[[dict], RewardModel]] = {
    "embed": _embed, "verify": _verify, "seq": _seq, "ensemble": _ensemble, "prm": _prm,
    "judge": lambda fixtures: _judge(), "vote": _vote}


def _score(model: RewardModel, prompts: list, responses: list[str]) -> np.ndarray:
    """``score``, or for a verifier ``score_with_references`` (every reference is 42)."""
    if isinstance(model, ReferenceScorer):
        return model.score_with_references(prompts, responses, ["42"] * len(responses))
    return model.score(prompts, responses)


def test_every_registered_kind_is_under_contract() -> None:
    assert set(known_kinds()) == set(FACTORIES)


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


def test_score_is_float64_of_shape_n(model: RewardModel, inputs) -> None:
    assert isinstance(model, RewardModel)
    scores = _score(model, *inputs)
    assert isinstance(scores, np.ndarray) and scores.dtype == np.float64
    assert scores.shape == (len(inputs[1]),)
    assert _score(model, [], []).shape == (0,)


def test_same_inputs_same_scores(model: RewardModel, inputs) -> None:
    np.testing.assert_array_equal(_score(model, *inputs), _score(model, *inputs))  # bitwise


def test_save_load_round_trip(model: RewardModel, inputs, tmp_path: Path) -> None:
    if not isinstance(model, Saveable):
        pytest.skip(f"{type(model).__name__} is not Saveable")
    loaded = resolve(model.save(tmp_path / "saved"))
    # a loaded copy may lay its weights out differently (and a judge starts with an empty
    # prefix cache): float32 round-off
    assert_fp32_close(_score(loaded, *inputs), _score(model, *inputs))


def test_mismatched_inputs_are_refused(model: RewardModel) -> None:
    with pytest.raises(ConfigError, match="must pair up"):
        model.score(["one", "two"], ["only one"])


@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_unknown_spec_options_are_refused(kind: str) -> None:
    with pytest.raises(SpecError, match="unknown option 'nonsense'"):
        resolve(f"{kind}:minilm?nonsense=1")
