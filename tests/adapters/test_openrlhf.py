"""OpenRLHF adapter, loaded from its file and consumed as OpenRLHF consumes reward_func.

OpenRLHF imports a ``--remote_rm_url`` ending in ``.py`` with
``spec_from_file_location("reward_func", path)`` and calls ``reward_func(queries, prompts,
labels)``. Version 0.8 concatenates the returned ``rewards``, ``scores`` and every
``extra_logs`` value with ``torch.cat(..., dim=0)`` across chunks and splits them per sample;
later versions call it one sample at a time from worker threads (``asyncio.to_thread``) and
read ``extra_logs`` values with ``value.flatten()[0].item()``.
"""

from __future__ import annotations

import asyncio
import importlib.util

import numpy as np
import pytest

import rewardlab.adapters.openrlhf as openrlhf_adapter
from _tolerance import assert_fp32_close
from rewardlab.adapters import OpenRLHFRewardFunc
from rewardlab.adapters._text import response_from_query
from rewardlab.errors import ConfigError

torch = pytest.importorskip("torch")
TEMPLATE = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"


def load_like_openrlhf(path: str):
    spec = importlib.util.spec_from_file_location("reward_func", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.reward_func


def consume_v08(chunks: list[dict], sizes: list[int]) -> tuple[list, list, dict]:
    """OpenRLHF 0.8's ``update_samples_with_rewards``: concatenate chunks, split per sample."""
    rewards = torch.cat([c["rewards"] for c in chunks], dim=0).split(sizes)
    scores = torch.cat([c["scores"] for c in chunks], dim=0).split(sizes)
    logs = {k: torch.cat([c["extra_logs"][k] for c in chunks], dim=0).split(sizes)
            for k in chunks[0]["extra_logs"]}
    return list(rewards), list(scores), logs


@pytest.fixture(autouse=True)
def fresh_funcs():
    openrlhf_adapter._func.cache_clear()
    yield
    openrlhf_adapter._func.cache_clear()


def test_file_contract_in_chunks(monkeypatch, small_rm, small_rm_dir, hh_texts) -> None:
    prompts, responses = hh_texts
    questions = [TEMPLATE.format(p[-1].content) for p in prompts[:4]]
    queries = [q + r + "<|im_end|>" + "<|endoftext|>" * 2 for q, r in
               zip(questions, responses, strict=False)]
    monkeypatch.setenv("REWARDLAB_REWARD_SPEC", str(small_rm_dir))
    reward_func = load_like_openrlhf(openrlhf_adapter.__file__)
    chunks = [reward_func(queries[:3], questions[:3], [None] * 3),
              reward_func(queries[3:], questions[3:], [None])]
    for c in chunks:
        assert set(c) == {"rewards", "scores", "extra_logs"}
        assert c["rewards"].dtype == torch.float32 and c["rewards"].ndim == 1
        assert c["scores"].dtype == torch.float32
    rewards, scores, logs = consume_v08(chunks, [3, 1])
    expected = small_rm.score(questions, responses[:4])  # end tokens stripped
    assert_fp32_close(torch.cat(rewards).numpy(), expected)
    assert torch.equal(torch.cat(scores), torch.cat(rewards))
    assert set(logs) == {"small_rm"}


# Later OpenRLHF calls from worker threads, where the embedding cache (a thread-bound SQLite
# connection) warns and switches itself off; scores are unaffected.
@pytest.mark.filterwarnings("error:embedding cache at")  # scoring from threads keeps the cache
def test_one_sample_at_a_time_from_threads(monkeypatch, small_rm, small_rm_dir,
                                           hh_texts) -> None:
    prompts, responses = hh_texts
    questions = [TEMPLATE.format(p[-1].content) for p in prompts[:4]]
    monkeypatch.setenv("REWARDLAB_REWARD_SPEC", str(small_rm_dir))
    reward_func = load_like_openrlhf(openrlhf_adapter.__file__)

    async def rollout_and_reward():
        return await asyncio.gather(*(asyncio.to_thread(reward_func, [q + r], [q], [None])
                                      for q, r in zip(questions, responses, strict=False)))

    infos = asyncio.run(rollout_and_reward())
    got = []
    for info in infos:  # RolloutAndRewardWorker.run + _process_response_into_experience
        reward = info.get("rewards")
        score = info.get("scores") or info.get("rewards")
        got.append(torch.tensor([reward]).item())
        assert torch.tensor([score]).shape == (1,)
        assert {k: v.flatten()[0].item() for k, v in info["extra_logs"].items()}
    assert_fp32_close(got, small_rm.score(questions, responses[:4]))


def test_labels_reach_reference_models_and_scores_can_follow_one(exact_match,
                                                                 length_model) -> None:
    fn = OpenRLHFRewardFunc({"acc": exact_match, "len": length_model()},
                            weights=[1.0, -0.01], scores_from="acc")
    out = fn(["Q? 12</s>", "Q? 13</s>"], ["Q?", "Q?"], ["12", "12"])
    assert out["scores"].tolist() == [1.0, 0.0]  # the 0/1 accuracy, for dynamic filtering
    # exact terms, summed in float64, then a float32 tensor: its rounding (6e-8) only
    np.testing.assert_allclose(out["rewards"].numpy(), [1.0 - 0.03, -0.03], rtol=1e-6)
    assert out["extra_logs"]["len"].tolist() == [3.0, 3.0]
    with pytest.raises(ConfigError, match="judges responses against reference answers"):
        fn(["Q? 12"], ["Q?"], [None])
    with pytest.raises(ConfigError, match="scores_from names 'accuracy'"):
        OpenRLHFRewardFunc(exact_match, scores_from="accuracy")


def test_responses_are_cut_from_queries() -> None:
    assert response_from_query("<s>P: hi A: yo</s><pad><pad>", "P: hi A:", "q") == " yo"
    assert response_from_query("P: hi A: yo  ", "P: hi A:", "q") == " yo  "
    assert response_from_query("anything", "", "q") == "anything"
    with pytest.raises(ConfigError, match=r"queries\[3\]: the query does not contain its"):
        response_from_query("P: bye A: yo", "P: hi A:", "queries[3]")


def test_missing_spec_is_reported(monkeypatch) -> None:
    monkeypatch.delenv("REWARDLAB_REWARD_SPEC", raising=False)
    reward_func = load_like_openrlhf(openrlhf_adapter.__file__)
    with pytest.raises(ConfigError, match="set REWARDLAB_REWARD_SPEC"):
        reward_func(["q"], ["q"], [None])
