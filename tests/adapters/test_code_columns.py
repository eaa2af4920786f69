"""verify:code through the TRL adapter: test columns become the reference."""

from __future__ import annotations

import pytest

from rewardlab.adapters import TRLRewardFunction
from rewardlab.errors import ConfigError

GOOD, BAD = "def inc(x):\n    return x + 1", "def inc(x):\n    return x"


@pytest.fixture(scope="module")
def reward() -> TRLRewardFunction:
    return TRLRewardFunction("verify:code?workers=1&timeout=5")


def test_mbpp_and_generic_columns(reward: TRLRewardFunction) -> None:
    tests = ["assert inc(1) == 2"]
    assert reward(prompts=["p", "p"], completions=[GOOD, BAD],
                  test_list=[tests, tests], test_imports=[[], []]) == [1.0, 0.0]
    assert reward(prompts=["p", "p"], completions=[BAD, GOOD], tests=[tests, tests]) == [0.0, 1.0]


def test_a_json_object_in_a_reference_column(reward: TRLRewardFunction) -> None:
    ref = {"tests": ["assert inc(1) == 2"]}
    assert reward(prompts=["p"], completions=[GOOD], ground_truth=[ref]) == [1.0]


def test_an_empty_test_column_names_the_sample(reward: TRLRewardFunction) -> None:
    with pytest.raises(ConfigError, match=r"sample 1: column 'tests'"):
        reward(prompts=["p", "p"], completions=[GOOD, GOOD],
               tests=[["assert inc(1) == 2"], []])
