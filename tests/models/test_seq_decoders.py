"""seq: on decoder LMs (Llama, Qwen2) with LoRA: tiny random checkpoints built here (~4M
parameters, no download), trained on CPU for a few steps.

The regression at the centre: with ``--lora`` the score head must be trained and saved with
the adapters (OpenRLHF's #873/#1342 saved LoRA reward models whose head stayed random), and
the merged checkpoint must score the same in plain transformers as in rewardlab.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from rewardlab import resolve
from rewardlab.errors import ConfigError, ModelFormatError

pytest.importorskip("peft")

PROMPT = "how do I boil an egg?"
REPLIES = ["simmer it for nine minutes then cool it in cold water", "no"]


@pytest.fixture(scope="module", params=["llama", "qwen2"])
def decoder_dir(request, tmp_path_factory) -> str:
    from tiny_models import tiny_decoder

    return str(tiny_decoder(tmp_path_factory.mktemp(request.param) / "lm", request.param))


@pytest.fixture
def one_thread():
    from tiny_models import one_thread

    with one_thread():
        yield


def _spec(path: str, **options) -> str:
    settings = {"max_length": 48, "batch_size": 4, "epochs": 1, "lr": 1e-2, "lora": 8,
                "precision": "fp32", **options}
    return f"seq:{path}?" + "&".join(f"{k}={v}" for k, v in settings.items())


def _head(net) -> np.ndarray:
    (weight,) = [p for n, p in net.named_parameters() if n.endswith("score.weight")
                 or n.endswith("score.modules_to_save.default.weight")]
    return weight.detach().numpy().copy()


def test_lora_trains_the_head_and_the_merged_checkpoint_scores_the_same_everywhere(
        decoder_dir, hh_small, tmp_path, one_thread) -> None:
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    # 96 tokens: the texts compared below fit whole (Qwen2's tokenizer class rebuilt on a
    # WordPiece vocabulary without merges tokenises by character)
    model = resolve(_spec(decoder_dir, max_length=96))
    assert model.decoder and model.tokenizer.pad_token is not None
    if "llama" in decoder_dir:  # its tokenizer has no pad token: the eos pads
        assert model.tokenizer.pad_token == model.tokenizer.eos_token
    head_init = _head(model.network)
    model.fit(hh_small[0].take(range(8)))
    trainable = {n for n, p in model.network.named_parameters() if p.requires_grad}
    assert any("lora_" in n for n in trainable) and any("score" in n for n in trainable)
    out = model.save(tmp_path / "rm")

    saved_head = load_file(str(out / "model.safetensors"))["score.weight"].numpy()
    assert np.abs(saved_head - head_init).max() > 1e-3  # the head trained and was saved

    ours = model.score([PROMPT] * 2, REPLIES)
    reloaded = resolve(str(out)).score([PROMPT] * 2, REPLIES)
    np.testing.assert_allclose(reloaded, ours, atol=1e-5, rtol=0)

    # plain transformers, its own tokenizer and chat template, batch padded on the left
    tok = AutoTokenizer.from_pretrained(out)
    net = AutoModelForSequenceClassification.from_pretrained(out).eval()
    texts = [tok.apply_chat_template([{"role": "user", "content": PROMPT},
                                      {"role": "assistant", "content": r}], tokenize=False)
             for r in REPLIES]
    for side in ("left", "right"):
        tok.padding_side = side
        batch = tok(texts, add_special_tokens=False, padding=True, return_tensors="pt")
        with torch.inference_mode():
            plain = net(**batch).logits[:, 0].double().numpy()
        np.testing.assert_allclose(plain, reloaded, atol=1e-5, rtol=0)


def test_a_long_prompt_is_cut_from_the_left_and_the_reply_kept(decoder_dir) -> None:
    model = resolve(_spec(decoder_dir, lora=0, max_length=24))
    prompt = "start " + "filler " * 100 + "the real question?"
    (enc,) = model.encode([prompt], ["my whole answer"])
    text = "".join(model.tokenizer.decode(enc.input_ids).split())  # WordPiece or chars
    assert len(enc.input_ids) == 24 and "start" not in text
    assert text.endswith("assistant:mywholeanswer")


def test_gradient_checkpointing_changes_memory_not_results(decoder_dir, hh_small,
                                                          one_thread) -> None:
    data = hh_small[0].take(range(4))
    plain = resolve(_spec(decoder_dir, lora=0, lr=1e-3)).fit(data)
    checkpointed = resolve(_spec(decoder_dir, lora=0, lr=1e-3,
                                 gradient_checkpointing="true")).fit(data)
    np.testing.assert_allclose(checkpointed.history_[0]["loss"], plain.history_[0]["loss"],
                               rtol=1e-6)
    np.testing.assert_allclose(checkpointed.score([PROMPT], REPLIES[:1]),
                               plain.score([PROMPT], REPLIES[:1]), atol=1e-5)


def test_lora_targets_that_match_nothing_are_a_clear_error(decoder_dir, hh_small) -> None:
    model = resolve(_spec(decoder_dir, lora_targets="no_such_proj"))
    with pytest.raises(ConfigError, match=r"lora=8 cannot wrap .*no_such_proj.*lora_targets"):
        model.fit(hh_small[0].take(range(4)))


def test_a_tokenizer_with_neither_pad_nor_eos_is_refused(tmp_path) -> None:
    import json

    from tiny_models import tiny_decoder

    path = tiny_decoder(tmp_path / "lm", "llama")
    config = json.loads((path / "tokenizer_config.json").read_text())
    config.pop("eos_token", None)
    (path / "tokenizer_config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFormatError, match="neither a pad nor an eos token"):
        resolve(f"seq:{path}")


def test_hub_id_offline_names_the_id_and_hf_hub_offline(monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelFormatError, match=r"'nobody-here/no-such-rm'.*HF_HUB_OFFLINE"):
        resolve("seq:nobody-here/no-such-rm")


@pytest.mark.parametrize(("options", "message"), [
    ({"device": "cuda"}, r"--device cuda: CUDA is not available"),
    ({"device": "cuda:3"}, r"--device cuda:3"),
    ({"device": "tpu"}, r"'device' parameter of SeqConfig must be one of"),
    ({"load_in_4bit": "true", "lora": 8, "device": "cpu"}, r"load_in_4bit needs a CUDA GPU"),
    ({"load_in_4bit": "true", "lora": 0}, r"'load_in_4bit' parameter of SeqConfig needs"),
])
def test_devices_this_machine_lacks_are_clear_errors(decoder_dir, options, message) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(ConfigError, match=message):
        resolve(_spec(decoder_dir, **options))


def test_bf16_and_int8_scoring_stay_close_to_fp32(decoder_dir, hh_small, one_thread) -> None:
    """The CPU scoring opt-ins: same ranking on the whole, small deviations."""
    data = hh_small[1]
    prompts = [r.prompt for r in data.records]
    replies = [r.chosen for r in data.records]
    model = resolve(_spec(decoder_dir, lora=0, lr=1e-3)).fit(hh_small[0].take(range(4)))
    exact = model.score(prompts, replies)
    spread = float(exact.max() - exact.min())
    for precision, tolerance in (("bf16", 0.1), ("int8", 0.1)):
        model.config = dataclasses.replace(model.config, score_precision=precision)
        fast = model.score(prompts, replies)
        assert fast.dtype == np.float64
        assert np.abs(fast - exact).max() <= tolerance * max(spread, 1e-3), precision
        assert np.corrcoef(fast, exact)[0, 1] > 0.9
