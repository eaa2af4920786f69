"""The reward server over real HTTP: a uvicorn server on loopback, called with httpx.

OpenRLHF's client (``openrlhf/utils/remote_rm_utils.py``) posts
``{"query": queries, "prompts": prompts, "labels": labels}`` with only a Content-Type header
and reads the JSON's ``rewards`` (older versions: ``response[score_key]``, default
``"rewards"``); 0.8 turns ``rewards``, ``scores`` and each ``extra_logs`` value into tensors
and concatenates them across servers. The tests call the server exactly that way.
"""

from __future__ import annotations

import asyncio
import math

import httpx
import numpy as np
import pytest

from _tolerance import FP32
from rewardlab.errors import NotFittedError
from rewardlab.serve import BackgroundServer, ServeConfig, create_app

torch = pytest.importorskip("torch")
CHATML = "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"


def openrlhf_post(url: str, data: dict) -> dict:
    """What OpenRLHF's ``request_api_wrapper`` sends and checks."""
    response = httpx.post(url, json=data, headers={"Content-Type": "application/json"},
                          timeout=180)
    response.raise_for_status()
    body = response.json()
    assert "rewards" in body, f"rewards not in {body}"
    return body


def consume_v08(body: dict) -> tuple:
    """OpenRLHF 0.8 turns every list into a tensor and concatenates across servers."""
    rewards = torch.cat([torch.tensor(body["rewards"])], dim=0)
    scores = torch.cat([torch.tensor(body["scores"])], dim=0)
    logs = {k: torch.cat([torch.tensor(v)], dim=0) for k, v in body["extra_logs"].items()}
    return rewards, scores, logs


# --- OpenRLHF's dialect -----------------------------------------------------------------------

def test_openrlhf_request_shape_hh(rm_server, serve_rm, hh_items, hh_text) -> None:
    prompts, replies = hh_items
    texts = [hh_text(p) for p in prompts[:6]]
    queries = [t + " " + r + "</s>" for t, r in zip(texts, replies, strict=False)]
    body = openrlhf_post(rm_server.url + "/get_reward",
                         {"query": queries, "prompts": texts, "labels": [""] * 6})
    assert set(body) == {"rewards", "scores", "extra_logs"}
    rewards, scores, logs = consume_v08(body)
    assert rewards.shape == (6,) and logs == {}
    expected = serve_rm.score(prompts[:6], replies[:6])  # the HH prompt read as a conversation
    np.testing.assert_allclose(rewards.numpy(), expected, **FP32)
    assert torch.equal(scores, rewards)


def test_openrlhf_chat_template_text(rm_server, serve_rm, hh_items) -> None:
    prompts, replies = hh_items
    questions = [CHATML.format(p[-1].content) for p in prompts[:4]]
    queries = [q + r + "<|im_end|><|endoftext|><|endoftext|>" for q, r in
               zip(questions, replies, strict=False)]
    body = openrlhf_post(rm_server.url + "/get_reward",
                         {"query": queries, "prompts": questions, "labels": [None] * 4,
                          "metadata": [{"id": i} for i in range(4)]})  # forks add keys
    np.testing.assert_allclose(body["rewards"], serve_rm.score(questions, replies[:4]),
                               **FP32)


def test_query_alone_as_older_openrlhf_sends(rm_server, serve_rm, hh_items, hh_text) -> None:
    prompts, replies = hh_items
    queries = [hh_text(p) + " " + r for p, r in zip(prompts[:3], replies[:3], strict=True)]
    body = openrlhf_post(rm_server.url + "/get_reward", {"query": queries})
    np.testing.assert_allclose(body["rewards"], serve_rm.score(prompts[:3], replies[:3]),
                               **FP32)


def test_empty_lists_are_valid(rm_server) -> None:
    body = openrlhf_post(rm_server.url + "/get_reward",
                         {"query": [], "prompts": [], "labels": []})
    assert body == {"rewards": [], "scores": [], "extra_logs": {}}
    out = httpx.post(rm_server.url + "/v1/score", json={"items": []})
    assert out.status_code == 200 and out.json()["results"] == []


def test_labels_reach_the_verifier(verify_server) -> None:
    prompts = ["Q: what is 2+2?\nA:", "Q: what is 3*3?\nA:", "Q: what is 10/4?\nA:"]
    answers = [" 2+2 = 4. #### 4</s>", " The answer is 8.</s>", " \\boxed{2.5}</s>"]
    body = openrlhf_post(verify_server.url + "/get_reward",
                         {"query": [p + a for p, a in zip(prompts, answers, strict=True)],
                          "prompts": prompts, "labels": ["4", 9, 2.5]})
    assert body["rewards"] == [1.0, 0.0, 1.0]
    assert body["scores"] == body["rewards"]


