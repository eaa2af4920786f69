"""Find the final answer in a math solution, and read plain numbers exactly.

Models announce their final answer in a handful of ways: GSM8K's ``#### 42``, the ``A: 42``
line of GSM8K's example solutions, LaTeX ``\\boxed{42}``, and prose ("the answer is 42").
When several appear, the answer that starts last wins: a final answer comes at the end, and
a solution that opens with "Answer: let's compute ..." and closes with "the answer is 42"
means 42. Reading the last number of the text is a fallback the caller must ask for, because it
turns a solution that never commits to an answer into one that does.

Everything here is regular expressions over bounded text (the loader refuses fields over
``max_chars``), written without nested quantifiers so they run in linear time; nothing here
evaluates an expression. Evaluation lives in the math-verify worker, behind a time limit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

__all__ = [
    "MARKERS",
    "Answer",
    "answer_key",
    "clean_answer",
    "extract_answer",
    "parse_number",
    "reference_answer",
]

#: How an answer was found, from the explicit formats to the fallback.
MARKERS = ("boxed", "hash", "answer-line", "answer-is", "last-number")

_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_HASH = re.compile(r"####[ \t]*([^\n]*)")
# "A: 18", "Answer: 18", "**Final answer:** 18" on a line of their own.
_ANSWER_LINE = re.compile(
    r"^[ \t>*#_]*(?:final[ \t]+answer|answer|a)[ \t]*[:：][ \t*_]*([^\n]*)$",
    re.IGNORECASE | re.MULTILINE,
)
# "the answer is 18.", "final answer = 18"
_ANSWER_IS = re.compile(r"\banswer[ \t*_]*(?:is|=|:)[ \t*_]*:?[ \t*_]*([^\n]*)",
                        re.IGNORECASE)
# a sentence ends at a full stop followed by a space or the end (never inside "3.5")
_SENTENCE_END = re.compile(r"\.(?:\s|$)")
_LAST_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")

_WRAPPERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("**", "**"))
_UNWRAP_COMMANDS = re.compile(r"^\\(?:boxed|fbox|text|textbf|mathrm|mbox)\s*\{")


@dataclass(frozen=True, slots=True)
class Answer:
    """A final answer found in a text: the answer's text, how it was marked, and the offset
    where the answer (not its marker) starts."""

    text: str
    marker: str
    start: int


def _rank(answer: Answer) -> tuple[int, int]:
    """Later answers win; where two markers capture the same answer ("**Final answer:** 7"
    is an answer line and an "answer:" phrase), the more explicit marker wins."""
    return answer.start, -MARKERS.index(answer.marker)


def _balanced(text: str, open_at: int) -> str | None:
    """The text inside the brace that opens at ``open_at``, or None when it never closes."""
    depth = 0
    for i in range(open_at, len(text)):
        ch = text[i]
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : i]
    return None


def clean_answer(text: str) -> str:
    """Strip what surrounds an answer but is not part of it: math delimiters, a final full
    stop, markdown bold, ``\\boxed{}`` / ``\\text{}`` around the whole answer.

    Example:
        >>> clean_answer(" $\\\\boxed{18}$. ")
        '18'
    """
    previous = None
    text = text.strip()
    while text != previous:
        previous = text
        text = text.strip().rstrip(".").strip()
        for left, right in _WRAPPERS:
            if len(text) > len(left) + len(right) and text.startswith(left) and \
                    text.endswith(right):
                inner = text[len(left) : -len(right)]
                if left not in inner and right not in inner:  # "$5$ and $6$" is not wrapped
                    text = inner.strip()
        match = _UNWRAP_COMMANDS.match(text)
        if match:
            inner = _balanced(text, match.end() - 1)
            if inner is not None and match.end() + len(inner) + 1 == len(text):
                text = inner.strip()
    return text


def _candidates(text: str) -> list[Answer]:
    found: list[Answer] = []
    for match in _BOXED.finditer(text):
        inner = _balanced(text, match.end() - 1)
        if inner is not None:
            found.append(Answer(inner, "boxed", match.end()))
    for match in _HASH.finditer(text):
        found.append(Answer(match.group(1), "hash", match.start(1)))
    for match in _ANSWER_LINE.finditer(text):
        found.append(Answer(match.group(1), "answer-line", match.start(1)))
    for match in _ANSWER_IS.finditer(text):
        rest = match.group(1)
        end = _SENTENCE_END.search(rest)
        found.append(Answer(rest[: end.start()] if end else rest, "answer-is", match.start(1)))
    return found


def extract_answer(text: str, *, fallback: bool = False) -> Answer | None:
    """The final answer of a solution, or None when it has none.

    Args:
        text: the solution.
        fallback: when no marker is found, take the last number in the text
            (marker ``last-number``).

    Example:
        >>> extract_answer("9 eggs at $2 each make 9 * 2 = $18.\\nA: 18").text
        '18'
        >>> extract_answer("so the answer is $\\\\frac{1}{2}$.").text
        '\\\\frac{1}{2}'
        >>> extract_answer("I think it is 7") is None
        True
        >>> extract_answer("I think it is 7", fallback=True).marker
        'last-number'
    """
    best: Answer | None = None
    for candidate in _candidates(text):
        cleaned = clean_answer(candidate.text)
        if cleaned and (best is None or _rank(candidate) > _rank(best)):
            best = Answer(cleaned, candidate.marker, candidate.start)
    if best is None and fallback:
        numbers = list(_LAST_NUMBER.finditer(text))
        if numbers:
            last = numbers[-1]
            best = Answer(last.group(0).rstrip(","), "last-number", last.start())
    return best


def reference_answer(reference: str) -> str:
    """The answer a reference states: its marked final answer (a GSM8K worked solution ends
    ``#### 72`` or ``A: 72``), else the whole reference, cleaned.

    Example:
        >>> reference_answer("48/2 = 24 in May\\n48+24 = 72 in all\\n#### 72")
        '72'
        >>> reference_answer(" 3.5 ")
        '3.5'
    """
    found = extract_answer(reference)
    return found.text if found is not None else clean_answer(reference)


# --- exact numbers -------------------------------------------------------------------------

_MULTIPLIERS = frozenset({
    "hundred", "hundreds", "thousand", "thousands", "million", "millions", "billion",
    "billions", "trillion", "trillions", "dozen", "dozens", "percent", "half", "halves",
    "third", "thirds", "quarter", "quarters", "k", "m", "b", "e", "x", "i", "pi",
})
_NUMBER = re.compile(
    r"""^(?P<sign1>[-+])?\s*(?:\\?\$|£|€)?\s*(?P<sign2>[-+])?\s*
        (?P<num>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)
        \s*(?P<unit>\\text\{[^{}]*\}|[A-Za-z]+(?:[ \t]+[A-Za-z]+){0,3})?\s*$""",
    re.VERBOSE,
)
_FRACTION = re.compile(r"^(?P<sign>-)?\s*(?:\\[dt]?frac\{(?P<a>\d+)\}\{(?P<b>\d+)\}|"
                       r"(?P<c>\d+)\s*/\s*(?P<d>\d+))$")
_MAX_DIGITS = 60


def parse_number(text: str) -> Fraction | None:
    """A plain number's exact value; None for anything else.

    Plain means an integer or decimal (thousands separators, a currency sign and trailing
    unit words allowed: ``$1,200``, ``3.5 hours``) or a simple fraction (``3/4``,
    ``\\frac{3}{4}``). Anything else (percentages, ``2 million``, expressions, LaTeX beyond a
    fraction) is None and goes to math-verify.

    Example:
        >>> parse_number("$1,200.50")
        Fraction(2401, 2)
        >>> parse_number("\\\\frac{2}{4}")
        Fraction(1, 2)
        >>> parse_number("10%") is None, parse_number("2 million") is None
        (True, True)
    """
    text = text.strip().replace("−", "-").replace("{,}", ",").replace("\\!", "")
    match = _NUMBER.match(text)
    if match:
        if match.group("sign1") and match.group("sign2"):
            return None
        unit = match.group("unit")
        if unit and not unit.startswith("\\text") and any(
                word.lower() in _MULTIPLIERS for word in unit.split()):
            return None
        num = match.group("num").replace(",", "")
        if len(num) > _MAX_DIGITS:
            return None
        value = Fraction(num)
        if "-" in (match.group("sign1"), match.group("sign2")):
            value = -value
        return value
    match = _FRACTION.match(text)
    if match:
        a, b = (match.group("a"), match.group("b")) if match.group("a") else (
            match.group("c"), match.group("d"))
        if len(a) > _MAX_DIGITS or len(b) > _MAX_DIGITS or int(b) == 0:
            return None
        value = Fraction(int(a), int(b))
        return -value if match.group("sign") else value
    return None


def answer_key(text: str) -> str:
    """A key under which equal answers vote together: the exact value of a plain number,
    else the answer's text with spaces removed.

    Example:
        >>> answer_key("$1,000") == answer_key("1000.0") == answer_key("1000 dollars")
        True
    """
    number = parse_number(text)
    if number is not None:
        return f"number:{number}"
    return "text:" + "".join(text.split())


def vote_key(response: str) -> str | None:
    """The key a response votes with in a majority vote: its final answer (the last number
    when no answer is marked) as ``answer_key``, or None when it has none.

    One definition for the majority-vote picker (``evaluate.best_of_n``) and the ``vote:``
    reward, so the two always count the same votes.

    Example:
        >>> vote_key("so 12 in all. #### $12") == vote_key("The answer is 12.0")
        True
        >>> vote_key("no idea") is None
        True
    """
    found = extract_answer(response, fallback=True)
    return None if found is None else answer_key(found.text)
