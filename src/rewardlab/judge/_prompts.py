"""What a judge is asked: templates and rubrics (files users can override), rendered to chat
messages, with over-long prompts cut to fit the judge's context.

A template renders the user message of one question. It sees ``rubric``, ``question`` (the
conversation so far, as text), ``response`` (grade, yes/no, reference) or ``response_a`` /
``response_b`` (pairwise), ``reference`` and ``reason`` (true when the judge explains before
its verdict). A file ending in ``.jinja`` / ``.j2``, or containing ``{{``, is a Jinja template;
any other file is a ``str.format`` template (``{question}``, ``{response}``, ...).

When a question does not fit the judge's context, the conversation is cut from its start (its
last turns stay), then, if still needed, the responses from their ends. The instructions and
the verdict question are never cut.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from rewardlab.data import Prompt
from rewardlab.errors import ConfigError
from rewardlab.llm._chat import jinja_template

__all__ = [
    "RUBRICS",
    "Fitted",
    "PromptTemplate",
    "fit_to_context",
    "load_rubric",
    "load_template",
    "render_question",
    "verdict_prompt",
]

#: Rubrics that ship with rewardlab; ``rubric=PATH`` reads any text file instead.
RUBRICS = ("helpfulness", "harmlessness", "math")
CUT_MARK = "[…]"

_VERDICT_PROMPTS = {
    "pairwise": "So which response is better? Answer with a single letter: A or B.",
    "grade": "So what is your grade? Answer with a single number from 1 to 10.",
    "yesno": "So does the response meet the standard? Answer Yes or No.",
    "reference": "So is the response correct? Answer Yes or No.",
}


def verdict_prompt(mode: str) -> str:
    """The follow-up question that asks for the verdict after a judge's rationale."""
    return _VERDICT_PROMPTS[mode]


@functools.cache
def _builtin_text(folder: str, name: str) -> str:
    return resources.files("rewardlab.judge").joinpath(folder, name).read_text("utf-8")


def load_rubric(rubric: str) -> str:
    """A built-in rubric by name, or the text of a rubric file.

    Raises:
        ConfigError: neither a known rubric nor a readable file.
    """
    if rubric in RUBRICS:
        return _builtin_text("rubrics", f"{rubric}.md").strip()
    path = Path(rubric)
    if not path.is_file():
        raise ConfigError(f"The 'rubric' parameter of JudgeConfig must be one of "
                          f"{', '.join(map(repr, RUBRICS))} or a text file. Got {rubric!r} "
                          "instead (no such file).")
    return path.read_text("utf-8").strip()


@dataclass(frozen=True)
class PromptTemplate:
    """A template that renders one question's user message from named fields."""

    source: str
    text: str
    jinja: bool

    def render(self, **fields: Any) -> str:
        if self.jinja:
            return jinja_template(self.text).render(**fields).strip()
        try:
            return self.text.format(**fields).strip()
        except (KeyError, IndexError, ValueError) as exc:
            raise ConfigError(f"template {self.source} cannot be filled: {exc!r}; str.format "
                              "templates may use {rubric}, {question}, {response}, "
                              "{response_a}, {response_b}, {reference} and {reason}") from None


def load_template(mode: str, path: str | None) -> PromptTemplate:
    """The built-in template of ``mode``, or the user's template file at ``path``."""
    if path is None:
        return PromptTemplate(f"<built-in {mode}>", _builtin_text("templates", f"{mode}.jinja"),
                              jinja=True)
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"The 'template' parameter of JudgeConfig must be a template file. "
                          f"Got {path!r} instead (no such file).")
    text = file.read_text("utf-8")
    jinja = file.suffix in (".jinja", ".j2") or "{{" in text or "{%" in text
    template = PromptTemplate(str(file), text, jinja=jinja)
    # fail now, not at the first judgment, when the template names a field there is not
    probe = {"rubric": "", "question": "", "response": "", "response_a": "", "response_b": "",
             "reference": "", "reason": False, "principles": False}
    try:
        template.render(**probe)
    except ConfigError:
        raise
    except Exception as exc:  # a Jinja UndefinedError or TypeError from the user's template
        raise ConfigError(f"template {file} cannot be rendered: {exc}") from None
    return template


def render_question(prompt: Prompt) -> str:
    """The conversation a response answers, as plain text for the judge to read."""
    if isinstance(prompt, str):
        return prompt
    return "\n\n".join(f"{m.role.capitalize()}: {m.content}" for m in prompt)


@dataclass(frozen=True)
class Fitted:
    """Fields that fit the judge's context, and whether anything was cut to get there."""

    fields: dict[str, Any]
    truncated: bool
    error: str | None = None


def _cut(text: str, keep: int, count: Callable[[str], int], *, from_start: bool) -> str:
    """``text`` cut to about ``keep`` tokens: its end (``from_start``) or its start kept."""
    if keep <= 0:
        return CUT_MARK
    n = count(text)
    if n <= keep:
        return text
    lo, hi = 0, len(text)
    # binary search on characters: the longest piece whose token count fits
    while lo < hi:
        mid = (lo + hi + 1) // 2
        piece = text[len(text) - mid:] if from_start else text[:mid]
        if count(piece) <= keep:
            lo = mid
        else:
            hi = mid - 1
    piece = text[len(text) - lo:] if from_start else text[:lo]
    return f"{CUT_MARK} {piece}" if from_start else f"{piece} {CUT_MARK}"


def fit_to_context(render: Callable[[dict[str, Any]], str], fields: dict[str, Any],
                   response_keys: tuple[str, ...], *, budget: int | None,
                   count: Callable[[str], int]) -> Fitted:
    """Cut ``question`` (from its start), then the responses (from their ends), until the
    rendered message takes at most ``budget`` tokens. The template's own text is never cut.

    Returns ``Fitted`` with ``error`` set when even empty fields do not fit.
    """
    if budget is None:
        return Fitted(fields, truncated=False)
    total = count(render(fields))
    if total <= budget:
        return Fitted(fields, truncated=False)
    empty = {**fields, "question": "", **{k: "" for k in response_keys}}
    fixed = count(render(empty))
    room = budget - fixed - 8 * (1 + len(response_keys))  # the cut marks and joins
    if room < 16 * (1 + len(response_keys)):
        return Fitted(fields, truncated=True, error=(
            f"the judge's instructions alone take {fixed} tokens, which leaves no room in its "
            f"context of {budget} tokens for the conversation and responses; raise n_ctx or "
            "shorten the template or rubric"))
    lengths = {k: count(fields[k]) for k in ("question", *response_keys)}
    responses = sum(lengths[k] for k in response_keys)
    # the responses are what is judged: the conversation gives way first, down to a quarter
    q_keep = max(room - responses, min(lengths["question"], room // 4))
    out = {**fields, "question": _cut(fields["question"], q_keep, count, from_start=True)}
    left = room - min(lengths["question"], q_keep)
    if responses > left:
        share = left // len(response_keys)
        for k in response_keys:
            out[k] = _cut(fields[k], share, count, from_start=False)
    for _ in range(4):  # token counts of pieces do not add up exactly: trim what is left over
        over = count(render(out)) - budget
        if over <= 0:
            break
        key = max(("question", *response_keys), key=lambda k: count(out[k]))
        out[key] = _cut(out[key], count(out[key]) - over - 4, count,
                        from_start=key == "question")
    return Fitted(out, truncated=True)
