"""TRL adapter, called exactly as ``GRPOTrainer._calculate_rewards`` calls reward functions.

The helper ``call_like_trl`` rebuilds TRL 1.16's call: every dataset column but
``prompt``/``completion``/``completion_ids`` becomes a keyword list, plus ``trainer_state``,
``log_extra`` and ``log_metric``; ``None`` results become NaN; the list must have one entry
per completion and become a float32 tensor.
"""

from __future__ import annotations

import asyncio
import math
import pickle
from typing import Any

import numpy as np
import pytest

from _tolerance import FP32
from rewardlab.adapters import AsyncTRLRewardFunction, TRLRewardFunction, trl_reward_funcs
from rewardlab.errors import ConfigError, TrainingError

torch = pytest.importorskip("torch")


class Recorder:
    """Stands in for the trainer's ``log_metric`` / ``log_extra`` hooks."""

    def __init__(self) -> None:
        self.metrics: dict[str, float] = {}

    def log_metric(self, name: str, value: float) -> None:
        self.metrics[name] = value

    def log_extra(self, column: str, values: list) -> None:  # pragma: no cover - unused
        pass


def call_like_trl(func: Any, inputs: list[dict[str, Any]], completions: list[Any],
                  recorder: Recorder | None = None) -> list[float]:
    """``GRPOTrainer._calculate_rewards`` for one reward function (sync or async)."""
    from transformers import TrainerState

    recorder = recorder or Recorder()
    prompts = [x["prompt"] for x in inputs]
    completion_ids = [[1, 2, 3] for _ in completions]
    keys = [k for k in inputs[0] if k not in ["prompt", "completion", "completion_ids"]]
    reward_kwargs = {k: [example[k] for example in inputs] for k in keys}
    reward_kwargs["trainer_state"] = TrainerState()
    reward_kwargs["log_extra"] = recorder.log_extra
    reward_kwargs["log_metric"] = recorder.log_metric
    trl_utils = pytest.importorskip("trl.trainer.utils")
    if trl_utils.is_async_callable(func):
        output = asyncio.run(func(prompts=prompts, completions=completions,
                                  completion_ids=completion_ids, **reward_kwargs))
    else:
        output = func(prompts=prompts, completions=completions, completion_ids=completion_ids,
                      **reward_kwargs)
    output = [r if r is not None else torch.nan for r in output]
    assert len(output) == len(prompts)
    return torch.tensor(output, dtype=torch.float32).tolist()


def test_standard_format_matches_the_model(small_rm, small_rm_dir, hh_texts) -> None:
    prompts, responses = hh_texts
    text_prompts = [p[-1].content for p in prompts]  # TRL "standard" data: plain strings
    inputs = [{"prompt": p, "id": i} for i, p in enumerate(text_prompts)]
    reward = TRLRewardFunction(str(small_rm_dir))
    got = call_like_trl(reward, inputs, responses)
    np.testing.assert_allclose(got, small_rm.score(text_prompts, responses), **FP32)


def test_conversational_format_keeps_the_conversation(small_rm, small_rm_dir, hh_texts,
                                                      chat) -> None:
    prompts, responses = hh_texts
    inputs = [{"prompt": chat(p)} for p in prompts]
    completions = [[{"role": "assistant", "content": r}] for r in responses]
    got = call_like_trl(TRLRewardFunction(small_rm_dir), inputs, completions)
    np.testing.assert_allclose(got, small_rm.score(prompts, responses), **FP32)
    # content blocks and tool-use turns: the last assistant message is the response
    blocks = [[{"role": "assistant", "content": None, "tool_calls": [{"name": "f"}]},
               {"role": "tool", "content": "42"},
               {"role": "assistant", "content": [{"type": "text", "text": r}]}]
              for r in responses[:2]]
    np.testing.assert_allclose(call_like_trl(TRLRewardFunction(small_rm_dir), inputs[:2],
                                             blocks), got[:2], **FP32)


def test_trl_sees_a_named_sync_or_async_picklable_function(small_rm_dir) -> None:
    trl_utils = pytest.importorskip("trl.trainer.utils")
    sync, async_ = TRLRewardFunction(small_rm_dir), AsyncTRLRewardFunction(small_rm_dir)
    assert trl_utils.get_callable_name(sync) == "rewardlab_small_rm"
    assert trl_utils.get_callable_name(TRLRewardFunction("verify:math", name="acc")) == "acc"
    assert not trl_utils.is_async_callable(sync) and trl_utils.is_async_callable(async_)
    clone = pickle.loads(pickle.dumps(async_))  # TRL's async rollout worker pickles them
    assert trl_utils.is_async_callable(clone) and clone.__name__ == async_.__name__


