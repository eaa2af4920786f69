"""verl's ``compute_score`` and the TRL reward function give the verifier's rewards."""

from __future__ import annotations

import pytest

from rewardlab.data import load_dataset
from rewardlab.errors import ConfigError
from rewardlab.verify.rl import compute_score, make_math_reward, math_reward


@pytest.fixture(scope="module")
def gsm8k():
    return load_dataset("bundled:gsm8k_examples", limit=12)


def test_compute_score_matches_the_labels(gsm8k) -> None:
    for record in gsm8k:
        for text, ok in zip(record.responses, record.is_correct, strict=True):
            assert compute_score("openai/gsm8k", text, record.reference) == float(ok)


def test_compute_score_takes_a_bare_answer_and_extra_info() -> None:
    assert compute_score("openai/gsm8k", "so #### 72", "72", {"split": "test"}) == 1.0
    assert compute_score("openai/gsm8k", "so #### 72", 72) == 1.0  # numbers from parquet
    assert compute_score("openai/gsm8k", "no answer here", "72") == 0.0
    with pytest.raises(ConfigError, match="ground_truth=None"):
        compute_score("openai/gsm8k", "#### 72", None)  # type: ignore[arg-type]


def test_trl_reward_function_reads_the_reference_column(gsm8k) -> None:
    completions = [text for r in gsm8k for text in r.responses]
    answers = [r.reference for r in gsm8k for _ in r.responses]
    labels = [float(ok) for r in gsm8k for ok in r.is_correct]
    prompts = [r.prompt for r in gsm8k for _ in r.responses]
    for column in ("ground_truth", "answer", "reference", "solution"):
        assert math_reward(prompts=prompts, completions=completions, **{column: answers}) \
            == labels
    assert math_reward.__name__ == "math_reward"  # TRL logs rewards under this name


def test_trl_conversational_completions_and_options() -> None:
    reward = make_math_reward(format_score=0.1)
    completions = [[{"role": "assistant", "content": "#### 7"}],
                   [{"role": "assistant", "content": "#### 8"}]]
    assert reward(prompts=[[], []], completions=completions, answer=["7", "7"],
                  completion_ids=[[1], [2]]) == [1.0, 0.1]


def test_trl_reward_function_errors_name_the_fix() -> None:
    with pytest.raises(ConfigError,
                       match=r"column named 'reference', 'ground_truth'.*got columns question"):
        math_reward(prompts=["q"], completions=["#### 7"], question=["q"])
    with pytest.raises(ConfigError, match="`answer` has 2 entries but there are 1"):
        math_reward(prompts=["q"], completions=["#### 7"], answer=["7", "8"])
    with pytest.raises(ConfigError, match="must be a string or a list of messages"):
        math_reward(prompts=["q"], completions=[42], answer=["7"])
