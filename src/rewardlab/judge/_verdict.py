"""From a judge's answer to a number: pure functions over verdict-token probabilities and text.

A judge is asked a question whose answer is one of a few *options* (``A``/``B``, ``1``..``10``,
``Yes``/``No``). Backends that expose next-token probabilities give ``{option: probability}``;
the reward is read from that distribution rather than from the single most likely token, so it
is a real number that moves smoothly with the judge's confidence. Backends without
probabilities return text, which is parsed as a fallback.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence

__all__ = [
    "GRADES",
    "MODES",
    "OPTIONS",
    "VOTES",
    "expected_grade",
    "pairwise_probability",
    "parse_verdict",
    "reduce_options",
    "vote_verdicts",
    "yes_probability",
]

#: What a judge may be asked: which of two is better, a grade, yes/no, yes/no against a reference.
MODES = ("pairwise", "grade", "yesno", "reference")
GRADES = tuple(str(g) for g in range(1, 11))
#: The verdict options of each question.
OPTIONS: dict[str, tuple[str, ...]] = {
    "pairwise": ("A", "B"),
    "grade": GRADES,
    "yesno": ("Yes", "No"),
    "reference": ("Yes", "No"),
    "meta": ("Yes", "No"),  # a meta-judge: is a sampled critique sound?
}
#: How the verdicts of sampled rationales combine.
VOTES = ("mean", "majority")


def _mass(probs: Mapping[str, float], options: Sequence[str]) -> float:
    return float(sum(max(float(probs.get(o, 0.0)), 0.0) for o in options))


def pairwise_probability(probs: Mapping[str, float]) -> float:
    """P(A is better) = P(A) / (P(A) + P(B)); NaN when neither letter has any probability.

    Example:
        >>> pairwise_probability({"A": 0.75, "B": 0.25})
        0.75
    """
    total = _mass(probs, ("A", "B"))
    return float(probs.get("A", 0.0)) / total if total > 0 else math.nan


def expected_grade(probs: Mapping[str, float], grades: Sequence[str] = GRADES) -> float:
    """The mean grade under the judge's distribution over grade tokens, renormalised.

    Example:
        >>> expected_grade({"7": 0.5, "9": 0.25, "10": 0.25})
        8.25
    """
    total = _mass(probs, grades)
    if total <= 0:
        return math.nan
    return float(sum(float(g) * max(float(probs.get(g, 0.0)), 0.0) for g in grades) / total)


def yes_probability(probs: Mapping[str, float]) -> float:
    """P(Yes) / (P(Yes) + P(No)); NaN when neither has any probability.

    Example:
        >>> yes_probability({"Yes": 0.5, "No": 0.5})
        0.5
    """
    total = _mass(probs, ("Yes", "No"))
    return float(probs.get("Yes", 0.0)) / total if total > 0 else math.nan


def reduce_options(mode: str, probs: Mapping[str, float]) -> float:
    """The reward a mode reads from its option probabilities."""
    if mode == "pairwise":
        return pairwise_probability(probs)
    if mode == "grade":
        return expected_grade(probs)
    return yes_probability(probs)


_PAIR_PATTERNS = (
    re.compile(r"\[\[\s*([AB])\s*\]\]"),
    re.compile(r"(?:verdict|answer|better(?: response)?(?: is)?)\s*[:\-]?\s*"
               r"(?:response\s+)?\(?\*{0,2}([AB])\b", re.IGNORECASE),
    re.compile(r"\bresponse\s+([AB])\b\s+is\s+(?:better|preferable|superior)", re.IGNORECASE),
    re.compile(r"^\W*([AB])\b"),
)
_GRADE_PATTERNS = (
    re.compile(r"(?:score|grade|rating)\s*(?:is|of|:)?\s*\**\s*(10|[1-9])\b", re.IGNORECASE),
    re.compile(r"\b(10|[1-9])\s*/\s*10\b"),
    re.compile(r"^\W*(10|[1-9])\b"),
)
_YES_NO = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


def parse_verdict(mode: str, text: str) -> float:
    """The verdict in a judge's free text, as the reward its mode gives: 1.0 / 0.0 for A / B
    (0.5 for a tie), the grade, or 1.0 / 0.0 for yes / no. NaN when there is none.

    Example:
        >>> parse_verdict("pairwise", "Response B is better because ...")
        0.0
        >>> parse_verdict("grade", "Score: 8/10")
        8.0
        >>> parse_verdict("yesno", "I cannot tell.")
        nan
    """
    text = text.strip()
    if mode == "pairwise":
        if re.search(r"\[\[\s*C\s*\]\]|\b(?:it'?s a )?tie\b", text, re.IGNORECASE):
            return 0.5
        for pattern in _PAIR_PATTERNS:
            found = pattern.search(text)
            if found:
                return 1.0 if found.group(1).upper() == "A" else 0.0
        return math.nan
    if mode == "grade":
        for pattern in _GRADE_PATTERNS:
            found = pattern.search(text)
            if found:
                return float(found.group(1))
        return math.nan
    found = _YES_NO.search(text)
    if not found:
        return math.nan
    return 1.0 if found.group(1).lower() == "yes" else 0.0


def vote_verdicts(mode: str, verdicts: Sequence[tuple[float, Mapping[str, float] | None]],
                  how: str) -> float:
    """One reward from the verdicts of several sampled rationales (``(value, probs)`` each;
    NaN values, samples without a verdict, are left out by the caller).

    ``mean``: the mean of the values (P(A), expected grade, P(yes)). ``majority``: each sample
    votes for its most likely option; for pairwise and yes/no questions the reward is the
    share of votes for A / yes (above 0.5: the majority), for grades the most voted grade
    (the mean of the tied grades on a tie).

    Example:
        >>> vote_verdicts("pairwise", [(0.9, None), (0.6, None), (0.2, None)], "majority")
        0.6666666666666666
        >>> vote_verdicts("grade", [(7.2, None), (6.8, None), (3.0, None)], "majority")
        7.0
    """
    if not verdicts:
        return math.nan
    if how == "mean":
        return float(sum(v for v, _ in verdicts) / len(verdicts))
    if mode == "grade":
        votes = [float(max(GRADES, key=lambda g: probs.get(g, 0.0))) if probs else
                 float(round(value)) for value, probs in verdicts]
        counts = {g: votes.count(g) for g in votes}
        top = max(counts.values())
        tied = [g for g, c in counts.items() if c == top]
        return float(sum(tied) / len(tied))
    votes = [1.0 if value > 0.5 else 0.0 if value < 0.5 else 0.5 for value, _ in verdicts]
    return float(sum(votes) / len(votes))
