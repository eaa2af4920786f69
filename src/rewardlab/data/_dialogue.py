"""Split whole dialogues into a shared prompt and the replies that differ.

Anthropic HH stores each side of a pair as one text, ``\\n\\nHuman: ... \\n\\nAssistant: ...``,
and chat datasets store lists of messages. In both, the prompt is implicit: it is the longest
shared prefix that ends where an assistant turn begins. Splitting there (rather than at the
first differing character, which can fall inside a reply that starts the same way) keeps every
reply whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from rewardlab.data._records import Conversation, Message

__all__ = [
    "common_prefix_split",
    "is_hh_text",
    "parse_hh",
    "render_hh",
    "split_turns",
]

_HH_MARKER = re.compile(r"\n\n(Human|Assistant):")
_HH_ROLES = {"Human": "user", "Assistant": "assistant"}
_HH_NAMES = {"user": "Human", "assistant": "Assistant"}


def is_hh_text(text: str) -> bool:
    """True when ``text`` looks like an HH dialogue (starts with a Human turn, has an Assistant)."""
    head = text.lstrip(" \n")
    return head.startswith("Human:") and "\n\nAssistant:" in text


def parse_hh(text: str) -> list[Message]:
    """Turns of an HH dialogue; contents are stripped of the space after the speaker tag."""
    if not text.startswith("\n\n"):
        text = "\n\n" + text.lstrip(" \n")
    parts = _HH_MARKER.split(text)
    # parts = [preamble, role, content, role, content, ...]; the preamble is empty here.
    return [
        Message(_HH_ROLES[parts[i]], parts[i + 1].strip()) for i in range(1, len(parts) - 1, 2)
    ]


def render_hh(turns: Sequence[Message]) -> str:
    """The HH text of ``turns``; used when a reply spans more than one turn."""
    return "".join(f"\n\n{_HH_NAMES.get(m.role, m.role)}: {m.content}" for m in turns).lstrip("\n")


def split_turns(
    chosen: Sequence[Message], rejected: Sequence[Message]
) -> tuple[Conversation, list[Message], list[Message]]:
    """Split two dialogues at the last assistant turn inside their shared prefix.

    Returns the shared prompt and the remaining turns of each side. When the dialogues differ
    before any assistant turn, the prompt is empty and each side is returned whole.
    """
    shared = 0
    while (
        shared < len(chosen) and shared < len(rejected) and chosen[shared] == rejected[shared]
    ):
        shared += 1
    cut = 0
    for index in range(min(shared, len(chosen) - 1, len(rejected) - 1), -1, -1):
        if chosen[index].role == "assistant" and rejected[index].role == "assistant":
            cut = index
            break
    return tuple(chosen[:cut]), list(chosen[cut:]), list(rejected[cut:])


def common_prefix_split(chosen: str, rejected: str) -> tuple[str, str, str]:
    """TRL's implicit-prompt rule for plain strings: the longest common character prefix.

    Like TRL's ``extract_prompt``, a space just before the first difference goes with the
    replies, so ``"The sky is blue."`` / ``"The sky is green."`` split as
    ``("The sky is", " blue.", " green.")``.
    """
    index = 0
    limit = min(len(chosen), len(rejected))
    while index < limit and chosen[index] == rejected[index]:
        index += 1
    if 0 < index < limit and chosen[index - 1] == " ":
        index -= 1
    return chosen[:index], chosen[index:], rejected[index:]
