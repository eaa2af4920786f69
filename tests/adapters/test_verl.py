"""verl adapter, loaded from its file and called as verl's reward managers call it.

verl's ``get_custom_reward_fn`` imports ``custom_reward_function.path`` as a file, fetches
``custom_reward_function.name`` and wraps it so ``reward_kwargs`` from the config are merged
into every call; the naive manager calls it per sample with ``data_source``,
``solution_str``, ``ground_truth`` and ``extra_info`` keywords (from a worker thread), the
batch manager with ``data_sources``, ``solution_strs``, ``ground_truths``, ``extra_infos``.
A dict result must hold ``score``; its other keys are logged.
"""

from __future__ import annotations

import functools
import importlib.util
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rewardlab.adapters.verl as verl_adapter
from _tolerance import FP32, fp32_approx
from rewardlab.adapters import VerlScorer
from rewardlab.errors import ConfigError


def load_like_verl(path: str, name: str = "compute_score",
                   reward_kwargs: dict[str, Any] | None = None):
    """verl's ``get_custom_reward_fn``: file import, attribute, kwargs merged in."""
    spec = importlib.util.spec_from_file_location("custom_module", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["custom_module"] = module
    try:
        spec.loader.exec_module(module)
    finally:
        sys.modules.pop("custom_module", None)
    raw = getattr(module, name)

    def call_with_kwargs(raw_fn, extra_kwargs, *args, **kwargs):
        return raw_fn(*args, **{**kwargs, **extra_kwargs})

    return functools.partial(call_with_kwargs, raw, dict(reward_kwargs or {}))


def naive_manager_call(fn, solution_str: str, ground_truth: Any, extra_info: dict) -> Any:
    """The per-sample call, from a worker thread as ``loop.run_in_executor`` makes it."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: fn(data_source="hh", solution_str=solution_str,
                                      ground_truth=ground_truth,
                                      extra_info=extra_info)).result()


@pytest.fixture(autouse=True)
def fresh_scorers():
    verl_adapter._scorer.cache_clear()
    yield
    verl_adapter._scorer.cache_clear()


# Per-sample calls come from worker threads, where the embedding cache (a thread-bound SQLite
# connection) warns and switches itself off; scores are unaffected.
@pytest.mark.filterwarnings("error:embedding cache at")  # scoring from threads keeps the cache
def test_file_scores_like_the_model(monkeypatch, small_rm, small_rm_dir, hh_texts,
                                    chat) -> None:
    prompts, responses = hh_texts
    monkeypatch.setenv("REWARDLAB_REWARD_SPEC", str(small_rm_dir))
    fn = load_like_verl(verl_adapter.__file__)
    expected = small_rm.score(prompts[:3], responses[:3])
    for i in range(3):
        out = naive_manager_call(fn, responses[i], None,
                                 {"prompt": chat(prompts[i]), "index": i, "split": "train"})
        assert set(out) == {"score", "small_rm"}
        assert isinstance(out["score"], float)
        assert out["score"] == fp32_approx(expected[i])
    # the text of the question works too (what verl's GSM8K preprocessing stores)
    plain = fn(data_source="hh", solution_str=responses[0], ground_truth=None,
               extra_info={"question": prompts[0][-1].content})
    assert plain["score"] == fp32_approx(
        small_rm.score([prompts[0][-1].content], responses[:1])[0])


def test_batch_manager_call_and_reward_kwargs_spec(small_rm, small_rm_dir, hh_texts) -> None:
    prompts, responses = hh_texts
    questions = [p[-1].content for p in prompts[:4]]
    fn = load_like_verl(verl_adapter.__file__,
                        reward_kwargs={"reward_spec": str(small_rm_dir)})  # no env var
    out = fn(data_sources=["hh"] * 4, solution_strs=responses[:4], ground_truths=[None] * 4,
             extra_infos=[{"question": q} for q in questions])
    assert isinstance(out, list) and len(out) == 4
    np.testing.assert_allclose([o["score"] for o in out],
                               small_rm.score(questions, responses[:4]), **FP32)


def test_gdpo_keys_and_references(exact_match, length_model) -> None:
    scorer = VerlScorer({"acc": exact_match, "len": length_model()},
                        weights={"acc": 1.0, "len": -0.1})
    out = scorer(data_source="gsm8k", solution_str="42", ground_truth=42,
                 extra_info={"question": "6*7?"})
    assert out == {"score": pytest.approx(0.8), "acc": 1.0, "len": 2.0}
    grouped = VerlScorer({"acc": exact_match, "len": length_model()}, normalize="group")
    batch = grouped(solution_strs=["42", "41", "4", "42"], ground_truths=["42"] * 4,
                    extra_infos=[{"question": "6*7?"}] * 4)
    assert abs(sum(o["score"] for o in batch)) < 1e-9
    with pytest.raises(ConfigError, match="cannot work one response at a time"):
        grouped(data_source="gsm8k", solution_str="42", ground_truth="42",
                extra_info={"question": "6*7?"})


def test_verifier_needs_no_prompt_but_a_reward_model_does(small_rm_dir, exact_match) -> None:
    assert VerlScorer(exact_match)(solution_str="7", ground_truth="7",
                                   extra_info={"index": 0})["score"] == 1.0
    with pytest.raises(ConfigError, match=r"no prompt.*keys: \['index'\].*REWARDLAB_PROMPT_KEY"):
        VerlScorer(small_rm_dir)(solution_str="hi", ground_truth=None,
                                 extra_info={"index": 0})
    with pytest.raises(ConfigError, match="extra_info has no 'instruction'"):
        VerlScorer(small_rm_dir, prompt_key="instruction")(
            solution_str="hi", ground_truth=None, extra_info={"question": "q"})


def test_env_spec_json_and_errors(monkeypatch, exact_match) -> None:
    monkeypatch.delenv("REWARDLAB_REWARD_SPEC", raising=False)
    with pytest.raises(ConfigError, match="set REWARDLAB_REWARD_SPEC"):
        verl_adapter.compute_score("gsm8k", "1", "1")
    if "verify" not in __import__("rewardlab").known_kinds():
        pytest.skip("verify:math is not registered in this checkout")
    monkeypatch.setenv("REWARDLAB_REWARD_SPEC",
                       '[{"spec": "verify:math", "name": "acc", "weight": 2}]')
    out = verl_adapter.compute_score("openai/gsm8k", "so #### 72", "72", {"index": 1})
    assert out == {"score": 2.0, "acc": 1.0}
    monkeypatch.setenv("REWARDLAB_REWARD_SPEC", '{"rewards": ["verify:math"], "scale": 1}')
    with pytest.raises(ConfigError, match="unknown options \\['scale'\\]"):
        verl_adapter.compute_score("openai/gsm8k", "#### 72", "72")


def test_the_file_needs_no_package_context() -> None:
    """verl imports the file by path, so it may only use absolute imports."""
    source = Path(verl_adapter.__file__).read_text()
    assert "from ." not in source and "import ." not in source
