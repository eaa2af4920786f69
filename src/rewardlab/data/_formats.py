"""Turn raw rows into typed records: format detection and per-field validation.

Each parser takes one raw row and either returns a record or raises a ``DataError`` that names
the file, line and field. Nothing here decides whether to stop or skip: the loader does.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rewardlab.data._dialogue import (
    common_prefix_split,
    is_hh_text,
    parse_hh,
    render_hh,
    split_turns,
)
from rewardlab.data._records import (
    BestOfNRecord,
    Message,
    PairRecord,
    PointRecord,
    Prompt,
    Task,
)
from rewardlab.errors import DataError

__all__ = ["DEFAULT_MAX_CHARS", "PARSERS", "RowContext", "detect_task"]

#: Longest text a field may hold. A reply of 100k characters is ~25k tokens, far past any
#: reward model's context; longer ones are almost always a broken export, so they are reported.
DEFAULT_MAX_CHARS = 100_000

_PROMPT_KEYS = ("prompt", "question", "instruction")
_REFERENCE_KEYS = ("reference", "ground_truth", "answer")
_SCORE_KEYS = ("score", "label", "rating")
_CANDIDATE_TEXT_KEYS = ("response", "text", "solution", "completion", "content")


@dataclass(frozen=True, slots=True)
class RowContext:
    """Where a row came from, so every error can say so.

    ``seen`` is shared by all rows of one load, for layouts whose rows repeat content that
    should be read once (PRMBench repeats a correct solution beside each of its corruptions).
    """

    file: str
    line: int
    index: int
    location: str = "line"
    max_chars: int = DEFAULT_MAX_CHARS
    seen: set[Any] = dataclasses.field(default_factory=set)
    #: CSV/TSV cells can only hold text, so lists and objects arrive as JSON text there; in
    #: JSON/JSONL/Parquet a string that looks like JSON ("[0.5, 1.5]") is a real answer.
    cells_are_text: bool = False

    def fail(self, field: str | None, msg: str) -> DataError:
        return DataError(msg, file=self.file, line=self.line, field=field, location=self.location)


def detect_task(row: dict[str, Any]) -> Task | None:
    """The task a row's fields imply, or None when they match no known layout."""
    if "chosen" in row or "rejected" in row:
        return "pairwise"  # one side missing is reported by the pairwise parser, by name
    if "completions" in row or "original_process" in row or "modified_process" in row:
        return "steps"  # TRL's PRM format, or PRMBench's correct / modified processes
    if "responses" in row or _gsm8k_candidate_keys(row):
        return "best-of-n"
    if "response" in row and any(key in row for key in _SCORE_KEYS):
        return "pointwise"
    return None


# --- field helpers -----------------------------------------------------------------------


def _maybe_json(value: Any, ctx: RowContext) -> Any:
    """CSV cells hold lists as JSON text; decode them when they look like JSON containers."""
    if ctx.cells_are_text and isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _text(value: Any, ctx: RowContext, field: str) -> str:
    """A text field. Empty text is valid: policies do answer with nothing (56 PandaLM pairs
    lose to a model that did; four HH annotators preferred silence to a harmful answer)."""
    if not isinstance(value, str):
        raise ctx.fail(field, f"must be a string, got {_type_name(value)}")
    if len(value) > ctx.max_chars:
        raise ctx.fail(
            field,
            f"is {len(value):,} characters long; the limit is {ctx.max_chars:,} "
            "(raise it with --max-chars if this is intended)",
        )
    return value


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _number(value: Any, ctx: RowContext, field: str) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ctx.fail(field, f"must be a number, got the text {value[:40]!r}") from None
    if not isinstance(value, int | float):
        raise ctx.fail(field, f"must be a number, got {_type_name(value)}")
    if not math.isfinite(value):
        raise ctx.fail(field, f"must be a finite number, got {value}")
    return float(value)


def _boolean(value: Any, ctx: RowContext, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise ctx.fail(field, f"must be true or false, got {value!r}")


def _messages(value: list[Any], ctx: RowContext, field: str) -> list[Message]:
    out = []
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, dict):
            raise ctx.fail(where, f"must be a message object with 'role' and 'content', got "
                           f"{_type_name(item)}")
        role, content = item.get("role"), item.get("content")
        if not isinstance(role, str) or not role:
            raise ctx.fail(f"{where}.role", "must be a non-empty string")
        out.append(Message(role, _text(content, ctx, f"{where}.content")))
    return out


def _prompt(row: dict[str, Any], ctx: RowContext) -> tuple[str, Prompt] | None:
    for key in _PROMPT_KEYS:
        if key in row and row[key] is not None:
            value = _maybe_json(row[key], ctx)
            if isinstance(value, list):
                return key, tuple(_messages(value, ctx, key))
            return key, _text(value, ctx, key)
    return None


