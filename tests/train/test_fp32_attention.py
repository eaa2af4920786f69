"""fp32 attention under bf16 autocast: same outputs to bf16 rounding, config restored."""

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from rewardlab.train.fp32_attention import NAME, fp32_attention  # noqa: E402


@pytest.fixture(scope="module")
def tiny_bert():
    config = transformers.BertConfig(vocab_size=64, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=4, intermediate_size=64,
                                     num_labels=1, attn_implementation="sdpa")
    torch.manual_seed(0)
    return transformers.BertForSequenceClassification(config).eval()


def _logits(net, fp32: bool):
    ids = torch.randint(1, 64, (4, 12), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[:2, 8:] = 0  # padded rows: the mask path must match too
    seen = []
    with fp32_attention(net, fp32), torch.autocast("cpu", dtype=torch.bfloat16):
        seen.append(net.config._attn_implementation)
        # hidden states, not the logit: padding moves them ~8e-3 here, rounding ~1e-4
        out = net.bert(input_ids=ids, attention_mask=mask).last_hidden_state.float()
    return out, seen[0]


def test_fp32_attention_matches_bf16_sdpa_and_restores_the_config(tiny_bert):
    plain, name_plain = _logits(tiny_bert, False)
    fast, name_fast = _logits(tiny_bert, True)
    assert (name_plain, name_fast) == ("sdpa", NAME)
    assert tiny_bert.config._attn_implementation == "sdpa"
    assert (plain - fast).abs().max() < 1e-3


def test_fp32_attention_gradients_match(tiny_bert):
    grads = []
    for fp32 in (False, True):
        tiny_bert.zero_grad(set_to_none=True)
        out, _ = _logits(tiny_bert, fp32)
        # a fixed random readout: the plain sum of layer-normed states has ~0 gradient
        weight = torch.randn(out.shape, generator=torch.Generator().manual_seed(2))
        (out * weight).sum().backward()
        grads.append(tiny_bert.bert.encoder.layer[0].attention.self.query.weight.grad.clone())
    scale = grads[0].abs().max()
    assert (grads[0] - grads[1]).abs().max() <= 0.05 * scale


def test_other_implementations_are_left_alone(tiny_bert):
    tiny_bert.config._attn_implementation = "eager"
    try:
        with fp32_attention(tiny_bert, True):
            assert tiny_bert.config._attn_implementation == "eager"
    finally:
        tiny_bert.config._attn_implementation = "sdpa"
