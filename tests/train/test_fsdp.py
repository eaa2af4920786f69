"""``--strategy fsdp`` (PyTorch FSDP2 on gloo, 2 local processes): the weights of one process
on equal and unequal shards; checkpoints that resume with another worker count and the other
strategy; LoRA on a tiny Llama decoder; clear errors for a checkpoint that does not fit.

Each distributed fit costs a few seconds (the workers fork from a server that imported torch
once per session)."""

from __future__ import annotations

import numpy as np
import pytest
from _two_workers import WEIGHT_TOLERANCE, max_weight_diff, seq_spec, two_workers

from rewardlab import api, resolve
from rewardlab.errors import ModelFormatError, TrainingError
from rewardlab.train.workers import run_local


def test_the_model_is_sharded_per_transformer_layer(tiny) -> None:
    from rewardlab.train.fsdp import layer_classes

    assert layer_classes(resolve(seq_spec(tiny)).network) == {"BertEmbeddings", "BertLayer"}


@pytest.mark.parametrize("n_pairs", [16, 9])  # equal shards; a last batch of 1 pair
def test_fsdp_workers_reach_the_weights_of_one(tiny, hh_small, one_thread, n_pairs) -> None:
    import json
    from pathlib import Path

    from _planted import record_shards

    held: list[dict[str, int]] = []

    def launch(_real, payload):
        run_local(record_shards, payload, workers=2)
        held.extend(json.loads(Path(payload["result"], f"shards_rank{r}.json").read_text())
                    for r in range(2))

    data, held_out = hh_small[0].take(range(n_pairs)), hh_small[1].take(range(6))
    one = resolve(seq_spec(tiny)).fit(data, eval_data=held_out)
    # scoring the held-out pairs is a collective under FSDP: every worker evaluates
    two = resolve(seq_spec(tiny)).fit(data, eval_data=held_out, workers=2, launcher=launch,
                                   strategy="fsdp")
    assert max_weight_diff(one, two) <= WEIGHT_TOLERANCE
    # each worker held about half the trained weights, their gradients and AdamW moments
    trained = sum(p.numel() for p in one.network.parameters() if p.requires_grad)
    for rank in held:
        assert 0.45 * trained < rank["params"] < 0.55 * trained
        assert rank["grads"] == rank["params"] and rank["moments"] == 2 * rank["params"]
    for h1, h2 in zip(one.history_, two.history_, strict=True):
        assert h2["accuracy"] == h1["accuracy"]
        assert h2["eval_accuracy"] == h1["eval_accuracy"]
        assert h2["loss"] == pytest.approx(h1["loss"], abs=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize(("first", "then"), [("fsdp", None), ("ddp", "fsdp")])
def test_a_checkpoint_resumes_across_worker_counts_and_strategies(
        tiny, hh_small, tmp_path, one_thread, first, then) -> None:
    """Stopped after step 2 of 4 with 2 workers of ``first``; resumed on one process or on 2
    workers of ``then``: the weights of the uninterrupted run (optimiser state included)."""
    from _planted import stop_after_checkpoint

    data = hh_small[0].take(range(15))  # 4 steps
    spec = seq_spec(tiny, checkpoint_every=1)
    full = resolve(spec).fit(data)
    ckpt = tmp_path / "ckpt"
    with pytest.raises(TrainingError, match="planted stop"):
        resolve(spec).fit(data, checkpoint_dir=ckpt, workers=2, strategy=first,
                          launcher=two_workers(stop_after_checkpoint, stop_at=2))
    if then is None:
        resumed = resolve(spec).fit(data, checkpoint_dir=ckpt, resume=True)
    else:
        resumed = resolve(spec).fit(data, checkpoint_dir=ckpt, resume=True, workers=2,
                                    strategy=then, launcher=two_workers())
    assert max_weight_diff(full, resumed) <= WEIGHT_TOLERANCE
    assert [h["accuracy"] for h in resumed.history_] == [h["accuracy"] for h in full.history_]


@pytest.mark.slow
def test_lora_on_a_decoder_with_fsdp_saves_merges_and_reloads(hh_small, tmp_path,
                                                              one_thread) -> None:
    """Adapters and the score head trained sharded on a tiny Llama, saved as one merged
    checkpoint: the same rewards as one process's run, in rewardlab and plain transformers."""
    pytest.importorskip("peft")
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from tiny_models import tiny_decoder

    lm = str(tiny_decoder(tmp_path / "lm", "llama"))
    spec = seq_spec(lm, lora=8, lr=1e-2, max_length=48)
    data = hh_small[0].take(range(9))
    one = resolve(spec).fit(data)
    result = api.train(spec, data, out=tmp_path / "rm", workers=2, strategy="fsdp")
    assert not (tmp_path / "rm.checkpoints").exists()
    texts = ([hh_small[1].records[0].prompt] * 2,
             [hh_small[1].records[0].chosen, hh_small[1].records[0].rejected])
    reloaded = resolve(str(tmp_path / "rm")).score(*texts)
    np.testing.assert_allclose(reloaded, one.score(*texts), atol=1e-5, rtol=0)
    np.testing.assert_allclose(result.model.score(*texts), reloaded, atol=1e-5, rtol=0)

    tok = AutoTokenizer.from_pretrained(tmp_path / "rm")
    net = AutoModelForSequenceClassification.from_pretrained(tmp_path / "rm").eval()
    encoded = resolve(str(tmp_path / "rm")).encode(*texts)
    with torch.inference_mode():
        plain = [float(net(input_ids=torch.tensor([e.input_ids])).logits[0, 0])
                 for e in encoded]
    np.testing.assert_allclose(plain, reloaded, atol=1e-5, rtol=0)
    assert tok.pad_token is not None


@pytest.fixture(scope="module")
def first_eight():
    return api.load_data("bundled:hh_harmless", limit=8)


@pytest.fixture(scope="module")
def finished_checkpoint(tiny, first_eight, tmp_path_factory):
    """The checkpoint a one-process run leaves at its end (``fit`` keeps it), of the run
    ``rewardlab train bundled:hh_harmless --limit 8`` makes."""
    ckpt = tmp_path_factory.mktemp("finished") / "rm.checkpoints"
    resolve(seq_spec(tiny)).fit(first_eight, checkpoint_dir=ckpt)
    return ckpt


def _copy(checkpoint, tmp_path):
    import shutil

    out = tmp_path / "rm"
    shutil.copytree(checkpoint, tmp_path / "rm.checkpoints")
    return out, tmp_path / "rm.checkpoints"


def test_a_checkpoint_of_another_model_is_refused_naming_the_file(
        tiny, finished_checkpoint, tmp_path, run_cli) -> None:
    from safetensors.torch import load_file, save_file

    out, ckpt = _copy(finished_checkpoint, tmp_path)
    weights = load_file(str(ckpt / "weights.safetensors"))
    name = next(k for k in weights if k.endswith("word_embeddings.weight"))
    weights[name] = weights[name][:, :16].contiguous()  # a narrower model's table
    save_file(weights, str(ckpt / "weights.safetensors"))
    result = run_cli("train", "bundled:hh_harmless", "--model", seq_spec(tiny), "--limit", "8",
                     "--resume", "--out", out)
    assert result.code == 2, result.err
    message = " ".join(result.err.split())  # the console wraps long lines
    assert "weights.safetensors does not fit this model" in message
    assert name in message and "Traceback" not in message
    assert not out.exists()


def test_optimiser_state_that_does_not_fit_is_refused_naming_the_file(
        tiny, first_eight, finished_checkpoint, tmp_path) -> None:
    import torch

    _, ckpt = _copy(finished_checkpoint, tmp_path)
    saved = torch.load(ckpt / "optimizer.pt", weights_only=True)
    group = saved["optimizer"]["param_groups"][0]
    dropped = group["params"].pop()  # the state of one parameter fewer
    saved["optimizer"]["state"].pop(dropped, None)
    torch.save(saved, ckpt / "optimizer.pt")
    with pytest.raises(ModelFormatError, match=r"optimizer\.pt does not fit this model .*"
                                               r"optimiser state is for other parameters"):
        resolve(seq_spec(tiny)).fit(first_eight, checkpoint_dir=ckpt, resume=True)


def test_qlora_with_fsdp_is_refused_with_the_alternative(tiny, hh_small) -> None:
    from rewardlab.errors import ConfigError
    from rewardlab.models.seq import SequenceRewardModel

    model = SequenceRewardModel(path=tiny, lora=8, load_in_4bit=True)  # not loaded: no GPU
    with pytest.raises(ConfigError, match=r"load_in_4bit cannot be combined with --strategy "
                                          r"fsdp.*use --strategy ddp"):
        model.fit(hh_small[0].take(range(4)), workers=2, launcher=two_workers(),
                  strategy="fsdp")
