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
from dataclasses import dataclass
from typing import Any

from rewardlab.data._columns import PROMPT_KEYS, REFERENCE_KEYS, STRUCTURED_REFERENCE_KEYS
from rewardlab.data._records import Message, Prompt
from rewardlab.errors import DataError

__all__ = [
    "DEFAULT_MAX_CHARS",
    "RowContext",
    "maybe_json",
    "read_bool",
    "read_id",
    "read_messages",
    "read_number",
    "read_prompt",
    "read_reference",
    "read_subset",
    "read_text",
    "reference_text",
    "type_name",
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


def read_text(value: Any, ctx: RowContext, field: str) -> str:
    """A text field. Empty text is valid: policies do answer with nothing (56 PandaLM pairs
    lose to a model that did; four HH annotators preferred silence to a harmful answer)."""
    if not isinstance(value, str):
        raise ctx.fail(field, f"must be a string, got {type_name(value)}")
    if len(value) > ctx.max_chars:
        raise ctx.fail(
            field,
            f"is {len(value):,} characters long; the limit is {ctx.max_chars:,} "
            "(raise it with --max-chars if this is intended)",
        )
    return value


def type_name(value: Any) -> str:
    """How a value's type is named in messages: JSON's ``null`` for None."""
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
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        if not isinstance(item, dict):
            raise ctx.fail(where, f"must be a message object with 'role' and 'content', got "
                           f"{type_name(item)}")
        role, content = item.get("role"), item.get("content")
        if not isinstance(role, str) or not role:
            raise ctx.fail(f"{where}.role", "must be a non-empty string")
        out.append(Message(role, read_text(content, ctx, f"{where}.content")))
    return out


def read_prompt(row: dict[str, Any], ctx: RowContext) -> tuple[str, Prompt] | None:
    for key in PROMPT_KEYS:
        if key in row and row[key] is not None:
            value = maybe_json(row[key], ctx)
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
    """The row's reference answer: the first of ``REFERENCE_KEYS`` that is not null; a number
    is kept as its text (``72`` -> ``"72"``), a structured reference (a ``constraints`` or
    ``rubric`` list) as its JSON text (``reference_text``); any other list is an error, not an
    answer."""
    for key in REFERENCE_KEYS:
        if row.get(key) is not None:
            value = row[key]
            if key in STRUCTURED_REFERENCE_KEYS and isinstance(value, list | dict):
                return reference_text(value)
            return str(value) if isinstance(value, int | float) else read_text(value, ctx, key)
    return None


def reference_text(value: Any) -> Any:
    """A reference as the text every reward path passes on: a list or object (a row's
    ``constraints``, a ``rubric``, reference calls) becomes its JSON text, written the same way
    by the data readers, the RL adapters and the server, so the model parses the same thing
    whichever way it arrives; anything else is returned unchanged.

    Example:
        >>> reference_text([{"type": "max_words", "value": 5}])
        '[{"type": "max_words", "value": 5}]'
    """
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value