# The async path scores in a worker thread, where the embedding cache (a thread-bound SQLite
# connection) warns and switches itself off; rewards are unaffected.
@pytest.mark.filterwarnings("error:embedding cache at")  # scoring from threads keeps the cache
def test_async_variant_gives_the_same_rewards(small_rm_dir, hh_texts) -> None:
    prompts, responses = hh_texts
    inputs = [{"prompt": p[-1].content} for p in prompts[:4]]
    sync = call_like_trl(TRLRewardFunction(small_rm_dir), inputs, responses[:4])
    np.testing.assert_allclose(
        call_like_trl(AsyncTRLRewardFunction(small_rm_dir), inputs, responses[:4]), sync,
        **FP32)


def test_reference_column_reaches_reference_models(exact_match) -> None:
    inputs = [{"prompt": "2+2?", "answer": 4, "solution": "wrong"},
              {"prompt": "2+2?", "answer": 4, "solution": "wrong"}]
    got = call_like_trl(TRLRewardFunction(exact_match), inputs, ["4", "5"])
    assert got == [1.0, 0.0]  # 'answer' comes before 'solution' in REFERENCE_KEYS
    named = TRLRewardFunction(exact_match, reference_key="solution")
    assert call_like_trl(named, inputs, ["wrong", "4"]) == [1.0, 0.0]
    with pytest.raises(ConfigError, match=r"none of the columns .*columns: \['id'\]"):
        call_like_trl(TRLRewardFunction(exact_match), [{"prompt": "q", "id": 1}], ["4"])
    with pytest.raises(ConfigError, match="column 'gold', which is not in this batch"):
        call_like_trl(TRLRewardFunction(exact_match, reference_key="gold"), inputs, ["4", "4"])


def test_nan_rewards_raise_or_become_none(length_model) -> None:
    inputs = [{"prompt": "p"}] * 3
    with pytest.raises(TrainingError, match="returned nan for sample 1"):
        call_like_trl(TRLRewardFunction(length_model(nan_at=[1])), inputs, ["a", "bb", "c"])
    lenient = TRLRewardFunction(length_model(nan_at=[1]), nan_policy="none")
    out = lenient(prompts=["p"] * 3, completions=["a", "bb", "c"])
    assert out == [1.0, None, 1.0]  # TRL reads None as "not applicable"
    assert math.isnan(call_like_trl(lenient, inputs, ["a", "bb", "c"])[1])


def test_combined_rewards_log_each_term(length_model, exact_match) -> None:
    rec = Recorder()
    reward = TRLRewardFunction({"len": length_model(), "acc": exact_match},
                               weights={"len": 0.1, "acc": 1.0}, normalize="group")
    inputs = [{"prompt": "q", "answer": "44"}] * 4
    got = call_like_trl(reward, inputs, ["44", "4", "444", "44"], rec)
    assert abs(sum(got)) < 1e-6  # one group, normalised: zero-sum up to float32 rounding
    assert got[0] == got[3] > got[1]
    assert rec.metrics == {"rewardlab_len+acc/len": 2.0, "rewardlab_len+acc/acc": 0.5}


def test_trl_reward_funcs_split_terms_for_trl_to_combine(exact_match, length_model) -> None:
    funcs, weights = trl_reward_funcs({"acc": exact_match, "len": length_model()},
                                      weights={"acc": 1.0, "len": -0.01})
    assert [f.__name__ for f in funcs] == ["acc", "len"] and weights == [1.0, -0.01]
    inputs = [{"prompt": "q", "answer": "7"}] * 2
    assert [call_like_trl(f, inputs, ["7", "77"]) for f in funcs] == [[1.0, 0.0], [1.0, 2.0]]


def test_mismatched_batches_are_refused(length_model) -> None:
    with pytest.raises(ConfigError, match="2 prompts but 1 completions"):
        TRLRewardFunction(length_model())(prompts=["a", "b"], completions=["x"])
    with pytest.raises(ConfigError, match=r"completions\[0\] must be text or a list"):
        TRLRewardFunction(length_model())(prompts=["a"], completions=[42])
