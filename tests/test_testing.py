"""``check_reward_model`` catches each way a kind can break the contract, and names the check.

The kinds here are tiny numpy models, each broken in exactly one way; a sound one passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from rewardlab.errors import NotFittedError
from rewardlab.models import SaveLoadMixin, clone, known_kinds, registry
from rewardlab.testing import ContractError, check_reward_model


@dataclass(frozen=True, kw_only=True)
class LenConfig:
    scale: float = 0.01


class LengthModel(SaveLoadMixin):
    """Sound: reward proportional to the reply's length; learns an offset."""

    kind = "test-length"
    config_class = LenConfig
    saves_weights = True

    def fit(self, data: Any) -> LengthModel:
        self.offset_ = np.array([float(len(data))])
        return self

    def score(self, prompts, responses) -> np.ndarray:
        if getattr(self, "offset_", None) is None:
            raise NotFittedError("LengthModel is not fitted: call fit(data) first")
        lengths = [len(r) for _, r in zip(prompts, responses, strict=True)]
        return self.config.scale * np.array(lengths, dtype=np.float64) + self.offset_[0]

    def saved_tensors(self) -> dict[str, Any]:
        return {"offset": self.offset_}

    def restore(self, tensors: dict[str, Any], state: dict[str, Any]) -> None:
        self.offset_ = tensors["offset"].numpy()


@pytest.fixture(autouse=True)
def registered(monkeypatch: pytest.MonkeyPatch):
    """Registers a class as ``test-length`` for this test only (so round trips load it, and
    no other test sees an extra kind)."""
    known_kinds()  # built-ins first, so teardown removes only the test kind

    def register(cls: type) -> None:
        monkeypatch.setitem(registry._KINDS, "test-length", cls)

    register(LengthModel)
    return register


def fitted(cls: type = LengthModel, **params: Any) -> Any:
    return cls(**params).fit([1, 2, 3])


def test_a_sound_kind_passes_every_check() -> None:
    assert check_reward_model(fitted()) == [
        "protocol", "scores", "mismatched_inputs", "deterministic", "order_invariance",
        "batch_invariance", "clone", "save_load", "manifest"]


def test_a_factory_is_checked_unfitted_then_fitted() -> None:
    ran = check_reward_model(LengthModel, data=[1, 2])
    assert ran[:2] == ["protocol", "not_fitted"]


def test_a_factory_of_a_trainable_kind_needs_data() -> None:
    with pytest.raises(TypeError, match="pass data="):
        check_reward_model(LengthModel)


class ReturnsList(LengthModel):
    def score(self, prompts, responses):  # type: ignore[override]
        return super().score(prompts, responses).tolist()


class WrongShape(LengthModel):
    def score(self, prompts, responses):  # type: ignore[override]
        return super().score(prompts, responses)[:, None]


class ScoresBeforeFit(LengthModel):
    offset_ = np.zeros(1)


class IgnoresMismatch(LengthModel):
    def score(self, prompts, responses):  # type: ignore[override]
        return super().score(list(prompts)[:len(responses)], responses)


class Noisy(LengthModel):
    def score(self, prompts, responses):  # type: ignore[override]
        return super().score(prompts, responses) + np.random.default_rng().normal(
            0, 1e-12, len(responses))


class BatchDependent(LengthModel):
    """Centres rewards on the batch: a score that depends on its neighbours."""

    def score(self, prompts, responses):  # type: ignore[override]
        out = super().score(prompts, responses)
        return out - out.mean() if len(out) else out


class OrderDependent(LengthModel):
    def score(self, prompts, responses):  # type: ignore[override]
        return super().score(prompts, responses) + 1e-3 * np.arange(len(responses))


class LosesWeights(LengthModel):
    def restore(self, tensors: dict[str, Any], state: dict[str, Any]) -> None:
        self.offset_ = np.zeros(1)


class NoConfig(LengthModel):
    """Keeps its settings in plain attributes: nothing says how to rebuild it."""

    def __init__(self, scale: float = 0.01) -> None:
        self.scale, self.offset_ = scale, np.zeros(1)

    def score(self, prompts, responses):  # type: ignore[override]
        return self.scale * np.array([len(r) for _, r in zip(prompts, responses, strict=True)],
                                     dtype=np.float64)


class KeepsLearnedState(LengthModel):
    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        self.vocabulary_ = ["learned"]  # set by the constructor, so clone keeps it


@pytest.mark.parametrize(("broken", "check", "message"), [
    (ReturnsList, "scores", "returned list"),
    (WrongShape, "scores", r"shape \(7, 1\)"),
    (IgnoresMismatch, "mismatched_inputs", "must pair up"),
    (Noisy, "deterministic", "same call twice"),
    (BatchDependent, "batch_invariance", "small batches"),
    (OrderDependent, "order_invariance", "another order"),
    (LosesWeights, "save_load", "round trip"),
    (KeepsLearnedState, "clone", "kept learned state .vocabulary_"),
])
def test_each_broken_kind_fails_the_check_it_breaks(broken: type, check: str, message: str,
                                                    registered) -> None:
    registered(broken)  # so the round trip loads this class
    with pytest.raises(ContractError, match=message) as info:
        check_reward_model(fitted(broken))
    assert info.value.check == check
    assert isinstance(info.value, AssertionError)
    assert f"check '{check}' failed for model '{broken.__name__}'" in str(info.value)


def test_scoring_before_fit_is_caught_from_a_factory() -> None:
    with pytest.raises(ContractError, match="before fit returned scores") as info:
        check_reward_model(ScoresBeforeFit, data=[1])
    assert info.value.check == "not_fitted"


def test_a_kind_without_a_config_cannot_be_cloned() -> None:
    with pytest.raises(ContractError, match="declares no config") as info:
        check_reward_model(NoConfig())
    assert info.value.check == "clone"


def test_round_off_is_tolerated_but_not_more(registered) -> None:
    """fp32 round-off (a relative 1e-7) in a batch passes; 1e-4 does not."""

    class RoundOff(LengthModel):
        jitter = 1e-7

        def score(self, prompts, responses):  # type: ignore[override]
            out = super().score(prompts, responses)
            return out * (1 + self.jitter * (len(out) % 2))

    registered(RoundOff)
    assert "batch_invariance" in check_reward_model(fitted(RoundOff))
    RoundOff.jitter = 1e-4
    with pytest.raises(ContractError, match="beyond fp32 round-off") as info:
        check_reward_model(fitted(RoundOff))
    assert info.value.check == "batch_invariance"


def test_clone_gives_an_unfitted_copy_with_overrides() -> None:
    model = fitted(scale=0.5)
    copy = clone(model, scale=2.0)
    assert copy.config.scale == 2.0 and model.config.scale == 0.5
    assert not hasattr(copy, "offset_")


def test_something_that_is_not_a_model_fails_the_protocol_check() -> None:
    with pytest.raises(ContractError, match="has no score") as info:
        check_reward_model(object())
    assert info.value.check == "protocol"
