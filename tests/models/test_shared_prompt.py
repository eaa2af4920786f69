"""seq:?share_prompt: one forward pass over a prompt for all its responses (decoders).

What must hold: packed rows give the rewards, losses and gradients of separate inputs (to
float rounding), whatever the grouping — pairs, best-of-n groups, a group of one, rows with
other prompts in the same batch, prompts cut from the left by different amounts — and an
encoder, whose prompt attends to the response, refuses ``share_prompt=true`` by name.
"""

from __future__ import annotations

import numpy as np
import pytest

from rewardlab import resolve
from rewardlab.data import Message
from rewardlab.errors import ConfigError
from rewardlab.train.shared_prompt import plan_rows

LONG = "tell me " + "more and more " * 30 + "about eggs?"
DIALOGUE = (Message("user", "hi there"), Message("assistant", "hello, how can I help?"),
            Message("user", "how do I boil an egg?"))
#: three prompts: a group of four (one response twice), a long prompt whose two responses
#: get it cut by different amounts, and a group of one; interleaved, as scoring sees them
ROWS = [
    (DIALOGUE, "simmer it for nine minutes then cool it"),
    (LONG, "eggs are laid by hens"),
    (DIALOGUE, "no"),
    ("what is two plus two?", "four"),
    (DIALOGUE, "put it in boiling water for seven minutes and peel it under the tap"),
    (LONG, "a much longer answer about eggs and hens and farms and breakfast and more"),
    (DIALOGUE, "no"),
]


@pytest.fixture(scope="module", params=[("llama", True), ("qwen2", True), ("llama", False)],
                ids=["llama", "qwen2", "llama-no-template"])
def decoder_dir(request, tmp_path_factory) -> str:
    from tiny_models import tiny_decoder

    arch, chat = request.param
    name = f"{arch}-{'chat' if chat else 'plain'}"
    return str(tiny_decoder(tmp_path_factory.mktemp(name) / "lm", arch, chat=chat))


#: Qwen2's tokenizer class rebuilt on a WordPiece vocabulary without merges tokenises by
#: character: it needs room for the dialogue
def _length(path: str) -> int:
    return 200 if "qwen2" in path else 64


@pytest.fixture(autouse=True)
def _one_thread():
    from tiny_models import one_thread

    with one_thread():
        yield


def _model(path: str, share: str, **options):
    settings = {"max_length": _length(path), "batch_size": 4, "epochs": 1, "lr": 1e-3,
                "precision": "fp32", "share_prompt": share, **options}
    model = resolve(f"seq:{path}?" + "&".join(f"{k}={v}" for k, v in settings.items()))
    model.trained_ = True  # score with the seeded random head: same in both models
    return model


def test_best_of_n_groups_score_as_separate_inputs(decoder_dir) -> None:
    shared, alone = _model(decoder_dir, "true"), _model(decoder_dir, "false")
    prompts, responses = [p for p, _ in ROWS], [r for _, r in ROWS]
    encoded = shared.encode(prompts, responses)
    # the long prompt is cut from the left, by a different amount for each response
    long = [e for e, p in zip(encoded, prompts, strict=True) if p is LONG]
    assert len({e.prompt_len for e in long}) == 2
    assert all(len(e.input_ids) == shared.config.max_length for e in long)
    rows = plan_rows(encoded)  # the dialogue's three distinct responses share one row
    assert sorted(len(r.responses) for r in rows) == [1, 1, 1, 3]
    ours = shared.score(prompts, responses)
    np.testing.assert_allclose(ours, alone.score(prompts, responses), atol=1e-5, rtol=0)
    assert ours[2] == ours[6]  # the duplicate response reads the same state
    # a group of one, and one row scored on its own, are the unshared reward too
    np.testing.assert_allclose(shared.score(prompts[3:4], responses[3:4]), ours[3:4],
                               atol=1e-5, rtol=0)


def test_eager_attention_takes_the_additive_mask(decoder_dir) -> None:
    if "llama-plain" not in decoder_dir:
        pytest.skip("one architecture is enough for the eager path")
    shared = _model(decoder_dir, "true", attn_implementation="eager")
    alone = _model(decoder_dir, "false")
    prompts, responses = [p for p, _ in ROWS], [r for _, r in ROWS]
    np.testing.assert_allclose(shared.score(prompts, responses),
                               alone.score(prompts, responses), atol=1e-5, rtol=0)


