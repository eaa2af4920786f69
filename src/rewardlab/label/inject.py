"""Error injection: step labels from correct solutions, by making one step wrong.

A correct GSM8K solution carries its arithmetic as calculator annotations,
``48/2 = <<48/2=24>>24``. One calculation is corrupted, either its **result**
(``arithmetic``: ``48/2 = 27``, a slip) or one of its **operands** (``quantity``: ``46/2 =
23``, a number copied wrong from the question or an earlier step, with the arithmetic then
done right). The wrong value is then carried forward: every later calculation that used it
is recomputed, and every later mention of it rewritten, so the solution stays internally
consistent after the error and ends with a different final answer. That is what makes the
labels honest: the corrupted step is the *first* wrong one, the steps before it are exactly
the original ones (correct), and every step from it on belongs to a solution that is now
wrong. A candidate corruption that would leave the final answer unchanged (its value never
reaches the answer) or that cannot be carried forward (a later expression that no longer
evaluates) is not used; another one is tried.

Seeding is per problem (the seed and the question text), so a problem gets the same
corruption whatever file it is read from, in whatever order, with whatever ``limit``.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rewardlab._validation import check_int, check_option
from rewardlab.data import Dataset, Problem, StepRecord, read_problems
from rewardlab.errors import ConfigError
from rewardlab.steps._arith import _CALC, _NUMBER, _key, _safe_value, _value, evaluate_expression
from rewardlab.steps._split import split_steps

__all__ = [
    "CORRUPTIONS",
    "Corruption",
    "InjectionResult",
    "Problem",
    "evaluate_expression",
    "inject_error",
    "inject_errors",
    "read_problems",
]

#: What a corruption can change: a calculation's result, or one of its operands.
CORRUPTIONS = ("arithmetic", "quantity")



class _CannotCarry(Exception):
    """A later calculation stops evaluating once the wrong value is put into it."""


# --- numbers and expressions -----------------------------------------------------------------


def _fmt(value: float, like: str = "") -> str:
    """A number written as GSM8K writes it: no trailing zeros, at most 4 decimals (2 when
    it does not terminate), thousands separated by commas when ``like`` was."""
    for places in range(5):
        if abs(value - round(value, places)) < 1e-9:
            break
    else:
        places = 2
    text = f"{value:.{places}f}"
    if "," in like and abs(value) >= 1000:
        text = f"{value:,.{places}f}"
    return text


def _substitute(text: str, changes: dict[float, float]) -> str:
    """``text`` with every number whose value changed written with its new value."""
    def swap(m: re.Match[str]) -> str:
        new = changes.get(_key(_value(m.group())))
        return m.group() if new is None else _fmt(new, m.group())

    return _NUMBER.sub(swap, text)


def _carry(line: str, changes: dict[float, float], start: int = 0) -> str:
    """Rewrite ``line`` from ``start`` on with the changed values carried forward.

    Text between calculations has changed numbers replaced; a calculation whose expression
    changed is recomputed, and its old result joins ``changes``; the result printed right
    after an annotation follows its annotation (so an unchanged calculation whose result
    happens to equal a changed value keeps it).
    """
    out, pos = [line[:start]], start
    for m in _CALC.finditer(line, start):
        out.append(_substitute(line[pos:m.start()], changes))
        expr, written = m.group(1), m.group(2)
        new_expr = _substitute(expr, changes)
        result = written
        if new_expr != expr:
            value = evaluate_expression(new_expr)
            old = _safe_value(written)
            if value is None or old is None:
                raise _CannotCarry(new_expr)
            result = _fmt(value, written)
            if _key(value) != _key(old):
                changes[_key(old)] = value
        out.append(f"<<{new_expr}={result}>>")
        pos = m.end()
        shown = _NUMBER.match(line, pos)
        if shown is not None and _safe_value(written) == _safe_value(shown.group()):
            out.append(_fmt(_value(result), shown.group()) if result != written
                       else shown.group())
            pos = shown.end()
    out.append(_substitute(line[pos:], changes))
    return "".join(out)


def _perturb(value: float, rng: random.Random) -> float:
    """A plausible wrong number near ``value``: off by a few units (or tens, for big
    numbers), never equal, and never negative when the original was not."""
    decimals = 0
    text = _fmt(value)
    if "." in text:
        decimals = len(text.split(".")[1])
    unit = 10.0 ** -decimals
    big = abs(value) >= 100
    offsets = (-10, -5, -2, -1, 1, 2, 5, 10) if big else (-3, -2, -1, 1, 2, 3, 4, 5)
    options = [round(value + d * unit, decimals) for d in offsets]
    options = [o for o in options if _key(o) != _key(value) and (o > 0 or value <= 0)]
    return rng.choice(options)


# --- one solution ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Corruption:
    """What error injection changed, so every label can be traced back.

    Attributes:
        kind: ``arithmetic`` (a result was changed) or ``quantity`` (an operand was).
        step: 0-based index of the corrupted step (the first wrong one).
        original: the number as it was (the result, or the operand).
        corrupted: the number written instead.
        expression: the calculation as it was, e.g. ``48/2=24``.
        answer: the final answer before, and ``corrupted_answer`` after.
    """

    kind: str
    step: int
    original: str
    corrupted: str
    expression: str
    answer: str
    corrupted_answer: str

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "step": self.step, "original": self.original,
                "corrupted": self.corrupted, "expression": self.expression,
                "answer": self.answer, "corrupted_answer": self.corrupted_answer}


def _final_number(text: str) -> str | None:
    found = _NUMBER.findall(text.strip().splitlines()[-1]) if text.strip() else []
    return found[-1].replace(",", "") if found else None


def _corrupt_at(lines: list[str], k: int, m: re.Match[str], kind: str, rng: random.Random
                ) -> tuple[list[str], str, str] | None:
    """Lines with calculation ``m`` of line ``k`` corrupted and the change carried forward,
    plus the original and corrupted numbers; None when this calculation cannot be used."""
    line = lines[k]
    expr, written = m.group(1), m.group(2)
    old_result = _safe_value(written)
    if old_result is None or evaluate_expression(expr) is None:
        return None
    prefix = line[:m.start()]
    if kind == "arithmetic":
        new_result = _perturb(old_result, rng)
        new_expr, before, after = expr, written, _fmt(new_result, written)
    else:
        operands = list(_NUMBER.finditer(expr))
        if not operands:
            return None
        op = rng.choice(operands)
        new_operand = _perturb(_value(op.group()), rng)
        new_expr = expr[:op.start()] + _fmt(new_operand, op.group()) + expr[op.end():]
        value = evaluate_expression(new_expr)
        if value is None or _key(value) == old_result:
            return None
        new_result = value
        before, after = op.group(), _fmt(new_operand, op.group())
        # the visible copy of the expression, after the previous annotation, if it has one
        last = max((c.end() for c in _CALC.finditer(line) if c.end() <= m.start()), default=0)
        visible = [t for t in _NUMBER.finditer(prefix, last)
                   if _key(_value(t.group())) == _key(_value(op.group()))]
        if visible:
            t = visible[-1]
            prefix = prefix[:t.start()] + _fmt(new_operand, t.group()) + prefix[t.end():]
    changes = {old_result: new_result}
    annotation = f"<<{new_expr}={_fmt(new_result, written)}>>"
    try:
        rest = _carry(line[m.end():], changes)
        new_lines = [*lines[:k], prefix + annotation + rest]
        new_lines += [_carry(later, changes) for later in lines[k + 1:]]
    except _CannotCarry:
        return None
    return new_lines, before, after


def inject_error(question: str, solution: str, *, seed: int = 0,
                 kinds: Sequence[str] = CORRUPTIONS) -> tuple[list[str], Corruption] | None:
    """One corrupted version of a correct solution: its steps and what was changed.

    Args:
        question: the problem (it seeds the choice, with ``seed``).
        solution: a correct worked solution with calculator annotations, one step per line.
        seed: with the question, fixes which calculation is corrupted and how.
        kinds: corruption kinds to draw from (``CORRUPTIONS``).

    Returns:
        ``(steps, corruption)`` with ``steps`` split as ``split_steps(text)`` does, or None
        when no calculation can be corrupted so that the final answer changes.

    Example:
        >>> steps, c = inject_error("Natalia sold clips to 48 friends in April and half as "
        ...     "many in May. How many altogether?", "Natalia sold 48/2 = <<48/2=24>>24 "
        ...     "clips in May.\\nNatalia sold 48+24 = <<48+24=72>>72 clips.\\n#### 72", seed=1)
        >>> c.kind, c.step, c.answer != c.corrupted_answer
        ('arithmetic', 0, True)
    """
    for kind in kinds:
        check_option("inject_error", "kinds", kind, CORRUPTIONS)
    rng = random.Random(_problem_seed(question, seed))
    lines = solution.split("\n")
    answer = _final_number(solution)
    original_steps = split_steps(solution)
    last = len(lines) - 1
    candidates = [(k, m) for k, line in enumerate(lines) for m in _CALC.finditer(line)
                  if k < last or len(lines) == 1]
    order = list(kinds)
    rng.shuffle(order)
    for kind in order:
        for k, m in rng.sample(candidates, len(candidates)):
            done = _corrupt_at(lines, k, m, kind, rng)
            if done is None:
                continue
            new_lines, before, after = done
            text = "\n".join(new_lines)
            new_answer = _final_number(text)
            if answer is None or new_answer is None or _key(_value(new_answer)) == _key(
                    _value(answer)):
                continue
            steps = split_steps(text)
            if len(steps) != len(original_steps):
                continue
            step = next(i for i, (a, b) in enumerate(zip(original_steps, steps, strict=True))
                        if a != b)
            return steps, Corruption(kind=kind, step=step, original=before, corrupted=after,
                                     expression=f"{m.group(1)}={m.group(2)}", answer=answer,
                                     corrupted_answer=new_answer)
    return None


def _problem_seed(question: str, seed: int) -> int:
    digest = hashlib.blake2b(f"{seed}\0{question}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


# --- many problems -----------------------------------------------------------------------------


@dataclass(frozen=True)
class InjectionResult:
    """Step-labelled records made by ``inject_errors``, and what happened to each problem.

    Attributes:
        records: per problem, the corrupted solution, then (with ``include_correct``) the
            correct one; TRL's PRM format with the corruption kind as ``subset``.
        corruptions: the corruption behind each corrupted record, by record id.
        uncorrupted: ids of problems with no usable calculation (left out; their count is
            reported, never hidden).
        references: the problem's original final answer, by record id (corrupted and correct
            records alike), so the rows can go on to ``label rollouts`` or a verifier.
    """

    records: tuple[StepRecord, ...]
    corruptions: dict[str | int, Corruption]
    uncorrupted: tuple[str | int, ...]
    references: dict[str | int, str] = field(default_factory=dict)

    def dataset(self, source: str = "error-injection") -> Dataset[StepRecord]:
        """The records as a ``steps`` dataset, ready for ``fit`` or ``evaluate_process``."""
        return Dataset(task="steps", records=self.records, source=source, form="injected")

    def rows(self) -> list[dict[str, Any]]:
        """JSON rows in TRL's PRM format (``prompt``, ``completions``, ``labels``) plus
        ``id``, ``subset``, the original final answer as ``reference`` and, for corrupted
        ones, the ``corruption``."""
        out = []
        for r in self.records:
            row: dict[str, Any] = {"id": r.id, "prompt": r.prompt, "completions": list(r.steps),
                                   "labels": list(r.labels or ()), "subset": r.subset}
            if r.id in self.references:
                row["reference"] = self.references[r.id]
            if r.id in self.corruptions:
                row["corruption"] = self.corruptions[r.id].to_json()
            out.append(row)
        return out


def inject_errors(problems: Sequence[Problem], *, seed: int = 0,
                  kinds: Sequence[str] = CORRUPTIONS, include_correct: bool = True
                  ) -> InjectionResult:
    """Corrupt one step of every problem's solution; label steps before it correct and it
    (and everything after it) wrong.

    Args:
        problems: questions with correct worked solutions (``read_problems``).
        seed: fixes every choice (per problem, see the module docstring).
        kinds: corruption kinds to use (``arithmetic``, ``quantity``).
        include_correct: also emit each problem's correct solution, all steps labelled
            correct, so a model learns, and is judged on, saying "no error".

    Returns:
        An ``InjectionResult``; problems that could not be corrupted are counted in
        ``uncorrupted`` and contribute no record at all (so the set stays balanced).
    """
    check_int("inject_errors", "seed", seed, minimum=0)
    if not kinds:
        raise ConfigError("The 'kinds' parameter of inject_errors must name at least one of "
                          f"{', '.join(CORRUPTIONS)}. Got none.")
    records: list[StepRecord] = []
    corruptions: dict[str | int, Corruption] = {}
    references: dict[str | int, str] = {}
    uncorrupted: list[str | int] = []
    for p in problems:
        done = inject_error(p.question, p.solution, seed=seed, kinds=kinds)
        if done is None:
            uncorrupted.append(p.id)
            continue
        steps, corruption = done
        rid = f"{p.id}:{corruption.kind}"
        records.append(StepRecord(prompt=p.question, steps=tuple(steps),
                                  labels=tuple(i < corruption.step for i in range(len(steps))),
                                  id=rid, subset=corruption.kind, line=p.line))
        corruptions[rid] = corruption
        references[rid] = corruption.answer
        if include_correct:
            correct = split_steps(p.solution)
            records.append(StepRecord(prompt=p.question, steps=tuple(correct),
                                      labels=(True,) * len(correct), id=f"{p.id}:correct",
                                      subset="correct", line=p.line))
            references[f"{p.id}:correct"] = corruption.answer
    return InjectionResult(records=tuple(records), corruptions=corruptions,
                           uncorrupted=tuple(uncorrupted), references=references)
