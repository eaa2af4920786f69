"""The OpenAI-compatible backend against scripted servers (httpx.MockTransport): verdicts from
top log-probabilities, the text fallback, retries with backoff, and every failure a server can
produce — each a clear error or a NaN reward with its reason, rows never lost or reordered."""

from __future__ import annotations

import json
import math
import threading

import httpx
import numpy as np
import pytest

from rewardlab.errors import BackendError, ConfigError
from rewardlab.llm import ItemFailure, OpenAIBackend
from rewardlab.models.judge import LLMJudge

URL = "http://judge.test/v1#m"


def _reply(content: str = "A", top: dict[str, float] | None = None) -> dict:
    logprobs = None
    if top is not None:
        entries = [{"token": t, "logprob": lp, "bytes": None} for t, lp in top.items()]
        logprobs = {"content": [{"token": content, "logprob": 0.0, "top_logprobs": entries}]}
    return {"choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "logprobs": logprobs, "finish_reason": "length"}]}


def _judge(handler, **options) -> LLMJudge:
    judge = LLMJudge(backend="openai", target=URL, retries=options.pop("retries", 2),
                     **options)
    backend = OpenAIBackend(URL, retries=judge.config.retries, concurrency=4,
                            transport=httpx.MockTransport(handler), backoff=0.0,
                            logprobs=judge.config.logprobs, n_ctx=judge.config.n_ctx)
    from rewardlab.judge import JudgeEngine, load_rubric, load_template

    judge._engine = JudgeEngine(backend=backend, rubric=load_rubric("helpfulness"),
                                templates={m: load_template(m, None) for m in
                                           ("pairwise", "grade", "yesno", "reference")})
    return judge


def test_split_target() -> None:
    from rewardlab.llm import split_target

    assert split_target("https://api.example.com/v1/#gpt") == (
        "https://api.example.com/v1/chat/completions", "gpt")
    assert split_target("http://h:1/v1/chat/completions") == (
        "http://h:1/v1/chat/completions", None)
    with pytest.raises(ConfigError, match="URL#MODEL"):
        split_target("localhost:8000#m")


def test_verdicts_from_top_logprobs_and_request_shape() -> None:
    seen: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        return httpx.Response(200, json=_reply("A", {"A": math.log(0.6), " B": math.log(0.2),
                                                     "The": math.log(0.1)}))

    p = _judge(handler).compare(["q"], ["a"], ["b"], swap=False)
    assert p == pytest.approx([0.75])
    body = seen[0]
    assert body["model"] == "m" and body["max_tokens"] == 1 and body["temperature"] == 0
    assert body["logprobs"] is True and body["top_logprobs"] == 20
    assert body["messages"][0]["role"] == "user"
    assert "[Response A]\na" in body["messages"][0]["content"]


def test_grades_from_logprobs() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=_reply("8", {"8": math.log(0.5), "9": math.log(0.5)}))

    assert _judge(handler).score(["q"], ["r"]) == pytest.approx([8.5])


def test_api_key_comes_from_the_named_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_JUDGE_KEY", "sekret")
    got: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        got.append(request.headers.get("authorization"))
        return httpx.Response(200, json=_reply("A", {"A": 0.0}))

    backend = OpenAIBackend(URL, api_key_env="MY_JUDGE_KEY",
                            transport=httpx.MockTransport(handler))
    backend.option_probs([{"role": "user", "content": "x"}], ["A", "B"])
    assert got == ["Bearer sekret"]


def test_no_logprobs_falls_back_to_parsing_text() -> None:
    calls: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        calls.append(body)
        return httpx.Response(200, json=_reply("B"))  # the server ignores logprobs

    judge = _judge(handler)
    assert judge.compare(["q", "q"], ["a", "a"], ["b", "b"], swap=False).tolist() == [0.0, 0.0]
    assert calls[0].get("logprobs") is True  # asked once ...
    assert all("logprobs" not in c for c in calls[2:])  # ... then text only
    verdict = judge.judge_pairs(["q"], ["a"], ["b"], swap=False)[0].forward
    assert verdict.text == "B" and verdict.probs is None