def test_verifier_without_labels_is_422(verify_server) -> None:
    for payload in ({"query": ["Q: 1+1? A: 2"]},
                    {"query": ["Q: 1+1? A: 2"], "labels": [""]},
                    {"query": ["Q: 1+1? A: 2"], "labels": [{"answer": "2"}]}):
        response = httpx.post(verify_server.url + "/get_reward", json=payload)
        assert response.status_code == 422
        assert "labels[0]" in response.json()["detail"]
        assert "--label_key" in response.json()["detail"]


@pytest.mark.parametrize(("raw", "shown"), [(b"NaN", "nan"), (b"1e999", "inf")])
def test_a_non_finite_label_is_422_not_the_answer_nan(verify_server, raw, shown) -> None:
    """Python's JSON reads NaN and 1e999; as text they were answers ("nan"), scored 0 or 1."""
    response = httpx.post(verify_server.url + "/get_reward",
                          content=b'{"query": ["Q: 1+1? A: #### nan"], "labels": [' + raw + b"]}",
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(f"labels[0] is {shown}, which is no reference")


# --- rewardlab's own dialect ------------------------------------------------------------------

def test_v1_score_matches_offline(rm_server, serve_rm, hh_items) -> None:
    prompts, replies = hh_items
    items = [{"prompt": [{"role": m.role, "content": m.content} for m in p], "response": r}
             for p, r in zip(prompts[:4], replies[:4], strict=True)]
    items.append({"prompt": "How do I pick a lock?", "response": "I can't help with that."})
    out = httpx.post(rm_server.url + "/v1/score", json={"items": items})
    assert out.status_code == 200, out.text
    body = out.json()
    assert body["model"] == serve_rm.spec
    expected = serve_rm.score([*prompts[:4], "How do I pick a lock?"],
                              [*replies[:4], "I can't help with that."])
    got = [r["reward"] for r in body["results"]]
    np.testing.assert_allclose(got, expected, **FP32)
    assert all(r["uncertainty"] is None and r["error"] is None for r in body["results"])


def test_v1_score_reports_ensemble_uncertainty(hh_small, hh_items) -> None:
    from rewardlab import resolve

    ensemble = resolve("ensemble:(embed:minilm?epochs=3&seed=1),(embed:minilm?epochs=3&seed=2)")
    ensemble.fit(hh_small[0].take(range(24)))
    prompts, replies = hh_items
    with BackgroundServer(create_app(ensemble)) as server:
        out = httpx.post(server.url + "/v1/score", json={"items": [
            {"prompt": "\n".join(m.content for m in p), "response": r}
            for p, r in zip(prompts[:3], replies[:3], strict=True)]})
        health = httpx.get(server.url + "/health").json()
        rm = httpx.post(server.url + "/get_reward", json={"query": ["Hi there"]}).json()
        empty = httpx.post(server.url + "/get_reward", json={"query": []}).json()
    reward, std = ensemble.score_with_uncertainty(
        ["\n".join(m.content for m in p) for p in prompts[:3]], replies[:3])
    results = out.json()["results"]
    np.testing.assert_allclose([r["reward"] for r in results], reward, **FP32)
    np.testing.assert_allclose([r["uncertainty"] for r in results], std, **FP32)
    assert health["has_uncertainty"] is True
    assert set(rm["extra_logs"]) == {"uncertainty"} and len(rm["extra_logs"]["uncertainty"]) == 1
    assert empty["extra_logs"] == {"uncertainty": []}  # OpenRLHF 0.8 merges logs by key


def test_health_and_metrics(rm_server, metric) -> None:
    health = httpx.get(rm_server.url + "/health").json()
    assert health["status"] == "ok" and health["max_batch"] == 32
    assert health["needs_references"] is False
    text = httpx.get(rm_server.url + "/metrics")
    assert text.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert "# TYPE rewardlab_batch_items histogram" in text.text
    assert metric(text.text, 'rewardlab_requests_total{path="/health",status="200"}') >= 1


# --- bad requests: 4xx with the field named, never 5xx ----------------------------------------

@pytest.mark.parametrize(("payload", "field"), [
    ({"query": ["a", "b"], "prompts": ["a"]}, "got 2 queries but 1 prompts"),
    ({"query": ["a"], "labels": ["x", "y"]}, "got 1 queries but 2 labels"),
    ({"query": ["a", 3]}, "query[1]"),
    ({"query": "a single string"}, "query"),
    ({"prompts": ["a"]}, "query"),
    ({"query": ["abc"], "prompts": [None]}, "prompts[0]"),
    ({"query": ["abc"], "prompts": ["xyz"]}, "query[0]: the query does not contain its prompt"),
    ([1, 2], "body"),
])
def test_openrlhf_bad_bodies_are_422(rm_server, payload, field) -> None:
    response = httpx.post(rm_server.url + "/get_reward", json=payload)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]


