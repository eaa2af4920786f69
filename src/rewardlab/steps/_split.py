"""Split a solution into the steps a process reward model scores.

Three ways, as the data comes: one step per line (GSM8K solutions, most chain-of-thought
output), one per sentence (prose answers), or an explicit separator (TRL's PRM datasets join
steps with ``step_separator``; Math-Shepherd marks them with ``ки``).

A bare final-answer line (``#### 72``, ``A: 72``, "The answer is 72.") is attached to the
step before it by default: it restates what the last step computed, so as a step of its own
it would only ever repeat that step's label, and a solution that ends "...= 72 / A: 72"
reads as one step in PRMBench and ProcessBench too.
"""

from __future__ import annotations

import re

from rewardlab._validation import check_option
from rewardlab.errors import ConfigError

__all__ = ["SPLIT_MODES", "split_steps"]

SPLIT_MODES = ("newline", "sentence", "separator")

_ANSWER_LINE = re.compile(
    r"^\s*(?:####|A:|(?:so,?\s+)?(?:the\s+)?(?:final\s+)?answer\b(?:\s+is\b)?\s*[:=]?)\s*\S.{0,60}$",
    re.IGNORECASE,
)
# a sentence ends at . ! or ? followed by space and a capital, a digit or a $ (a decimal
# point inside "0.25" has no space after it, so numbers are never cut)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9$\\(\"'])")


def split_steps(text: str, mode: str = "newline", *, separator: str = "\n",
                merge_answer: bool = True) -> list[str]:
    """The steps of ``text``, stripped, with empty pieces left out.

    Args:
        text: a solution.
        mode: ``newline`` (one step per non-empty line), ``sentence`` (lines, then
            sentences within them) or ``separator`` (cut at ``separator``).
        separator: the step separator for ``mode="separator"``.
        merge_answer: attach a bare final-answer line to the step before it.

    Returns:
        The steps; ``[]`` for a text with no visible characters.

    Example:
        >>> split_steps("Natalia sold 48/2 = 24 clips in May.\\n"
        ...             "She sold 48+24 = 72 clips.\\n#### 72")
        ['Natalia sold 48/2 = 24 clips in May.', 'She sold 48+24 = 72 clips.\\n#### 72']
        >>> split_steps("First, x = 2. Then y = 0.5. So x*y = 1.", "sentence")
        ['First, x = 2.', 'Then y = 0.5.', 'So x*y = 1.']
        >>> split_steps("a ки b ки", "separator", separator="ки")
        ['a', 'b']
    """
    check_option("split_steps", "mode", mode, SPLIT_MODES)
    if mode == "separator":
        if not separator:
            raise ConfigError("The 'separator' parameter of split_steps must be a non-empty "
                              "string. Got '' instead.")
        pieces = text.split(separator)
    else:
        pieces = text.split("\n")
        if mode == "sentence":
            pieces = [s for line in pieces for s in _SENTENCE_END.split(line)]
    steps = [p.strip() for p in pieces if p.strip()]
    if merge_answer and len(steps) > 1 and _ANSWER_LINE.match(steps[-1]):
        joiner = "\n" if mode != "separator" or "\n" in separator else " "
        steps[-2:] = [steps[-2] + joiner + steps[-1]]
    return steps
