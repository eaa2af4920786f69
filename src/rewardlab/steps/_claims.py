"""Checks of free-text steps: arithmetic claims without calculator annotations, results that
cannot be counts, and a final answer inconsistent with its question.

Real solutions go wrong without ``<<a*b=c>>`` annotations: "so he has 3 + 4 = 8 apples",
"50km/hr * 3 days = 150 km", "20% of 50 = 15". Per step, four signals (float32, one column
each, ``CLAIM_CHECKS``):

- ``claim_wrong``: an arithmetic claim ``a op b ... = c`` written in prose (units and ``$``
  between the numbers allowed, ``x``/``×``/"times"/"plus"/"minus"/"divided by" read as
  operators, ``%`` as a hundredth) whose left side does not evaluate to ``c``; a claim that
  names a variable (``60*X``) is not checked;
- ``non_integer``: a result with a fractional part (7.5 students) where the question states
  only whole numbers and no money, percentages, fractions or decimals;
- ``answer_given``: the step states a final answer (``#### 7``, "the answer is 7") equal to
  the answer a reversed question gives as known ("If we know the answer ... is 240, what is
  X?"): restating what was given instead of solving for the unknown;
- ``answer_negative``: the final answer stated is negative (GSM8K's answers are not).

Like ``numeric_checks`` these are features a model weighs, not verdicts;
benchmarks/prm_real_errors.py reports how often each fires on real first errors and on
correct steps.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from rewardlab.steps._arith import evaluate_expression

__all__ = ["CLAIM_CHECKS", "arithmetic_claims", "claim_checks", "final_answer"]

CLAIM_CHECKS = ("claim_wrong", "non_integer", "answer_given", "answer_negative")

_ANNOTATION = re.compile(r"<<[^<>]*>>")
_TOKEN = re.compile(r"""
    (?P<num>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)
  | (?P<op>[-+*/×÷^])
  | (?P<lp>\() | (?P<rp>\))
  | (?P<eq>=)
  | (?P<pct>%)
  | (?P<cur>[$€£])
  | (?P<word>[A-Za-z]+)
  | (?P<space>\s+)
  | (?P<other>.)
