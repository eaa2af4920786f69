"""The ``personal:`` basis fit: alternating minimisation converges and recovers a planted
low-rank preference structure well enough for new users; its starts (PCA of the users' own
directions, or a multi: model's heads) and their bad settings."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from rewardlab import resolve
from rewardlab.errors import CapabilityError, ConfigError
from rewardlab.evaluate.pairwise import evaluate_pairwise
from rewardlab.models._lowrank import PairRows, fit_lowrank, pca_basis
from rewardlab.models.personal import fit_user_weights


def _users(directions, n_users, pairs, seed):
    """Pairs of random feature differences labelled by Dirichlet(0.3) mixtures of the
    planted directions, oriented chosen first."""
    rng = np.random.default_rng(seed)
    mix = rng.dirichlet([0.3] * directions.shape[1], size=n_users)
    diffs = rng.normal(size=(n_users * pairs, directions.shape[0]))
    users = np.repeat(np.arange(n_users), pairs)
    sign = np.sign(np.einsum("ij,ij->i", diffs @ directions, mix[users]))
    return diffs * sign[:, None], users


@pytest.fixture(scope="module")
def planted():
    directions = np.random.default_rng(0).normal(size=(30, 3))
    diffs, users = _users(directions, 120, 32, seed=1)
    return directions, diffs, users, fit_lowrank(diffs, users, 120, rank=4, rounds=60)


def test_alternating_fit_decreases_the_objective_and_converges(planted):
    *_, fit = planted
    objective = [h["objective"] for h in fit.history]
    assert all(b <= a * (1 + 1e-4) for a, b in itertools.pairwise(objective)), objective
    assert fit.converged and len(objective) < 60
    assert (fit.weights >= 0).all() and (fit.population >= 0).all()
    assert fit.history[-1]["accuracy"] > 0.85  # training users, own weights


def test_new_users_fitted_from_16_pairs_beat_the_population_by_far(planted):
    directions, _, _, fit = planted
    diffs, users = _users(directions, 40, 16 + 32, seed=2)
    personal, population = [], []
    for u in range(40):
        d = diffs[users == u] @ fit.basis
        w = fit_user_weights(d[:16], fit.population, 1.0)
        personal.append(((d[16:] @ w) > 0).mean())
        population.append(((d[16:] @ fit.population) > 0).mean())
    assert np.mean(personal) > np.mean(population) + 0.05, (np.mean(personal),
                                                         np.mean(population))


def test_shared_rows_give_the_same_fit_as_the_dense_differences(planted):
    """``PairRows`` (distinct rows + indices, what ``fit`` passes when users share replies)
    is the same objective as the dense differences: same start, same path."""
    _, diffs, users, _ = planted
    pool = np.random.default_rng(3).normal(size=(25, diffs.shape[1]))
    rng = np.random.default_rng(4)
    chosen, rejected = rng.integers(0, 25, size=(2, 600))
    rejected = np.where(rejected == chosen, (chosen + 1) % 25, rejected)
    users = np.repeat(np.arange(20), 30)
    rows = PairRows(pool, chosen, rejected)
    np.testing.assert_allclose(rows.dense(), pool[chosen] - pool[rejected])
    shared = fit_lowrank(rows, users, 20, rank=3, rounds=5)
    dense = fit_lowrank(rows.dense(), users, 20, rank=3, rounds=5)
    np.testing.assert_allclose(shared.basis, dense.basis, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose([h["objective"] for h in shared.history],
                               [h["objective"] for h in dense.history], rtol=1e-5)


def test_pca_start_gives_a_direction_both_signs_when_users_disagree():
    rng = np.random.default_rng(0)
    axis = np.eye(8)[0]
    diffs = rng.normal(scale=0.1, size=(40, 8)) + np.repeat([axis, -axis], 20, axis=0)
    basis = pca_basis(diffs, np.repeat([0, 1], 20), 2, 2)
    first, second = basis[:, 0] / np.linalg.norm(basis[:, 0]), basis[:, 1] / np.linalg.norm(
        basis[:, 1])
    assert abs(first[0]) > 0.9 and first @ second < -0.99


def test_trained_model_reports_its_convergence(trained_personal):
    history = trained_personal.history_
    assert {"epoch", "loss", "accuracy", "margin", "objective"} <= set(history[-1])
    assert history[-1]["objective"] <= history[0]["objective"]
    assert isinstance(trained_personal.converged_, bool)


def test_basis_can_start_from_a_multi_models_heads(trained_multi, user_pairs, tmp_path):
    heads = trained_multi.save(tmp_path / "heads")
    model = resolve(f"personal:embed:minilm?rank=3&init={heads}").fit(user_pairs)
    assert model.basis_.weight.shape[0] == 3
    assert evaluate_pairwise(model, user_pairs).per_user["per_user_accuracy_mean"] > 0.7
    with pytest.raises(ConfigError, match="smaller than the 2 attribute heads"):
        resolve(f"personal:embed:minilm?rank=1&init={heads}").fit(user_pairs)


def test_bad_starts_are_refused(trained_embed, user_pairs, tmp_path):
    plain = trained_embed.save(tmp_path / "plain")
    with pytest.raises(CapabilityError, match="has none"):
        resolve(f"personal:embed:minilm?rank=2&init={plain}").fit(user_pairs)
    with pytest.raises(ConfigError, match="mlp basis"):
        resolve("personal:embed:minilm?head=mlp&init=pca")


def test_residual_basis_starts_at_the_linear_fit_and_never_loses_on_its_validation(
        user_pairs, tmp_path):
    """``head=residual``: the trunk's output layer starts at zero (step 0 is the linear
    fit), early stopping keeps the best validation step, and the model saves and loads."""
    from rewardlab.models._residual_basis import fit_residual

    model = resolve("personal:embed:minilm?rank=2&head=residual&hidden=16&trunk_steps=30"
                    "&trunk_lr=1e-3").fit(user_pairs)
    steps = dict(model.trunk_validation_)
    assert steps[model.trunk_best_step_] == max(steps.values())
    assert steps[model.trunk_best_step_] >= steps[0]
    assert evaluate_pairwise(model, user_pairs).per_user["per_user_accuracy_mean"] > 0.7
    loaded = resolve(str(model.save(tmp_path / "residual")))
    prompts = [r.prompt for r in user_pairs.records[:4]]
    replies = [r.chosen for r in user_pairs.records[:4]]
    np.testing.assert_allclose(loaded.score_users(prompts, replies, ["u2"] * 4)[0],
                               model.score_users(prompts, replies, ["u2"] * 4)[0], rtol=1e-5)
    # with zero steps the module is exactly its linear part
    import torch

    from rewardlab.models._residual_basis import ResidualBasis

    rng = np.random.default_rng(0)
    module = ResidualBasis(5, 2, 4, 0.0)
    x = rng.normal(size=(20, 5))
    users = np.repeat([0, 1], 10)
    rows = PairRows(np.concatenate([x, -x]), np.arange(20), np.arange(20, 40))
    fit = fit_residual(module, rows, users, np.arange(20) % 10 >= 8, 2, np.ones((2, 2)),
                       np.ones(2), prior=1.0, lr=1e-2, weight_decay=0.0, steps=0)
    assert fit.best_step == 0
    t = torch.from_numpy(x.astype(np.float32))
    torch.testing.assert_close(module(t), module.linear(t))
    with pytest.raises(ConfigError, match="linear alternating fit"):
        resolve("personal:embed:minilm?head=residual&init=random")


def test_replies_shared_by_users_are_standardised_as_the_pairs_count_them(trained_personal,
                                                                        user_pairs):
    """``fit`` embeds each distinct reply once (two users label the same 24 pairs here), but
    its standardisation is still the moments over every pair's two replies."""
    records = user_pairs.records
    prompts = [r.prompt for r in records]
    feats = trained_personal.embedder.features(
        prompts + prompts, [r.chosen for r in records] + [r.rejected for r in records])
    np.testing.assert_allclose(trained_personal.feature_mean_, feats.mean(axis=0),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(trained_personal.feature_scale_, feats.std(axis=0) + 1e-6,
                               rtol=1e-3, atol=1e-6)


def test_joint_adamw_path_trains_on_shared_rows(user_pairs):
    """``head=mlp`` (joint AdamW from a random start) gathers its pairs from the distinct
    rows too; with 40 epochs it separates the two opposed users."""
    model = resolve("personal:embed:minilm?rank=2&head=mlp&hidden=16&epochs=40").fit(
        user_pairs)
    assert len(model.history_) == 40
    assert evaluate_pairwise(model, user_pairs).per_user["per_user_accuracy_mean"] > 0.7
