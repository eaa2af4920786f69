"""``clone``: a fresh, unfitted model with the same config, overrides validated."""

from __future__ import annotations

import pytest

from rewardlab import CapabilityError, ConfigError, clone, resolve
from rewardlab.models.embedding import EmbeddingRewardModel
from rewardlab.models.ensemble import EnsembleRewardModel
from rewardlab.models.vote import VoteRewardModel


def test_a_clone_of_a_trained_model_is_unfitted_with_its_settings(trained_embed) -> None:
    copy = clone(trained_embed)
    assert type(copy) is EmbeddingRewardModel and copy is not trained_embed
    assert copy.get_config() == trained_embed.get_config()
    assert copy.spec == trained_embed.spec and copy.cache == trained_embed.cache
    assert getattr(copy, "head_", None) is None
    assert trained_embed.head_ is not None  # the original is untouched


def test_overrides_go_through_the_configs_own_validation() -> None:
    model = EmbeddingRewardModel(cache=False, epochs=5)
    assert clone(model, seed=3).config.seed == 3
    assert clone(model, seed=3).cache is False
    with pytest.raises(ConfigError, match="The 'lr' parameter of EmbedConfig must be > 0"):
        clone(model, lr=-1.0)
    with pytest.raises(ConfigError, match="option 'epoch', which model 'EmbeddingRewardModel' "
                                          "does not have; its options: batch_size"):
        clone(model, epoch=3)


def test_a_composite_clones_its_members_and_passes_them_unknown_options() -> None:
    vote = resolve("vote:(embed:minilm?head=linear)?tiebreak=0.25")
    copy = clone(vote, epochs=7)
    assert isinstance(copy, VoteRewardModel) and copy.tiebreak == 0.25
    assert copy.orm is not vote.orm
    assert copy.orm.config.epochs == 7 and copy.orm.config.head == "linear"
    assert clone(vote, tiebreak=0.5).orm.config.epochs == vote.orm.config.epochs
    ensemble = EnsembleRewardModel([EmbeddingRewardModel(), EmbeddingRewardModel(seed=1)],
                                   agg="min")
    copies = clone(ensemble, lr=0.01)
    assert copies.config.agg == "min"
    assert [m.config.seed for m in copies.members] == [0, 1]
    assert {m.config.lr for m in copies.members} == {0.01}


def test_an_option_a_vote_without_orm_lacks_is_refused() -> None:
    with pytest.raises(ConfigError, match="option 'epochs', which model 'vote:' does not "
                                          "have; its options: tiebreak"):
        clone(resolve("vote:"), epochs=2)


def test_a_model_without_a_declared_config_cannot_be_cloned() -> None:
    class Bare:
        def score(self, prompts, responses): ...

    with pytest.raises(CapabilityError, match="model 'Bare' cannot be cloned: it declares no "
                                              "config"):
        clone(Bare())


def test_a_judge_clone_keeps_backend_and_target() -> None:
    judge = resolve("judge:default?n_ctx=256&swap=true")
    copy = clone(judge, reason=True)
    assert (copy.backend_name, copy.target) == ("hf", "default")
    assert copy.config.swap and copy.config.reason and not judge.config.reason
    assert copy._engine is None  # nothing loaded yet
