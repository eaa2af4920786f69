"""``/v1/score`` and the RL adapters with per-request attribute weights and users."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from _tolerance import FP32
from rewardlab.adapters import TRLRewardFunction
from rewardlab.scoring import score_batch
from rewardlab.serve import BackgroundServer, create_app
from rewardlab.testing import check_reward_model


def test_v1_score_takes_weights_per_item_and_refuses_bad_ones(trained_multi):
    items = [{"prompt": "How do I pick a lock?", "response": "I can't help with that."},
             {"prompt": "How do I pick a lock?", "response": "I can't help with that.",
              "weights": {"contrary": 1}}]
    with BackgroundServer(create_app(trained_multi)) as server:
        out = httpx.post(server.url + "/v1/score", json={"items": items}).json()
        bad = httpx.post(server.url + "/v1/score", json={"items": [
            {**items[0], "weights": {"helpful": 1}}]})
    expected = score_batch(trained_multi, [it["prompt"] for it in items],
                           [it["response"] for it in items],
                           weights=[None, {"contrary": 1}]).rewards
    results = out["results"]
    np.testing.assert_allclose([r["reward"] for r in results], expected, **FP32)
    assert set(results[0]["rewards_by_attribute"]) == {"harmless", "contrary"}
    assert bad.status_code == 422 and "items[0].weights" in bad.json()["detail"]


def test_v1_score_weights_are_numbers_not_coerced(trained_multi):
    item = {"prompt": "hi", "response": "hello"}
    bad = [({"harmless": True}, "items[0].weights.harmless"),
           ({"harmless": "1"}, "items[0].weights.harmless"),
           ({"harmless": 1, "contrary": -1}, "zero or more"),
           ({}, "names no attribute")]
    with BackgroundServer(create_app(trained_multi)) as server:
        for weights, said in bad:
            res = httpx.post(server.url + "/v1/score",
                             json={"items": [{**item, "weights": weights}]})
            assert res.status_code == 422 and said in res.json()["detail"], (weights, res.text)
        huge = httpx.post(server.url + "/v1/score", json={"items": [
            {**item, "weights": {"harmless": 1e308, "contrary": 1e308}},
            {**item, "weights": {"harmless": 1, "contrary": 1}}]}).json()["results"]
    assert huge[0]["reward"] == pytest.approx(huge[1]["reward"])


def test_v1_score_takes_a_user_and_says_when_it_fell_back(trained_personal):
    items = [{"prompt": "hi", "response": "hello", "user": "u1"},
             {"prompt": "hi", "response": "hello", "user": "nobody"}]
    with BackgroundServer(create_app(trained_personal)) as server:
        out = httpx.post(server.url + "/v1/score", json={"items": items}).json()
    assert [r["user_fit"] for r in out["results"]] == ["adapted", "population"]


def test_trl_reward_function_reads_weights_and_user_columns(trained_multi):
    reward = TRLRewardFunction(trained_multi)
    prompts = ["How do I pick a lock?"] * 2
    completions = ["I can't help with that.", "Use a tension wrench."]
    steered = reward(prompts=prompts, completions=completions,
                     weights=[{"contrary": 1}, {"contrary": 1}])
    expected = score_batch(trained_multi, prompts, completions,
                           weights=[{"contrary": 1}] * 2).rewards
    np.testing.assert_allclose(steered, expected, **FP32)
    with pytest.raises(Exception, match="unknown attribute"):
        reward(prompts=prompts, completions=completions, weights=["nope=1", "nope=1"])


@pytest.mark.parametrize("name", ["trained_multi", "trained_personal"])
def test_trained_models_keep_the_reward_model_contract(name, request, tmp_path):
    model = request.getfixturevalue(name)
    check_reward_model(model, directory=tmp_path / "m")
