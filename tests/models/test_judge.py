"""``judge:`` with the real default model (SmolLM2-135M-Instruct, shipped in a wheel) on the
in-process backends: specs, scores from verdict-token probabilities, prefix reuse that changes
cost but not results, rationales, truncation, and bad model paths."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest

from rewardlab import resolve
from rewardlab.errors import CapabilityError, ConfigError, ModelFormatError, SpecError
from rewardlab.judge import PairJudgment
from rewardlab.judge._verdict import GRADES
from rewardlab.llm import default_gguf
from rewardlab.models.judge import LLMJudge, ReferenceLLMJudge

QUESTION = "What is the capital of France?"
LONG_QUESTION = ("I am planning a trip through Europe next spring and would like to see the "
                 "most famous museums, the old town squares and a few good markets. " * 6
                 + "Anyway, what is the capital of France?")

try:
    import llama_cpp  # noqa: F401

    HAS_LLAMA = True
except ImportError:
    HAS_LLAMA = False
needs_llama = pytest.mark.skipif(not HAS_LLAMA, reason="llama-cpp-python is not installed "
                                 "(the Makefile installs it from ../shared/wheels when present)")


@pytest.fixture(scope="module")
def judge() -> LLMJudge:
    return resolve("judge:default?n_ctx=1024")


def test_specs_resolve_without_loading_anything() -> None:
    j = resolve("judge:default?swap=true&rubric=harmlessness")
    assert isinstance(j, LLMJudge) and j._engine is None
    assert (j.backend_name, j.target, j.config.swap) == ("hf", "default", True)
    assert resolve("judge:gguf:default").backend_name == "gguf"
    assert isinstance(resolve("judge:default?mode=reference"), ReferenceLLMJudge)
    o = resolve("judge:openai:http://127.0.0.1:9/v1#m?concurrency=2")
    assert (o.backend_name, o.target, o.config.concurrency) == (
        "openai", "http://127.0.0.1:9/v1#m", 2)


@pytest.mark.parametrize(("spec", "error", "match"), [
    ("judge:llama:x.gguf", SpecError, "judge:default, judge:hf:PATH"),
    ("judge:default?mode=essay", ConfigError, "'mode' parameter of JudgeConfig"),
    ("judge:default?swap=maybe", SpecError, "true or false"),
    ("judge:hf:/no/such/model.gguf", ModelFormatError, "no model at /no/such/model.gguf"),
    ("judge:openai:localhost:8000#m", ConfigError, "http"),
])
def test_bad_specs(spec: str, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        resolve(spec)


def test_bad_model_files(tmp_path: Path) -> None:
    text = tmp_path / "model.gguf"
    text.write_text("not a model")
    with pytest.raises(ModelFormatError, match="not a GGUF file"):
        resolve(f"judge:gguf:{text}")
    with pytest.raises(ModelFormatError, match="not a GGUF file"):
        resolve(f"judge:hf:{text}")
    with pytest.raises(ModelFormatError, match=r"no config\.json"):
        resolve(f"judge:hf:{tmp_path}")


def test_default_model_ships_in_a_wheel() -> None:
    path = default_gguf()
    assert path.suffix == ".gguf" and path.stat().st_size > 50_000_000
    assert path.open("rb").read(4) == b"GGUF"


def test_gguf_is_dequantised_once_and_cached(judge: LLMJudge, session_cache: Path) -> None:
    assert judge.engine is not None  # loads (and on first use dequantises) the model
    cached = list((session_cache / "judge-models").glob("*/model.safetensors"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime
    start = time.perf_counter()
    assert resolve("judge:default").engine is not None
    assert cached[0].stat().st_mtime == stamp  # read, not made again
    assert time.perf_counter() - start < 60


def test_compare_gives_probabilities_and_swap_controls_position(judge: LLMJudge) -> None:
    p = judge.compare([QUESTION] * 2, ["Paris.", "Berlin."], ["Berlin.", "Paris."], swap=False)
    assert p.dtype == np.float64 and p.shape == (2,)
    assert np.all((p > 0) & (p < 1))
    judged = judge.judge_pairs([QUESTION], ["Paris."], ["Berlin."], swap=True)[0]
    assert isinstance(judged, PairJudgment) and judged.backward is not None
    assert judged.p == pytest.approx((judged.forward.value + 1 - judged.backward.value) / 2)
    assert judged.forward.value == pytest.approx(p[0], abs=1e-5)  # forward = the plain order
    assert set(judged.forward.probs) == {"A", "B"}


def test_scores_are_expected_grades(judge: LLMJudge) -> None:
    scores = judge.score([QUESTION, QUESTION], ["Paris.", "Berlin."])
    assert scores.shape == (2,) and np.all((scores >= 1) & (scores <= 10))
    verdict = judge.grade([QUESTION], ["Paris."])[0]
    assert set(verdict.probs) == set(GRADES)
    assert sum(verdict.probs.values()) <= 1 + 1e-6  # "1" and "10" split, not double-counted


def test_prefix_reuse_changes_cost_not_results(judge: LLMJudge) -> None:
    backend = judge.engine.backend
    args = ([LONG_QUESTION] * 2, ["Paris.", "It is Lyon."], ["Berlin.", "Paris, of course."])
    backend.reset()
    before = backend.tokens_run
    warm = judge.compare(*args, swap=True)
    reused = backend.tokens_run - before
    backend.reuse_prefix = False
    try:
        backend.reset()
        before = backend.tokens_run
        cold = judge.compare(*args, swap=True)
        fresh = backend.tokens_run - before
    finally:
        backend.reuse_prefix = True
    # a reused prefix sends the rest through matrices of other shapes: float32 round-off
    # accumulated through 30 layers and a softmax, not the 1e-5 of a shallow network
    np.testing.assert_allclose(warm, cold, atol=2e-4)
    assert reused < 0.45 * fresh  # the swapped order re-reads only the responses


def test_rationale_comes_before_the_verdict() -> None:
    j = resolve("judge:default?reason=true&max_reason_tokens=24&n_ctx=1024")
    judged = j.judge_pairs([QUESTION], ["Paris."], ["Berlin."])[0]
    assert isinstance(judged.forward.rationale, str) and judged.forward.rationale
    assert 0 <= judged.p <= 1


def test_long_prompts_are_cut_with_a_warning(judge: LLMJudge) -> None:
    short = resolve("judge:default?n_ctx=256")
    with pytest.warns(UserWarning, match="longer than the judge's context"):
        judged = short.judge_pairs([LONG_QUESTION * 2], ["Paris."], ["Berlin."])[0]
    assert judged.forward.truncated and not math.isnan(judged.p)


def test_reference_mode_needs_references() -> None:
    j = resolve("judge:default?mode=reference&n_ctx=512")
    with pytest.raises(CapabilityError, match="score_with_references"):
        j.score(["2+2?"], ["4"])
    p = j.score_with_references(["2+2?", "2+2?"], ["The answer is 4.", "The answer is 5."],
                                ["4", "4"])
    assert p.shape == (2,) and np.all((p >= 0) & (p <= 1))


@needs_llama
def test_llama_cpp_backend_matches_itself_with_and_without_reuse() -> None:
    j = resolve("judge:gguf:default?n_ctx=1024")
    backend = j.engine.backend
    args = ([LONG_QUESTION] * 2, ["Paris.", "It is Lyon."], ["Berlin.", "Paris, of course."])
    warm = j.compare(*args, swap=True)
    backend.reuse_prefix = False
    backend.reset()
    cold = j.compare(*args, swap=True)
    np.testing.assert_allclose(warm, cold, atol=2e-3)  # llama.cpp's Q4_1 kernels, batch-shaped
    hf = resolve("judge:default?n_ctx=1024").compare(*args, swap=True)
    # the same weights: dequantised float32 (transformers) vs Q4_1 kernels (llama.cpp)
    np.testing.assert_allclose(warm, hf, atol=0.08)
    assert j.score([QUESTION], ["Paris."]).shape == (1,)


@needs_llama
def test_llama_cpp_backend_refuses_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ModelFormatError, match="is a directory"):
        resolve(f"judge:gguf:{tmp_path}")


def test_text_fallback_in_process() -> None:
    j = resolve("judge:default?logprobs=false&n_ctx=512")
    judged = j.judge_pairs([QUESTION], ["Paris."], ["Berlin."])[0]
    assert judged.forward.probs is None and isinstance(judged.forward.text, str)
    assert judged.p in (0.0, 0.5, 1.0) or "no verdict in the reply" in judged.reason
