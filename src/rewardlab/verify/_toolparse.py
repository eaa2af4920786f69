"""Read the tool calls out of a response, in the shapes models emit them.

Accepted, tried in this order on the whole text, then on each ``<tool_call>...</tool_call>``
block (Hermes / Qwen), then on the last fenced code block:

- JSON: OpenAI ``tool_calls`` (``[{"type": "function", "function": {"name", "arguments":
  "<JSON text>"}}]``), an assistant message object holding ``tool_calls``, a list of
  ``{"name": ..., "arguments": {...}}`` objects (``parameters`` also read), one such
  object, or ``{"fn": {...arguments}}``;
- Python call text: ``f(a=1, b="x")``, ``[f(a=1), g(b=2)]`` (BFCL's format) or one call per
  line, parsed with ``ast`` and read with ``ast.literal_eval`` — never evaluated. Positional
  arguments are refused: a call is matched by argument name.

A text with no call in any shape is ``no_call`` (a plain answer); a text that tried and
failed (broken JSON, a call with a variable as argument) is ``unparsable``, with the detail.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_CALLS", "ParsedCalls", "ToolCall", "parse_calls"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call a response makes: the function's name and its arguments by name."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "arguments": self.arguments}


@dataclass(frozen=True, slots=True)
class ParsedCalls:
    """What a response calls: ``calls`` (empty for none), or None when it could not be read;
    ``reason`` is ``ok``, ``no_call`` or ``unparsable``, ``detail`` says why."""

    calls: tuple[ToolCall, ...] | None
    reason: str
    detail: str = ""


#: Most calls one response may make: beyond it the response is unparsable, since matching
#: costs calls x expected calls and no task of BFCL's asks for more than a handful.
MAX_CALLS = 128


class _Bad(ValueError):
    """A shape that is recognisably a call but broken."""


_TAG = re.compile(r"<tool_call>\s*(.*?)\s*</tool_call>", re.S)
_FENCE = re.compile(r"```[\w-]*[ \t]*\n(.*?)```", re.S)


def _arguments(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if isinstance(value, str):
        try:
            value = json.loads(value) if value.strip() else {}
        except json.JSONDecodeError as exc:
            raise _Bad(f"{where}: arguments are not valid JSON ({exc.msg})") from None
    if not isinstance(value, dict):
        raise _Bad(f"{where}: arguments must be an object, got {type(value).__name__}")
    return value


def _json_call(item: Any, where: str) -> ToolCall:
    if not isinstance(item, dict):
        raise _Bad(f"{where}: a call must be an object, got {type(item).__name__}")
    body = item["function"] if isinstance(item.get("function"), dict) else item
    name = body.get("name")
    if isinstance(name, str) and name:
        return ToolCall(name, _arguments(body.get("arguments", body.get("parameters")), where))
    if len(item) == 1:
        name, args = next(iter(item.items()))
        if isinstance(args, dict):
            return ToolCall(name, args)
    raise _Bad(f"{where}: a call needs a function 'name'")


def _from_json(value: Any) -> tuple[ToolCall, ...]:
    if isinstance(value, dict) and "tool_calls" in value:
        value = value["tool_calls"] if value["tool_calls"] is not None else []
    if isinstance(value, list):
        return tuple(_json_call(item, f"call {i}") for i, item in enumerate(value))
    if isinstance(value, dict):
        return (_json_call(value, "call 0"),)
    raise _Bad(f"JSON {type(value).__name__} is not a call")


def _dotted(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    raise _Bad("a call must name its function (f(...) or module.f(...))")


def _py_call(node: ast.expr) -> ToolCall:
    if not isinstance(node, ast.Call):
        raise _Bad(f"{type(node).__name__.lower()} is not a call")
    name = _dotted(node.func)
    if node.args:
        raise _Bad(f"{name}(...) passes positional arguments; name every argument")
    args: dict[str, Any] = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise _Bad(f"{name}(...) uses **kwargs; name every argument")
        try:
            args[kw.arg] = ast.literal_eval(kw.value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise _Bad(f"{name}(...): argument '{kw.arg}' is not a literal value") from None
    return ToolCall(name, args)


def _from_python(text: str) -> tuple[ToolCall, ...]:
    try:
        tree = ast.parse(text, mode="exec")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        raise _Bad("not JSON and not Python call syntax") from None
    nodes: list[ast.expr] = []
    for stmt in tree.body:
        if not isinstance(stmt, ast.Expr):
            raise _Bad("Python text that is not only calls")
        value = stmt.value
        nodes.extend(value.elts if isinstance(value, ast.List | ast.Tuple) else [value])
    if not nodes:
        raise _Bad("no call")
    return tuple(_py_call(n) for n in nodes)


def _parse_one(text: str) -> tuple[ToolCall, ...]:
    calls = _parse_any(text.strip())
    if len(calls) > MAX_CALLS:
        raise _Bad(f"{len(calls)} calls; at most {MAX_CALLS} are read")
    return calls


def _parse_any(text: str) -> tuple[ToolCall, ...]:
    if text[:1] in "[{":
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            pass
        except RecursionError:
            raise _Bad("JSON nested too deeply") from None
        else:
            return _from_json(value)
    return _from_python(text)


def _looks_like_call(text: str) -> bool:
    """Whether a text that parsed as nothing was trying to call (so it is ``unparsable``,
    not a plain answer)."""
    t = text.lstrip()
    return t[:1] in "[{" or "<tool_call>" in text or bool(
        re.match(r"[A-Za-z_][\w.]*\s*\(", t))


def parse_calls(text: str) -> ParsedCalls:
    """The calls in ``text``: see the module docstring for the shapes.

    Example:
        >>> parse_calls('[get_weather(city="Paris", unit="C")]').calls
        (ToolCall(name='get_weather', arguments={'city': 'Paris', 'unit': 'C'}),)
        >>> parse_calls('{"name": "f", "arguments": "{\\\\"x\\\\": 1}"}').calls
        (ToolCall(name='f', arguments={'x': 1}),)
        >>> parse_calls("It is sunny.").reason
        'no_call'
    """
    if not text.strip():
        return ParsedCalls((), "no_call", "empty response")
    tagged = _TAG.findall(text)
    first_error = ""
    candidates = [text] if not tagged else []
    if not tagged:
        fences = _FENCE.findall(text)
        if fences:
            candidates.append(fences[-1])
    else:
        try:
            calls = tuple(c for block in tagged for c in _parse_one(block))
        except _Bad as exc:
            return ParsedCalls(None, "unparsable", f"<tool_call> block: {exc}")
        return ParsedCalls(calls, "ok" if calls else "no_call")
    for candidate in candidates:
        try:
            calls = _parse_one(candidate)
        except _Bad as exc:
            first_error = first_error or str(exc)
            continue
        return ParsedCalls(calls, "ok" if calls else "no_call",
                           "" if calls else "an empty list of calls")
    if any(_looks_like_call(c) for c in candidates):
        return ParsedCalls(None, "unparsable", first_error)
    return ParsedCalls((), "no_call", "no tool call in the response")