@pytest.mark.parametrize(("payload", "field"), [
    ({"items": [{"prompt": "p"}]}, "items[0].response"),
    ({"items": [{"prompt": "p", "response": 5}]}, "items[0].response"),
    ({"items": [{"prompt": {"role": "user"}, "response": "r"}]}, "items[0].prompt"),
    ({"items": [{"prompt": [{"role": "user", "content": 1}], "response": "r"}]},
     "items[0].prompt"),
    ({"items": [{"prompt": "p", "response": "r", "score": 1}]}, "items[0].score"),
    ({"item": []}, "items"),
])
def test_v1_bad_bodies_are_422(rm_server, payload, field) -> None:
    response = httpx.post(rm_server.url + "/v1/score", json=payload)
    assert response.status_code == 422, response.text
    assert field in response.json()["detail"]


@pytest.mark.parametrize(("raw", "field"), [
    (b'{"items": [{"prompt": "p", "response": "ok \\ud800"}]}', "items[0].response"),
    (b'{"items": [{"prompt": [{"role": "user", "content": "\\udc00"}], "response": "r"}]}',
     "items[0].prompt"),
])
def test_a_lone_surrogate_is_422_naming_the_field(rm_server, raw, field) -> None:
    """Valid JSON, but not a character: a 422 naming the field, not a 502 from the tokenizer."""
    response = httpx.post(rm_server.url + "/v1/score", content=raw,
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"].startswith(f"{field} holds a lone UTF-16 surrogate")


@pytest.mark.parametrize("raw", [b"{not json", b"", b"\xff\xfe", b'{"query": [NaN'])
def test_malformed_json_is_4xx(rm_server, raw) -> None:
    response = httpx.post(rm_server.url + "/get_reward", content=raw,
                          headers={"Content-Type": "application/json"})
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["detail"]


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_get_reward_needs_a_json_content_type(rm_server, content_type) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = httpx.post(rm_server.url + "/get_reward", content=b'{"query": []}',
                          headers=headers)
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]
    ok = httpx.post(rm_server.url + "/get_reward", content=b'{"query": []}',
                    headers={"Content-Type": "application/json; charset=utf-8"})
    assert ok.status_code == 200


def test_too_many_items_is_413(rm_server) -> None:
    response = httpx.post(rm_server.url + "/get_reward", json={"query": ["x"] * 65})
    assert response.status_code == 413
    assert "at most 64" in response.json()["detail"]
    response = httpx.post(rm_server.url + "/v1/score",
                          json={"items": [{"prompt": "p", "response": "r"}] * 65})
    assert response.status_code == 413


def test_too_large_body_is_413(rm_server) -> None:
    big = {"query": ["x" * 300_000]}  # over the 256 KiB limit of this server
    response = httpx.post(rm_server.url + "/get_reward", json=big)
    assert response.status_code == 413
    assert "--max-body-mb" in response.json()["detail"]

    def chunks():  # no Content-Length: the bytes actually sent are counted
        yield b'{"query": ["'
        for _ in range(40):
            yield b"y" * 10_000
        yield b'"]}'

    response = httpx.post(rm_server.url + "/get_reward", content=chunks(),
                          headers={"Content-Type": "application/json"})
    assert response.status_code == 413


def test_too_long_text_is_413() -> None:
    app = create_app("verify:math", ServeConfig(max_chars=100), warm_up=False)
    with BackgroundServer(app) as server:
        response = httpx.post(server.url + "/get_reward",
                              json={"query": ["1", "x" * 101], "labels": ["1", "1"]})
    assert response.status_code == 413
    assert "query[1] is 101 characters" in response.json()["detail"]


# --- authentication ------------------------------------------------------------------------

