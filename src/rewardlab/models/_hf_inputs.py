"""Token ids for (prompt, response) pairs fed to a Hugging Face sequence classifier.

Why not ``tokenizer(prompt, response, truncation=...)``: reward models must read the whole
response and as much of the *end* of the prompt as fits, since the last turns are what the
response answers. ``truncation="only_first"`` with ``truncation_side="left"`` does that until a
response alone is too long, where it raises; ``longest_first`` then cuts the response's end
too, but also trims the prompt from the wrong side. So both sides are tokenised once without
special tokens (one batched call each), cut here in token space, and joined by the tokenizer's
own post-processor, which adds ``[CLS] ... [SEP] ... [SEP]`` and type ids for encoders exactly
as ``tokenizer(prompt, response)`` would.

Decoders read one text: the chat template applied to the prompt messages plus the assistant
reply (or ``role: content`` lines without a template); the prompt part is cut from the left.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from rewardlab.data import Message, Prompt, render_prompt
from rewardlab.errors import ModelFormatError

__all__ = ["EncodedPair", "PairEncoder"]

#: When a response alone overflows, the prompt still keeps at least this share of the budget.
MIN_PROMPT_SHARE = 0.25


@dataclass(frozen=True, slots=True)
class EncodedPair:
    """One model input: ids, and type ids (empty for models that have none).

    ``prompt_len``: how many leading ids are the prompt (its leading special tokens included;
    decoders only, 0 for encoders): inputs with equal prompt ids can share one forward pass
    over them (``train/shared_prompt.py``).
    """

    input_ids: list[int]
    token_type_ids: list[int]
    prompt_len: int = 0


class PairEncoder:
    """Turns (prompt, response) into model inputs for one tokenizer and architecture.

    Args:
        tokenizer: a fast Hugging Face tokenizer (its ``tokenizers`` backend does the cutting).
        max_length: tokens per input, special tokens included.
        decoder: read prompt and response as one text (causal LMs) instead of a text pair.
    """

    def __init__(self, tokenizer: Any, max_length: int, *, decoder: bool) -> None:
        backend = getattr(tokenizer, "_tokenizer", None) or getattr(tokenizer, "backend_tokenizer",
                                                                    None)
        if backend is None or not hasattr(backend, "post_process"):
            raise ModelFormatError(
                f"the tokenizer {type(tokenizer).__name__} has no fast (Rust) backend; "
                "rewardlab needs a tokenizer.json next to the model"
            )
        self.tokenizer = tokenizer
        # a private copy: tokenizer.json files often switch on padding or truncation, which
        # would pad each side before it is cut and joined
        from tokenizers import Tokenizer

        self.backend = Tokenizer.from_str(backend.to_str())
        self.backend.no_padding()
        self.backend.no_truncation()
        backend = self.backend
        self.max_length = max_length
        self.decoder = decoder
        self.chat = decoder and bool(getattr(tokenizer, "chat_template", None))
        if decoder and not self.chat:
            self.special = backend.num_special_tokens_to_add(False)
        else:
            self.special = 0 if self.chat else backend.num_special_tokens_to_add(True)
        if max_length <= self.special + 2:
            raise ModelFormatError(f"max_length {max_length} leaves no room for text")

    def _texts(self, prompts: Sequence[Prompt], responses: Sequence[str]
               ) -> tuple[list[str], list[str]]:
        if not self.decoder:
            return [render_prompt(p) for p in prompts], list(responses)
        if not self.chat:
            return ([render_prompt(p) + "\n\nassistant: " if render_prompt(p) else ""
                     for p in prompts], list(responses))
        heads, tails = [], []
        for prompt, response in zip(prompts, responses, strict=True):
            messages = _messages(prompt)
            head = self.tokenizer.apply_chat_template(messages, tokenize=False,
                                                      add_generation_prompt=True)
            full = self.tokenizer.apply_chat_template(
                [*messages, {"role": "assistant", "content": response}], tokenize=False)
            if not full.startswith(head):  # templates that rewrite earlier turns
                head = self.tokenizer.apply_chat_template(messages, tokenize=False)
            heads.append(head)
            tails.append(full[len(head):])
        return heads, tails

    def encode(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> list[EncodedPair]:
        """One ``EncodedPair`` per (prompt, response), each at most ``max_length`` tokens."""
        if not responses:
            return []
        heads, tails = self._texts(prompts, responses)
        head_enc = self.backend.encode_batch(heads, add_special_tokens=False)
        tail_enc = self.backend.encode_batch(tails, add_special_tokens=False)
        budget = self.max_length - self.special
        out = []
        for h, t in zip(head_enc, tail_enc, strict=True):
            n_h, n_t = len(h.ids), len(t.ids)
            keep_h = min(n_h, max(budget - n_t, int(budget * MIN_PROMPT_SHARE)))
            keep_t = min(n_t, budget - keep_h)
            if keep_h < n_h:
                h.truncate(keep_h, direction="left")
            if keep_t < n_t:
                t.truncate(keep_t, direction="right")
            if self.decoder:
                joined = type(h).merge([h, t], growing_offsets=False)
                enc = joined if self.chat else self.backend.post_process(joined, None, True)
                lead = 0 if self.chat else _leading(enc.sequence_ids)
                out.append(EncodedPair(list(enc.ids), [], lead + len(h.ids)))
            else:
                enc = self.backend.post_process(h, t, True)
                out.append(EncodedPair(list(enc.ids), list(enc.type_ids)))
        return out


def _leading(sequence_ids: list[int | None]) -> int:
    """How many special tokens the post-processor put before the text (a BOS, say): the
    tokens with no sequence id (a special token written in the text itself has one)."""
    n = 0
    while n < len(sequence_ids) and sequence_ids[n] is None:
        n += 1
    return n


def _messages(prompt: Prompt) -> list[dict[str, str]]:
    if isinstance(prompt, str):
        return [{"role": "user", "content": prompt}]
    roles = {"human": "user", "ai": "assistant", "bot": "assistant"}
    return [{"role": roles.get(m.role, m.role), "content": m.content} for m in prompt
            if isinstance(m, Message)]