def _reply_text(turns: list[Message], ctx: RowContext, field: str) -> str:
    """The reply carried by the turns after the prompt: normally one assistant message.

    An empty final assistant turn is kept as an empty reply: in HH a few annotators preferred
    saying nothing to a harmful answer, and that is a real preference.
    """
    if not turns:
        raise ctx.fail(field, "has no reply after the prompt it shares with the other side")
    text = turns[0].content if len(turns) == 1 else render_hh(turns)
    return _text(text, ctx, field)


def _row_id(row: dict[str, Any], ctx: RowContext) -> str | int:
    value = row.get("id")
    if value is None:
        return ctx.index
    if isinstance(value, str | int) and not isinstance(value, bool):
        return value
    raise ctx.fail("id", f"must be a string or an integer, got {_type_name(value)}")


def _subset(row: dict[str, Any], ctx: RowContext) -> str | None:
    value = row.get("subset")
    if value is None or value == "":
        return None
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    raise ctx.fail("subset", f"must be a string, got {_type_name(value)}")


# --- pairwise ----------------------------------------------------------------------------


def parse_pair(row: dict[str, Any], ctx: RowContext) -> tuple[PairRecord, str]:
    """A pair in any of TRL's layouts; returns the record and the layout's name."""
    for key in ("chosen", "rejected"):
        if key not in row or row[key] is None:
            raise ctx.fail(key, "is missing; a pairwise row needs 'chosen' and 'rejected'")
    chosen_raw, rejected_raw = _maybe_json(row["chosen"], ctx), _maybe_json(row["rejected"], ctx)
    explicit = _prompt(row, ctx)

    if isinstance(chosen_raw, list) or isinstance(rejected_raw, list):
        sides = {}
        for key, value in (("chosen", chosen_raw), ("rejected", rejected_raw)):
            if isinstance(value, list):
                sides[key] = _messages(value, ctx, key)
        for key, value in (("chosen", chosen_raw), ("rejected", rejected_raw)):
            if not isinstance(value, list):
                raise ctx.fail(key, f"must be a list of messages like the other side, "
                               f"got {_type_name(value)}")
        chosen_turns, rejected_turns = sides["chosen"], sides["rejected"]
        if explicit is not None:
            prompt: Prompt = explicit[1]
            # Some exports repeat the prompt messages at the head of each side: drop them.
            if isinstance(prompt, tuple) and prompt:
                n = len(prompt)
                if tuple(chosen_turns[:n]) == prompt and tuple(rejected_turns[:n]) == prompt:
                    chosen_turns, rejected_turns = chosen_turns[n:], rejected_turns[n:]
            chosen = _reply_text(chosen_turns, ctx, "chosen")
            rejected = _reply_text(rejected_turns, ctx, "rejected")
        else:
            prompt, c_rest, r_rest = split_turns(chosen_turns, rejected_turns)
            chosen = _reply_text(c_rest, ctx, "chosen")
            rejected = _reply_text(r_rest, ctx, "rejected")
        form = "conversational"
    else:
        chosen_text = _text(chosen_raw, ctx, "chosen")
        rejected_text = _text(rejected_raw, ctx, "rejected")
        if explicit is not None:
            prompt, chosen, rejected, form = explicit[1], chosen_text, rejected_text, "explicit"
        elif is_hh_text(chosen_text) and is_hh_text(rejected_text):
            prompt, c_rest, r_rest = split_turns(parse_hh(chosen_text), parse_hh(rejected_text))
            chosen = _reply_text(c_rest, ctx, "chosen")
            rejected = _reply_text(r_rest, ctx, "rejected")
            form = "hh"
        else:
            prompt, chosen, rejected = common_prefix_split(chosen_text, rejected_text)
            form = "implicit"
            for key, value in (("chosen", chosen), ("rejected", rejected)):
                _text(value, ctx, key)

    if chosen == rejected:
        raise ctx.fail(
            "rejected", "is identical to 'chosen'; a pair must differ to carry a preference"
        )
    margin = None
    if row.get("margin") not in (None, ""):
        margin = _number(row["margin"], ctx, "margin")
    record = PairRecord(
        prompt=prompt,
        chosen=chosen,
        rejected=rejected,
        id=_row_id(row, ctx),
        subset=_subset(row, ctx),
        margin=margin,
        line=ctx.line,
    )
    return record, form


# --- pointwise ---------------------------------------------------------------------------


