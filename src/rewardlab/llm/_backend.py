"""What every LLM backend offers a judge: chat messages in, option probabilities or text out.

Backends differ in where the model runs (in-process with ``transformers`` or llama.cpp, or
behind an OpenAI-compatible server); prompt building, verdict scoring, position-bias control and
truncation are shared and live in the judge (``rewardlab.judge``). A backend answers one
question at a time through ``option_probs`` / ``generate`` and runs many of them with ``map``
(in order for an in-process model, so consecutive questions share their prompt prefix;
concurrently for a server).

A failure that concerns one question (a server error after retries, a reply without a verdict)
raises ``ItemFailure``; the judge turns it into a NaN reward with that reason and goes on with
the other rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar

__all__ = ["Backend", "ItemFailure", "Messages"]

Messages = list[dict[str, str]]
T = TypeVar("T")
R = TypeVar("R")


class ItemFailure(Exception):
    """One question could not be answered; ``str(exc)`` is the reason written beside its NaN."""


class Backend(Protocol):
    """A language model a judge can ask questions.

    ``n_ctx`` is the context size in tokens (``None``: unknown, nothing is cut), and
    ``count_tokens`` counts a text's tokens the way the model does (or estimates them).
    """

    name: str
    n_ctx: int | None

    def count_tokens(self, text: str) -> int: ...

    def count_chat_overhead(self) -> int:
        """Tokens the chat format adds around one user message (system prompt, markers)."""
        ...

    def option_probs(self, messages: Messages, options: Sequence[str]
                     ) -> dict[str, float] | None:
        """P(the reply starts with each option), or None when the backend offers no
        probabilities (the judge then parses generated text)."""
        ...

    def generate(self, messages: Messages, max_tokens: int) -> str:
        """The greedy reply to ``messages``, at most ``max_tokens`` tokens."""
        ...

    def sample_chat(self, messages: Messages, k: int, *, max_tokens: int,
                    temperature: float, top_p: float, seed: int) -> list[str]:
        """``k`` sampled replies sharing the prompt's prefix (one batch where the backend
        allows); the same seed gives the same replies."""
        ...

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``[fn(x) for x in items]``, in order; a server backend runs them concurrently."""
        ...
