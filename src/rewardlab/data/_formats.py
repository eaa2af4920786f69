"""Turn raw rows into typed records: format detection and per-field validation.

Each parser takes one raw row and either returns a record or raises a ``DataError`` that names
the file, line and field. Nothing here decides whether to stop or skip: the loader does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rewardlab.data._columns import CANDIDATE_TEXT_KEYS, SCORE_KEYS
from rewardlab.data._dialogue import (
    common_prefix_split,
    is_hh_text,
    parse_hh,
    render_hh,
    split_turns,
)
from rewardlab.data._fields import (
    RowContext,
    maybe_json,
    read_bool,
    read_id,
    read_messages,
    read_number,
    read_prompt,
    read_reference,
    read_subset,
    read_text,
    read_user,
    read_votes,
    read_weights,
    type_name,
)
from rewardlab.data._records import (
    BestOfNRecord,
    Message,
    PairRecord,
    PointRecord,
    Prompt,
    Task,
)
from rewardlab.data._tools import json_text
from rewardlab.errors import DataError

__all__ = [
    "detect_task",
    "is_rewardbench2_row",
    "parse_best_of_n",
    "parse_pair",
    "parse_point",
    "unknown_layout",
]


def is_rewardbench2_row(row: dict[str, Any]) -> bool:
    """A RewardBench 2 row: ``chosen`` is a list whose items are plain strings and
    ``rejected`` a list too (a pair's sides are strings, or chat messages, which are
    objects)."""
    chosen = row.get("chosen")
    return (isinstance(chosen, list) and bool(chosen) and all(isinstance(c, str) for c in chosen)
            and isinstance(row.get("rejected"), list))


def detect_task(row: dict[str, Any]) -> Task | None:
    """The task a row's fields imply, or None when they match no known layout."""
    if is_rewardbench2_row(row):
        return "best-of-n"  # RewardBench 2: is a chosen reply at the top of all the candidates?
    if "chosen" in row or "rejected" in row:
        return "pairwise"  # one side missing is reported by the pairwise parser, by name
    if "completions" in row or "original_process" in row or "modified_process" in row:
        return "steps"  # TRL's PRM format, or PRMBench's correct / modified processes
    if "model_output_steps" in row:
        return "steps"  # MR-GSM8K: a model's steps with a human first-error label
    if "responses" in row or _gsm8k_candidate_keys(row):
        return "best-of-n"
    if "response" in row or "messages" in row:
        return "pointwise"  # labelled or not: a label is needed only where a metric uses it
    return None


def unknown_layout(row: dict[str, Any], *, file: str, line: int | None,
                   location: str = "line") -> DataError:
    """The error for a row whose fields match no layout: it lists the fields it has and the
    layouts there are, so the user can rename a column or pass ``--format``."""
    fields = ", ".join(sorted(row)) or "none"
    return DataError(
        f"cannot tell the data format from its fields ({fields}). Expected pairwise "
        "(prompt/chosen/rejected, or whole chosen/rejected dialogues), pointwise "
        "(prompt/response with an optional score, or chat messages), best-of-n "
        "(prompt/responses) or steps (prompt/completions/labels); rename the fields or pass "
        "--format",
        file=file, line=line, location=location,
    )


def _reply_text(turns: list[Message], ctx: RowContext, field: str) -> str:
    """The reply carried by the turns after the prompt: normally one assistant message.

    An empty final assistant turn is kept as an empty reply: in HH a few annotators preferred
    saying nothing to a harmful answer, and that is a real preference.
    """
    if not turns:
        raise ctx.fail(field, "has no reply after the prompt it shares with the other side")
    text = turns[0].content if len(turns) == 1 else render_hh(turns)
    return read_text(text, ctx, field)


# --- pairwise ----------------------------------------------------------------------------


def parse_pair(row: dict[str, Any], ctx: RowContext) -> tuple[PairRecord, str]:
    """A pair in any of TRL's layouts; returns the record and the layout's name."""
    for key in ("chosen", "rejected"):
        if key not in row or row[key] is None:
            raise ctx.fail(key, "is missing; a pairwise row needs 'chosen' and 'rejected'")
    chosen_raw, rejected_raw = maybe_json(row["chosen"], ctx), maybe_json(row["rejected"], ctx)
    explicit = read_prompt(row, ctx)

    if isinstance(chosen_raw, list) or isinstance(rejected_raw, list):
        sides = {}
        for key, value in (("chosen", chosen_raw), ("rejected", rejected_raw)):
            if isinstance(value, list):
                sides[key] = read_messages(value, ctx, key)
        for key, value in (("chosen", chosen_raw), ("rejected", rejected_raw)):
            if not isinstance(value, list):
                raise ctx.fail(key, f"must be a list of messages like the other side, "
                               f"got {type_name(value)}")
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
        chosen_text = read_text(chosen_raw, ctx, "chosen")
        rejected_text = read_text(rejected_raw, ctx, "rejected")
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
                read_text(value, ctx, key)

    if chosen == rejected:
        raise ctx.fail(
            "rejected", "is identical to 'chosen'; a pair must differ to carry a preference"
        )
    margin = None
    if row.get("margin") not in (None, ""):
        margin = read_number(row["margin"], ctx, "margin")
    record = PairRecord(
        prompt=prompt,
        chosen=chosen,
        rejected=rejected,
        id=read_id(row, ctx),
        subset=read_subset(row, ctx),
        margin=margin,
        line=ctx.line,
        reference=read_reference(row, ctx),
        user=read_user(row, ctx),
        weights=read_weights(row, ctx),
        votes=read_votes(row, ctx),
    )
    return record, form


