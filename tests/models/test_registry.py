"""Spec strings and saved directories resolve in one place, with errors that list the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewardlab import (
    EmbeddingRewardModel,
    ModelFormatError,
    SpecError,
    UnknownKindError,
    known_kinds,
    resolve,
)
from rewardlab.errors import ConfigError
from rewardlab.models.registry import parse_spec


def test_parse_spec() -> None:
    assert parse_spec("embed:minilm?head=linear&epochs=3") == (
        "embed", "minilm", {"head": "linear", "epochs": "3"})
    assert parse_spec("embed:") == ("embed", "", {})


def test_unknown_kind_lists_the_known_ones() -> None:
    with pytest.raises(UnknownKindError, match=r"unknown model kind 'embd' in 'embd:minilm'; "
                                               r"known: embed"):
        resolve("embd:minilm")
    assert "embed" in known_kinds()


def test_spec_without_kind() -> None:
    with pytest.raises(SpecError, match="neither a model spec nor a saved model directory"):
        resolve("minilm")


def test_missing_directory() -> None:
    with pytest.raises(ModelFormatError, match="no model directory at out/nothing-here"):
        resolve("out/nothing-here")


def test_options_become_typed_config_fields() -> None:
    model = resolve("embed:minilm?head=linear&epochs=3&lr=0.01&features=reply,turn")
    assert isinstance(model, EmbeddingRewardModel)
    cfg = model.config
    assert (cfg.head, cfg.epochs, cfg.lr, cfg.features) == ("linear", 3, 0.01, ("reply", "turn"))
    assert model.spec == "embed:minilm?head=linear&epochs=3&lr=0.01&features=reply,turn"


@pytest.mark.parametrize(("spec", "error", "match"), [
    ("embed:minilm?heads=mlp", SpecError, "unknown option 'heads'.*options: batch_size"),
    ("embed:minilm?epochs=many", SpecError, "option 'epochs' .* must be a number"),
    ("embed:minilm?epochs=1&epochs=2", SpecError, "given twice"),
    ("embed:minilm?encoder=x", SpecError, "unknown option 'encoder'"),
    ("embed:minilm?head=deep", ConfigError,
     r"The 'head' parameter of EmbedConfig must be one of 'linear', 'mlp'. Got 'deep' instead."),
    ("embed:minilm?lr=-1", ConfigError, "'lr' parameter of EmbedConfig must be > 0"),
    ("embed:minilm?features=reply,prompt", ConfigError, "'features' parameter"),
])
def test_bad_options(spec: str, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        resolve(spec)


def test_unknown_encoder_is_reported_when_used() -> None:
    model = resolve("embed:/no/such/encoder")
    with pytest.raises(ConfigError, match="'encoder' parameter must be one of minilm"):
        _ = model.encoder.identity


def test_directory_without_manifest(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match="is not a saved rewardlab model"):
        resolve(tmp_path)


@pytest.mark.parametrize(("manifest", "match"), [
    ("{not json", "is corrupt"),
    ('{"format": 1}', "has no 'kind'"),
    ('{"format": 99, "kind": "embed", "config": {}}', "newer rewardlab"),
    ('{"format": 1, "kind": "unicorn", "config": {}}', "kind 'unicorn'.*known: embed"),
    ('{"format": 1, "kind": "embed", "config": {"head": "deep"}}', "bad config"),
    ('{"format": 1, "kind": "embed", "config": {}}', "missing model.safetensors"),
])
def test_corrupt_model_directories(tmp_path: Path, manifest: str, match: str) -> None:
    (tmp_path / "rewardlab.json").write_text(manifest)
    with pytest.raises(ModelFormatError, match=match):
        resolve(str(tmp_path))


def test_corrupt_weights(tmp_path: Path) -> None:
    (tmp_path / "rewardlab.json").write_text(json.dumps(
        {"format": 1, "kind": "embed", "config": {}}))
    (tmp_path / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ModelFormatError, match=r"model\.safetensors is corrupt"):
        resolve(str(tmp_path))
