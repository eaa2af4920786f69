"""Step-labelled solutions: TRL's PRM format, and PRMBench's processes converted to it.

TRL's stepwise-supervision rows are ``prompt``, ``completions`` (the steps) and ``labels``
(one bool per step). PRMBench rows hold a correct ``original_process`` and a
``modified_process`` with the 1-based ``error_steps`` an annotator introduced; each such row
becomes two records, the corrupted solution (labelled up to its first error) and the
original one (all steps correct).

Labels are validated strictly: a label must be a JSON ``true``/``false``. A ``0.8`` from a
soft-labelled export, or a ``"yes"``, is refused rather than rounded, since a process reward
model trained on silently rounded labels learns a threshold nobody chose.
"""

from __future__ import annotations

import re
from typing import Any

from rewardlab.data._fields import (
    RowContext,
    maybe_json,
    read_id,
    read_prompt,
    read_subset,
    read_text,
)
from rewardlab.data._mr_gsm8k import is_mr_gsm8k_row, parse_mr_gsm8k
from rewardlab.data._records import StepRecord

__all__ = ["parse_steps"]

#: PRMBench numbers some processes "1. ...", "2. ..."; the numbers are a listing artefact.
_ENUMERATION = re.compile(r"^\s*(\d+)\.\s+")


def _step_list(row: dict[str, Any], key: str, ctx: RowContext) -> tuple[str, ...]:
    value = maybe_json(row.get(key), ctx)
    if value is None:
        raise ctx.fail(key, "is missing; a step-labelled row needs its steps as a list")
    if not isinstance(value, list):
        raise ctx.fail(key, f"must be a list of steps (strings), got {type(value).__name__}")
    if not value:
        raise ctx.fail(key, "is empty; a solution needs at least one step")
    steps = []
    for i, step in enumerate(value):
        text = read_text(step, ctx, f"{key}[{i}]")
        if not text.strip():
            raise ctx.fail(f"{key}[{i}]", "is an empty step; every step must have some text "
                           "(drop the empty entry, and its label, from the row)")
        steps.append(text)
    return tuple(steps)


def _labels(row: dict[str, Any], n_steps: int, ctx: RowContext) -> tuple[bool, ...] | None:
    if row.get("labels") is None:
        return None
    value = maybe_json(row["labels"], ctx)
    if not isinstance(value, list):
        raise ctx.fail("labels", f"must be a list with one true/false per step, got "
                       f"{type(value).__name__}")
    if len(value) != n_steps:
        raise ctx.fail("labels", f"has {len(value)} entries but there are {n_steps} steps; "
                       "give exactly one label per step")
    for i, label in enumerate(value):
        if not isinstance(label, bool):
            raise ctx.fail(f"labels[{i}]", f"must be true or false, got {label!r}")
    return tuple(value)


def parse_trl_steps(row: dict[str, Any], ctx: RowContext) -> StepRecord:
    """One TRL stepwise-supervision row: ``prompt``, ``completions``, optional ``labels``
    (and ``subset``, ``question_type``)."""
    prompt = read_prompt(row, ctx)
    if prompt is None:
        raise ctx.fail("prompt", "is missing; a step-labelled row needs the problem it solves")
    steps = _step_list(row, "completions", ctx)
    qtype = row.get("question_type")
    if qtype is not None and not isinstance(qtype, str):
        raise ctx.fail("question_type", f"must be a string, got {type(qtype).__name__}")
    return StepRecord(prompt=prompt[1], steps=steps, labels=_labels(row, len(steps), ctx),
                      id=read_id(row, ctx), subset=read_subset(row, ctx), line=ctx.line,
                      question_type=qtype or None)


def _unnumbered(steps: tuple[str, ...]) -> tuple[str, ...]:
    """Drop a leading "1. ", "2. ", ... when every step carries its own number in order."""
    matches = [_ENUMERATION.match(s) for s in steps]
    if all(m is not None and int(m.group(1)) == i + 1 for i, m in enumerate(matches)):
        stripped = tuple(s[m.end():] for s, m in zip(steps, matches, strict=True) if m)
        if all(s.strip() for s in stripped):
            return stripped
    return steps


def _question(row: dict[str, Any], key: str, ctx: RowContext) -> str:
    for name in (key, "question"):
        if isinstance(row.get(name), str) and row[name].strip():
            return read_text(row[name], ctx, name)
    raise ctx.fail(key, "is missing; a PRMBench row needs the question its processes solve")


