"""CombinedReward: parsing reward specs, weights, GDPO normalisation, references, NaN, caching."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from _tolerance import assert_fp32_close
from rewardlab.adapters import CombinedReward, RewardTerm, _core, parse_reward_config, reward_terms
from rewardlab.errors import ConfigError, TrainingError
from rewardlab.shaping import gdpo_advantages


def test_reward_specs_in_every_form(small_rm_dir) -> None:
    one = reward_terms(str(small_rm_dir))
    assert [(t.name, t.weight) for t in one] == [("small_rm", 1.0)]
    listed = reward_terms(["verify:math", "verify:math", small_rm_dir], weights=[1, 2, 3])
    assert [t.name for t in listed] == ["verify_math", "verify_math_2", "small_rm"]
    assert [t.weight for t in listed] == [1, 2, 3]
    named = reward_terms({"acc": "verify:math", "rm": RewardTerm(model="x:y", weight=0.5)})
    assert [(t.name, t.model, t.weight) for t in named] == [("acc", "verify:math", 1.0),
                                                            ("rm", "x:y", 0.5)]
    text = '[{"spec": "verify:math", "weight": 0.5, "name": "acc"}, "embed:minilm"]'
    assert [(t.name, t.weight) for t in reward_terms(text)] == [("acc", 0.5),
                                                                ("embed_minilm", 1.0)]
    terms, options = parse_reward_config('{"rewards": ["verify:math"], "normalize": "group"}')
    assert options == {"normalize": "group"} and terms[0].model == "verify:math"


def test_bad_reward_specs_say_how_to_write_them() -> None:
    with pytest.raises(ConfigError, match="as JSON"):
        parse_reward_config("[{spec: 1}]")
    with pytest.raises(ConfigError, match='"rewards" list'):
        parse_reward_config('{"normalize": "group"}')
    with pytest.raises(ConfigError, match="unknown keys"):
        parse_reward_config('[{"spec": "verify:math", "wieght": 2}]')
    with pytest.raises(ConfigError, match="one weight per reward"):
        reward_terms(["a:b", "c:d"], weights=[1.0])
    for options in ('"normalize": "group"', '"normalise": "group"', '"user": "u1"'):
        with pytest.raises(ConfigError, match=r"has options \[.*only the verl and OpenRLHF "):
            CombinedReward('{"rewards": ["verify:math"], ' + options + '}')  # not dropped
    with pytest.raises(ConfigError, match="one weight per reward name"):
        reward_terms({"a": "a:b"}, weights={"b": 1.0})
    with pytest.raises(ConfigError, match="finite number"):
        RewardTerm(model="a:b", weight=float("nan"))
    with pytest.raises(ConfigError, match="'normalize' parameter of CombinedReward"):
        CombinedReward("a:b", normalize="batch")


def test_weighted_sum_and_group_normalisation(length_model, exact_match) -> None:
    prompts = ["p", "p", "p", "q", "q"]
    responses = ["4", "four", "44", "x", "7"]
    refs = ["4", "4", "4", "7", "7"]
    combo = CombinedReward({"len": length_model(), "acc": exact_match}, weights=[0.5, 2.0])
    scores = combo.score(prompts, responses, refs)
    assert scores.components["len"].tolist() == [1.0, 4.0, 2.0, 1.0, 1.0]
    assert scores.components["acc"].tolist() == [1.0, 0.0, 0.0, 0.0, 1.0]
    np.testing.assert_allclose(scores.total, 0.5 * scores.components["len"]
                               + 2.0 * scores.components["acc"])
    gdpo = CombinedReward({"len": length_model(), "acc": exact_match}, weights=[0.5, 2.0],
                          normalize="group").score(prompts, responses, refs)
    expected = gdpo_advantages(scores.components, groups=[0, 0, 0, 1, 1],
                               weights={"len": 0.5, "acc": 2.0}, batch_normalize=False)
    np.testing.assert_allclose(gdpo.total, expected)
    assert abs(gdpo.total[:3].sum()) < 1e-12 and abs(gdpo.total[3:].sum()) < 1e-12


def test_group_normalisation_refuses_split_groups(length_model) -> None:
    combo = CombinedReward(length_model(), normalize="group")
    with pytest.raises(ConfigError, match="sample 2 has no other response to its prompt"):
        combo.score(["p", "p", "q"], ["a", "bb", "c"])


def test_reference_models_get_references_and_others_do_not(length_model,
                                                           exact_match) -> None:
    combo = CombinedReward([length_model(), exact_match])
    assert combo.needs_references() and not combo.all_need_references()
    with pytest.raises(ConfigError, match="judges responses against reference answers"):
        combo.score(["p"], ["4"])
    with pytest.raises(ConfigError, match=r"sample 1 has no reference answer.*test:exact-match"):
        combo.score(["p", "p"], ["4", "5"], ["4", None])
    # non-text references (numbers in a dataset column) reach the model as text
    assert combo.score(["p"], ["4"], [4]).components["test_exact_match"].tolist() == [1.0]
    # a model without references ignores them
    assert CombinedReward(length_model()).score(["p"], ["abc"], [None]).total.tolist() == [3.0]


def test_nan_rewards_are_reported_with_model_and_sample(length_model) -> None:
    combo = CombinedReward(length_model(nan_at=[1, 2]))
    with pytest.raises(TrainingError, match=r"'test:length'.*returned nan for sample 1 "
                                            r"\(and 1 more\): prompt 'p', response 'bb'"):
        combo.score(["p", "p", "p"], ["a", "bb", "ccc"])
    omit = CombinedReward([length_model(nan_at=[1]), length_model()], weights=[1.0, 10.0],
                          nan_policy="omit").score(["p", "p"], ["a", "bb"])
    assert omit.total.tolist() == [11.0, 20.0]  # the missing reward drops out of the sum
    alone = CombinedReward(length_model(nan_at=[0]), nan_policy="omit").score(["p"], ["a"])
    assert np.isnan(alone.total[0])


# Scoring from other threads makes the embedding cache (one SQLite connection, bound to the
# thread that opened it) warn and switch itself off; scores are unaffected.
@pytest.mark.filterwarnings("error:embedding cache at")  # scoring from threads keeps the cache
def test_models_load_once_per_process_and_threads_share_them(monkeypatch, small_rm_dir,
                                                             hh_texts) -> None:
    loads: list[str] = []
    real = _core.resolve

    def counting(spec):
        loads.append(str(spec))
        return real(spec)

    monkeypatch.setattr(_core, "resolve", counting)
    monkeypatch.setattr(_core, "_MODELS", {})
    prompts, responses = hh_texts
    expected = CombinedReward(small_rm_dir).score(prompts[:2], responses[:2]).total
    results, errors = [], []

    def work() -> None:
        try:
            combo = CombinedReward(str(small_rm_dir))  # a new adapter, same spec
            results.append(combo.score(prompts[:2], responses[:2]).total)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(loads) == 1
    for r in results:
        assert_fp32_close(r, expected)  # embedded afresh in threads (no cache there)


def test_async_scoring_matches_sync(length_model, exact_match) -> None:
    import asyncio

    class Remote:
        spec = "test:remote"

        def score(self, prompts, responses):  # pragma: no cover - the async path is used
            raise AssertionError("ascore should be awaited")

        async def ascore(self, prompts, responses):
            await asyncio.sleep(0)
            return np.full(len(responses), 2.0)

    combo = CombinedReward([length_model(), exact_match, Remote()], weights=[1, 1, 0.5])
    got = asyncio.run(combo.ascore(["p", "p"], ["4", "55"], ["4", "4"]))
    assert got.total.tolist() == [1 + 1 + 1, 2 + 0 + 1]
