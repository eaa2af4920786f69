"""Reward models: the protocol, the registry of spec strings, and one module per kind."""

from rewardlab.models._clone import Composite, clone
from rewardlab.models._module import SaveLoadMixin
from rewardlab.models.base import RewardModel, Saveable, Trainable, require_capability
from rewardlab.models.embedding import EmbedConfig, EmbeddingRewardModel
from rewardlab.models.registry import (
    known_kinds,
    load_model,
    parse_spec,
    register_kind,
    resolve,
)

__all__ = [
    "Composite",
    "EmbedConfig",
    "EmbeddingRewardModel",
    "RewardModel",
    "SaveLoadMixin",
    "Saveable",
    "Trainable",
    "clone",
    "known_kinds",
    "load_model",
    "parse_spec",
    "register_kind",
    "require_capability",
    "resolve",
]
