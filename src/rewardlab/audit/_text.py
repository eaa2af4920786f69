"""Text helpers shared by the probes and the report."""

from __future__ import annotations

from rewardlab.data import Prompt, render_prompt

__all__ = ["as_text", "shorten"]


def as_text(prompt: Prompt) -> str:
    """A prompt as plain text for examples: chat turns as ``role: content`` paragraphs."""
    return render_prompt(prompt)


def shorten(text: str, limit: int = 600) -> str:
    """``text`` cut to ``limit`` characters, keeping its end when it is a dialogue's tail.

    Example:
        >>> shorten("abcdef", 4)
        '…def'
    """
    return text if len(text) <= limit else "…" + text[-(limit - 1):]
