"""The server passes verify:code's tests as JSON objects, and verify:math still refuses one."""

from __future__ import annotations

import httpx

from rewardlab.serve import BackgroundServer, create_app

REF = {"tests": ["assert inc(1) == 2"]}


def test_v1_score_takes_a_json_object_reference_for_verify_code() -> None:
    items = [{"prompt": "p", "response": "def inc(x):\n    return x + 1", "reference": REF},
             {"prompt": "p", "response": "def inc(x):\n    return x", "reference": REF}]
    with BackgroundServer(create_app("verify:code?workers=1&timeout=5", warm_up=False)) as s:
        answer = httpx.post(s.url + "/v1/score", json={"items": items}, timeout=60)
    assert answer.status_code == 200, answer.text
    assert [r["reward"] for r in answer.json()["results"]] == [1.0, 0.0]


def test_v1_score_refuses_a_json_object_for_a_text_reference_model(verify_server) -> None:
    answer = httpx.post(verify_server.url + "/v1/score", json={"items": [
        {"prompt": "q", "response": "#### 2", "reference": {"answer": "2"}}]})
    assert answer.status_code == 422 and "items[0].reference" in answer.json()["detail"]