def test_bearer_token() -> None:
    app = create_app("verify:math", ServeConfig(token="s3cret"), warm_up=False)
    payload = {"query": ["#### 4"], "labels": ["4"]}
    with BackgroundServer(app) as server:
        url = server.url
        missing = httpx.post(url + "/get_reward", json=payload)
        wrong = httpx.post(url + "/get_reward", json=payload,
                           headers={"Authorization": "Bearer nope"})
        basic = httpx.post(url + "/get_reward", json=payload, auth=("user", "s3cret"))
        garbage = httpx.post(url + "/get_reward", content=b"{not json",  # checked first
                             headers={"Content-Type": "application/json"})
        right = httpx.post(url + "/get_reward", json=payload,
                           headers={"Authorization": "Bearer s3cret"})
        v1 = httpx.post(url + "/v1/score", json={"items": []})
        metrics = httpx.get(url + "/metrics")
        metrics_ok = httpx.get(url + "/metrics", headers={"Authorization": "Bearer s3cret"})
        health = httpx.get(url + "/health")
    for response in (missing, wrong, basic, garbage, v1, metrics):
        assert response.status_code == 401, response.text
        assert response.headers["www-authenticate"] == "Bearer"
        assert "--token" in response.json()["detail"]
    assert right.status_code == 200 and right.json()["rewards"] == [1.0]
    assert metrics_ok.status_code == 200 and health.status_code == 200


# --- what the model does wrong ------------------------------------------------------------------

def test_nonfinite_rewards_are_reported_not_sent(flaky, metric) -> None:
    with BackgroundServer(create_app(flaky())) as server:
        rm = httpx.post(server.url + "/get_reward", json={"query": ["ok", "nan!", "fine"]})
        v1 = httpx.post(server.url + "/v1/score", json={"items": [
            {"prompt": "p", "response": "ok"}, {"prompt": "p", "response": "nan!"}]})
        text = httpx.get(server.url + "/metrics").text
    assert rm.status_code == 502
    assert "query[1]" in rm.json()["detail"] and "test:flaky" in rm.json()["detail"]
    assert v1.status_code == 200
    first, second = v1.json()["results"]
    assert first == {"reward": 2.0, "uncertainty": None, "error": None}
    assert second["reward"] is None and "nan" in second["error"]
    assert metric(text, "rewardlab_nonfinite_rewards_total") == 2


def test_a_broken_request_does_not_fail_its_batch(flaky) -> None:
    model = flaky()
    app = create_app(model, ServeConfig(max_batch=4, max_wait_ms=2000), warm_up=False)

    async def send(client: httpx.AsyncClient, text: str) -> httpx.Response:
        return await client.post("/get_reward", json={"query": [text]})

    async def main(url: str) -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            return await asyncio.gather(*(send(client, t) for t in
                                          ["a", "bb", "boom", "dddd"]))

    with BackgroundServer(app) as server:
        responses = asyncio.run(main(server.url))
    # a model that raises is the model's failure, not the server's: 502 naming the model
    assert [r.status_code for r in responses] == [200, 200, 502, 200]
    assert "model 'test:flaky' failed in score(): ValueError: boom" in responses[2].json()[
        "detail"]
    assert [r.json()["rewards"] for r in responses if r.status_code == 200] == [[1.0], [2.0],
                                                                                 [4.0]]
    assert model.calls[0] == 4  # merged first, then each request alone
    assert sorted(model.calls[1:]) == [1, 1, 1, 1]


def test_untrained_model_fails_at_startup() -> None:
    with pytest.raises(NotFittedError, match="not trained yet"):
        create_app("embed:minilm")


def test_floats_survive_json(rm_server) -> None:
    body = openrlhf_post(rm_server.url + "/get_reward", {"query": ["Hello", "Bye"]})
    assert all(isinstance(r, float) and math.isfinite(r) for r in body["rewards"])


def test_a_group_dependent_model_scores_each_request_on_its_own() -> None:
    """``vote:`` rewards depend on the other answers in the call: concurrent requests with
    the same prompt must not vote together, whatever the batching."""
    prompt = CHATML.format("Tom has 3 apples and buys 4 more. How many?")
    first = [prompt + "#### 7", prompt + "3+4=7. #### 7", prompt + "#### 12"]
    second = [prompt + "#### 12", prompt + "#### 12"]
    with BackgroundServer(create_app("vote:", ServeConfig(max_batch=64, max_wait_ms=200))
                          ) as server:
        async def both():
            async with httpx.AsyncClient(timeout=60) as client:
                return await asyncio.gather(*(
                    client.post(server.url + "/get_reward",
                                json={"query": q, "prompts": [prompt] * len(q)})
                    for q in (first, second)))

        a, b = (r.json()["rewards"] for r in asyncio.run(both()))
    assert a == pytest.approx([2.25 / 3.5, 2.25 / 3.5, 1.25 / 3.5])  # 7 wins 2 to 1 here
    assert b == pytest.approx([2.25 / 2.5, 2.25 / 2.5])  # and 12 is unanimous there
