"""Chat prompts as a model sees them: Jinja templates compiled in a sandbox, messages rendered
with the model's own chat template, and the template stored in a GGUF file.

One renderer for every client that builds the prompt text itself, so a judge and a rollout
policy on the same model feed it the same text.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from rewardlab.errors import ConfigError, MissingDependencyError, ModelFormatError
from rewardlab.llm._backend import Messages
from rewardlab.llm._models import check_gguf

__all__ = ["gguf_chat_template", "jinja_template", "render_chat"]


@functools.lru_cache(maxsize=32)
def jinja_template(text: str) -> Any:
    """``text`` compiled in a sandbox (a template cannot reach Python objects), undefined
    names an error; compiled once per text."""
    from jinja2 import StrictUndefined, TemplateSyntaxError
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(undefined=StrictUndefined, keep_trailing_newline=False)
    try:
        return env.from_string(text)
    except TemplateSyntaxError as exc:
        raise ConfigError(f"template has a Jinja syntax error on line {exc.lineno}: "
                          f"{exc.message}") from None


def render_chat(template: str | None, messages: Messages, *, bos: str = "", eos: str = ""
                ) -> str:
    """Messages as the model's chat template renders them, ready for the assistant's reply.

    Every client that renders a prompt itself (both in-process backends, the rollout policies)
    uses this one renderer, so they feed a model the same text. A model without a chat
    template (a base model) gets a plain ``User:`` / ``Assistant:`` transcript.
    """
    if not template:
        turns = [f"{m['role'].capitalize()}: {m['content']}" for m in messages]
        return "\n\n".join(turns) + "\n\nAssistant:"

    def raise_exception(message: str) -> None:
        raise ModelFormatError(f"the model's chat template refused the messages: {message}")

    return jinja_template(template).render(messages=messages, add_generation_prompt=True,
                                           bos_token=bos, eos_token=eos,
                                           raise_exception=raise_exception)


def gguf_chat_template(path: Path) -> tuple[str | None, str, str]:
    """The chat template and BOS/EOS token texts stored in a GGUF file, read with ``gguf``
    (no weights are loaded)."""
    try:
        from gguf import GGUFReader
    except ImportError:
        raise MissingDependencyError("reading a GGUF chat template needs the gguf package: "
                                     "pip install gguf (a dependency of rewardlab)") from None
    reader = GGUFReader(str(check_gguf(path)))

    def scalar(name: str) -> Any:
        field = reader.fields.get(name)
        return None if field is None else field.contents()

    tokens = scalar("tokenizer.ggml.tokens") or []

    def token(name: str) -> str:
        index = scalar(name)
        return tokens[index] if isinstance(index, int) and 0 <= index < len(tokens) else ""

    return (scalar("tokenizer.chat_template"), token("tokenizer.ggml.bos_token_id"),
            token("tokenizer.ggml.eos_token_id"))
