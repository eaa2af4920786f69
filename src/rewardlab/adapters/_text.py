"""Trainer batches to rewardlab's prompts and responses.

TRL passes plain strings or chat messages (``[{"role": ..., "content": ...}]``, where content
may be a list of typed blocks); OpenRLHF passes the full decoded text (prompt + response,
special tokens included) beside the prompt; verl passes the response alone (its decoded text,
possibly with end-of-turn tokens) and keeps the prompt, if anywhere, in ``extra_info``.

Every path (the three adapters and the server's ``/get_reward``) ends in the same two steps, so
one sample gets one reward whichever trainer asks (``tests/conformance`` checks it): trailing
end-of-turn and padding tokens are stripped from the response, and an HH prompt
(``\\n\\nHuman: ...\\n\\nAssistant:``) is read as the conversation it writes out, with the reply
stripped, as rewardlab reads HH data (``hh_sample``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from rewardlab.data import Message, Prompt, is_hh_text, parse_hh
from rewardlab.errors import ConfigError

__all__ = [
    "END_MARKERS",
    "completion_text",
    "hh_sample",
    "prompt_from_messages",
    "response_from_query",
    "split_query",
    "strip_end_markers",
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
    return strip_end_markers(response, end_markers)


def strip_end_markers(text: str, end_markers: Sequence[str] = END_MARKERS) -> str:
    """``text`` without the end-of-turn/padding tokens it ends with (repeats included).

    Example:
        >>> strip_end_markers("#### 4<|im_end|><|endoftext|><|endoftext|>")
        '#### 4'
    """
    stripped = True
    while stripped and end_markers:
        stripped = False
        tail = text.rstrip()
        for marker in end_markers:
            if marker and tail.endswith(marker):
                text, stripped = tail[: -len(marker)], True
                break
    return text


@functools.lru_cache(maxsize=1024)
def _hh_prompt(prompt: str) -> tuple[Message, ...]:
    """An HH prompt as the conversation rewardlab reads from HH data: the turns before the
    reply, without the empty Assistant turn that opens it. Cached: RL trainers send every
    prompt once per sampled response."""
    turns = parse_hh(prompt)
    if turns and turns[-1].role == "assistant" and not turns[-1].content:
        turns = turns[:-1]
    return tuple(turns)


def hh_sample(prompt: Prompt, response: str) -> tuple[Prompt, str]:
    """An HH text prompt as its conversation and the reply stripped; anything else as given.

    rewardlab reads HH data (``\\n\\nHuman: ...\\n\\nAssistant: ...``) as conversations, so a
    model trained on it sees this structure; every RL path reads an HH prompt the same way, so
    one sample gets one reward from TRL, verl, OpenRLHF and the server alike.

    Example:
        >>> hh_sample("\\n\\nHuman: hi\\n\\nAssistant:", " hello")
        ((Message(role='user', content='hi'),), 'hello')
        >>> hh_sample("Q: hi A:", " hello")
        ('Q: hi A:', ' hello')
    """
    if isinstance(prompt, str) and is_hh_text(prompt):
        return _hh_prompt(prompt), response.strip()
    return prompt, response


def split_query(query: str, prompt: str | None, where: str,
                end_markers: Sequence[str] = END_MARKERS) -> tuple[Prompt, str]:
    """The prompt and response of one OpenRLHF query (``reward_func`` and ``/get_reward``).

    With a prompt, the response is what follows it in the query (after leading padding),
    without trailing end-of-turn/padding tokens; an HH prompt becomes a conversation
    (``hh_sample``). Without a prompt, an HH dialogue is split at its last Assistant turn;
    any other text is scored as a response to an empty prompt.

    Raises:
        ConfigError: the query does not contain its prompt.

    Example:
        >>> split_query("Q: 2+2? A: 4</s>", "Q: 2+2? A:", "query[0]")
        ('Q: 2+2? A:', ' 4')
        >>> split_query("\\n\\nHuman: hi\\n\\nAssistant: hello", None, "query[0]")
        ((Message(role='user', content='hi'),), 'hello')
    """
    if prompt is None:
        text = response_from_query(query, "", where, end_markers)
        if is_hh_text(text):
            turns = parse_hh(text)
            if len(turns) > 1 and turns[-1].role == "assistant":
                return tuple(turns[:-1]), turns[-1].content
        return "", text
    return hh_sample(prompt, response_from_query(query, prompt, where, end_markers))
