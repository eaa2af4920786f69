"""Master keys for tool-calling rewards: calls that game a call-matching verifier.

A policy rewarded for tool calls can learn calls that carry no answer but collect credit:
calling the right function with no arguments (an empty call earns the name's credit), passing
every argument the tool defines (so no required one is ever missing), or calling every tool
at once (so the right function is always among the calls, for a matcher that forgives extra
calls). Each key is built per row from the row's own tools (read from its reference, the
``{"tools", "ground_truth"}`` document ``rewardlab.data`` builds), with placeholder values of
each parameter's declared type, since a policy cannot know the right ones.

``row_keys`` returns nothing unless every row is a tool-calling row with tools, so other data
sees only the text catalogue.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from rewardlab.data import TOOL_KEYS, normalize_schema

__all__ = ["row_keys"]

_PLACEHOLDER = {"integer": 1, "number": 1.0, "boolean": True, "array": [], "object": {},
                "string": "x"}


def _tools(reference: str | None) -> list[dict[str, Any]] | None:
    """The row's tools as ``(name, normalised parameter schema)`` dicts, or None."""
    if not isinstance(reference, str) or not reference.startswith("{"):
        return None
    try:
        doc = json.loads(reference)
    except json.JSONDecodeError:
        return None
    tools = next((doc[k] for k in TOOL_KEYS if isinstance(doc, dict) and k in doc), None)
    if not isinstance(tools, list) or not tools:
        return None
    out = []
    for tool in tools:
        body = tool.get("function", tool) if isinstance(tool, dict) else None
        if not isinstance(body, dict) or not isinstance(body.get("name"), str):
            return None
        params = normalize_schema(body.get("parameters") or {})
        out.append({"name": body["name"], "schema": params if isinstance(params, dict) else {}})
    return out


def _value(schema: Any) -> Any:
    if isinstance(schema, dict) and isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    kind = schema.get("type") if isinstance(schema, dict) else None
    return _PLACEHOLDER.get(kind if isinstance(kind, str) else "string", "x")


def _call(tool: dict[str, Any], which: str) -> dict[str, Any]:
    props = tool["schema"].get("properties") or {}
    names = list(props) if which == "all" else (
        [p for p in tool["schema"].get("required", []) if p in props] if which == "required"
        else [])
    return {"name": tool["name"], "arguments": {p: _value(props[p]) for p in names}}


def row_keys(references: Sequence[str | None]) -> list[tuple[str, str, list[str]]]:
    """Tool master keys as ``(label, family, one response per row)``; empty unless every
    row's reference names its tools.

    Example:
        >>> ref = json.dumps({"tools": [{"name": "f", "parameters": {"type": "dict",
        ...     "properties": {"x": {"type": "integer"}}, "required": ["x"]}}],
        ...     "ground_truth": [{"f": {"x": [3]}}]})
        >>> [(k, texts[0]) for k, _, texts in row_keys([ref])]  # doctest: +NORMALIZE_WHITESPACE
        [('<empty call>', '[{"name": "f", "arguments": {}}]'),
         ('<every argument>', '[{"name": "f", "arguments": {"x": 1}}]'),
         ('<every tool>', '[{"name": "f", "arguments": {"x": 1}}]')]
    """
    rows = [_tools(r) for r in references]
    if not rows or any(t is None for t in rows):
        return []
    keys: list[tuple[str, str, list[str]]] = [
        ("<empty call>", "tool call", [json.dumps([_call(t[0], "none")]) for t in rows]),
        ("<every argument>", "tool call", [json.dumps([_call(t[0], "all")]) for t in rows]),
        ("<every tool>", "tool call", [json.dumps([_call(tool, "required") for tool in t])
                                       for t in rows])]
    return keys
