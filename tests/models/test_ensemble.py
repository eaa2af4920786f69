"""ensemble: members combined with mean / min (WCO) / uwo, uncertainty = member std."""

from __future__ import annotations

import json

import numpy as np
import pytest

from _tolerance import assert_fp32_close
from rewardlab import resolve
from rewardlab.errors import ConfigError, SpecError, UnknownKindError
from rewardlab.models.ensemble import EnsembleRewardModel, split_members, train_ensemble


@pytest.fixture(scope="module")
def heads(hh_small):
    """Three embedding heads on one encoder, trained on bootstrap samples (shared cache)."""
    return train_ensemble("embed:minilm?epochs=10", hh_small[0], 3, agg="uwo", lam=0.5)


def _args(data):
    return [r.prompt for r in data.records], [r.chosen for r in data.records]


def test_member_specs_split_on_top_level_commas_only() -> None:
    assert split_members("a:x,(b:y?p=1&q=2),c:z") == ["a:x", "b:y?p=1&q=2", "c:z"]
    with pytest.raises(SpecError, match="unbalanced"):
        split_members("(a:x,b:y")
    with pytest.raises(SpecError, match="empty member"):
        split_members("a:x,,b:y")


def test_aggregations_follow_their_definitions(heads, hh_small) -> None:
    prompts, replies = _args(hh_small[1])
    members = heads.member_scores(prompts, replies)
    assert members.shape == (3, len(replies))
    assert not np.allclose(members[0], members[1])  # different seeds and samples
    for row, member in zip(members, heads.members, strict=True):  # stacked == one by one
        assert_fp32_close(row, member.score(prompts, replies))  # a 3-head matrix vs one head
    reward, std = heads.score_with_uncertainty(prompts, replies)  # the same call: bitwise
    np.testing.assert_array_equal(std, members.std(axis=0))
    np.testing.assert_array_equal(reward, members.mean(axis=0) - 0.5 * members.var(axis=0))
    for agg, expected in (("mean", members.mean(axis=0)), ("min", members.min(axis=0))):
        model = EnsembleRewardModel(heads.members, agg=agg)  # the same three heads stacked
        np.testing.assert_array_equal(model.score(prompts, replies), expected)


def test_heads_share_one_feature_pass(heads, hh_small, monkeypatch) -> None:
    prompts, replies = _args(hh_small[1])
    calls = []
    first = heads.members[0]
    for member in heads.members:
        real = member.features
        monkeypatch.setattr(member, "features", lambda p, r, real=real: calls.append(1)
                            or real(p, r))
    heads.score(prompts, replies)
    assert len(calls) == 1
    assert first.encoder is heads.members[1].encoder


def test_saved_ensemble_round_trips_and_members_are_specs(heads, hh_small, tmp_path) -> None:
    out = heads.save(tmp_path / "ens")
    manifest = json.loads((out / "rewardlab.json").read_text())
    assert manifest["kind"] == "ensemble" and manifest["state"]["members"][0] == "member-0"
    prompts, replies = _args(hh_small[1])
    assert_fp32_close(resolve(str(out)).score(prompts, replies), heads.score(prompts, replies))
    spec = f"ensemble:{out / 'member-0'},({out / 'member-1'})?agg=min"
    pair = resolve(spec)
    assert pair.config.agg == "min" and len(pair.members) == 2
    # two heads stacked vs three: another matrix shape, so float32 sums in another order
    assert_fp32_close(pair.score(prompts, replies),
                      heads.member_scores(prompts, replies)[:2].min(axis=0))


def test_bad_ensemble_specs_say_what_is_wrong(tmp_path) -> None:
    with pytest.raises(UnknownKindError, match="ensemble member 'embd:minilm'"):
        resolve("ensemble:embed:minilm,embd:minilm")
    with pytest.raises(ConfigError, match="agg"):
        resolve("ensemble:embed:minilm,embed:minilm?agg=max")
    with pytest.raises(ConfigError, match="at least 2"):
        resolve("ensemble:embed:minilm")
    with pytest.raises(SpecError, match="lambda"):
        resolve("ensemble:embed:minilm,embed:minilm?agg=uwo&lambda=big")
