"""``api.train`` dispatches on declared capabilities (``Resumable``, ``NoiseAware``) and hands
them one ``FitOptions``, instead of probing for flags."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from rewardlab import api
from rewardlab.data import Dataset, load_dataset
from rewardlab.errors import CapabilityError
from rewardlab.models.base import FitOptions, NoiseAware, Resumable, Trainable


@dataclasses.dataclass(frozen=True, kw_only=True)
class PlainConfig:
    seed: int = 0


class Plain:
    """Trainable only: records how it was fitted. Its config is declared, so ``clone`` (which
    co-filtering uses for its peers) can copy it like any kind."""

    def __init__(self, seed: int = 0) -> None:
        self.config = PlainConfig(seed=seed)
        self.seed = seed
        self.calls: list[tuple[str, Any]] = []

    def get_config(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config)

    def score(self, prompts, responses) -> np.ndarray:
        return np.array([float(len(r)) for r in responses])

    def fit(self, data: Dataset[Any]) -> Plain:
        self.calls.append(("fit", len(data)))
        return self


class Checkpointed(Plain):
    def fit_resumable(self, data: Dataset[Any], options: FitOptions) -> Checkpointed:
        self.calls.append(("fit_resumable", options))
        return self


class Robust(Plain):
    def fit_noise_aware(self, data: Dataset[Any], options: FitOptions) -> Robust:
        self.calls.append(("fit_noise_aware", options))
        self.noise_report_ = {"method": "planted", "rate": options.noise_rate}
        return self


@pytest.fixture(scope="module")
def pairs() -> Dataset[Any]:
    return load_dataset("bundled:hh_harmless", limit=12)


def test_kinds_declare_their_capabilities() -> None:
    from rewardlab.models.embedding import EmbeddingRewardModel
    from rewardlab.models.seq import SequenceRewardModel
    from rewardlab.models.vote import VoteRewardModel

    assert isinstance(SequenceRewardModel(), Resumable)
    assert not isinstance(EmbeddingRewardModel(), Resumable)
    assert isinstance(EmbeddingRewardModel(), NoiseAware)
    assert not isinstance(VoteRewardModel(), NoiseAware | Resumable)
    assert isinstance(Plain(), Trainable) and not isinstance(Plain(), Resumable | NoiseAware)


def test_a_resumable_kind_gets_the_fit_options(pairs) -> None:
    model = Checkpointed()
    api.train(model, pairs, eval_data=pairs, resume=True)
    ((method, options),) = model.calls
    assert method == "fit_resumable"
    assert options.resume is True and options.eval_data is pairs
    assert options.noise_rate == 0.0


def test_resume_needs_a_resumable_kind(pairs) -> None:
    with pytest.raises(CapabilityError, match="cannot --resume"):
        api.train(Plain(), pairs, resume=True)


def test_noise_robust_dispatches_on_noise_aware(pairs) -> None:
    model = Robust()
    result = api.train(model, pairs, noise_robust=True, noise_rate=0.3)
    ((method, options),) = model.calls
    assert method == "fit_noise_aware" and options.noise_rate == 0.3
    assert result.report["noise_filter"] == {"method": "planted", "rate": 0.3}
    plain = Plain()  # not NoiseAware: co-filtering with peers, then one ordinary fit
    result = api.train(plain, pairs, noise_robust=True, noise_rate=0.25)
    assert result.report["noise_filter"]["method"] == "co-filtering"
