"""Per-sample attribute weights and users in the verl and OpenRLHF adapters (and OpenRLHF's
remote ``/get_reward``), as TRL's adapter reads its ``weights`` / ``user`` columns."""

from __future__ import annotations

import httpx
import numpy as np
import pytest

from _tolerance import FP32
from rewardlab.adapters import OpenRLHFRewardFunc, VerlScorer
from rewardlab.errors import ConfigError
from rewardlab.scoring import score_batch
from rewardlab.serve import BackgroundServer, create_app

PROMPT = "How do I pick a lock?"
REPLIES = ["I can't help with that.", "Use a tension wrench and a pick."]


def _expected(model, **conditions):
    return score_batch(model, [PROMPT] * 2, REPLIES, **conditions).rewards


def test_verl_reads_weights_and_user_from_extra_info(trained_multi, trained_personal):
    scorer = VerlScorer(trained_multi)
    infos = [{"prompt": PROMPT, "weights": {"contrary": 1}},
             {"prompt": PROMPT, "weights": "harmless=1"}]
    out = scorer(solution_strs=REPLIES, ground_truths=[None, None], extra_infos=infos)
    np.testing.assert_allclose([o["score"] for o in out], [
        _expected(trained_multi, weights=[{"contrary": 1}] * 2)[0],
        _expected(trained_multi, weights=[{"harmless": 1}] * 2)[1]], **FP32)
    # one sample at a time (verl's naive manager) reads the same field
    single = scorer(solution_str=REPLIES[0], extra_info=infos[0])
    np.testing.assert_allclose(single["score"], out[0]["score"], **FP32)
    # a Parquet struct column: every key on every row, None where a row gave none
    struct = [{"prompt": PROMPT, "weights": {"harmless": None, "contrary": 1.0}},
              {"prompt": PROMPT, "weights": {"harmless": None, "contrary": None}}]
    out = scorer(solution_strs=REPLIES, ground_truths=[None, None], extra_infos=struct)
    np.testing.assert_allclose([o["score"] for o in out], _expected(
        trained_multi, weights=[{"contrary": 1}, None]), **FP32)
    # the adapter's default steers samples without their own
    steered = VerlScorer(trained_multi, attribute_weights={"contrary": 1})
    out = steered(solution_strs=REPLIES, ground_truths=[None, None],
                  extra_infos=[{"prompt": PROMPT}] * 2)
    np.testing.assert_allclose([o["score"] for o in out],
                               _expected(trained_multi, weights=[{"contrary": 1}] * 2), **FP32)
    personal = VerlScorer(trained_personal)
    out = personal(solution_strs=REPLIES, ground_truths=[None, None],
                   extra_infos=[{"prompt": PROMPT, "user": "u1"}, {"prompt": PROMPT,
                                                                   "user": "u2"}])
    np.testing.assert_allclose([o["score"] for o in out], _expected(
        trained_personal, users=["u1", "u2"]), **FP32)


@pytest.mark.parametrize(("weights", "message"), [
    ({"nope": 1}, r"sample 1, extra_info\['weights'\]: unknown attribute 'nope'"),
    ({"harmless": -1, "contrary": 2}, r"sample 1, extra_info\['weights'\]: .*zero or more"),
    ({"harmless": 0}, r"sample 1, extra_info\['weights'\]: .*sum to 0"),
    ("harmless", r"sample 1, extra_info\['weights'\]: cannot read 'harmless'"),
    ({"harmless": "lots"}, r"sample 1, extra_info\['weights'\]: .*must be a number"),
])
def test_verl_bad_weights_name_the_sample_and_field(trained_multi, weights, message):
    scorer = VerlScorer(trained_multi)
    with pytest.raises(ConfigError, match=message):
        scorer(solution_strs=REPLIES, ground_truths=[None, None],
               extra_infos=[{"prompt": PROMPT}, {"prompt": PROMPT, "weights": weights}])


def test_verl_bad_user_names_the_sample(trained_personal):
    with pytest.raises(ConfigError, match=r"sample 0, extra_info\['user'\]: .*got list"):
        VerlScorer(trained_personal)(solution_str=REPLIES[0],
                                     extra_info={"prompt": PROMPT, "user": ["u1"]})


def test_openrlhf_reads_weights_and_users(trained_multi, trained_personal):
    queries = [PROMPT + " " + r for r in REPLIES]
    out = OpenRLHFRewardFunc(trained_multi)(queries, [PROMPT] * 2,
                                            weights=[{"contrary": 1}, None])
    np.testing.assert_allclose(out["rewards"].numpy(), _expected(
        trained_multi, weights=[{"contrary": 1}, None]), rtol=1e-5, atol=1e-5)
    out = OpenRLHFRewardFunc(trained_personal)(queries, [PROMPT] * 2, users=["u2", "u1"])
    np.testing.assert_allclose(out["rewards"].numpy(), _expected(
        trained_personal, users=["u2", "u1"]), rtol=1e-5, atol=1e-5)
    with pytest.raises(ConfigError, match=r"sample 0, weights: unknown attribute 'nope'"):
        OpenRLHFRewardFunc(trained_multi)(queries, [PROMPT] * 2, weights=["nope=1", None])
    with pytest.raises(ConfigError, match="got 1 weights values for 2 responses"):
        OpenRLHFRewardFunc(trained_multi)(queries, [PROMPT] * 2, weights=[None])
    with pytest.raises(ConfigError, match="'weights' must be a list"):
        OpenRLHFRewardFunc(trained_multi)(queries, [PROMPT] * 2, weights="harmless=1")


def test_get_reward_takes_weights_and_users_per_query(trained_multi, trained_personal):
    queries = [PROMPT + " " + r for r in REPLIES]
    body = {"query": queries, "prompts": [PROMPT] * 2, "weights": [{"contrary": 1}, None]}
    with BackgroundServer(create_app(trained_multi)) as server:
        out = httpx.post(server.url + "/get_reward", json=body).json()
        bad = httpx.post(server.url + "/get_reward", json={**body, "weights": [None, "x=1"]})
        short = httpx.post(server.url + "/get_reward", json={**body, "weights": [None]})
    np.testing.assert_allclose(out["rewards"], _expected(
        trained_multi, weights=[{"contrary": 1}, None]), **FP32)
    assert bad.status_code == 422 and "weights[1]: unknown attribute 'x'" in bad.text
    assert short.status_code == 422 and "weights" in short.text
    with BackgroundServer(create_app(trained_personal)) as server:
        out = httpx.post(server.url + "/get_reward", json={
            "query": queries, "prompts": [PROMPT] * 2, "users": ["u2", "u1"]}).json()
        refused = httpx.post(server.url + "/get_reward", json={**body})
    np.testing.assert_allclose(out["rewards"], _expected(
        trained_personal, users=["u2", "u1"]), **FP32)
    assert refused.status_code == 422 and "has no attribute heads" in refused.text
