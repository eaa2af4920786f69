"""``personal:`` models: a low-rank basis with per-user weights, new users fitted from a few
pairs, unknown users scored with the population mixture (and told so)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from _pairs_util import flipped, with_user
from rewardlab import load_dataset, resolve
from rewardlab.errors import DataError
from rewardlab.evaluate.pairwise import evaluate_pairwise
from rewardlab.models.personal import fit_user_weights
from rewardlab.scoring import route, score_batch


def test_training_users_are_told_apart(trained_personal, user_pairs):
    assert route(trained_personal) == "users"
    result = evaluate_pairwise(trained_personal, user_pairs)
    assert result.per_user is not None
    assert result.per_user["n_users"] == 2
    # each user's own weights fit their own (opposite) labels better than chance
    assert result.per_user["per_user_accuracy_mean"] > 0.7
    assert result.to_json()["per_user_accuracy_p10"] <= result.per_user["per_user_accuracy_mean"]


def test_new_user_fitted_from_a_few_pairs_without_touching_the_basis(trained_personal,
                                                                     attribute_sets):
    model = trained_personal.with_options({})
    basis = {k: v.clone() for k, v in model.basis_.state_dict().items()}
    # a new user who judges like u2 (HH's labels reversed), on pairs the basis has embedded
    like_u2 = with_user(flipped(attribute_sets["harmless"].take(range(12))), "new")
    before = evaluate_pairwise(model, like_u2).overall.accuracy  # population mixture
    start = time.perf_counter()
    used = model.adapt(like_u2)
    assert time.perf_counter() - start < 5.0
    assert used == {"new": 12}
    after = evaluate_pairwise(model, like_u2).overall.accuracy
    assert after > before
    for k, v in model.basis_.state_dict().items():
        assert (v == basis[k]).all()
    assert "new" not in trained_personal.user_weights_


def test_unknown_user_gets_the_population_mixture_and_the_details_say_so(trained_personal):
    batch = score_batch(trained_personal, ["hi", "hi"], ["hello", "go away"],
                        users=["u1", "stranger"])
    assert batch.details is not None
    assert [d["user_fit"] for d in batch.details] == ["adapted", "population"]
    population = trained_personal.score(["hi"], ["go away"])
    assert batch.rewards[1] == pytest.approx(population[0], rel=1e-5, abs=1e-6)  # fp32


def test_no_pairs_give_back_the_prior_and_weights_stay_non_negative():
    prior = np.array([0.3, 0.7])
    assert fit_user_weights(np.zeros((0, 2)), prior, 1.0).tolist() == prior.tolist()
    w = fit_user_weights(np.array([[-5.0, 1.0]] * 20), prior, 0.1)
    assert w[0] == 0.0 and w[1] > prior[1]


def test_save_load_keeps_users_and_takes_a_user_option(trained_personal, tmp_path):
    trained_personal.save(tmp_path / "p")
    loaded = resolve(tmp_path / "p")
    assert sorted(loaded.user_weights_) == ["u1", "u2"]
    as_u2 = resolve(f"{tmp_path / 'p'}?user=u2")
    expected = score_batch(trained_personal, ["hi"], ["hello"], users=["u2"]).rewards
    assert as_u2.score(["hi"], ["hello"]) == pytest.approx(expected, abs=1e-5)


def test_training_needs_a_user_on_every_pair(hh_small):
    with pytest.raises(DataError, match="has no 'user'"):
        resolve("personal:embed:minilm?rank=2&epochs=1").fit(hh_small[0].take(range(4)))


def test_spaces_around_a_user_id_name_the_same_user(trained_personal, user_pairs, tmp_path):
    # a CSV written "u1, ..." or a request's "u1 " means u1: scored with u1's weights, not the
    # population mixture, and counted as one user in training data read from a file
    batch = score_batch(trained_personal, ["hi"] * 3, ["go away"] * 3,
                        users=["u1", " u1 ", "  "])
    assert [d["user_fit"] for d in batch.details] == ["adapted", "adapted", "population"]
    assert batch.rewards[1] == batch.rewards[0]
    path = tmp_path / "users.csv"
    path.write_text("prompt,chosen,rejected,user\nq,a,b, u1\nq2,c,d,u1 \nq3,e,f,   \n")
    records = load_dataset(path).records
    assert [r.user for r in records] == ["u1", "u1", None]
