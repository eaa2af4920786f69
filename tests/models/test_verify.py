"""``verify:math`` as a reward model: specs, the reference protocol, saving."""

from __future__ import annotations

import numpy as np
import pytest

from rewardlab import resolve
from rewardlab.errors import CapabilityError, ConfigError, SpecError
from rewardlab.models.base import ReferenceScorer, RewardModel, Saveable, Trainable
from rewardlab.models.verify import MathVerifier


def test_spec_options_reach_the_config() -> None:
    model = resolve("verify:math?format_score=0.2&fallback=last-number&timeout=0.5")
    assert isinstance(model, MathVerifier) and model.spec.startswith("verify:math")
    assert (model.config.format_score, model.config.fallback, model.config.timeout) == \
        (0.2, "last-number", 0.5)
    assert isinstance(model, RewardModel) and isinstance(model, ReferenceScorer)
    assert isinstance(model, Saveable) and not isinstance(model, Trainable)


@pytest.mark.parametrize(("spec", "error", "needle"), [
    ("verify:regex", SpecError, "unknown verifier 'regex' in 'verify:regex'; known: math"),
    ("verify:math?format_score=x", SpecError, "option 'format_score' in 'verify:math"),
    ("verify:math?format_score=1.5", ConfigError, "'format_score' parameter of VerifyConfig"),
    ("verify:math?fallback=first", ConfigError, "one of 'none', 'last-number'"),
])
def test_bad_specs(spec: str, error: type, needle: str) -> None:
    with pytest.raises(error, match=needle.replace("?", r"\?").replace("(", r"\(")):
        resolve(spec)


def test_score_without_references_says_what_to_do() -> None:
    model = resolve("verify:math")
    with pytest.raises(CapabilityError, match=r"call score_with_references.*'reference'"):
        model.score(["q"], ["#### 4"])


def test_score_with_references() -> None:
    model = resolve("verify:math?format_score=0.1")
    rewards = model.score_with_references(
        ["q"] * 4, ["#### 4", "A: 5", "\\boxed{4.0}", "no answer"], ["4", "4", "#### 4", "4"])
    assert rewards.dtype == np.float64
    assert rewards.tolist() == [1.0, 0.1, 1.0, 0.0]
    verdicts = model.verdicts(["q"], ["no answer"], ["4"])
    assert verdicts[0].reason == "no-answer"


def test_references_must_pair_up_and_be_text() -> None:
    model = resolve("verify:math")
    with pytest.raises(ConfigError, match="must pair up"):
        model.score_with_references(["q", "q"], ["#### 4", "#### 5"], ["4"])
    with pytest.raises(ConfigError, match=r"references\[1\] is None"):
        model.score_with_references(["q", "q"], ["#### 4", "#### 5"], ["4", None])


def test_save_and_load(tmp_path) -> None:
    model = resolve("verify:math?format_score=0.25")
    loaded = resolve(model.save(tmp_path / "verifier"))
    assert isinstance(loaded, MathVerifier) and loaded.config == model.config