""", re.VERBOSE)
_WORD_OPS = {"times": "*", "plus": "+", "minus": "-"}
_PHRASE_OPS = ((re.compile(r"\bdivided\s+by\b", re.I), " / "),
               (re.compile(r"\bmultiplied\s+by\b", re.I), " * "))
_UNIT_RATIO = re.compile(r"([A-Za-z]+)/([A-Za-z]+)")
_GIVEN_ANSWER = re.compile(r"answer to the above question is\s*\$?\s*(-?[\d,]*\.?\d+)", re.I)
_FINAL = re.compile(r"(?:####|answer\s+is\s*:?|print\()\s*\$?\s*(-?[\d,]*\.?\d+)", re.I)
_FRACTIONAL_CONTEXT = re.compile(
    r"[$%/]|\d\.\d|\.\d|\b(?:half|halves|third|thirds|quarter|quarters|fraction|percent|"
    r"average|ratio|rate|per|each|cents?|dollars?|hours?|minutes?|miles?|pounds?|kg|km|"
    r"liters?|gallons?|feet|inches?)\b", re.I)


def _tokens(text: str) -> list[tuple[str, str]]:
    """Tokens of ``text`` without spaces; a lone "x" between two spaced numbers ("16 x .75")
    becomes ``*``, and a one-letter word (``3x``, ``x + 4``) becomes ``var``."""
    for pattern, op in _PHRASE_OPS:
        text = pattern.sub(op, text)
    text = _UNIT_RATIO.sub(r"\1per\2", text)  # "km/hr" is a unit, not a division
    raw = [(m.lastgroup or "other", m.group()) for m in _TOKEN.finditer(text)]
    out = []
    for i, (kind, word) in enumerate(raw):
        if kind == "space":
            continue
        if kind == "word" and len(word) == 1 and word.lower() != "a":
            spaced = (0 < i < len(raw) - 1 and raw[i - 1][0] == raw[i + 1][0] == "space")
            around = [k for k, _ in raw[max(i - 2, 0):i + 3] if k != "space"]
            if word == "x" and spaced and around[:1] == ["num"] and around[-1:] == ["num"]:
                kind, word = "op", "*"
            else:
                kind = "var"
        out.append((kind, word))
    return out


def _is_op(tokens: list[tuple[str, str]], i: int) -> str | None:
    kind, text = tokens[i]
    if kind == "op":
        return {"×": "*", "÷": "/", "^": "**"}.get(text, text)
    if kind == "word" and text.lower() == "of" and i > 0 and tokens[i - 1][0] == "pct":
        return "*"  # "20% of 50"
    if kind == "word" and text.lower() in _WORD_OPS:
        return _WORD_OPS[text.lower()]
    return None


def _left_side(tokens: list[tuple[str, str]], eq: int) -> str | None:
    """The arithmetic expression written just before ``tokens[eq]`` (an ``=``), read
    backwards; unit words after a number are skipped. None when it is not a calculation."""
    parts: list[str] = []
    i, n_ops, n_nums, units = eq - 1, 0, 0, 0
    while i >= 0:
        kind, text = tokens[i]
        op = _is_op(tokens, i)
        if kind == "num":
            parts.append(f"({text.replace(',', '')})")
            n_nums, units = n_nums + 1, 0
        elif op is not None and parts:
            parts.append(op)
            n_ops += 1
        elif kind in ("lp", "rp"):
            parts.append(text)
        elif kind == "pct":
            parts.append("/100")  # read backwards: "20%" is "(20)/100"
        elif kind == "cur":
            pass
        elif kind == "word" and units < 2 and _next_is_numberish(tokens, i):
            units += 1  # "50 km/hr * 3 days": unit words between a number and an operator
        elif kind == "var":
            return None  # "3x + 115 = 250": an equation in an unknown, not a calculation
        else:
            if parts and parts[-1] in ("+", "-", "*", "/", "**"):
                return None  # "x + 125 + 250 = 500": the left side goes on past a number
            break
        i -= 1
    if n_ops == 0 or n_nums < 2:
        return None
    text = "".join(reversed(parts)).lstrip("+*/")  # collected right to left
    while text.count("(") > text.count(")") and text.startswith("("):
        text = text[1:]
    while text.count(")") > text.count("(") and text.endswith(")"):
        text = text[:-1]
    return text or None


def _next_is_numberish(tokens: list[tuple[str, str]], i: int) -> bool:
    """A word that follows a number or a unit word (``km``, ``hr`` in ``50km/hr``), so it can
    be a unit, not part of the sentence."""
    j = i - 1
    while j >= 0 and tokens[j][0] in ("word", "op") and _is_op(tokens, j) is None:
        j -= 1
    if j >= 0 and tokens[j][0] == "op" and tokens[j][1] == "/":
        j -= 1
        while j >= 0 and tokens[j][0] == "word":
            j -= 1
    return j >= 0 and tokens[j][0] in ("num", "pct")


def _right_side(tokens: list[tuple[str, str]], eq: int) -> tuple[float, bool] | None:
    j = eq + 1
    while j < len(tokens) and tokens[j][0] == "cur":
        j += 1
    if j >= len(tokens) or tokens[j][0] != "num":
        return None
    after = tokens[j + 1] if j + 1 < len(tokens) else ("", "")
    if after[0] in ("op", "lp") or _is_op(tokens, j + 1) if j + 1 < len(tokens) else False:
        return None  # "= 40 + 2": the start of a chain, checked at the next "="
    return float(tokens[j][1].replace(",", "")), after[0] == "pct"


def arithmetic_claims(text: str) -> list[tuple[str, float, float | None]]:
    """Every arithmetic claim written in ``text``: ``(expression, written result, value)``;
    value is None when the expression cannot be evaluated.

    Example:
        >>> arithmetic_claims("so he has 3 + 4 = 8 apples; 50km/hr * 3 days = 150 km")
        [('(3)+(4)', 8.0, 7.0), ('(50)*(3)', 150.0, 150.0)]
    """
    tokens = _tokens(_ANNOTATION.sub(" ", text))
    claims = []
    for k, (kind, _) in enumerate(tokens):
        if kind != "eq":
            continue
        left, right = _left_side(tokens, k), _right_side(tokens, k)
        if left is None or right is None:
            continue
        written, percent = right
        claims.append((left, written / 100 if percent else written, evaluate_expression(left)))
    return claims


def _holds(value: float, written: float) -> bool:
    """Equal up to a worked solution's rounding, or off only by a factor of 100 (a
    percentage written as a whole number)."""
    for v in (value, value * 100, value / 100):
        if abs(v - written) <= max(0.011, 1e-3 * abs(written)):
            return True
    # rounded to a whole number ("= 33" for 100/3)
    return abs(value - written) < 1 and float(written).is_integer()


def final_answer(step: str) -> float | None:
    """The final answer a step states (``#### 7``, "The answer is 7", ``print(7)``), or None.

    Example:
        >>> final_answer("#### 1,200"), final_answer("So 3 + 4 = 7.")
        (1200.0, None)
    """
    m = _FINAL.search(step)
    return None if m is None else float(m.group(1).replace(",", ""))


def claim_checks(question: str, steps: Sequence[str]) -> np.ndarray:
    """Per step, the ``CLAIM_CHECKS`` features: float32 of shape ``(len(steps), 4)``.

    Example:
        >>> claim_checks("Tom has 3 apples and buys 4. How many does he have?",
        ...              ["So he has 3 + 4 = 8 apples.", "#### 8"]).tolist()
        [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    """
    out = np.zeros((len(steps), len(CLAIM_CHECKS)), dtype=np.float32)
    whole_only = _FRACTIONAL_CONTEXT.search(question) is None
    given = _GIVEN_ANSWER.search(question)
    given_value = None if given is None else float(given.group(1).replace(",", ""))
    for i, step in enumerate(steps):
        claims = arithmetic_claims(step)
        out[i, 0] = float(any(v is not None and not _holds(v, w) for _, w, v in claims))
        results = [w for _, w, _ in claims]
        results += [float(x) for x in re.findall(r"<<[^=<>]*=\s*(-?[\d.]+)>>", step)
                    if re.fullmatch(r"-?\d*\.?\d+", x)]
        out[i, 1] = float(whole_only and any(not float(r).is_integer() for r in results))
        answer = final_answer(step)
        if answer is not None:
            out[i, 2] = float(given_value is not None and abs(answer - given_value) < 1e-9)
            out[i, 3] = float(answer < 0)
    return out