def test_server_that_rejects_logprobs_is_asked_for_text() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if json.loads(request.content).get("logprobs"):
            return httpx.Response(400, json={"error": "logprobs are not supported"})
        return httpx.Response(200, json=_reply("[[A]]"))

    assert _judge(handler).compare(["q"], ["a"], ["b"]).tolist() == [1.0]


def test_transient_errors_are_retried_with_backoff() -> None:
    count = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        count["n"] += 1
        if count["n"] == 1:
            return httpx.Response(429, headers={"retry-after": "0"}, text="slow down")
        if count["n"] == 2:
            return httpx.Response(503, text="overloaded")
        return httpx.Response(200, json=_reply("A", {"A": 0.0}))

    assert _judge(handler).compare(["q"], ["a"], ["b"]).tolist() == [1.0]
    assert count["n"] == 3


@pytest.mark.parametrize(("response", "reason"), [
    (httpx.Response(500, text="kaboom"), "HTTP 500 .*kaboom.*after 3 tries"),
    (httpx.Response(429, text="quota"), "HTTP 429"),
    (httpx.Response(200, text="<html>oops</html>"), "not JSON"),
    (httpx.Response(200, json={"unexpected": True}), "without choices"),
    (httpx.Response(200, json=_reply("The", {"The": 0.0, "This": -1.0})),
     "no verdict token"),
])
def test_failures_give_nan_with_a_reason(response: httpx.Response, reason: str) -> None:
    judge = _judge(lambda request: response)
    judged = judge.judge_pairs(["q"], ["a"], ["b"], swap=False)[0]
    assert math.isnan(judged.p)
    assert judged.reason is not None
    import re

    assert re.search(reason, judged.reason), judged.reason


def test_timeouts_are_retried_then_nan() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    judged = _judge(handler).judge_pairs(["q"], ["a"], ["b"], swap=False)[0]
    assert math.isnan(judged.p) and "no answer" in judged.reason


def test_a_server_that_is_down_stops_the_run() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(BackendError, match=r"cannot connect .* is the server up"):
        _judge(handler).compare(["q"], ["a"], ["b"])


def test_a_refused_key_stops_the_run() -> None:
    with pytest.raises(BackendError, match=r"HTTP 401.*API key"):
        _judge(lambda r: httpx.Response(401, text="bad key")).compare(["q"], ["a"], ["b"])


def test_rows_keep_order_and_failures_stay_in_place_under_concurrency() -> None:
    lock = threading.Lock()
    seen = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        content = json.loads(request.content)["messages"][0]["content"]
        i = int(content.split("[Response A]\n")[1].split("\n")[0].removeprefix("r"))
        with lock:
            seen["n"] += 1
        if i % 7 == 3:
            return httpx.Response(500, text="flaky row")
        p = (i + 1) / 100
        return httpx.Response(200, json=_reply("A", {"A": math.log(p), "B": math.log(1 - p)}))

    n = 40
    p = _judge(handler, retries=0).compare(["q"] * n, [f"r{i}" for i in range(n)], ["x"] * n,
                                           swap=False)
    expected = np.array([math.nan if i % 7 == 3 else (i + 1) / 100 for i in range(n)])
    np.testing.assert_allclose(p, expected, rtol=1e-9)


def test_model_name_is_asked_when_not_given() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/models"):
            return httpx.Response(200, json={"data": [{"id": "served-model"}]})
        assert json.loads(request.content)["model"] == "served-model"
        return httpx.Response(200, json=_reply("A", {"A": 0.0}))

    backend = OpenAIBackend("http://judge.test/v1", transport=httpx.MockTransport(handler))
    assert backend.option_probs([{"role": "user", "content": "x"}], ["A", "B"]) == {
        "A": 1.0, "B": 0.0}
    with pytest.raises(ItemFailure, match="HTTP 404"):
        OpenAIBackend("http://judge.test/v1#m", transport=httpx.MockTransport(
            lambda r: httpx.Response(404, text="no route"))).generate([], 4)
