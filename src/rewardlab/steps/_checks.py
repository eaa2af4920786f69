"""Cheap symbolic checks of a step's numbers, as features a process reward model may read.

A frozen sentence encoder does not do arithmetic: ``48/2 = 27`` and ``48/2 = 24`` embed
almost alike. Three per-step signals a calculator and a lookup give for free:

- ``calc_wrong``: a calculator annotation ``<<expr=result>>`` whose expression does not
  evaluate to its result (GSM8K-style solutions);
- ``text_wrong``: a plain-text equation ``a op b = c`` that does not hold;
- ``unsupported``: the share of the numbers a step calculates with that appear neither in
  the question nor in an earlier step (a quantity copied wrong). Unit constants (60 minutes,
  12 months) are legitimately unsupported too, which is why this is a feature to weigh and
  not a verdict.

``prm:`` reads them by default (``features=...,checks``), and the benchmark
(benchmarks/prm_first_error.py) reports the model with and without them: on error-injected
data they find exactly the kinds of error injection makes, so a figure that uses them says
little about errors of other kinds (PRMBench's are reported beside it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from rewardlab.steps._arith import _CALC, _NUMBER, _key, _safe_value, _value, evaluate_expression

__all__ = ["CHECKS", "numeric_checks"]

CHECKS = ("calc_wrong", "text_wrong", "unsupported")

_NUM = r"(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)"
# a plain-text equation "a op b = c": c a single number (not a fraction "2/3", not the start
# of a chain "= 40 + 2"), the left side not starting inside a number or a mixed fraction
_EQUATION = re.compile(
    rf"(?<![\d.,])(?<![\d.]\s)((?:{_NUM}\s*[-+*/x×÷]\s*)+{_NUM})\s*=\s*\$?\s*({_NUM})"
    r"(?![\d.,]|\s*[-+*/x×÷]\s*[\d.$])")
#: Numbers a question implies without writing them as digits.
_WORDS = {"one": (1,), "two": (2,), "three": (3,), "four": (4,), "five": (5,), "six": (6,),
          "seven": (7,), "eight": (8,), "nine": (9,), "ten": (10,), "eleven": (11,),
          "twelve": (12,), "twenty": (20,), "thirty": (30,), "fifty": (50,),
          "hundred": (100,), "thousand": (1000,), "half": (2, 0.5), "twice": (2,),
          "double": (2,), "triple": (3,), "third": (3,), "thirds": (3,), "quarter": (4, 0.25),
          "fourth": (4,), "dozen": (12,), "dozens": (12,), "both": (2,), "pair": (2,),
          "pairs": (2,), "couple": (2,)}
#: Unit conversions a question's words make legitimate.
_UNITS = {"hour": (60,), "hours": (60,), "minute": (60,), "minutes": (60,), "day": (24, 7),
          "days": (24, 7), "week": (7, 52), "weeks": (7, 52), "month": (12, 30),
          "months": (12, 30), "year": (12, 52, 365), "years": (12, 52, 365),
          "percent": (100, 0.01), "cents": (100,), "cent": (100,), "feet": (12,),
          "foot": (12,), "inches": (12,), "yard": (3,), "yards": (3,), "pound": (16,),
          "pounds": (16,), "kilograms": (1000,), "meters": (100,), "liters": (1000,)}


def _close(a: float, b: float) -> bool:
    """Equal up to the rounding a worked solution may do (two decimals, or 0.01%)."""
    return abs(a - b) <= max(0.006, 1e-4 * abs(b))


def _numbers(text: str) -> set[float]:
    """The numbers ``text`` states or implies: digits, number words, unit conversions, and
    a percentage as a fraction."""
    found = {_key(_value(t)) for t in _NUMBER.findall(text)} | {0.0, 1.0}
    found.update(_key(float(t.rstrip("%").replace(",", "")) / 100)
                 for t in re.findall(r"\d[\d,]*(?:\.\d+)?\s*%", text))
    if "%" in text:
        found.update((100.0, 0.01))
    for word in re.findall(r"[a-z]+", text.lower()):
        for value in _WORDS.get(word, ()) + _UNITS.get(word, ()):
            found.add(_key(float(value)))
    return found


def _check_step(step: str, known: set[float]) -> tuple[float, float, float]:
    calc_wrong = text_wrong = 0.0
    unsupported, n_operands = 0, 0
    known = set(known)  # results computed earlier in this step support later operands
    spans = []
    for m in _CALC.finditer(step):
        spans.append(m.span())
        value, written = evaluate_expression(m.group(1)), _safe_value(m.group(2))
        if value is not None and written is not None and not _close(value, written):
            calc_wrong = 1.0
        operands = [_key(_value(t)) for t in _NUMBER.findall(m.group(1))]
        unsupported += sum(o not in known for o in operands)
        n_operands += len(operands)
        if written is not None:
            known.add(written)
    for m in _EQUATION.finditer(step):
        if any(a < m.end() and m.start() < b for a, b in spans):
            continue  # inside an annotation, or the visible copy that precedes one
        expr = re.sub(r"[x×]", "*", m.group(1)).replace("÷", "/")
        value, written = evaluate_expression(expr), _value(m.group(2))
        if value is not None and not _close(value, written):
            text_wrong = 1.0
        operands = [_key(_value(t)) for t in _NUMBER.findall(m.group(1))]
        unsupported += sum(o not in known for o in operands)
        n_operands += len(operands)
        known.add(_key(written))
    return calc_wrong, text_wrong, unsupported / n_operands if n_operands else 0.0


def numeric_checks(question: str, steps: Sequence[str]) -> np.ndarray:
    """Per step, the ``CHECKS`` features: float32 of shape ``(len(steps), 3)``.

    Example:
        >>> numeric_checks("Natalia sold clips to 48 friends in April, half as many in May.",
        ...                ["48/2 = <<48/2=27>>27 in May.", "48+27 = <<48+27=75>>75."]).tolist()
        [[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]
    """
    known = _numbers(question)
    out = np.zeros((len(steps), len(CHECKS)), dtype=np.float32)
    for i, step in enumerate(steps):
        out[i] = _check_step(step, known)
        known |= _numbers(step)
    return out
