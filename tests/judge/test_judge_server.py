"""``judge:openai:`` against a real OpenAI-compatible server on loopback: llama-cpp-python's
own server (``python -m llama_cpp.server``) running the default model. The same pairs must get
the same verdicts as the in-process llama.cpp backend; with ``logprobs=false`` the text-parsing
fallback is what runs. Skipped where llama-cpp-python is not installed."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rewardlab import resolve
from rewardlab.errors import BackendError

pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is not installed")

PAIRS = (
    ["What is the capital of France?", "Name a prime number larger than 10.",
     "How do I boil an egg?", "Translate 'thank you' into Spanish."],
    ["Paris.", "13 is prime.", "Put it in boiling water for 8 minutes.", "Gracias."],
    ["Berlin.", "12 is prime.", "Eggs come from chickens.", "Danke."],
)


def test_server_and_in_process_give_the_same_verdicts(llama_server: str) -> None:
    remote = resolve(f"judge:openai:{llama_server}#smollm2?n_ctx=1024")
    local = resolve("judge:gguf:default?n_ctx=1024")
    for swap in (False, True):
        p_remote = remote.compare(*PAIRS, swap=swap)
        p_local = local.compare(*PAIRS, swap=swap)
        assert not np.isnan(p_remote).any()
        # top-20 log-probabilities vs the full distribution: the same numbers within 0.02
        np.testing.assert_allclose(p_remote, p_local, atol=0.02)
        decided = np.abs(p_local - 0.5) > 0.02  # within the bound of 0.5: either verdict
        assert ((p_remote > 0.5) == (p_local > 0.5))[decided].all()
    # grades: a server shows only the top 20 first tokens, and this tiny model rarely puts a
    # digit there; such rows are NaN with the reason, never a made-up grade
    graded = remote.grade(PAIRS[0], PAIRS[1])
    for verdict in graded:
        if math.isnan(verdict.value):
            assert "no verdict token" in verdict.reason
        else:
            assert 1 <= verdict.value <= 10


def test_model_name_from_the_server(llama_server: str) -> None:
    judge = resolve(f"judge:openai:{llama_server}")
    assert judge.compare(PAIRS[0][:1], PAIRS[1][:1], PAIRS[2][:1]).shape == (1,)
    assert judge.engine.backend.model == "smollm2"


def test_text_fallback_against_the_real_server(llama_server: str) -> None:
    remote = resolve(f"judge:openai:{llama_server}#smollm2?logprobs=false")
    local = resolve("judge:gguf:default?n_ctx=1024")
    judged = remote.judge_pairs(*PAIRS)
    p_local = local.compare(*PAIRS)
    parsed = [j for j in judged if not math.isnan(j.p)]
    assert parsed, [j.reason for j in judged]
    for j, p in zip(judged, p_local, strict=True):
        assert j.forward.probs is None and j.forward.text is not None
        if math.isnan(j.p):
            assert "no verdict in the reply" in j.reason
        elif j.forward.text.strip()[:1] in "AB":  # a bare letter: the greedy first token
            assert (j.p > 0.5) == (p > 0.5)


def test_a_stopped_server_is_a_clear_error(unused_port: int) -> None:
    judge = resolve(f"judge:openai:http://127.0.0.1:{unused_port}/v1#m?retries=1")
    with pytest.raises(BackendError, match="cannot connect"):
        judge.compare(PAIRS[0][:1], PAIRS[1][:1], PAIRS[2][:1])


def test_sampled_rationales_from_the_server(llama_server: str) -> None:
    """``samples=k`` against a real server: ``n=k`` in one request (llama.cpp's server
    answers one choice, so the rest are asked one seed at a time); the same seed twice gives
    the same samples."""
    spec = f"judge:openai:{llama_server}#smollm2?mode=yesno&samples=2&max_reason_tokens=8"
    first = resolve(spec).grade(PAIRS[0][:1], PAIRS[1][:1])[0]
    again = resolve(spec).grade(PAIRS[0][:1], PAIRS[1][:1])[0]
    assert len(first.samples) == 2
    assert [s.rationale for s in first.samples] == [s.rationale for s in again.samples]
    assert first.no_verdict == sum(math.isnan(s.value) for s in first.samples)


@pytest.mark.slow
def test_process_mode_against_the_real_server(llama_server: str) -> None:
    """``mode=process`` over HTTP: ProcessBench's critic question to a real server, each
    reply read as a step index or kept as a per-row reason (SmolLM2 often names a step the
    solution does not have), aligned with the solutions through ``score_solutions``."""
    from rewardlab.scoring import score_solutions

    question = "Tom has 3 apples and buys 4 more. How many apples does he have?"
    solutions = [["Tom starts with 3 apples.", "He buys 4, so 3 + 4 = 8 apples.", "#### 8"],
                 ["3 + 4 = 7", "#### 7"]]
    judge = resolve(f"judge:openai:{llama_server}#smollm2?mode=process&max_reason_tokens=12")
    verdicts = judge.judge_steps([question] * 2, solutions)
    scored = score_solutions(judge, [question] * 2, solutions)
    for verdict, steps, reason in zip(verdicts, solutions, scored.reasons, strict=True):
        assert verdict.text  # the server answered
        if verdict.reason is None:
            assert verdict.first_error is None or 0 <= verdict.first_error < len(steps)
            assert np.isfinite(verdict.step_scores).all()
            assert len(verdict.step_scores) == len(steps)
        else:
            assert np.isnan(verdict.step_scores).all()
            assert "step" in verdict.reason
        assert reason == verdict.reason  # greedy: the same reply through score_solutions
    assert len(scored.rewards) == 2 and scored.first_error == [v.first_error for v in verdicts]
