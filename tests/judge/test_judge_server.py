"""``judge:openai:`` against a real OpenAI-compatible server on loopback: llama-cpp-python's
own server (``python -m llama_cpp.server``) running the default model. The same pairs must get
the same verdicts as the in-process llama.cpp backend; with ``logprobs=false`` the text-parsing
fallback is what runs. Skipped where llama-cpp-python is not installed."""

from __future__ import annotations

import math
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import numpy as np
import pytest

from rewardlab import resolve
from rewardlab.errors import BackendError
from rewardlab.judge import default_gguf

pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] is not installed")

PAIRS = (
    ["What is the capital of France?", "Name a prime number larger than 10.",
     "How do I boil an egg?", "Translate 'thank you' into Spanish."],
    ["Paris.", "13 is prime.", "Put it in boiling water for 8 minutes.", "Gracias."],
    ["Berlin.", "12 is prime.", "Eggs come from chickens.", "Danke."],
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = _free_port()
    log = (tmp_path_factory.mktemp("llama-server") / "server.log").open("w+")
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf()),
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "1024", "--n_threads", "1",
         "--logits_all", "true", "--model_alias", "smollm2"],
        stdout=log, stderr=subprocess.STDOUT)  # a file: a full pipe would stall the server
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"llama_cpp.server exited: {log.read()[-2000:]}")
            try:
                if httpx.get(url + "/models", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.5)
        else:
            pytest.fail("llama_cpp.server did not start within 300 s")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def test_server_and_in_process_give_the_same_verdicts(server: str) -> None:
    remote = resolve(f"judge:openai:{server}#smollm2?n_ctx=1024")
    local = resolve("judge:gguf:default?n_ctx=1024")
    for swap in (False, True):
        p_remote = remote.compare(*PAIRS, swap=swap)
        p_local = local.compare(*PAIRS, swap=swap)
        assert not np.isnan(p_remote).any()
        # top-20 log-probabilities vs the full distribution: the same numbers within 0.02
        np.testing.assert_allclose(p_remote, p_local, atol=0.02)
        assert ((p_remote > 0.5) == (p_local > 0.5)).all()
    # grades: a server shows only the top 20 first tokens, and this tiny model rarely puts a
    # digit there; such rows are NaN with the reason, never a made-up grade
    graded = remote.grade(PAIRS[0], PAIRS[1])
    for verdict in graded:
        if math.isnan(verdict.value):
            assert "no verdict token" in verdict.reason
        else:
            assert 1 <= verdict.value <= 10


def test_model_name_from_the_server(server: str) -> None:
    judge = resolve(f"judge:openai:{server}")
    assert judge.compare(PAIRS[0][:1], PAIRS[1][:1], PAIRS[2][:1]).shape == (1,)
    assert judge.engine.backend.model == "smollm2"


def test_text_fallback_against_the_real_server(server: str) -> None:
    remote = resolve(f"judge:openai:{server}#smollm2?logprobs=false")
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


def test_a_stopped_server_is_a_clear_error() -> None:
    port = _free_port()  # nothing listens there
    judge = resolve(f"judge:openai:http://127.0.0.1:{port}/v1#m?retries=1")
    with pytest.raises(BackendError, match="cannot connect"):
        judge.compare(PAIRS[0][:1], PAIRS[1][:1], PAIRS[2][:1])
