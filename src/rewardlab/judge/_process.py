"""An LLM critic as a process reward model: ask for the earliest wrong step, read its index.

The question has ProcessBench's critic shape (Zheng et al. 2024): the solution's steps as
paragraphs tagged and indexed from 0, and the instruction to return the index of the earliest
paragraph with an error, or -1, in ``\\boxed{}``. The answer is parsed, never trusted: an
index outside the solution, or no index at all, is a per-item reason beside a NaN score, not
a guess. A valid answer becomes per-step scores: 1 before the earliest error, 0 from it on
(all 1 for -1), so aggregation and ``first_error`` work as for any step scorer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardlab.data import Prompt
from rewardlab.judge._prompts import PromptTemplate, render_question
from rewardlab.llm._backend import Backend, ItemFailure

__all__ = ["ProcessVerdict", "ask_earliest_errors", "parse_earliest_error", "tag_steps"]

_BOXED = re.compile(r"\\boxed\s*\{\s*(-?\d+)\s*\}")
_LAST_INT = re.compile(r"(-?\d+)(?!.*\d)", re.DOTALL)
#: Tokens the critic may write: a rationale, then the boxed index.
DEFAULT_MAX_TOKENS = 512


@dataclass(frozen=True, slots=True)
class ProcessVerdict:
    """One solution judged: ``first_error`` (0-based, None for "no error"), the step scores
    it implies (NaN with ``reason`` when the answer was unusable) and the critic's text."""

    step_scores: np.ndarray
    first_error: int | None
    text: str | None = None
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"first_error": self.first_error}
        if self.text is not None:
            out["text"] = self.text
        if self.reason is not None:
            out["reason"] = self.reason
        return out


def tag_steps(steps: Sequence[str]) -> str:
    """The steps as ProcessBench shows them: ``<paragraph_0>...</paragraph_0>``, one per line.

    Example:
        >>> print(tag_steps(["a = 1", "b = 2"]))
        <paragraph_0>
        a = 1
        </paragraph_0>
        <paragraph_1>
        b = 2
        </paragraph_1>
    """
    return "\n".join(f"<paragraph_{i}>\n{s}\n</paragraph_{i}>" for i, s in enumerate(steps))


def parse_earliest_error(text: str, n_steps: int) -> tuple[int | None, str | None]:
    """``(first error or None, reason)`` from a critic's reply: the last ``\\boxed{k}``
    (the last integer when nothing is boxed); ``-1`` means no error. A reply naming a step
    that does not exist, or naming none, gives ``(None, reason)``.

    Example:
        >>> parse_earliest_error("Paragraph 1 is wrong. \\\\boxed{1}", 3)
        (1, None)
        >>> parse_earliest_error("\\\\boxed{-1}", 3)
        (None, None)
        >>> parse_earliest_error("\\\\boxed{7}", 3)[1]
        'the judge named step 7, but the solution has 3 steps (indexed 0 to 2)'
    """
    found = _BOXED.findall(text)
    if found:
        index = int(found[-1])
    else:
        last = _LAST_INT.search(text)
        if last is None:
            return None, f"no step index in the judge's reply {text[:80]!r}"
        index = int(last.group(1))
    if index == -1:
        return None, None
    if not 0 <= index < n_steps:
        return None, (f"the judge named step {index}, but the solution has {n_steps} steps "
                      f"(indexed 0 to {n_steps - 1})")
    return index, None


def _verdict(text: str, n_steps: int) -> ProcessVerdict:
    first, reason = parse_earliest_error(text, n_steps)
    if reason is not None:
        return ProcessVerdict(np.full(n_steps, math.nan), None, text, reason)
    scores = np.ones(n_steps) if first is None else (np.arange(n_steps) < first).astype(float)
    return ProcessVerdict(scores, first, text)


def ask_earliest_errors(backend: Backend, template: PromptTemplate, prompts: Sequence[Prompt],
                        step_lists: Sequence[Sequence[str]], *,
                        max_tokens: int = DEFAULT_MAX_TOKENS) -> list[ProcessVerdict]:
    """One ``ProcessVerdict`` per solution, in order; a question longer than the backend's
    context, or a failed request, is that item's reason (its scores NaN)."""
    def ask(item: tuple[Prompt, Sequence[str]]) -> ProcessVerdict:
        prompt, steps = item
        if not steps:
            return ProcessVerdict(np.zeros(0), None, reason="the solution has no steps")
        content = template.render(question=render_question(prompt), response=tag_steps(steps),
                                  rubric="", reason=True, reference="", response_a="",
                                  response_b="")
        messages = [{"role": "user", "content": content}]
        if backend.n_ctx is not None:
            need = (backend.count_tokens(content) + backend.count_chat_overhead()
                    + max_tokens)
            if need > backend.n_ctx:
                return ProcessVerdict(np.full(len(steps), math.nan), None, reason=(
                    f"the question and {max_tokens} tokens of answer need {need} tokens, "
                    f"more than the judge's context ({backend.n_ctx}); raise n_ctx"))
        try:
            text = backend.generate(messages, max_tokens)
        except ItemFailure as exc:
            return ProcessVerdict(np.full(len(steps), math.nan), None, reason=str(exc))
        return _verdict(text, len(steps))

    return backend.map(ask, list(zip(prompts, step_lists, strict=True)))
