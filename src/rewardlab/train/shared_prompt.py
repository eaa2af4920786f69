"""One forward pass over a prompt for every response that continues it (decoder reward models).

Why: a preference pair's chosen and rejected responses continue the same prompt, and so do a
best-of-n group's n responses. In a causal decoder the states over the prompt do not depend on
what follows, so computing them once per group instead of once per response saves the
prompt's share of the compute, for every response but one. On HH, whose dialogue prefixes are
most of each input, that is most of a pair's tokens.

How (packing, exact): the prompt and its distinct responses become one row,
``[prompt | r_1 | ... | r_k]``, with a block attention mask (a prompt token sees the prompt
causally; a response token sees the prompt and its own response causally, nothing of the
other responses) and position ids that restart after the prompt for each response. Each
response therefore sees exactly the ids and positions it would see alone as
``[prompt | r_i]``, and its reward is read where the unshared model reads it: at the last id
that is not the pad id. The network is called whole (LoRA, autocast, wrappers unchanged); a
hook on its score head keeps the per-token logits the head computes anyway.

Only inputs whose kept prompt ids are identical share: truncation keeps every response whole
and cuts the prompt from the left by an amount that depends on the response, so a prompt cut
differently for two responses is two prompts here, and sharing never changes a reward beyond
float rounding. Why not reuse the prompt's KV cache instead: a cache serves a batch of
prompts of different lengths only with left padding and per-row offsets, and expanding it n
ways for training keeps n copies in the graph; one packed row has neither problem.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from rewardlab.errors import ConfigError

if TYPE_CHECKING:
    import torch

    from rewardlab.models._hf_inputs import EncodedPair

__all__ = ["SHARE_CHOICES", "Packed", "Row", "pack", "packed_outputs", "packed_rewards",
           "plan_rows", "prompt_sharing", "shared_rewards"]

SHARE_CHOICES = ("auto", "true", "false")
#: Model types whose packed rewards are checked against separate inputs, SDPA and eager
#: (``tests/models/test_shared_prompt.py``); ``share_prompt=auto`` shares only on these.
VERIFIED_TYPES = frozenset({"gemma", "gpt2", "llama", "mistral", "olmo2", "phi3", "qwen2",
                            "qwen3"})
#: A packed row holds at most this many times its longest input: the masked attention is
#: computed densely, so very long rows (many responses) cost more attention than they save.
ROW_FACTOR = 2


@dataclass(slots=True)
class Row:
    """One packed input: a prompt, the distinct responses that continue it, and which
    response slot each input (by index) reads its reward from."""

    prompt: tuple[int, ...]
    responses: list[tuple[int, ...]] = field(default_factory=list)
    items: list[tuple[int, int]] = field(default_factory=list)
    slots: dict[tuple[int, ...], int] = field(default_factory=dict)
    length: int = 0

    def add(self, index: int, response: tuple[int, ...]) -> None:
        slot = self.slots.get(response)
        if slot is None:  # the same response twice (best-of-n pairs) is computed once
            slot = self.slots[response] = len(self.responses)
            self.responses.append(response)
            self.length += len(response)
        self.items.append((index, slot))


def plan_rows(items: Sequence[EncodedPair], *, max_row: int = 0) -> list[Row]:
    """Inputs grouped into rows by identical prompt ids, in first-seen order.

    Args:
        max_row: a row takes no more responses once this long (0 = ``ROW_FACTOR`` times the
            longest input); a single response always fits.
    """
    limit = max_row or ROW_FACTOR * max((len(e.input_ids) for e in items), default=0)
    open_rows: dict[tuple[int, ...], Row] = {}
    rows: list[Row] = []
    for index, item in enumerate(items):
        p = min(item.prompt_len, len(item.input_ids))
        prompt, response = tuple(item.input_ids[:p]), tuple(item.input_ids[p:])
        row = open_rows.get(prompt) if p else None
        if row is not None and response not in row.slots and \
                row.length + len(response) > limit:
            row = None
        if row is None:
            row = Row(prompt, length=p)
            rows.append(row)
            if p:
                open_rows[prompt] = row
        row.add(index, response)
    return rows


@dataclass(frozen=True, slots=True)
class Packed:
    """Tensors of packed rows, and where the reward of input ``order[i]`` is read
    (``rows[i]``, ``cols[i]``)."""

    input_ids: torch.Tensor
    position_ids: torch.Tensor
    segments: torch.Tensor  # 0 prompt, k response k (1-based), -1 padding
    order: np.ndarray
    rows: torch.Tensor
    cols: torch.Tensor


def pack(items: Sequence[EncodedPair], rows: Sequence[Row], pad_id: int | None, *,
         width: int = 0) -> Packed:
    """Right-padded packed rows, at least ``width`` wide; ``rows`` index into ``items``."""
    import torch

    pad = 0 if pad_id is None else pad_id
    width = max(width, *(row.length for row in rows))
    ids = np.full((len(rows), width), pad, dtype=np.int64)
    pos = np.zeros((len(rows), width), dtype=np.int64)
    seg = np.full((len(rows), width), -1, dtype=np.int64)
    order = np.array([index for row in rows for index, _ in row.items], dtype=np.int64)
    read_row = np.zeros(len(order), dtype=np.int64)
    read_col = np.zeros(len(order), dtype=np.int64)
    at = 0
    for r, row in enumerate(rows):
        p = len(row.prompt)
        ids[r, :p], pos[r, :p], seg[r, :p] = row.prompt, np.arange(p), 0
        starts, col = [], p
        for k, response in enumerate(row.responses, start=1):
            n = len(response)
            ids[r, col:col + n] = response
            pos[r, col:col + n] = np.arange(p, p + n)
            seg[r, col:col + n] = k
            starts.append(col)
            col += n
        for index, slot in row.items:
            last = _last_non_pad(items[index].input_ids, pad_id)
            read_row[at] = r
            read_col[at] = last if last < p else starts[slot] + last - p
            at += 1
    return Packed(torch.from_numpy(ids), torch.from_numpy(pos), torch.from_numpy(seg), order,
                  torch.from_numpy(read_row), torch.from_numpy(read_col))


def _last_non_pad(ids: Sequence[int], pad_id: int | None) -> int:
    """Where transformers' sequence classifiers read a decoder's score: the rightmost id
    that is not the pad id (0 when every id is), so a trailing eos used as pad is skipped
    exactly as in the unshared path."""
    if pad_id is None:
        return len(ids) - 1
    for i in range(len(ids) - 1, -1, -1):
        if ids[i] != pad_id:
            return i
    return 0


def block_mask(segments: torch.Tensor, *, additive: bool, dtype: Any = None) -> torch.Tensor:
    """The ``(rows, 1, width, width)`` mask: causal, and a response sees the prompt and
    itself only. Boolean (True = attend) for SDPA; additive (0 / dtype min) for eager
    attention, which adds the mask to its scores. A padding token sees the prompt and the
    padding before it, so no query row is empty (an empty one would be NaN)."""
    import torch

    width = segments.shape[1]
    causal = torch.ones(width, width, dtype=torch.bool, device=segments.device).tril()
    query, key = segments[:, :, None], segments[:, None, :]
    allowed = (causal & ((key == 0) | (key == query)))[:, None]
    if not additive:
        return allowed
    dtype = dtype or torch.float32
    return torch.zeros(allowed.shape, dtype=dtype, device=segments.device).masked_fill(
        ~allowed, torch.finfo(dtype).min)


def _score_head(net: Any) -> Any:
    base = net.get_base_model() if hasattr(net, "get_base_model") else net
    return getattr(base, "score", None)


def _model_config(net: Any) -> Any:
    base = net.get_base_model() if hasattr(net, "get_base_model") else net
    return base.config


def shared_rewards(net: Any, items: Sequence[EncodedPair], pad_id: int | None, *,
                   width: int = 0, heads: torch.Tensor | None = None) -> torch.Tensor:
    """One reward per input (in order), each prompt computed once: what ``net`` gives for
    each input alone, to float rounding. ``heads`` picks each input's output column (a
    ``multi:seq:`` model's attribute; column 0 without it). Call it under the caller's
    autocast / grad mode."""
    import torch

    packed = pack(items, plan_rows(items), pad_id, width=width)
    inverse = torch.from_numpy(np.argsort(packed.order, kind="stable"))
    outputs = packed_outputs(net, packed)
    outputs = outputs[inverse.to(outputs.device)]
    if heads is None:
        return outputs[:, 0]
    return outputs.gather(1, heads.to(outputs.device).unsqueeze(1))[:, 0]


def packed_rewards(net: Any, packed: Packed) -> torch.Tensor:
    """The reward of each input ``packed.order`` names, from one call of ``net``."""
    return packed_outputs(net, packed)[:, 0]


def packed_outputs(net: Any, packed: Packed) -> torch.Tensor:
    """Every output column of the score head at each input ``packed.order`` names."""
    device = next(net.parameters()).device
    eager = getattr(_model_config(net), "_attn_implementation", "sdpa") == "eager"
    segments = packed.segments.to(device)
    mask = block_mask(segments, additive=eager,
                      dtype=next(net.parameters()).dtype if eager else None)
    captured: list[Any] = []
    handle = _score_head(net).register_forward_hook(
        lambda _module, _inputs, output: captured.append(output))
    try:
        net(input_ids=packed.input_ids.to(device), attention_mask=mask,
            position_ids=packed.position_ids.to(device))
    finally:
        handle.remove()
    return captured[-1][packed.rows.to(device), packed.cols.to(device)]


def _why_not(net: Any) -> str | None:
    """Why ``net``'s prompts cannot be shared exactly, or None when they can."""
    causal = [m.is_causal for m in net.modules() if isinstance(getattr(m, "is_causal", None),
                                                                bool)]
    config = _model_config(net)
    if not causal or not all(causal):
        return (f"it is a bidirectional encoder ({config.model_type}): its prompt tokens "
                "attend to the response, so no two responses share their prompt states")
    attention = getattr(config, "_attn_implementation", "sdpa")
    if attention not in ("sdpa", "eager"):
        return (f"attn_implementation={attention} takes no custom attention mask; use sdpa "
                "or eager")
    if _score_head(net) is None:
        return f"its {type(net).__name__} has no 'score' head to read rewards from"
    if any(type(p).__name__ == "DTensor" for p in net.parameters()):
        return "its parameters are sharded (FSDP)"
    return None


def prompt_sharing(option: str, net: Any, *, name: str = "the model") -> bool:
    """Whether to share prompts for ``share_prompt=option``: ``auto`` shares on the causal
    decoders in ``VERIFIED_TYPES`` (SDPA or eager attention); ``true`` on any causal decoder
    it can, and says why not otherwise; ``false`` never.

    Raises:
        ConfigError: ``true`` on a model that cannot share (a bidirectional encoder, say).
    """
    if option == "false":
        return False
    why = _why_not(net)
    if option == "true" and why is not None:
        raise ConfigError(f"share_prompt=true cannot apply to {name}: {why}; use "
                          "share_prompt=auto (shares only where it is exact) or false")
    return why is None and (option == "true"
                            or _model_config(net).model_type in VERIFIED_TYPES)
