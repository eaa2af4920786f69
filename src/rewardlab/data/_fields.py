"""The row context and the field readers: typed getters that name file, line and field.

Every layout (``_formats``, ``_steps``, RewardBench 2, GSM8K problems) and every format to
come reads its fields through these, so a wrong field gets the same message everywhere:
``pairs.jsonl:17: field 'chosen': must be a string, got int``. A reader takes the value (or
the row, for fields found by name from the column vocabulary) and the ``RowContext`` of the
row, and returns the typed value or raises the ``DataError``.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from dataclasses import dataclass
from typing import Any

from rewardlab.data._code import CODE_TEST_KEYS, CodeRowError, code_reference
from rewardlab.data._columns import (
    PROMPT_KEYS,
    REFERENCE_KEYS,
    STRUCTURED_REFERENCE_KEYS,
    TOOL_KEYS,
)
from rewardlab.data._records import Message, Prompt
from rewardlab.data._tools import json_text, read_tool_calls, tool_reference
from rewardlab.errors import DataError

__all__ = [
    "DEFAULT_MAX_CHARS",
    "RowContext",
    "lone_surrogate",
    "maybe_json",
    "read_bool",
    "read_id",
    "read_messages",
    "read_number",
    "read_prompt",
    "read_reference",
    "read_subset",
    "read_text",
    "read_user",
    "read_votes",
    "read_weights",
    "reference_text",
    "type_name",
    "user_key",
]

#: Longest text a field may hold. A reply of 100k characters is ~25k tokens, far past any
#: reward model's context; longer ones are almost always a broken export, so they are reported.
DEFAULT_MAX_CHARS = 100_000


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


def maybe_json(value: Any, ctx: RowContext) -> Any:
    """CSV cells hold lists as JSON text; decode them when they look like JSON containers."""
    if ctx.cells_are_text and isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


#: A lone UTF-16 surrogate: valid as a JSON ``\\ud800`` escape, but not a character, so no
#: tokenizer or UTF-8 writer takes it.
_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(text: str) -> str | None:
    """What is wrong with ``text`` if it holds a lone UTF-16 surrogate (``holds a lone ...``),
    else None: one wording for data files and for server requests, each naming its field."""
    bad = _SURROGATE.search(text)
    if bad is None:
        return None
    return (f"holds a lone UTF-16 surrogate (\\u{ord(bad.group()):04x} at character "
            f"{bad.start()}), which is not a Unicode character")


def read_text(value: Any, ctx: RowContext, field: str) -> str:
    """A text field. Empty text is valid: policies do answer with nothing (56 PandaLM pairs
    lose to a model that did; four HH annotators preferred silence to a harmful answer).
    Text holding a lone surrogate (JSON ``"\\ud800"`` without its pair) is refused here,
    where the file, line and field are known, rather than failing inside a tokenizer."""
    if not isinstance(value, str):
        raise ctx.fail(field, f"must be a string, got {type_name(value)}")
    surrogate = lone_surrogate(value)
    if surrogate is not None:
        raise ctx.fail(field, f"{surrogate}; fix the escape (a surrogate must come in a high + "
                       "low pair)")
    if len(value) > ctx.max_chars:
        raise ctx.fail(
            field,
            f"is {len(value):,} characters long; the limit is {ctx.max_chars:,} "
            "(raise it with --max-chars if this is intended)",
        )
    return value


def type_name(value: Any) -> str:
    """How a value's type is named in messages: JSON's ``null`` for None, and an empty list
    or object as such (``must be a non-empty list, got an empty list``, not ``got list``)."""
    if isinstance(value, list | dict) and not value:
        return "an empty list" if isinstance(value, list) else "an empty object"
    return "null" if value is None else type(value).__name__


def read_number(value: Any, ctx: RowContext, field: str) -> float:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise ctx.fail(field, f"must be a number, got the text {value[:40]!r}") from None
    if not isinstance(value, int | float):
        raise ctx.fail(field, f"must be a number, got {type_name(value)}")
    if not math.isfinite(value):
        raise ctx.fail(field, f"must be a finite number, got {value}")
    return float(value)


def read_bool(value: Any, ctx: RowContext, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise ctx.fail(field, f"must be true or false, got {value!r}")


def read_messages(value: list[Any], ctx: RowContext, field: str) -> list[Message]:
    out = []
    called = False
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, dict):
            raise ctx.fail(where, f"must be a message object with 'role' and 'content', got "
                           f"{type_name(item)}")
        role, content = item.get("role"), item.get("content")
        if not isinstance(role, str) or not role:
            raise ctx.fail(f"{where}.role", "must be a non-empty string")
        if item.get("tool_calls") or role == "tool":
            out.append(Message(role, _tool_turn(item, called, ctx, where)))
            called = called or role != "tool"
            continue
        out.append(Message(role, read_text(content, ctx, f"{where}.content")))
    return out


def _tool_turn(item: dict[str, Any], called: bool, ctx: RowContext, where: str) -> str:
    """A trajectory's tool turn as text: an assistant's calls as the JSON of ``{"content",
    "tool_calls"}`` (what a tool-call verifier reads back), a tool's result as its text (an
    object as JSON). A result must follow a turn that called a tool."""
    content = item.get("content")
    if item["role"] == "tool":
        if not called:
            raise ctx.fail(f"{where}.role", "is 'tool', but no earlier assistant message "
                           "called a tool (its 'tool_calls')")
        if isinstance(content, dict | list):
            return json_text(content)
        return read_text(content, ctx, f"{where}.content")
    if item["role"] != "assistant":
        raise ctx.fail(f"{where}.tool_calls", f"is on a '{item['role']}' message; only the "
                       "assistant calls tools")
    calls = read_tool_calls(item["tool_calls"], ctx.fail, f"{where}.tool_calls")
    if content is None or content == "":
        return json_text({"tool_calls": calls})
    return json_text({"content": read_text(content, ctx, f"{where}.content"),
                      "tool_calls": calls})


def read_prompt(row: dict[str, Any], ctx: RowContext) -> tuple[str, Prompt] | None:
    for key in PROMPT_KEYS:
        if key in row and row[key] is not None:
            value = maybe_json(row[key], ctx)
            if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
                value = [m for turn in value for m in turn]  # BFCL: one message list per turn
            if isinstance(value, list):
                return key, tuple(read_messages(value, ctx, key))
            return key, read_text(value, ctx, key)
    return None


def read_id(row: dict[str, Any], ctx: RowContext) -> str | int:
    value = row.get("id")
    if value is None:
        return ctx.index
    if isinstance(value, str | int) and not isinstance(value, bool):
        return value
    raise ctx.fail("id", f"must be a string or an integer, got {type_name(value)}")


def read_subset(row: dict[str, Any], ctx: RowContext) -> str | None:
    value = row.get("subset")
    if value is None or value == "":
        return None
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return str(value)
    raise ctx.fail("subset", f"must be a string, got {type_name(value)}")


def read_reference(row: dict[str, Any], ctx: RowContext) -> str | None:
    """The row's reference answer: unit tests of a code row (``test`` + ``entry_point``,
    ``test_list``, ``tests``; ``_code.py``) as canonical JSON text; in a row with tools
    (``tools`` / BFCL's ``function``) the reference calls' JSON document with the tools
    (``rewardlab.data.tool_reference``), both checked here; else the first of
    ``REFERENCE_KEYS`` that is not null: a structured reference (a row's ``constraints`` or
    ``rubric``) as its JSON text (``reference_text``), a number kept as its text (``72`` ->
    ``"72"``), a JSON object as canonical JSON text, a list refused (its text would be judged
    as one answer). Blank text (or NaN) is no reference, as in the server: an empty CSV cell
    or ``"reference": ""`` would otherwise give every response a silent 0; an infinite number
    is refused."""
    try:
        code = code_reference({k: maybe_json(row[k], ctx) for k in CODE_TEST_KEYS if k in row}
                              | {"prompt": row.get("prompt")})
    except CodeRowError as exc:
        raise ctx.fail(exc.field, str(exc)) from None
    if code is not None:
        return code
    for key in REFERENCE_KEYS:
        if row.get(key) is not None and not _blank(row[key]):
            value = row[key]
            if key in STRUCTURED_REFERENCE_KEYS and isinstance(value, list | dict):
                return reference_text(value)
            tools = next((k for k in TOOL_KEYS if row.get(k) is not None), None)
            calls = isinstance(value, list | dict) or (
                isinstance(value, str) and value.lstrip()[:1] == "[")
            if tools is not None and calls:  # a tool-calling row: tools travel with the calls
                return tool_reference(maybe_json(row[tools], ctx), maybe_json(value, ctx),
                                      ctx.fail, tools_field=tools, calls_field=key)
            if isinstance(value, dict):  # a JSON object: its one JSON text
                return json_text(value)
            if isinstance(value, list):
                raise ctx.fail(key, "is a list, and a reference answer is one text or number; "
                               "if these are reference tool calls, give the row its tool "
                               f"definitions ({' or '.join(map(repr, TOOL_KEYS))}) beside them")
            if isinstance(value, float) and math.isinf(value):
                raise ctx.fail(key, f"is {value}, which is no reference answer; give the "
                               "answer as text or a finite number")
            return str(value) if isinstance(value, int | float) else read_text(value, ctx, key)
    return None


def _blank(value: Any) -> bool:
    """Blank text, or NaN (a missing value in a pandas-written float column)."""
    return (isinstance(value, str) and not value.strip()) or (
        isinstance(value, float) and math.isnan(value))


def reference_text(value: Any) -> Any:
    """A reference as the text every reward path passes on: a list or object (a row's
    ``constraints``, a ``rubric``, reference calls) becomes its one JSON text (``json_text``),
    written the same way by the data readers, the RL adapters and the server, so the model
    parses the same thing whichever way it arrives; anything else is returned unchanged.

    Example:
        >>> reference_text([{"type": "max_words", "value": 5}])
        '[{"type":"max_words","value":5}]'
    """
    if isinstance(value, list | dict):
        return json_text(value)
    return value


def user_key(value: str | None) -> str | None:
    """A user id as personal: models key it: surrounding spaces dropped, blank = no user.

    Why: a CSV written as ``alice, 3`` or a request with ``"user": "alice "`` means the user
    ``alice``; keeping the space would score that user with the population mixture and
    split one user's pairs into two users in training and in per-user accuracy.
    """
    if value is None:
        return None
    return value.strip() or None


def read_user(row: dict[str, Any], ctx: RowContext) -> str | None:
    """The row's ``user`` (who judged it, or whose reward to give): any scalar, kept as text
    (``user_key``: spaces around it dropped, a blank one is no user)."""
    value = row.get("user")
    if value is None:
        return None
    if isinstance(value, str | int) and not isinstance(value, bool):
        return user_key(str(value))
    raise ctx.fail("user", f"must be a string or an integer, got {type_name(value)}")


def parse_weights(value: Any, where: str = "weights") -> tuple[tuple[str, float], ...]:
    """Attribute weights from an object ``{"harmless": 1}`` or text ``harmless=1,helpful:0.5``
    (``=`` or ``:``), or that object as JSON text. Raises ``ValueError`` with a message; the
    callers add where it was."""
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{where} look like a JSON object but are not valid JSON "
                             f"({exc.msg} at column {exc.colno})") from None
    if isinstance(value, str):
        items = []
        for part in (p.strip() for p in value.split(",")):
            if not part:
                continue
            name, sep, number = part.replace(":", "=", 1).partition("=")
            if not sep or not name.strip():
                raise ValueError(f"cannot read {part!r} in {where}; write NAME=WEIGHT pairs "
                                 "separated by commas, e.g. harmless=1,helpful=0.5")
            items.append((name.strip(), number.strip()))
    elif isinstance(value, dict):
        items = list(value.items())
    else:
        raise ValueError(f"{where} must be an object of attribute weights or text like "
                         f"harmless=1,helpful=0.5, got {type_name(value)}")
    out = []
    for name, number in items:
        if isinstance(number, bool):
            raise ValueError(f"the weight of '{name}' in {where} must be a number, got "
                             f"{json.dumps(number)}")
        if any(name == seen for seen, _ in out):
            raise ValueError(f"{where} give '{name}' twice; give each attribute once")
        try:
            weight = float(number)
        except (TypeError, ValueError):
            raise ValueError(f"the weight of '{name}' in {where} must be a number, got "
                             f"{number!r}") from None
        if not math.isfinite(weight):
            raise ValueError(f"the weight of '{name}' in {where} must be finite, got {weight}")
        out.append((str(name), weight))
    if not out:
        raise ValueError(f"{where} names no attribute")
    return tuple(out)


def read_weights(row: dict[str, Any], ctx: RowContext) -> tuple[tuple[str, float], ...] | None:
    """The row's per-attribute ``weights`` for a ``multi:`` model (which attributes exist is
    the model's to check)."""
    value = row.get("weights")
    if value is None or value == "":
        return None
    value = maybe_json(value, ctx)
    try:
        return parse_weights(value, "the weights")
    except ValueError as exc:
        raise ctx.fail("weights", str(exc)) from None


def read_votes(row: dict[str, Any], ctx: RowContext) -> tuple[int, ...] | None:
    """Annotator votes from ``votes`` or ``meta.votes``: 1 or 2 = which output, 0 = tie."""
    field, value = "votes", row.get("votes")
    meta = maybe_json(row.get("meta"), ctx)  # a CSV cell holds it as JSON text
    nested = meta.get("votes") if isinstance(meta, dict) else None
    if value is None and nested is not None:
        field, value = "meta.votes", nested
    elif value is not None and nested is not None and \
            maybe_json(value, ctx) != maybe_json(nested, ctx):
        raise ctx.fail("votes", "and 'meta.votes' disagree; give the annotators' votes once "
                                "(which one is right cannot be told)")
    if value is None:
        return None
    value = maybe_json(value, ctx)
    if not isinstance(value, list) or not value:
        raise ctx.fail(field, f"must be a non-empty list of votes (1, 2 or 0 for a tie), got "
                       f"{type_name(value)}")
    for i, vote in enumerate(value):
        if isinstance(vote, bool) or vote not in (0, 1, 2):
            raise ctx.fail(f"{field}[{i}]", f"must be 1, 2 (which output) or 0 (a tie), got "
                           f"{vote!r}")
    return tuple(int(v) for v in value)
