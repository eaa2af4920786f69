"""``prm:seq:PATH``: TRL's PRM format (a label on each step's last token), fine-tuning a token
classifier, and PRMs trained elsewhere in that format loaded and scored as they are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rewardlab import load_model, resolve
from rewardlab.errors import ConfigError, NotFittedError
from rewardlab.models.prm_seq import SeqProcessRewardModel, encode_steps
from tiny_models import one_thread, tiny_bert, tiny_decoder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


def test_encoding_labels_the_last_token_of_each_step(tiny: Path) -> None:
    tok = resolve(f"prm:seq:{tiny}").tokenizer
    ids, labels, positions = encode_steps(tok, "What is 2+3?", ["2+3 = 5", "So 5."], "\n",
                                          labels=[True, False])
    assert ids[0] == tok.cls_token_id
    assert [labels[p] for p in positions] == [1, 0]
    assert sum(x != -100 for x in labels) == 2 and positions[-1] == len(ids) - 1
    step = tok("2+3 = 5\n", add_special_tokens=False)["input_ids"]
    assert ids[positions[0] - len(step) + 1:positions[0] + 1] == step
    # too long: the prompt is cut from its start, the steps kept
    ids, _, positions = encode_steps(tok, "word " * 200, ["2+3 = 5", "So 5."], "\n",
                                     max_length=32)
    assert len(ids) == 32 and len(positions) == 2


@pytest.mark.slow
def test_fine_tune_save_and_load_round_trip(tiny: Path, tmp_path: Path, injected_steps
                                            ) -> None:
    train, test = injected_steps
    model = resolve(f"prm:seq:{tiny}?epochs=2&batch_size=16&max_length=128&lr=1e-3")
    with pytest.raises(NotFittedError, match="untrained step head"):
        model.score_steps([test[0].prompt], [test[0].steps])
    with one_thread():
        model.fit(train.take(range(40)))
        assert model.history_[-1]["loss"] < model.history_[0]["loss"]
        scores = model.score_steps([r.prompt for r in test[:4]], [r.steps for r in test[:4]])
        assert [len(s) for s in scores] == [len(r.steps) for r in test[:4]]
        assert all(((s > 0) & (s < 1)).all() for s in scores)
        model.save(tmp_path / "prm")
        for again in (load_model(tmp_path / "prm"), resolve(f"prm:seq:{tmp_path / 'prm'}")):
            assert isinstance(again, SeqProcessRewardModel) and again.trained_
            back = again.score_steps([r.prompt for r in test[:4]], [r.steps for r in test[:4]])
            for a, b in zip(scores, back, strict=True):
                np.testing.assert_allclose(a, b, atol=1e-6)
        rewards = model.score([test[0].prompt], ["\n".join(test[0].steps)])
        assert rewards[0] == pytest.approx(scores[0].min())


def test_a_prm_trained_elsewhere_scores_as_it_is(tmp_path: Path) -> None:
    """A two-label token classifier saved by transformers alone (as TRL's PRMTrainer
    leaves it), no rewardlab.json: ready to score, no fit needed."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForTokenClassification

    from rewardlab.models._encoder import resolve_encoder_path

    tok = AutoTokenizer.from_pretrained(resolve_encoder_path("minilm"))
    config = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64, num_labels=2)
    torch.manual_seed(0)
    BertForTokenClassification(config).save_pretrained(tmp_path)
    tok.save_pretrained(tmp_path)
    model = resolve(f"prm:seq:{tmp_path}")
    assert model.trained_
    with one_thread():
        (scores,) = model.score_steps(["2+3?"], [["2+3 = 5", "So 5."]])
        assert scores.shape == (2,) and model.first_error(["2+3?"], [["2+3 = 5"]], threshold=1.0
                                                          ) == [0]


def test_device_options_are_checked_like_seq() -> None:
    with pytest.raises(ConfigError, match="'device'"):
        SeqProcessRewardModel(device="gpu")
    with pytest.raises(ConfigError, match="'precision'"):
        SeqProcessRewardModel(precision="int4")
    with pytest.raises(ConfigError, match="'attn_implementation'"):
        SeqProcessRewardModel(attn_implementation="fast")


def test_a_missing_gpu_is_a_clear_error(tiny: Path) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match="CUDA is not available"):
        resolve(f"prm:seq:{tiny}?device=cuda")  # the network loads with the spec


def test_a_decoder_prm_trains_with_lora_and_checkpointing(tmp_path: Path, injected_steps
                                                          ) -> None:
    """The GPU recipe on a tiny Llama, on the CPU: a token-classification head on a decoder,
    LoRA adapters (the base weights stay, the head and adapters move), gradient
    checkpointing and bf16 autocast in training; saved merged, reloaded with equal scores."""
    train, test = injected_steps
    base = tiny_decoder(tmp_path / "llama", "llama")
    model = resolve(f"prm:seq:{base}?device=cpu&precision=bf16&lora=4&lora_alpha=8"
                    "&gradient_checkpointing=true&epochs=2&batch_size=8&max_length=128&lr=5e-3")
    net = model.network
    assert type(net).__name__ == "LlamaForTokenClassification" and not model.trained_
    frozen = net.model.layers[0].self_attn.q_proj.weight.detach().clone()
    head = net.score.weight.detach().clone()
    with one_thread():
        model.fit(train.take(range(24)))
        wrapped = model.network
        assert hasattr(wrapped, "peft_config")
        trainable = sum(p.numel() for p in wrapped.parameters() if p.requires_grad)
        assert trainable < sum(p.numel() for p in wrapped.parameters()) / 5
        layer = wrapped.base_model.model.model.layers[0].self_attn.q_proj
        assert torch_equal(layer.base_layer.weight, frozen)
        assert not torch_equal(wrapped.base_model.model.score.modules_to_save["default"].weight,
                               head)
        prompts, steps = [r.prompt for r in test[:4]], [r.steps for r in test[:4]]
        scores = model.score_steps(prompts, steps)
        model.save(tmp_path / "prm")
        again = load_model(tmp_path / "prm")
        assert type(again.network).__name__ == "LlamaForTokenClassification"
        assert again.config.lora == 0 and again.trained_
        for a, b in zip(scores, again.score_steps(prompts, steps), strict=True):
            np.testing.assert_allclose(a, b, atol=1e-5)
        # the merged model in memory scores as before too
        for a, b in zip(scores, model.score_steps(prompts, steps), strict=True):
            np.testing.assert_allclose(a, b, atol=1e-5)


def torch_equal(a, b) -> bool:
    import torch

    return bool(torch.equal(a.detach(), b.detach()))
