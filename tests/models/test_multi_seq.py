"""``multi:seq:`` models: one fine-tuned backbone, one head per attribute, ``multi:``'s
combinations. Tiny random BERT backbones (``tests/tiny_models.py``) and tens of real pairs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rewardlab import resolve
from rewardlab.errors import ConfigError, ModelFormatError, NotFittedError, SpecError
from rewardlab.evaluate.metrics import pair_outcomes
from rewardlab.models.multi import MultiRewardModel
from rewardlab.models.multi_seq import MultiSeqRewardModel
from rewardlab.scoring import route, score_batch
from tiny_models import one_thread

TINY = "max_length=64&batch_size=8&lr=2e-3"


def _pairs(data):
    records = data.records
    prompts = [r.prompt for r in records]
    return prompts + prompts, [r.chosen for r in records] + [r.rejected for r in records]


def test_each_head_learns_its_own_pairs_and_weights_steer(trained_multi_seq, attribute_sets):
    assert isinstance(trained_multi_seq, MultiSeqRewardModel)
    assert route(trained_multi_seq) == "attributes"
    assert trained_multi_seq.attributes == ("harmless", "contrary")
    own = attribute_sets["harmless"]
    prompts, responses = _pairs(own)
    n = len(own)
    acc = {}
    for name in ("harmless", "contrary"):
        batch = score_batch(trained_multi_seq, prompts, responses,
                            weights=[{name: 1}] * (2 * n))
        acc[name] = pair_outcomes(batch.rewards[:n], batch.rewards[n:]).mean()
    # the harmless head fits its pairs; the contrary head, trained on other pairs with the
    # opposite labels, does not share that preference
    assert acc["harmless"] >= 0.8
    assert acc["contrary"] < acc["harmless"] - 0.2
    history = {h["attribute"]: h for h in trained_multi_seq.history_}
    assert set(history) == {"harmless", "contrary"}
    assert all(h["accuracy"] >= 0.8 and h["pairs"] == 24 for h in history.values())


def test_combinations_are_multis_on_standardised_logits(trained_multi_seq, hh_small):
    prompts, responses = _pairs(hh_small[1].take(range(4)))
    batch = score_batch(trained_multi_seq, prompts, responses,
                        weights=[{"harmless": 3, "contrary": 1}] * len(responses))
    assert batch.details is not None
    z = np.array([[d["rewards_by_attribute"][a] for a in ("harmless", "contrary")]
                  for d in batch.details])
    assert batch.rewards == pytest.approx(z @ [0.75, 0.25])
    assert trained_multi_seq.score(prompts, responses) == pytest.approx(z.mean(axis=1))
    logsig = trained_multi_seq.with_options({"combine": "logsigmoid"})
    assert logsig.score(prompts, responses) == pytest.approx(
        (-np.logaddexp(0.0, -z)).mean(axis=1))
    with pytest.raises(ConfigError, match="unknown attribute 'helpful'"):
        score_batch(trained_multi_seq, ["hi"], ["hello"], weights=[{"helpful": 1}])


def test_a_head_trains_only_on_its_own_pairs(tiny_backbone, attribute_sets):
    """The loop's ``heads=``: a head with no pairs gets no gradient, so its row of the
    classifier is exactly where it started while the other head and the backbone move."""
    from rewardlab.train.seq_loop import train_sequence_pairs

    model = resolve(f"multi:seq:{tiny_backbone}?{TINY}&epochs=2")
    seq = model._backbone(2)
    before = seq.network.classifier.weight.detach().clone()
    data = attribute_sets["harmless"]
    prompts = [r.prompt for r in data.records]
    with one_thread():
        train_sequence_pairs(seq.network, seq.encode(prompts, [r.chosen for r in data]),
                             seq.encode(prompts, [r.rejected for r in data]),
                             config=seq.config, pad_id=seq.tokenizer.pad_token_id,
                             heads=[0] * len(data))
    after = seq.network.classifier.weight.detach()
    assert torch_equal(after[1], before[1])
    assert not torch_equal(after[0], before[0])


def torch_equal(a, b) -> bool:
    return bool((a == b).all())


def test_save_load_round_trip_is_a_transformers_checkpoint(trained_multi_seq, hh_small,
                                                           tmp_path):
    from transformers import AutoModelForSequenceClassification

    prompts, responses = _pairs(hh_small[1].take(range(5)))
    saved = trained_multi_seq.save(tmp_path / "rm")
    loaded = resolve(str(saved))
    assert isinstance(loaded, MultiSeqRewardModel)
    assert loaded.attributes == trained_multi_seq.attributes
    np.testing.assert_allclose(loaded.score(prompts, responses),
                               trained_multi_seq.score(prompts, responses), atol=1e-5)
    steered = resolve(f"{saved}?weights=contrary:1")
    batch = score_batch(trained_multi_seq, prompts, responses,
                        weights=[{"contrary": 1}] * len(responses))
    np.testing.assert_allclose(steered.score(prompts, responses), batch.rewards, atol=1e-5)
    # any tool that reads checkpoints sees one labelled logit per attribute
    net = AutoModelForSequenceClassification.from_pretrained(saved)
    assert net.config.id2label == {0: "harmless", 1: "contrary"}
    assert isinstance(MultiRewardModel.load(saved), MultiSeqRewardModel)
    manifest = json.loads((saved / "rewardlab.json").read_text())
    assert manifest["kind"] == "multi" and manifest["state"]["backbone"] == "seq"


def test_lora_and_learned_gate(tiny_backbone, attribute_sets, hh_small, tmp_path):
    sets = {**attribute_sets, "gate": hh_small[0].take(range(16))}
    with one_thread():
        model = resolve(f"multi:seq:{tiny_backbone}?{TINY}&epochs=2&lora=4&combine=learned"
                        "&gate_epochs=5").fit(sets)
    assert model.gate_ is not None
    prompts, responses = _pairs(hh_small[1].take(range(4)))
    scores = model.score(prompts, responses)
    loaded = resolve(str(model.save(tmp_path / "lora")))
    assert not hasattr(loaded._seq.network, "peft_config")  # merged: a plain checkpoint
    np.testing.assert_allclose(loaded.score(prompts, responses), scores, atol=1e-4)


def test_bad_input_is_refused(tiny_backbone, attribute_sets, tmp_path):
    model = resolve(f"multi:seq:{tiny_backbone}?{TINY}&heads=harmless,helpful")
    with pytest.raises(NotFittedError, match=r"multi:seq:.*--data ATTRIBUTE=FILE"):
        model.score(["hi"], ["hello"])
    with pytest.raises(ConfigError, match="helpful have no training data"):
        model.fit({"harmless": attribute_sets["harmless"]})
    with pytest.raises(SpecError, match="unknown option 'epoch'"):
        resolve(f"multi:seq:{tiny_backbone}?epoch=2")
    with pytest.raises(ModelFormatError, match="no checkpoint directory"):
        resolve(f"multi:seq:{tmp_path / 'nothing'}")
    with pytest.raises((ConfigError, SpecError), match="combine"):
        resolve(f"multi:seq:{tiny_backbone}?combine=max")


def test_cli_trains_from_named_sets_and_scores_with_weights(run_cli, tiny_backbone,
                                                            attribute_sets, tmp_path):
    files = {}
    for name, data in attribute_sets.items():
        files[name] = tmp_path / f"{name}.jsonl"
        files[name].write_text("".join(json.dumps(
            {"prompt": r.prompt if isinstance(r.prompt, str) else
             [{"role": m.role, "content": m.content} for m in r.prompt],
             "chosen": r.chosen, "rejected": r.rejected}) + "\n" for r in data.records))
    out = tmp_path / "rm"
    result = run_cli("train", "--model", f"multi:seq:{tiny_backbone}?{TINY}&epochs=2",
                     "--data", f"harmless={files['harmless']}",
                     "--data", f"contrary={files['contrary']}", "--out", out)
    assert result.code == 0, result.err
    assert "harmless (24 pairs)" in result.out and "contrary (24 pairs)" in result.out
    scored = tmp_path / "scores.jsonl"
    result = run_cli("score", out, files["harmless"], "--weights", "harmless=1",
                     "--out", scored)
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in scored.read_text().splitlines()]
    assert len(rows) == 24
    for row in rows:
        for side in ("chosen", "rejected"):
            parts = row[f"rewards_by_attribute_{side}"]
            assert set(parts) == {"harmless", "contrary"}
            assert row[f"reward_{side}"] == pytest.approx(parts["harmless"])


def test_scoring_options_reach_a_trained_model(trained_multi_seq, hh_small, tmp_path):
    """``seq:``'s scoring settings on a trained multi:seq: model (``DIR?score_tokens=``,
    ``serve --device``): every head scored under the token budget, the heads kept."""
    from rewardlab import api

    prompts, responses = _pairs(hh_small[1].take(range(6)))
    base = trained_multi_seq.score_attributes(prompts, responses)[1]
    small = trained_multi_seq.with_options({"score_tokens": "64"})  # ~one text a pass
    assert small._seq.scoring_tokens == 64 and trained_multi_seq._seq.scoring_tokens == 4096
    got = small.score_attributes(prompts, responses)[1]
    for name in ("harmless", "contrary"):
        np.testing.assert_allclose(got[name], base[name], atol=1e-5)
    saved = trained_multi_seq.save(tmp_path / "rm")
    served = api.on_device(str(saved), "cpu")  # serve --device: a clone would lose the heads
    np.testing.assert_allclose(served.score(prompts, responses),
                               trained_multi_seq.score(prompts, responses), atol=1e-5)
    steered = resolve(f"{saved}?weights=contrary:1&score_tokens=128")
    assert steered._seq.scoring_tokens == 128 and steered.config.weights == "contrary:1"
    with pytest.raises(SpecError, match="score_tokens"):
        resolve(f"{saved}?score_tokens=many")
    with pytest.raises(SpecError, match=r"takes only .*score_tokens.*got lr"):
        resolve(f"{saved}?lr=1")
