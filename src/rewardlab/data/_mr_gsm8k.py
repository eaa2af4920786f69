"""MR-GSM8K rows as step-labelled solutions: real model errors with a human first-error label.

A row holds a model's solution as ``model_output_steps`` (each "Step k: ..."), the 1-based
``model_output_solution_first_error_step`` a person marked, and the question's
``question_type`` (``original``, ``reversed``: solve for a masked quantity given the answer,
``POT``: program-of-thought, the steps are code). The solution becomes one ``StepRecord``
labelled correct before its first error and wrong from it on (how injected errors and
PRMBench are labelled too), with that ``question_type``. MR-GSM8K names no error types, only
the annotator's reason; ``error_type`` sorts the reason into a coarse type by its words
(``calculation``, ``quantity``, ``logic``, ``misunderstanding``, ``other``), which becomes
the record's ``subset`` so first-error accuracy is reported per type as for PRMBench.

Correct solutions are mixed in as ProcessBench does: the question's ``ground_truth_solution``
(GSM8K's worked solution), where the row has one, is read once per question as a solution
whose steps are all correct (id ``UUID:reference``). Reversed questions carry none. These
references are human-written, not model output, so they differ in style from the wrong
solutions; benchmarks/README.md says what that means for acc_correct.
"""

from __future__ import annotations

import re
from typing import Any

from rewardlab.data._fields import RowContext, maybe_json, read_subset, read_text, type_name
from rewardlab.data._records import StepRecord

__all__ = ["clean_step", "error_type", "is_mr_gsm8k_row", "parse_mr_gsm8k"]

#: An annotator's reason often opens with its type ("Misunderstanding: ...", "计算错误，...");
#: these labels are read first, in the first 30 characters.
_LEADING_TYPES = (
    ("calculation", re.compile(r"calculation|computation|arithmetic|计算", re.I)),
    ("misunderstanding", re.compile(r"misunderstand|understanding|理解|审题", re.I)),
    ("logic", re.compile(r"logic|reasoning|approach|思路|逻辑|推理", re.I)),
)
#: Otherwise words anywhere in the reason; the first type whose words match wins.
_REASON_TYPES = (
    ("calculation", re.compile(r"calculat|arithmetic|comput|miscalc|result of|计算", re.I)),
    ("quantity", re.compile(r"\bunit|percent|misread|\bcop(?:y|ied)|\bgiven\b|number of|"
                            r"should be \$?\d|instead of \$?\d|单位|数值", re.I)),
    ("logic", re.compile(r"equation|formula|logic|\badd|subtract|multipl|divid|operation|"
                         r"方程|公式|逻辑", re.I)),
    ("misunderstanding", re.compile(r"understand|interpret|question|meaning|理解|题意", re.I)),
)


_STEP_PREFIX = re.compile(r"^\s*step\s*\d+\s*[:.)]\s*", re.IGNORECASE)
STEPS_FIELD = "model_output_steps"
FIRST_ERROR_FIELD = "model_output_solution_first_error_step"


def is_mr_gsm8k_row(row: dict[str, Any]) -> bool:
    return STEPS_FIELD in row


def error_type(reason: str) -> str:
    """A coarse error type from an annotator's free-text reason (keyword rules, see
    ``_REASON_TYPES``); ``other`` when none matches.

    Example:
        >>> error_type("Misunderstanding: the speed is per hour"), error_type("计算错误，5小时")
        ('misunderstanding', 'calculation')
    """
    head = reason[:30]
    found = [(m.start(), name) for name, words in _LEADING_TYPES
             if (m := words.search(head)) is not None]
    if found:
        return min(found)[1]  # the label the reason opens with
    return next((name for name, words in _REASON_TYPES if words.search(reason)), "other")


