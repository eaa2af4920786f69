"""The ``embed:`` kind: training, scoring, persistence and its errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from _tolerance import assert_fp32_close
from rewardlab import (
    EmbeddingRewardModel,
    NotFittedError,
    load_dataset,
    resolve,
)
from rewardlab.errors import ConfigError, DataError
from rewardlab.evaluate import evaluate_pairwise


def test_scoring_before_training_says_how_to_train() -> None:
    with pytest.raises(NotFittedError, match=r"'embed:minilm' is not trained yet: call fit"):
        resolve("embed:minilm").score(["q"], ["a"])


def test_fit_learns_the_training_pairs(trained_embed, hh_small) -> None:
    last = trained_embed.history_[-1]
    assert last["epoch"] == 20 and last["accuracy"] > 0.85
    train_acc = evaluate_pairwise(trained_embed, hh_small[0]).overall.accuracy
    assert train_acc > 0.85
    assert trained_embed.n_train_pairs_ == 48


def test_scores_are_float64_and_order_independent(trained_embed, hh_small) -> None:
    records = hh_small[1].records
    prompts = [r.prompt for r in records]
    replies = [r.chosen for r in records]
    scores = trained_embed.score(prompts, replies)
    assert scores.dtype == np.float64 and scores.shape == (len(records),)
    order = np.random.default_rng(0).permutation(len(records))
    shuffled = trained_embed.score([prompts[i] for i in order], [replies[i] for i in order])
    assert_fp32_close(shuffled, scores[order])
    one_by_one = np.concatenate(
        [trained_embed.score([p], [r]) for p, r in zip(prompts, replies, strict=True)])
    assert_fp32_close(one_by_one, scores)


def test_scores_do_not_depend_on_the_cache_or_batching(trained_embed, hh_small, tmp_path) -> None:
    """Fresh embeddings, computed in other batchings and orders, give the same rewards."""
    records = hh_small[1].records[:12]
    prompts, replies = [r.prompt for r in records], [r.rejected for r in records]
    expected = trained_embed.score(prompts, replies)
    for budget, batch in ((64, 1), (512, 3), (8192, 64)):
        fresh = EmbeddingRewardModel(cache=False, **trained_embed.get_config())
        fresh.head_ = trained_embed.head_
        fresh.feature_mean_ = trained_embed.feature_mean_
        fresh.feature_scale_ = trained_embed.feature_scale_
        fresh.encoder.token_budget, fresh.encoder.max_batch = budget, batch
        rev = fresh.score(prompts[::-1], replies[::-1])[::-1]
        assert_fp32_close(rev, expected)
        assert fresh.encoder.encoded_texts > 0


def test_save_load_round_trip_and_saved_dir_is_a_spec(trained_embed, hh_small, tmp_path) -> None:
    out = trained_embed.save(tmp_path / "rm")
    manifest = json.loads((out / "rewardlab.json").read_text())
    assert manifest["kind"] == "embed" and manifest["format"] == 1
    assert manifest["config"]["features"] == list(trained_embed.config.features)
    assert {"rewardlab", "torch"} <= set(manifest["versions"])
    loaded = resolve(str(out))
    records = hh_small[1].records
    args = ([r.prompt for r in records], [r.chosen for r in records])
    assert_fp32_close(loaded.score(*args), trained_embed.score(*args))
    assert loaded.spec == str(out)


def test_save_replaces_an_old_model_but_never_a_foreign_folder(trained_embed, tmp_path) -> None:
    out = tmp_path / "rm"
    trained_embed.save(out)
    trained_embed.save(out)  # replacing a model is fine
    assert sorted(p.name for p in out.iterdir()) == ["model.safetensors", "rewardlab.json"]
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("precious")
    with pytest.raises(ConfigError, match="refusing to write a model into"):
        trained_embed.save(foreign)
    assert (foreign / "notes.txt").read_text() == "precious"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp dirs left


def test_margin_loss_needs_a_margin_column(hh_small) -> None:
    model = resolve("embed:minilm?loss=margin&epochs=1")
    with pytest.raises(DataError, match="field 'margin': has no 'margin'"):
        model.fit(hh_small[0])


def test_margin_loss_uses_the_margins(tmp_path: Path) -> None:
    rows = [{"prompt": "Is the sky blue?", "chosen": "Yes, it is blue.",
             "rejected": "No, it is green.", "margin": 1.0},
            {"prompt": "What is 2+2?", "chosen": "4", "rejected": "5", "margin": 3.0}]
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    model = resolve("embed:minilm?loss=margin&epochs=60&head=linear&lr=0.01")
    model.fit(load_dataset(path))
    assert model.history_[-1]["accuracy"] == 1.0


def test_training_needs_pairs_or_best_of_n(tmp_path) -> None:
    path = tmp_path / "points.jsonl"
    path.write_text('{"prompt": "q", "response": "a", "score": 1}\n')
    with pytest.raises(DataError, match="needs pairwise or best-of-n data"):
        resolve("embed:minilm").fit(load_dataset(path))


def test_same_seed_same_model(hh_small) -> None:
    a = resolve("embed:minilm?epochs=3&seed=7").fit(hh_small[0])
    b = resolve("embed:minilm?epochs=3&seed=7").fit(hh_small[0])
    c = resolve("embed:minilm?epochs=3&seed=8").fit(hh_small[0])
    args = ([r.prompt for r in hh_small[1]], [r.chosen for r in hh_small[1]])
    np.testing.assert_array_equal(a.score(*args), b.score(*args))
    assert not np.allclose(a.score(*args), c.score(*args))


@pytest.mark.parametrize("features", ["reply", "turn", "context", "joint", "context*reply"])
def test_every_feature_block_trains(hh_small, features: str) -> None:
    model = resolve(f"embed:minilm?features={features}&epochs=2&head=linear")
    model.fit(hh_small[0].take(range(8)))
    assert model.score(["q"], ["a"]).shape == (1,)
