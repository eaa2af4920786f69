"""Trainer batches to rewardlab's prompts and responses.

TRL passes plain strings or chat messages (``[{"role": ..., "content": ...}]``, where content
may be a list of typed blocks); OpenRLHF passes the full decoded text (prompt + response,
special tokens included) beside the prompt; verl passes the response alone and keeps the
prompt, if anywhere, in ``extra_info``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rewardlab.data import Message, Prompt
from rewardlab.errors import ConfigError

__all__ = [
    "END_MARKERS",
    "completion_text",
    "prompt_from_messages",
    "response_from_query",
]

#: End-of-turn and padding tokens that decoded OpenRLHF queries end with; stripped from the
#: end of a response so the reward model scores what was said, not the tokenizer's markers.
END_MARKERS = ("<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end_of_text|>", "</s>",
               "<end_of_turn>", "<eos>", "<|end|>", "<pad>", "<|pad|>")


def _content_text(content: Any) -> str:
    """A message's text: content may be a string, ``None`` (tool calls only) or blocks."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, Mapping) and isinstance(block.get("text"), str):
                parts.append(block["text"])
        return "".join(parts)
    return str(content)


def _messages(value: Any) -> list[Mapping[str, Any]] | None:
    if hasattr(value, "tolist") and not isinstance(value, str):  # numpy object arrays (verl)
        value = value.tolist()
    if isinstance(value, Mapping) and "content" in value:
        return [value]
    if isinstance(value, Sequence) and not isinstance(value, str) and all(
            isinstance(m, Mapping) and "role" in m for m in value):
        return list(value)
    return None


def prompt_from_messages(value: Any, where: str) -> Prompt:
    """A TRL or verl prompt as rewardlab's ``Prompt``: text, or a tuple of ``Message``."""
    if isinstance(value, str):
        return value
    messages = _messages(value)
    if messages is None:
        raise ConfigError(f"{where} must be text or a list of {{'role', 'content'}} messages; "
                          f"got {type(value).__name__}")
    return tuple(Message(str(m.get("role", "user")), _content_text(m.get("content")))
                 for m in messages)


def completion_text(value: Any, where: str) -> str:
    """A TRL completion as the response text.

    Conversational completions are lists of messages (with tool use: assistant, tool,
    assistant, ...); the response is the last assistant message's text, the answer a reward
    model should judge. Without an assistant message, all message texts are joined.
    """
    if isinstance(value, str):
        return value
    messages = _messages(value)
    if messages is None:
        raise ConfigError(f"{where} must be text or a list of {{'role', 'content'}} messages; "
                          f"got {type(value).__name__}")
    for m in reversed(messages):
        if m.get("role") == "assistant":
            return _content_text(m.get("content"))
    return "\n".join(_content_text(m.get("content")) for m in messages)


def response_from_query(query: str, prompt: str, where: str,
                        end_markers: Sequence[str] = END_MARKERS) -> str:
    """The response part of an OpenRLHF query (the decoded prompt + response).

    The prompt is found at the start of the query, or after leading padding/BOS tokens;
    trailing ``end_markers`` (repeated padding included) are stripped.
    """
    if not isinstance(query, str) or not isinstance(prompt, str):
        raise ConfigError(f"{where}: queries and prompts must be text; got "
                          f"{type(query).__name__} and {type(prompt).__name__}")
    if query.startswith(prompt):
        response = query[len(prompt):]
    else:
        at = query.find(prompt)
        if at < 0:
            raise ConfigError(f"{where}: the query does not contain its prompt, so the "
                              "response cannot be told apart; OpenRLHF's queries are the "
                              "prompt followed by the response")
        response = query[at + len(prompt):]
    stripped = True
    while stripped and end_markers:
        stripped = False
        tail = response.rstrip()
        for marker in end_markers:
            if marker and tail.endswith(marker):
                response, stripped = tail[: -len(marker)], True
                break
    return response