def parse_point(row: dict[str, Any], ctx: RowContext) -> tuple[PointRecord, str]:
    if "response" not in row:
        raise ctx.fail("response", "is missing; a pointwise row needs 'response' and 'score'")
    key = next((k for k in _SCORE_KEYS if k in row), None)
    if key is None:
        raise ctx.fail("score", "is missing; a pointwise row needs a 'score' (or 'label')")
    explicit = _prompt(row, ctx)
    record = PointRecord(
        prompt=explicit[1] if explicit else "",
        response=_text(row["response"], ctx, "response"),
        score=_number(row[key], ctx, key),
        id=_row_id(row, ctx),
        subset=_subset(row, ctx),
        line=ctx.line,
    )
    return record, "pointwise"


# --- best-of-n ---------------------------------------------------------------------------


def _gsm8k_candidate_keys(row: dict[str, Any]) -> list[str]:
    """Keys of GSM8K ``example_model_solutions`` candidates: objects with a ``solution``."""
    return [k for k, v in row.items() if isinstance(v, dict) and "solution" in v]


def _candidate(item: Any, ctx: RowContext, field: str) -> tuple[str, bool | None, float | None]:
    if isinstance(item, str):
        return _text(item, ctx, field), None, None
    if not isinstance(item, dict):
        raise ctx.fail(field, f"must be a string or an object with the text, got "
                       f"{_type_name(item)}")
    key = next((k for k in _CANDIDATE_TEXT_KEYS if k in item), None)
    if key is None:
        raise ctx.fail(field, f"has no text; expected one of {', '.join(_CANDIDATE_TEXT_KEYS)}")
    text = _text(item[key], ctx, f"{field}.{key}")
    correct = item.get("is_correct", item.get("correct"))
    score = item.get("score")
    return (
        text,
        None if correct is None else _boolean(correct, ctx, f"{field}.is_correct"),
        None if score is None else _number(score, ctx, f"{field}.score"),
    )


def _parallel(row: dict[str, Any], key: str, n: int, ctx: RowContext, kind: Callable) -> tuple:
    value = _maybe_json(row[key], ctx)
    if not isinstance(value, list):
        raise ctx.fail(key, f"must be a list with one entry per response, got {_type_name(value)}")
    if len(value) != n:
        raise ctx.fail(key, f"has {len(value)} entries but there are {n} responses")
    return tuple(kind(v, ctx, f"{key}[{i}]") for i, v in enumerate(value))


def parse_best_of_n(row: dict[str, Any], ctx: RowContext) -> tuple[BestOfNRecord, str]:
    names: tuple[str, ...] | None = None
    if "responses" in row:
        items = _maybe_json(row["responses"], ctx)
        if not isinstance(items, list) or not items:
            raise ctx.fail("responses", f"must be a non-empty list, got {_type_name(items)}")
        form = "responses"
    else:
        keys = _gsm8k_candidate_keys(row)
        if not keys:
            raise ctx.fail("responses", "is missing; a best-of-n row needs a 'responses' list")
        items, names, form = [row[k] for k in keys], tuple(keys), "gsm8k-examples"
    fields = [f"responses[{i}]" if names is None else names[i] for i in range(len(items))]
    parsed = [_candidate(item, ctx, field) for item, field in zip(items, fields, strict=True)]
    responses = tuple(p[0] for p in parsed)
    correct = tuple(p[1] for p in parsed)
    scores = tuple(p[2] for p in parsed)
    if "is_correct" in row:
        correct = _parallel(row, "is_correct", len(items), ctx, _boolean)
    if "scores" in row:
        scores = _parallel(row, "scores", len(items), ctx, _number)
    for label, values in (("is_correct", correct), ("score", scores)):
        if any(v is None for v in values) and any(v is not None for v in values):
            raise ctx.fail(label, "is given for some responses but not all")

    explicit = _prompt(row, ctx)
    reference = None
    for key in _REFERENCE_KEYS:
        if row.get(key) is not None:
            value = row[key]
            reference = str(value) if isinstance(value, int | float) else _text(value, ctx, key)
            break
    record = BestOfNRecord(
        prompt=explicit[1] if explicit else "",
        responses=responses,
        id=_row_id(row, ctx),
        is_correct=None if correct[0] is None else correct,  # type: ignore[arg-type]
        scores=None if scores[0] is None else scores,  # type: ignore[arg-type]
        reference=reference,
        names=names,
        subset=_subset(row, ctx),
        line=ctx.line,
    )
    return record, form


PARSERS: dict[Task, Callable[[dict[str, Any], RowContext], tuple[Any, str]]] = {
    "pairwise": parse_pair,
    "pointwise": parse_point,
    "best-of-n": parse_best_of_n,
}