def clean_step(text: str) -> str:
    """A step without its "Step k:" listing prefix, stripped.

    Example:
        >>> clean_step("Step 2: 48/2 = 24"), clean_step("Step 3:")
        ('48/2 = 24', '')
    """
    return _STEP_PREFIX.sub("", text, count=1).strip()


def _steps(row: dict[str, Any], ctx: RowContext) -> tuple[str, ...]:
    value = maybe_json(row.get(STEPS_FIELD), ctx)
    if not isinstance(value, list):
        what = "is missing" if value is None else f"must be a list of steps, got {type_name(value)}"
        raise ctx.fail(STEPS_FIELD, f"{what}; an MR-GSM8K row needs the solution's steps "
                       "as a list of strings")
    if not value:
        raise ctx.fail(STEPS_FIELD, "is empty; a solution needs at least one step")
    steps = []
    for i, step in enumerate(value):
        text = clean_step(read_text(step, ctx, f"{STEPS_FIELD}[{i}]"))
        if not text:
            raise ctx.fail(f"{STEPS_FIELD}[{i}]", f"is empty after removing its 'Step k:' "
                           f"prefix (got {step!r}); every step must have some text (drop "
                           "the entry and renumber the first error step)")
        steps.append(text)
    return tuple(steps)


def _first_error(row: dict[str, Any], n_steps: int, ctx: RowContext) -> int | None:
    """0-based first error, or None for a solution marked correct."""
    value = row.get(FIRST_ERROR_FIELD)
    verdict = row.get("model_output_solution_correctness")
    if value is None or value == "" or value == "N/A":
        if isinstance(verdict, str) and verdict.lower() == "correct":
            return None
        raise ctx.fail(FIRST_ERROR_FIELD, "is missing for a solution not marked correct "
                       "('model_output_solution_correctness' is "
                       f"{verdict!r}); give the 1-based step where it first goes wrong")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ctx.fail(FIRST_ERROR_FIELD, f"must be a 1-based step number, got {value!r}")
    if not 1 <= value <= n_steps:
        raise ctx.fail(FIRST_ERROR_FIELD, f"is step {value}, but the solution has "
                       f"{n_steps} steps (numbered 1 to {n_steps}); it must name one of them")
    return value - 1


def parse_mr_gsm8k(row: dict[str, Any], ctx: RowContext) -> list[StepRecord]:
    """An MR-GSM8K row as its labelled solution and, once per question, the question's
    reference solution as a correct one."""
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ctx.fail("question", "is missing; an MR-GSM8K row needs the question its "
                       "solution answers")
    question = read_text(question, ctx, "question")
    steps = _steps(row, ctx)
    first = _first_error(row, len(steps), ctx)
    qtype = row.get("question_type")
    if qtype is not None and not isinstance(qtype, str):
        raise ctx.fail("question_type", f"must be a string, got {type_name(qtype)}")
    qtype = qtype or read_subset(row, ctx)
    reason = row.get("model_output_solution_first_error_reason")
    subset = "correct" if first is None else error_type(reason if isinstance(reason, str)
                                                         else "")
    uid = row.get("uuid", row.get("id", ctx.index))
    if not isinstance(uid, str | int) or isinstance(uid, bool):
        raise ctx.fail("uuid", f"must be a string or an integer, got {type_name(uid)}")
    labels = tuple(first is None or i < first for i in range(len(steps)))
    records = [StepRecord(prompt=question, steps=steps, labels=labels, id=uid, subset=subset,
                          line=ctx.line, question_type=qtype)]
    reference = row.get("ground_truth_solution")
    if isinstance(reference, str) and reference.strip() and ("mr", question) not in ctx.seen:
        ctx.seen.add(("mr", question))
        ref_steps = tuple(s.strip() for s in reference.split("\n") if s.strip())
        records.append(StepRecord(prompt=question, steps=ref_steps,
                                  labels=(True,) * len(ref_steps), id=f"{uid}:reference",
                                  subset="correct", line=ctx.line, question_type=qtype))
    return records