def parse_prmbench(row: dict[str, Any], ctx: RowContext) -> list[StepRecord]:
    """A PRMBench row as its corrupted solution (id ``IDX:ERROR_TYPE``) and, once per
    load, its original solution (id ``IDX:original``).

    The modified process is labelled correct before its first error step and wrong from it
    on: after the first error the solution is wrong whatever the later steps say, which is
    how error injection labels steps too, so both sources train one kind of label. PRMBench
    builds up to eight corruptions from one original; the original is read once.
    """
    modified = _unnumbered(_step_list(row, "modified_process", ctx))
    errors = maybe_json(row.get("error_steps"), ctx)
    if not isinstance(errors, list) or not errors:
        raise ctx.fail("error_steps", "must be a non-empty list of 1-based step numbers (the "
                       "steps of 'modified_process' that are wrong)")
    if not all(isinstance(e, int) and not isinstance(e, bool) and e >= 1 for e in errors):
        raise ctx.fail("error_steps", f"must hold step numbers >= 1, got {errors!r}")
    first = min(errors)
    if first > len(modified):
        raise ctx.fail("error_steps", f"points at step {first}, but 'modified_process' has "
                       f"only {len(modified)} steps")
    base_id = read_id(row, ctx) if row.get("idx") is None else str(row["idx"])
    subset = read_subset(row, ctx) or (str(row["classification"]) if row.get("classification")
                                   else None)
    records = [StepRecord(
        prompt=_question(row, "modified_question", ctx), steps=modified,
        labels=tuple(i < first - 1 for i in range(len(modified))),
        id=_unique_id(f"{base_id}:{subset or 'modified'}", ctx), subset=subset,
        line=ctx.line)]
    if row.get("original_process") is not None:
        original = _unnumbered(_step_list(row, "original_process", ctx))
        question = _question(row, "original_question", ctx)
        if (question, original) not in ctx.seen:
            ctx.seen.add((question, original))
            records.append(StepRecord(prompt=question, steps=original,
                                      labels=(True,) * len(original),
                                      id=_unique_id(f"{base_id}:original", ctx),
                                      subset="original", line=ctx.line))
    return records


def _unique_id(base: str, ctx: RowContext) -> str:
    """``base``, or ``base-2``, ``base-3``, ... when this load already used it: PRMBench's
    ``idx`` names a problem, which has one row per error type and, in places, two originals
    that differ only in formatting."""
    candidate, n = base, 1
    while ("id", candidate) in ctx.seen:
        n += 1
        candidate = f"{base}-{n}"
    ctx.seen.add(("id", candidate))
    return candidate


_LAYOUTS = ("trl-steps", "prmbench", "mr-gsm8k")


def parse_steps(row: dict[str, Any], ctx: RowContext) -> tuple[StepRecord | list[StepRecord],
                                                               str]:
    """A step-labelled row in TRL's PRM format, a PRMBench row (two records) or an
    MR-GSM8K row (``data._mr_gsm8k``).

    One file holds one layout: a row of another layout than the file's first valid row is
    refused (the fields it has are named), since a mix is almost always two files pasted
    together whose labels mean different things.
    """
    if "completions" not in row and ("modified_process" in row or "original_process" in row):
        layout, key = "prmbench", "modified_process"
    elif "completions" not in row and is_mr_gsm8k_row(row):
        layout, key = "mr-gsm8k", "model_output_steps"
    else:
        layout, key = "trl-steps", "completions"
    first = next((name for name in _LAYOUTS if ("layout", name) in ctx.seen), layout)
    if first != layout:
        raise ctx.fail(key, f"this row is in the {layout} layout but the file's earlier rows "
                       f"are {first}; one step file holds one layout (split the file)")
    if layout == "prmbench":
        if "modified_process" not in row:
            raise ctx.fail("modified_process", "is missing; a PRMBench row needs the corrupted "
                           "process and its 'error_steps'")
        out: StepRecord | list[StepRecord] = parse_prmbench(row, ctx)
    elif layout == "mr-gsm8k":
        out = parse_mr_gsm8k(row, ctx)
    else:
        out = parse_trl_steps(row, ctx)
    ctx.seen.add(("layout", layout))
    return out, layout
