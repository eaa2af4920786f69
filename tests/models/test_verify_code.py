"""verify:code as a kind: spec, contract, save/load, and the errors it documents."""

from __future__ import annotations

import pytest

from rewardlab import CapabilityError, ConfigError, SpecError, load_model, resolve
from rewardlab.models.verify_code import CodeVerifier
from rewardlab.testing import check_reward_model

REF = '{"tests": ["assert inc(1) == 2", "assert inc(-1) == 0"]}'
RESPONSES = ["def inc(x):\n    return x + 1", "def inc(x):\n    return x", "",
             "```python\ndef inc(x):\n    return 1 + x\n```", "def inc(x):\n    return x + 1"]


def test_verify_code_passes_the_reward_model_contract(tmp_path) -> None:
    ran = check_reward_model(resolve("verify:code?timeout=5&workers=1"), prompts=["q"] * 5,
                             responses=RESPONSES, references=[REF] * 5, directory=tmp_path)
    assert "save_load" in ran and "deterministic" in ran


def test_spec_options_partial_rewards_and_round_trip(tmp_path) -> None:
    model = resolve("verify:code?partial=true&timeout=5&workers=1")
    assert isinstance(model, CodeVerifier) and model.config.partial
    half = "def inc(x):\n    return abs(x) + 1"  # right for 1, wrong for -1
    assert model.score_with_references(["q"] * 2, [RESPONSES[0], half], [REF] * 2).tolist() == [
        1.0, 0.5]
    loaded = load_model(model.save(tmp_path / "code"))
    assert isinstance(loaded, CodeVerifier) and loaded.config == model.config


def test_documented_errors() -> None:
    with pytest.raises(SpecError, match="unknown option 'timeot'"):
        resolve("verify:code?timeot=3")
    with pytest.raises(ConfigError, match="'url' parameter"):
        resolve("verify:code?backend=sandbox-fusion")
    with pytest.raises(CapabilityError, match="unit tests"):
        resolve("verify:code").score(["q"], ["x"])
    with pytest.raises(ConfigError, match=r"references\[0\].*names no tests"):
        resolve("verify:code").score_with_references(["q"], ["x"], ['{"answer": "4"}'])
