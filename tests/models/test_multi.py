"""``multi:`` models: one head per attribute, combined by weights that each call can set."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rewardlab import resolve
from rewardlab.errors import ConfigError, NotFittedError
from rewardlab.evaluate.metrics import pair_outcomes
from rewardlab.models.multi import combine_rewards
from rewardlab.scoring import route, score_batch, score_pair_batch


def _pairs(data):
    records = data.records
    prompts = [r.prompt for r in records]
    return prompts + prompts, [r.chosen for r in records] + [r.rejected for r in records]


def test_each_head_learns_its_own_preference_and_weights_steer(trained_multi,
                                                              attribute_sets):
    own = attribute_sets["harmless"]
    prompts, responses = _pairs(own)
    n = len(own)
    acc = {}
    for name in ("harmless", "contrary"):
        batch = score_batch(trained_multi, prompts, responses, weights=[{name: 1}] * (2 * n))
        acc[name] = pair_outcomes(batch.rewards[:n], batch.rewards[n:]).mean()
    # the harmless head fits its own pairs; the contrary head learnt the opposite preference
    assert acc["harmless"] >= 0.9
    assert acc["contrary"] < acc["harmless"] - 0.2
    assert route(trained_multi) == "attributes"


def test_details_carry_every_attribute_and_the_sum_is_their_weighted_mean(trained_multi,
                                                                         hh_small):
    prompts, responses = _pairs(hh_small[1].take(range(4)))
    batch = score_batch(trained_multi, prompts, responses,
                        weights=[{"harmless": 3, "contrary": 1}] * len(responses))
    assert batch.details is not None
    for reward, info in zip(batch.rewards, batch.details, strict=True):
        parts = info["rewards_by_attribute"]
        assert set(parts) == {"harmless", "contrary"}
        assert reward == pytest.approx(0.75 * parts["harmless"] + 0.25 * parts["contrary"])
    # the model's own weights: equal
    plain = trained_multi.score(prompts, responses)
    z = np.array([[d["rewards_by_attribute"][a] for a in ("harmless", "contrary")]
                  for d in batch.details])
    assert plain == pytest.approx(z.mean(axis=1))


@pytest.mark.parametrize(("weights", "message"), [
    ({"helpful": 1}, "unknown attribute 'helpful'"),
    ({"harmless": -1, "contrary": 2}, "must be zero or more"),
    ({"harmless": 0}, "sum to 0"),
])
def test_bad_weights_are_refused(trained_multi, weights, message):
    with pytest.raises(ConfigError, match=message):
        score_batch(trained_multi, ["hi"], ["hello"], weights=[weights])


def test_weights_on_a_model_without_heads_are_refused(trained_embed):
    with pytest.raises(ConfigError, match="no attribute heads"):
        score_batch(trained_embed, ["hi"], ["hello"], weights=[{"harmless": 1}])


def test_saved_model_takes_weights_as_a_spec_option(trained_multi, hh_small, tmp_path):
    prompts, responses = _pairs(hh_small[1].take(range(3)))
    trained_multi.save(tmp_path / "m")
    steered = resolve(f"{tmp_path / 'm'}?weights=contrary:1")
    by_call = score_batch(trained_multi, prompts, responses,
                          weights=[{"contrary": 1}] * len(responses)).rewards
    assert steered.score(prompts, responses) == pytest.approx(by_call, abs=1e-5)
    with pytest.raises(ConfigError, match="unknown attribute 'nope'"):
        resolve(f"{tmp_path / 'm'}?weights=nope:1")


def test_pairs_carry_both_sides_attributes(trained_multi, hh_small):
    scored = score_pair_batch(trained_multi, hh_small[1].records[:2])
    assert scored.details is not None
    assert "rewards_by_attribute" in scored.details[0][0]


def test_combinations():
    z = np.array([[3.0, -1.0], [0.5, 0.5], [-2.0, 4.0]])
    w = np.full((3, 2), 0.5)
    assert combine_rewards(z, "ab", w).tolist() == [1.0, 0.5, 1.0]
    capped = combine_rewards(z, "ab", w, caps={"a": 1.0, "b": 1.0})
    assert capped.tolist() == [0.0, 0.5, -0.5]
    # the conjunction prefers balanced attributes to one very high and one low
    soft = combine_rewards(z, "ab", w, combine="logsigmoid")
    assert soft[1] > soft[0] and soft[1] > soft[2]
    gated = combine_rewards(z, "ab", w, combine="gate", gate=("a", 0.0))
    assert gated[2] < gated[1] < gated[0]  # failing the gate ranks below every passing one


@pytest.mark.parametrize(("weights", "match"), [
    ({"harmless": True}, "must be a number"),
    ({"harmless": "abc"}, "must be a number"),
    ([("harmless", 1), ("harmless", 2)], "twice"),
    (5, "must map attributes to numbers"),
    ({"harmless": float("nan")}, "must be finite"),
])
def test_check_weights_refuses_what_is_not_a_weight(trained_multi, weights, match):
    # the API and serve's /v1/score hand weights straight to the model: a ConfigError, never
    # a bare ValueError or TypeError
    with pytest.raises(ConfigError, match=match):
        trained_multi.check_weights(weights)


def test_huge_weights_do_not_overflow_the_combination(trained_multi):
    batch = score_batch(trained_multi, ["hi"], ["hello"],
                        weights=[{"harmless": 1e308, "contrary": 1e308}])
    even = score_batch(trained_multi, ["hi"], ["hello"], weights=[{"harmless": 1, "contrary": 1}])
    assert batch.rewards[0] == pytest.approx(even.rewards[0])


@pytest.mark.parametrize(("options", "match"), [
    ({"caps": "nope:1"}, "unknown attribute 'nope' in the 'caps' option"),
    ({"combine": "gate", "gate": "nope:0"}, "unknown attribute 'nope' in the 'gate' option"),
    ({"combine": "learned"}, "this model has none"),  # no gate was trained: not silently sum
])
def test_saved_model_options_that_cannot_apply(trained_multi, options, match):
    with pytest.raises(ConfigError, match=match):
        trained_multi.with_options(options).score(["hi"], ["hello"])


def test_untrained_and_missing_heads_say_what_to_do(attribute_sets):
    model = resolve("multi:embed:minilm?heads=harmless,helpful")
    with pytest.raises(NotFittedError, match="--data ATTRIBUTE=FILE"):
        model.score(["a"], ["b"])
    with pytest.raises(ConfigError, match="helpful have no training data"):
        model.fit({"harmless": attribute_sets["harmless"]})


@pytest.mark.parametrize(("name", "why"), [("x,y", "','"), ("h:x", "':'"), ("a=b", "'='"),
                                         ("a&b", "'&'"), ("a?", "'?'"), (" h", "spaces"),
                                         ("", "spaces")])
def test_attribute_names_that_weights_cannot_address_are_refused(attribute_sets, name, why):
    with pytest.raises(ConfigError, match=rf"cannot be used in weights .*{re.escape(why)}"):
        resolve("multi:embed:minilm").fit({name: attribute_sets["harmless"]})


def test_learned_gate_trains_on_a_named_set(attribute_sets, hh_small):
    model = resolve("multi:embed:minilm?combine=learned&epochs=5&gate_epochs=5")
    with pytest.raises(ConfigError, match="named 'gate'"):
        model.fit(dict(attribute_sets))
    model.fit({**attribute_sets, "gate": hh_small[0].take(range(24))})
    batch = score_batch(model, *_pairs(hh_small[1].take(range(4))))
    assert np.isfinite(batch.rewards).all()
    weights = model._gate_weights([r.prompt for r in hh_small[1].records[:4]])
    assert weights.sum(axis=1) == pytest.approx(np.ones(4))