# --- pointwise ---------------------------------------------------------------------------


def parse_point(row: dict[str, Any], ctx: RowContext) -> tuple[PointRecord, str]:
    """One response to score: ``prompt``/``response`` or a chat's ``messages`` (the last
    assistant turn is the response, the turns before it the prompt), with an optional
    ``score`` (or ``label``/``rating``). Unlabelled rows are what ``score`` is for: the first
    thing a user scores is model output, so the label is read only when it is there."""
    if "response" not in row and "messages" in row:
        prompt, response = _chat_reply(row, ctx)
        form = "messages"
    else:
        if "response" not in row:
            raise ctx.fail("response", "is missing; a pointwise row needs 'response' (or the "
                           "chat's 'messages')")
        explicit = read_prompt(row, ctx)
        prompt = explicit[1] if explicit else ""
        raw = row["response"]  # tool calls given as JSON structure are scored as their text
        response = json_text(raw) if isinstance(raw, dict | list) else read_text(
            raw, ctx, "response")
        form = "pointwise"
    key = next((k for k in SCORE_KEYS if row.get(k) not in (None, "")), None)
    record = PointRecord(
        prompt=prompt,
        response=response,
        score=None if key is None else read_number(row[key], ctx, key),
        id=read_id(row, ctx),
        subset=read_subset(row, ctx),
        line=ctx.line,
        reference=read_reference(row, ctx),
        user=read_user(row, ctx),
        weights=read_weights(row, ctx),
    )
    return record, form


def _chat_reply(row: dict[str, Any], ctx: RowContext) -> tuple[Prompt, str]:
    """A chat's last assistant turn as the response and the turns before it as the prompt."""
    value = maybe_json(row["messages"], ctx)
    if not isinstance(value, list) or not value:
        raise ctx.fail("messages", f"must be a non-empty list of {{'role', 'content'}} "
                       f"messages, got {type_name(value)}")
    turns = read_messages(value, ctx, "messages")
    if turns[-1].role != "assistant":
        raise ctx.fail(f"messages[{len(turns) - 1}].role", f"is '{turns[-1].role}'; the last "
                       "message must be the assistant's reply to score")
    return tuple(turns[:-1]), turns[-1].content


# --- best-of-n ---------------------------------------------------------------------------


def _gsm8k_candidate_keys(row: dict[str, Any]) -> list[str]:
    """Keys of GSM8K ``example_model_solutions`` candidates: objects with a ``solution``."""
    return [k for k, v in row.items() if isinstance(v, dict) and "solution" in v]


def _candidate(item: Any, ctx: RowContext, field: str) -> tuple[str, bool | None, float | None]:
    if isinstance(item, str):
        return read_text(item, ctx, field), None, None
    if not isinstance(item, dict):
        raise ctx.fail(field, f"must be a string or an object with the text, got "
                       f"{type_name(item)}")
    key = next((k for k in CANDIDATE_TEXT_KEYS if k in item), None)
    if key is None:
        raise ctx.fail(field, f"has no text; expected one of {', '.join(CANDIDATE_TEXT_KEYS)}")
    text = read_text(item[key], ctx, f"{field}.{key}")
    correct = item.get("is_correct", item.get("correct"))
    score = item.get("score")
    return (
        text,
        None if correct is None else read_bool(correct, ctx, f"{field}.is_correct"),
        None if score is None else read_number(score, ctx, f"{field}.score"),
    )


def _parallel(row: dict[str, Any], key: str, n: int, ctx: RowContext, kind: Callable) -> tuple:
    value = maybe_json(row[key], ctx)
    if not isinstance(value, list):
        raise ctx.fail(key, f"must be a list with one entry per response, got {type_name(value)}")
    if len(value) != n:
        raise ctx.fail(key, f"has {len(value)} entries but there are {n} responses")
    return tuple(kind(v, ctx, f"{key}[{i}]") for i, v in enumerate(value))


def parse_best_of_n(row: dict[str, Any], ctx: RowContext) -> tuple[BestOfNRecord, str]:
    names: tuple[str, ...] | None = None
    if "responses" in row:
        items = maybe_json(row["responses"], ctx)
        if not isinstance(items, list) or not items:
            raise ctx.fail("responses", f"must be a non-empty list, got {type_name(items)}")
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
        correct = _parallel(row, "is_correct", len(items), ctx, read_bool)
    if "scores" in row:
        scores = _parallel(row, "scores", len(items), ctx, read_number)
    for label, values in (("is_correct", correct), ("score", scores)):
        if any(v is None for v in values) and any(v is not None for v in values):
            raise ctx.fail(label, "is given for some responses but not all")

    explicit = read_prompt(row, ctx)
    reference = read_reference(row, ctx)
    record = BestOfNRecord(
        prompt=explicit[1] if explicit else "",
        responses=responses,
        id=read_id(row, ctx),
        is_correct=None if correct[0] is None else correct,  # type: ignore[arg-type]
        scores=None if scores[0] is None else scores,  # type: ignore[arg-type]
        reference=reference,
        names=names,
        subset=read_subset(row, ctx),
        line=ctx.line,
        user=read_user(row, ctx),
        weights=read_weights(row, ctx),
    )
    return record, form
