"""fp32 attention inside bf16-autocast CPU training: faster, and no less precise.

Measured on MiniLM (12 heads of 32, 32 rows of ~200 tokens, one thread; torch 2.x): the CPU
flash-attention kernel's backward takes ~0.18 s in bf16 and ~0.075 s in fp32, while its forward
costs about the same in both (~0.03 s). With bf16 autocast, attention backward was ~40% of a
``seq:minilm`` training step; running just the attention kernel in fp32 (q, k, v cast up, the
output cast back to bf16 for the next bf16 matmul) halves that part. Every other op still runs
under autocast as before; the attention itself only gains precision (fp32 accumulation
instead of bf16 inputs to softmax), so the result equals the bf16 run to bf16 rounding.

transformers picks a model's attention kernel by name (``config._attn_implementation``) from a
registry, so the switch is a registered wrapper of its own ``sdpa`` function, set on the
model's config for the duration of training and restored afterwards (``_attn_implementation``
is not saved with the model, and scoring runs in fp32 where the cast is a no-op anyway).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["NAME", "fp32_attention"]

#: The registered attention implementation's name.
NAME = "rewardlab_sdpa_fp32"


def _sdpa_fp32(module: Any, query: Any, key: Any, value: Any, attention_mask: Any,
               *args: Any, **kwargs: Any) -> tuple[Any, Any]:
    """transformers' ``sdpa_attention_forward`` on fp32 q/k/v; output in the input dtype."""
    import torch
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    dtype = query.dtype
    if dtype == torch.float32:
        return sdpa_attention_forward(module, query, key, value, attention_mask, *args,
                                      **kwargs)
    if attention_mask is not None and attention_mask.dtype.is_floating_point:
        attention_mask = attention_mask.float()
    with torch.autocast("cpu", enabled=False):
        out, weights = sdpa_attention_forward(module, query.float(), key.float(), value.float(),
                                              attention_mask, *args, **kwargs)
    return out.to(dtype), weights


def _register() -> None:
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, sdpa_mask
    from transformers.modeling_utils import AttentionInterface

    AttentionInterface.register(NAME, _sdpa_fp32)
    ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, sdpa_mask)


@contextmanager
def fp32_attention(net: Any, enabled: bool) -> Iterator[None]:
    """Run ``net``'s SDPA attention in fp32 while the block runs (``enabled``: CPU training
    under bf16 autocast). Models on another attention implementation are left alone."""
    config = getattr(net, "config", None)
    if not enabled or getattr(config, "_attn_implementation", None) != "sdpa":
        yield
        return
    try:
        _register()
    except ImportError:  # a transformers without the attention registry: leave it alone
        yield
        return
    config._attn_implementation = NAME
    try:
        yield
    finally:
        config._attn_implementation = "sdpa"
