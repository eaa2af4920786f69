"""Meaning-preserving rewrites of a response, for the paraphrase and format invariance probe.

Each transformation is a pure ``str -> str`` function that changes the surface of a response
(spacing, line breaks, casing, punctuation, Markdown, list numbering, how the final answer is
stated) and nothing a reader would call its content. A transformation that finds nothing to
change returns the text unchanged; the probe counts only the pairs it changed.

reWordBench (Wu et al., 2025) showed that rewrites of this kind flip the rankings of
state-of-the-art reward models; they are rule-based here so that they are exactly
meaning-preserving, cost no model, and every changed text is reproducible.
"""

from __future__ import annotations

import re
from collections.abc import Callable

__all__ = [
    "TRANSFORMS",
    "answer_format",
    "apply_all",
    "casing",
    "list_renumber",
    "markdown_add",
    "markdown_strip",
    "newlines",
    "punctuation",
    "whitespace",
]

_SENTENCE_GAP = re.compile(r"(?<=[.!?,;:]) (?=\S)")
_NEWLINES = re.compile(r"\n+")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
_BOLD = re.compile(r"(\*\*|__)(.+?)\1", re.DOTALL)
_ITALIC = re.compile(r"(?<![*\w])\*(?!\s)([^*\n]+?)(?<!\s)\*(?![*\w])")
# a Markdown header, but not GSM8K's "#### 42" answer line (that is answer-format's business)
_HEADER = re.compile(r"^[ \t]*#{1,6}[ \t]+(?![-$]?\d)", re.MULTILINE)
_BULLET = re.compile(r"^([ \t]*)[-*+][ \t]+", re.MULTILINE)
_NUMBERED = re.compile(r"^([ \t]*)(\d+)[.)][ \t]+", re.MULTILINE)
_CODE_TICKS = re.compile(r"`([^`\n]+)`")
_HASH_ANSWER = re.compile(r"^[ \t]*####[ \t]*(\S[^\n]*?)[ \t]*$", re.MULTILINE)
_LINE_ANSWER = re.compile(r"^[ \t]*(?:final answer|answer|a)[ \t]*:[ \t]*(\S[^\n]*?)[ \t]*$",
                          re.IGNORECASE | re.MULTILINE)
_BOXED = re.compile(r"\\boxed\{([^{}\n]+)\}")


def whitespace(text: str) -> str:
    """Two spaces after every sentence or clause mark instead of one.

    Example:
        >>> whitespace("Yes. It is, mostly.")
        'Yes.  It is,  mostly.'
    """
    return _SENTENCE_GAP.sub("  ", text)


def newlines(text: str) -> str:
    """Swap paragraph spacing: single line breaks become blank lines and blank lines single
    breaks; a text on one line gets one sentence per line.

    Example:
        >>> newlines("First.\\nSecond.\\n\\nThird.")
        'First.\\n\\nSecond.\\nThird.'
        >>> newlines("One. Two.")
        'One.\\nTwo.'
    """
    if "\n" not in text.strip():
        return _SENTENCE.sub("\n", text)
    return _NEWLINES.sub(lambda m: "\n\n" if len(m.group(0)) == 1 else "\n", text)


def casing(text: str) -> str:
    """All lower case.

    Example:
        >>> casing("Paris is the Capital.")
        'paris is the capital.'
    """
    return text.lower()


def punctuation(text: str) -> str:
    """Exclamation marks become full stops, "..." an ellipsis, straight double quotes
    typographic ones, and a final full stop is dropped.

    Example:
        >>> punctuation('Wow! He said "no"... Fine.')
        'Wow. He said “no”… Fine'
    """
    out = text.replace("!", ".").replace("...", "…")
    out = re.sub(r'"([^"\n]*)"', "“\\1”", out)
    stripped = out.rstrip()
    if stripped.endswith(".") and not stripped.endswith(".."):
        out = stripped[:-1] + out[len(stripped):]
    return out


def markdown_strip(text: str) -> str:
    """Markdown removed: emphasis, inline code marks, headers and bullet markers.

    Example:
        >>> markdown_strip("## Steps\\n- **Mix** the `flour`\\n- *Bake* it")
        'Steps\\nMix the flour\\nBake it'
    """
    out = _BOLD.sub(r"\2", text)
    out = _ITALIC.sub(r"\1", out)
    out = _CODE_TICKS.sub(r"\1", out)
    out = _HEADER.sub("", out)
    return _BULLET.sub(r"\1", out)


def markdown_add(text: str) -> str:
    """The first sentence set in bold (an emphasis a Markdown-writing model would add).

    Example:
        >>> markdown_add("Use a spoon. Then stir.")
        '**Use a spoon.** Then stir.'
    """
    stripped = text.strip()
    if not stripped or "**" in stripped:
        return text
    parts = _SENTENCE.split(stripped, maxsplit=1)
    first = parts[0].split("\n", 1)
    head, tail = first[0], (("\n" + first[1]) if len(first) > 1 else "")
    rest = tail + ((" " + parts[1]) if len(parts) > 1 else "")
    return text[: len(text) - len(text.lstrip())] + f"**{head.strip()}**" + rest


def list_renumber(text: str) -> str:
    """Numbered list items become bullets and bullet items a numbered list.

    Example:
        >>> list_renumber("1. eggs\\n2. milk")
        '- eggs\\n- milk'
        >>> list_renumber("- eggs\\n- milk")
        '1. eggs\\n2. milk'
    """
    if _NUMBERED.search(text):
        return _NUMBERED.sub(r"\1- ", text)
    counter = iter(range(1, 10_000))
    return _BULLET.sub(lambda m: f"{m.group(1)}{next(counter)}. ", text)


def answer_format(text: str) -> str:
    """The final answer restated in another format: ``#### 42``, ``A: 42`` and
    ``\\boxed{42}`` become "The answer is 42."; texts without such a marker are unchanged.

    Example:
        >>> answer_format("6 * 7 = 42\\n#### 42")
        '6 * 7 = 42\\nThe answer is 42.'
        >>> answer_format("so we get \\\\boxed{7}")
        'so we get 7'
    """
    for pattern in (_HASH_ANSWER, _LINE_ANSWER):
        if pattern.search(text):
            return pattern.sub(lambda m: f"The answer is {m.group(1).rstrip('.')}.", text)
    return _BOXED.sub(r"\1", text)


#: name -> transformation, in the order the report lists them
TRANSFORMS: dict[str, Callable[[str], str]] = {
    "whitespace": whitespace,
    "newlines": newlines,
    "casing": casing,
    "punctuation": punctuation,
    "markdown-strip": markdown_strip,
    "markdown-add": markdown_add,
    "list-renumber": list_renumber,
    "answer-format": answer_format,
}


def apply_all(text: str) -> dict[str, str]:
    """Every transformation of ``text`` that changes it, by name."""
    out = {}
    for name, transform in TRANSFORMS.items():
        changed = transform(text)
        if changed != text:
            out[name] = changed
    return out