def test_pair_losses_and_gradients_match_the_unshared_path(decoder_dir) -> None:
    import torch

    from rewardlab.train.seq_loop import collate
    from rewardlab.train.shared_prompt import shared_rewards

    model = _model(decoder_dir, "true", lora=4)
    model._wrap_lora()
    net = model.network.train()
    pairs = [(DIALOGUE, ROWS[0][1], ROWS[4][1]), (LONG, ROWS[5][1], ROWS[1][1]),
             ("what is two plus two?", "four", "five")]
    items = (model.encode([p for p, _, _ in pairs], [c for _, c, _ in pairs])
             + model.encode([p for p, _, _ in pairs], [r for _, _, r in pairs]))
    pad = model.tokenizer.pad_token_id

    def losses_and_grads(shared: bool):
        net.zero_grad(set_to_none=True)
        rewards = (shared_rewards(net, items, pad) if shared
                   else net(**collate(items, pad)).logits[:, 0])
        losses = -torch.nn.functional.logsigmoid(rewards[:3] - rewards[3:])
        losses.mean().backward()
        grads = {n: p.grad.clone() for n, p in net.named_parameters() if p.requires_grad}
        return losses.detach().numpy(), grads

    loss_s, grad_s = losses_and_grads(True)
    loss_u, grad_u = losses_and_grads(False)
    np.testing.assert_allclose(loss_s, loss_u, atol=1e-5, rtol=0)
    assert grad_s.keys() == grad_u.keys() and any("lora_" in n for n in grad_s)
    worst = max(float((grad_s[n] - grad_u[n]).abs().max()) for n in grad_s)
    scale = max(float(g.abs().max()) for g in grad_u.values())
    assert worst <= 1e-5 * max(scale, 1.0), (worst, scale)


def test_one_training_step_ends_at_the_same_weights(decoder_dir, hh_small) -> None:
    if "qwen2" in decoder_dir:
        pytest.skip("qwen2 tokenises HH by character here: llama keeps the test short")
    data = hh_small[0].take(range(4))
    runs = {}
    for share in ("true", "false"):
        # lr 1e-4 (the default): AdamW's first step is ~lr * sign(gradient), so a gradient
        # that is ~0 turns its rounding into up to lr of weight; at lr 1e-3 the largest
        # difference here was 1.4e-5 (1.4% of a step), the gradients themselves agree
        # to 1e-5 of their scale (the test above)
        model = _model(decoder_dir, share, max_length=96, lr=1e-4)
        model.fit(data)  # 4 pairs, batch 4: one optimiser step
        runs[share] = model
    assert runs["true"].history_[0]["loss"] == pytest.approx(runs["false"].history_[0]["loss"],
                                                            abs=1e-6)
    after = {n: p.detach() for n, p in runs["false"].network.named_parameters()}
    worst = max(float((p.detach() - after[n]).abs().max())
                for n, p in runs["true"].network.named_parameters())
    assert worst <= 1e-5


def test_auto_shares_on_decoders_only_and_true_on_an_encoder_is_an_error(
        decoder_dir, tmp_path) -> None:
    from tiny_models import tiny_bert

    assert _model(decoder_dir, "auto")._sharing
    bert = tiny_bert(tmp_path / "bert")
    assert not resolve(f"seq:{bert}")._sharing
    with pytest.raises(ConfigError, match=r"share_prompt=true.*bidirectional encoder"):
        resolve(f"seq:{bert}?share_prompt=true")
    with pytest.raises(ConfigError, match="share_prompt"):
        resolve(f"seq:{decoder_dir}?share_prompt=sometimes")


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
def test_every_architecture_auto_shares_on_gives_the_unshared_rewards(attention) -> None:
    """``share_prompt=auto`` trusts VERIFIED_TYPES: each is checked here on random ids, with
    trailing pad-id tokens (an eos used as pad) and groups of 1 to 4 responses."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from rewardlab.models._hf_inputs import EncodedPair
    from rewardlab.train.seq_loop import collate
    from rewardlab.train.shared_prompt import VERIFIED_TYPES, prompt_sharing, shared_rewards

    rng = np.random.default_rng(0)
    items = []
    for _ in range(3):
        prompt = list(rng.integers(1, 200, size=rng.integers(4, 24)))
        for n in range(rng.integers(1, 5)):
            response = list(rng.integers(1, 200, size=rng.integers(1, 12))) + [0] * (n % 2)
            items.append(EncodedPair(prompt + response, [], len(prompt)))
    items = [items[i] for i in rng.permutation(len(items))]
    for arch in sorted(VERIFIED_TYPES):
        config = AutoConfig.for_model(
            arch, vocab_size=200, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
            num_attention_heads=4, num_key_value_heads=2, head_dim=8, num_labels=1,
            max_position_embeddings=64, pad_token_id=0, bos_token_id=1, eos_token_id=0)
        torch.manual_seed(0)
        net = AutoModelForSequenceClassification.from_config(
            config, attn_implementation=attention).eval()
        assert prompt_sharing("auto", net)
        with torch.inference_mode():
            packed = shared_rewards(net, items, 0)
            alone = net(**collate(items, 0)).logits[:, 0]
        assert float((packed - alone).abs().max()) <= 1e-5, arch


def test_workers_pad_their_shard_to_the_global_batch_widest_row() -> None:
    from rewardlab.models._hf_inputs import EncodedPair
    from rewardlab.train.distributed import World
    from rewardlab.train.seq_loop import _packed_width

    chosen = [EncodedPair([1, 2, 3, 4], [], 2), EncodedPair([5] * 9 + [6], [], 9)]
    rejected = [EncodedPair([1, 2, 7], [], 2), EncodedPair([5] * 9 + [8, 8], [], 9)]
    both = np.array([0, 1])
    assert _packed_width(chosen, rejected, both, World()) == 0  # one process: its own
    # pair 1 packs to 9 prompt ids + 1 + 2 response ids, whichever worker holds pair 0
    assert _packed_width(chosen, rejected, both, World(rank=1, size=2)) == 12
