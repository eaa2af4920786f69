"""A reference given as JSON (reference tool calls) reaches verify:toolcall over HTTP, and is
refused with a 422 by a verifier that takes one answer as text."""

from __future__ import annotations

import httpx

from rewardlab.serve import BackgroundServer, ServeConfig, create_app

TOOLS = [{"name": "get_time", "parameters": {"type": "dict", "properties": {
    "zone": {"type": "string"}}, "required": ["zone"]}}]


def test_toolcall_reference_as_json_and_irrelevance_as_an_empty_list() -> None:
    items = [{"prompt": "Time in Paris?", "response": 'get_time(zone="CET")',
              "reference": {"tools": TOOLS, "ground_truth": [{"get_time": {"zone": ["CET"]}}]}},
             {"prompt": "Tell a joke.", "response": "Why did the clock ...",
              "reference": []},
             {"prompt": "Tell a joke.", "response": 'get_time(zone="CET")',
              "reference": "[]"}]
    with BackgroundServer(create_app("verify:toolcall")) as server:  # warms up too
        answer = httpx.post(server.url + "/v1/score", json={"items": items})
        labels = httpx.post(server.url + "/get_reward", json={
            "query": ['Q get_time(zone="UTC")'], "prompts": ["Q"],
            "labels": [[{"get_time": {"zone": ["CET"]}}]]})
    assert answer.status_code == 200, answer.text
    assert [r["reward"] for r in answer.json()["results"]] == [1.0, 1.0, 0.0]
    assert labels.status_code == 200 and labels.json()["rewards"] == [0.0]


def test_a_json_reference_is_refused_by_a_text_verifier() -> None:
    item = {"prompt": "2+2?", "response": "#### 4", "reference": ["4", "4.0"]}
    with BackgroundServer(create_app("verify:math", warm_up=False)) as server:
        answer = httpx.post(server.url + "/v1/score", json={"items": [item]})
    assert answer.status_code == 422
    assert "items[0].reference is a JSON list" in answer.json()["detail"]


def test_a_bad_reference_is_named_by_its_request_field_even_past_one_batch() -> None:
    """Checked before the request joins a batch: the 422 names ``items[5].reference``
    (``labels[1]``), not the item's place in the batch it was split into (max_batch=2)."""
    good = {"prompt": "q", "response": 'get_time(zone="CET")', "reference": "[]"}
    items = [good] * 5 + [dict(good, reference="Paris")]
    config = ServeConfig(max_batch=2)
    with BackgroundServer(create_app("verify:toolcall", config, warm_up=False)) as server:
        scored = httpx.post(server.url + "/v1/score", json={"items": items})
        labelled = httpx.post(server.url + "/get_reward", json={
            "query": ["Q a", "Q b"], "prompts": ["Q", "Q"], "labels": ["[]", "[{get"]})
    assert scored.status_code == 422
    assert scored.json()["detail"].startswith("items[5].reference: a tool-call reference "
                                              "must be JSON")
    assert labelled.status_code == 422 and labelled.json()["detail"].startswith("labels[1]: ")
