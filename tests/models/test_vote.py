"""``vote:`` — majority vote within a prompt's group as a reward, ties broken by an ORM."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rewardlab import load_dataset, resolve
from rewardlab.errors import ConfigError, SpecError, UnknownKindError
from rewardlab.evaluate import evaluate_best_of_n
from rewardlab.evaluate.best_of_n import score_best_of_n
from rewardlab.models.vote import VoteRewardModel, prompt_groups


@pytest.fixture(scope="module")
def gsm8k():
    return load_dataset("bundled:gsm8k_examples", limit=40)  # 160 real solutions


def test_plain_vote_is_the_majority_vote_picker(gsm8k) -> None:
    result = evaluate_best_of_n(resolve("vote:"), gsm8k).overall
    # the vote's best-of-n is exactly the majority-vote picker computed independently
    assert result.best_of_n_accuracy == pytest.approx(result.majority)
    assert result.best_of_n_accuracy > result.random


def test_rewards_are_vote_shares_and_unanswered_responses_get_none() -> None:
    vote = VoteRewardModel()
    rewards = vote.score(["q"] * 4 + ["r"] * 2,
                         ["#### 12", "so 12.0 in all. #### $12", "#### 13", "no idea",
                          "#### 7", "The answer is 7."])
    # group q: 12 has 2 votes (12.0 and $12 are 12), 13 one, no answer none; without an ORM
    # every tie-break term is sigma(0) = 0.5 of the 0.5 allowed
    assert rewards[:3].tolist() == pytest.approx([2.25 / 4.5, 2.25 / 4.5, 1.25 / 4.5])
    assert rewards[3] == pytest.approx(0.25 / 4.5)
    assert rewards[4:].tolist() == pytest.approx([2.25 / 2.5, 2.25 / 2.5])
    assert ((rewards >= 0) & (rewards < 1)).all()
    assert prompt_groups(["a", "b", "a", "c"]) == [[0, 2], [1], [3]]
    # a group is every response to the prompt in the call, not only a consecutive run
    shuffled = vote.score(["q", "r", "q"], ["#### 5", "#### 5", "#### 5"])
    assert shuffled.tolist() == pytest.approx([2.25 / 2.5, 1.25 / 1.5, 2.25 / 2.5])


def test_an_orm_orders_only_within_equal_support(gsm8k, trained_embed) -> None:
    vote = VoteRewardModel(trained_embed)
    plain = score_best_of_n(resolve("vote:"), gsm8k)
    orm = score_best_of_n(trained_embed, gsm8k)
    with_orm = score_best_of_n(vote, gsm8k)  # its ORM scores the same batch: the same bits
    broken = 0
    for v, r, w in zip(plain, orm, with_orm, strict=True):
        for i in range(len(v)):
            for j in range(len(v)):
                if v[i] > v[j]:
                    assert w[i] > w[j]  # never overrides the vote
                elif v[i] == v[j] and r[i] > r[j]:
                    assert w[i] > w[j]
                    broken += 1
    assert broken > 0  # there were ties for the ORM to break


def test_trains_saves_and_loads_through_the_cli(run_cli, tmp_path) -> None:
    out = tmp_path / "vote-rm"
    result = run_cli("train", "bundled:gsm8k_examples", "--model",
                     "vote:(embed:minilm?head=linear)?tiebreak=0.25", "--epochs", "5",
                     "--out", out, "--limit", "8")
    assert result.code == 0, result.err
    manifest = json.loads((out / "rewardlab.json").read_text())
    assert manifest["kind"] == "vote" and manifest["config"] == {"tiebreak": 0.25}
    # training options reach the ORM, with its own spec options kept
    orm = json.loads((out / "orm" / "rewardlab.json").read_text())["config"]
    assert orm["epochs"] == 5 and orm["head"] == "linear"
    report = tmp_path / "eval.json"
    result = run_cli("eval", out, "bundled:gsm8k_examples", "--limit", "8", "--json", report)
    assert result.code == 0, result.err
    metrics = json.loads(report.read_text())
    assert metrics["best_of_n_accuracy"] >= metrics["majority"] - 1e-9
    loaded = resolve(out)
    data = load_dataset("bundled:gsm8k_examples", limit=8)
    np.testing.assert_array_equal(np.concatenate(score_best_of_n(loaded, data)),
                                  np.concatenate(score_best_of_n(VoteRewardModel(
                                      loaded.orm, tiebreak=0.25), data)))  # the same ORM


def test_bad_specs_and_untrainable_votes_fail_clearly() -> None:
    with pytest.raises(UnknownKindError, match="vote: tie-break model 'nope:x'"):
        resolve("vote:nope:x")
    with pytest.raises(ConfigError, match="tiebreak"):
        resolve("vote:?tiebreak=2")
    with pytest.raises(SpecError, match="tiebreak"):
        resolve("vote:?tiebreak=lots")
    with pytest.raises(SpecError, match="unknown option 'agg' in 'vote:'; options: tiebreak"):
        resolve("vote:?agg=min")
    with pytest.raises(ConfigError, match="nothing to train"):
        resolve("vote:").fit(load_dataset("bundled:gsm8k_examples", limit=2))


def test_training_options_for_a_vote_without_orm_fail_cleanly(run_cli, tmp_path) -> None:
    from test_cli import assert_clean_error

    result = run_cli("train", "bundled:gsm8k_examples", "--model", "vote:", "--epochs", "3",
                     "--out", tmp_path / "v", "--limit", "2")
    assert_clean_error(result, "the option 'epochs', which model 'vote:' does not have")
    assert not (tmp_path / "v").exists()


def test_pairwise_evaluation_sees_both_replies_as_one_group(trained_embed, hh_small) -> None:
    from rewardlab.evaluate import evaluate_pairwise
    from rewardlab.verify import extract_answer

    # replies with no answer to vote on: the ORM alone orders each pair, which it can only do
    # if chosen and rejected are one group (scored apart, each would get the same reward)
    pairs = hh_small[1].take([i for i, r in enumerate(hh_small[1].records)
                              if extract_answer(r.chosen, fallback=True) is None
                              and extract_answer(r.rejected, fallback=True) is None])
    assert len(pairs) >= 10
    with_vote = evaluate_pairwise(VoteRewardModel(trained_embed), pairs).overall.accuracy
    assert with_vote == evaluate_pairwise(trained_embed, pairs).overall.accuracy
