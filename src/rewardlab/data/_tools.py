"""Tool-calling rows: tool definitions, reference calls and chat turns that call tools.

A tool-calling row carries its tools (``tools`` in the OpenAI shape, or BFCL's ``function``:
JSON-schema definitions) beside reference calls in the Berkeley Function Calling
Leaderboard's ``ground_truth`` shape (per call ``{name: {argument: [every acceptable value]}}``,
``""`` = may be omitted; ``[]`` = no call is correct). The verifier needs both, and every
consumer (``score``, ``eval``, the server, the RL adapters) passes one reference string per
response, so the two travel together as one JSON document, ``{"tools": [...],
"ground_truth": [...]}``, built and checked here once, when the row is read:

- each tool's ``parameters`` must be a valid JSON Schema (BFCL's own type names ``dict``,
  ``float``, ``tuple``, ``any``, and the Java/JavaScript ones, are mapped to JSON Schema's
  first), checked with ``jsonschema``'s meta-schema;
- each reference call must name a tool the row defines.

A bad tool or reference fails with the file, line and field. The same checks serve a
reference handed to the verifier in Python (``ConfigError`` naming the field instead).

Chat turns that call tools (an assistant message with OpenAI ``tool_calls``, a ``tool``
message with its result) are read by ``read_tool_message`` into plain ``Message`` text: the
calls as JSON, so a verifier parses them back exactly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any

from rewardlab.data._columns import TOOL_KEYS

__all__ = [
    "TOOL_KEYS",
    "ToolFunctions",
    "json_text",
    "normalize_schema",
    "read_tool_calls",
    "tool_functions",
    "tool_reference",
]

#: BFCL type names (Python, Java, JavaScript categories) and their JSON Schema equivalents;
#: ``None`` = any value.
_TYPE_ALIASES: dict[str, str | None] = {
    "dict": "object", "HashMap": "object", "map": "object",
    "float": "number", "double": "number", "Float": "number", "Double": "number",
    "long": "integer", "int": "integer", "Integer": "integer", "Long": "integer",
    "tuple": "array", "Array": "array", "ArrayList": "array", "list": "array",
    "String": "string", "char": "string", "str": "string",
    "Boolean": "boolean", "bool": "boolean",
    "any": None, "": None,
}

#: name -> (JSON-schema of its parameters, normalised), in definition order.
ToolFunctions = dict[str, dict[str, Any]]
#: ``fail(field, message)`` returns the exception to raise (a row's ``ctx.fail``).
Fail = Callable[[str, str], Exception]


def json_text(value: Any) -> str:
    """The one JSON text of a structured value (a reference, a call): compact, key order
    kept, non-ASCII as is, so the same value gives the same text everywhere."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def normalize_schema(schema: Any) -> Any:
    """A copy of ``schema`` with BFCL's type names mapped to JSON Schema's (``dict`` ->
    ``object``, ``float`` -> ``number``, ``any`` -> no type), recursively.

    Example:
        >>> normalize_schema({"type": "dict", "properties": {"x": {"type": "float"}}})
        {'type': 'object', 'properties': {'x': {'type': 'number'}}}
    """
    if isinstance(schema, list):
        return [normalize_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, str) and value in _TYPE_ALIASES:
            mapped = _TYPE_ALIASES[value]
            if mapped is not None:
                out[key] = mapped
        elif key in ("properties", "patternProperties", "$defs", "definitions") \
                and isinstance(value, dict):
            out[key] = {k: normalize_schema(v) for k, v in value.items()}
        elif key in ("items", "additionalProperties", "anyOf", "oneOf", "allOf", "not",
                     "prefixItems"):
            out[key] = normalize_schema(value)
        else:
            out[key] = value
    return out


def _check_schema(schema: dict[str, Any]) -> str | None:
    """None when ``schema`` is valid JSON Schema (draft 2020-12), else where and why not."""
    import jsonschema

    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as exc:
        where = "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in exc.path)
        return f"is not valid JSON Schema: at parameters{where}: {exc.message}"
    return None


@lru_cache(maxsize=2048)
def _functions_cached(text: str) -> tuple[tuple[str, dict[str, Any]], ...] | str:
    """Tool definitions (as JSON text) checked once: the functions, or the failure as
    ``"FIELD\tMESSAGE"`` (FIELD relative to the tools' field)."""
    result = _check_functions(json.loads(text))
    return result if isinstance(result, tuple) else "\t".join(result)


def _check_functions(tools: Any) -> tuple[tuple[str, dict[str, Any]], ...] | list[str]:
    if not isinstance(tools, list):
        return ["", f"must be a list of tool definitions, got {type(tools).__name__}"]
    seen: dict[str, dict[str, Any]] = {}
    for i, tool in enumerate(tools):
        where = f"[{i}]"
        if isinstance(tool, dict) and isinstance(tool.get("function"), dict):
            tool, where = tool["function"], f"[{i}].function"
        if not isinstance(tool, dict):
            return [f"[{i}]", f"must be a tool definition object, got {type(tool).__name__}"]
        name = tool.get("name")
        if not isinstance(name, str) or not name:
            return [f"{where}.name", "must be a non-empty string (the function's name)"]
        if name in seen:
            return [f"{where}.name", f"defines '{name}' twice"]
        params = tool.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(params, dict):
            return [f"{where}.parameters", f"must be a JSON Schema object, got "
                    f"{type(params).__name__}"]
        schema = normalize_schema(params)
        problem = _check_schema(schema)
        if problem is not None:
            return [f"{where}.parameters", problem]
        props = schema.get("properties", {})
        required = schema.get("required", [])
        missing = [r for r in required if r not in props]
        if missing:
            return [f"{where}.parameters.required", f"names {', '.join(map(repr, missing))}, "
                    "which 'properties' does not define"]
        seen[name] = schema
    return tuple(seen.items())


def tool_functions(tools: Any, fail: Fail, field: str = "tools") -> ToolFunctions:
    """The functions a row defines, by name, each with its normalised parameter schema.

    Accepts BFCL's ``[{"name", "description", "parameters"}]`` and OpenAI's ``[{"type":
    "function", "function": {...}}]``. Results are cached on the definitions' JSON text, since
    rows of one benchmark share their tools and a meta-schema check is not free.

    Raises:
        what ``fail(field, message)`` returns: a definition is malformed, names a function
        twice, or its ``parameters`` is not valid JSON Schema.
    """
    if isinstance(tools, str):
        try:
            tools = json.loads(tools)
        except json.JSONDecodeError as exc:
            raise fail(field, f"is not valid JSON ({exc.msg} at character {exc.pos})") from None
    result = _functions_cached(json_text(tools))
    if isinstance(result, str):
        where, msg = result.split("\t", 1)
        raise fail(f"{field}{where}", msg)
    return dict(result)


def _check_calls(calls: Any, functions: ToolFunctions | None, fail: Fail, field: str) -> None:
    """Reference calls in BFCL ``ground_truth`` shape (or ``{"name", "arguments"}`` calls)
    must be a list whose calls name defined functions."""
    if not isinstance(calls, list):
        raise fail(field, f"must be a list of reference calls ([] when no call is correct), "
                   f"got {type(calls).__name__}")
    for i, call in enumerate(calls):
        if not isinstance(call, dict):
            raise fail(f"{field}[{i}]", f"must be a call object, got {type(call).__name__}")
        if "name" in call and ("arguments" in call or "parameters" in call):
            name, args = call["name"], call.get("arguments", call.get("parameters"))
            if not isinstance(args, dict):
                raise fail(f"{field}[{i}].arguments", "must be an object of argument values")
        elif len(call) == 1:
            name, args = next(iter(call.items()))
            if not isinstance(args, dict) or not all(isinstance(v, list) for v in args.values()):
                raise fail(f"{field}[{i}].{name}", "must map every argument to the list of its "
                           "acceptable values (BFCL ground_truth; \"\" = may be omitted)")
        else:
            raise fail(f"{field}[{i}]", "must be {name: {argument: [acceptable values]}} "
                       "(BFCL ground_truth) or {\"name\": ..., \"arguments\": {...}}")
        if not isinstance(name, str) or not name:
            raise fail(f"{field}[{i}]", "must name its function with a non-empty string")
        if functions is not None and name not in functions:
            raise fail(f"{field}[{i}]", f"calls '{name}', which the row's tools do not define "
                       f"(defined: {', '.join(functions) or 'none'})")


def tool_reference(tools: Any, calls: Any, fail: Fail, *, tools_field: str = "tools",
                   calls_field: str = "ground_truth") -> str:
    """The reference document of a tool-calling row, as JSON text: ``{"tools": [...],
    "ground_truth": [...]}``, after checking both (``tools`` may be None: calls only).

    Example:
        >>> def fail(field, msg): return ValueError(f"{field}: {msg}")
        >>> tool_reference([{"name": "f", "parameters": {"type": "dict", "properties": {}}}],
        ...                [{"g": {}}], fail)
        Traceback (most recent call last):
        ...
        ValueError: ground_truth[0]: calls 'g', which the row's tools do not define (defined: f)
    """
    if isinstance(calls, str):
        try:
            calls = json.loads(calls)
        except json.JSONDecodeError as exc:
            raise fail(calls_field, f"is not valid JSON ({exc.msg})") from None
    functions = None if tools is None else tool_functions(tools, fail, tools_field)
    _check_calls(calls, functions, fail, calls_field)
    if isinstance(tools, str):
        tools = json.loads(tools)
    doc: dict[str, Any] = {"ground_truth": calls}
    if tools is not None:
        doc["tools"] = tools
    return json_text(doc)


def read_tool_calls(calls: Any, fail: Fail, field: str) -> list[dict[str, Any]]:
    """An assistant message's ``tool_calls`` (OpenAI: ``[{"id", "type": "function",
    "function": {"name", "arguments": JSON text}}]``, or ``[{"name", "arguments"}]``),
    checked: each names its function and its arguments decode to an object."""
    if not isinstance(calls, list):
        raise fail(field, f"must be a list of tool calls, got {type(calls).__name__}")
    for i, call in enumerate(calls):
        where = f"{field}[{i}]"
        inner = call.get("function") if isinstance(call, dict) else None
        body = inner if isinstance(inner, dict) else call
        if not isinstance(body, dict) or not isinstance(body.get("name"), str) \
                or not body["name"]:
            raise fail(where, "must be a call with a function name ({'function': {'name', "
                       "'arguments'}} or {'name', 'arguments'})")
        args = body.get("arguments", {})
        if isinstance(args, str):
            try:
                args = json.loads(args) if args.strip() else {}
            except json.JSONDecodeError as exc:
                raise fail(f"{where}.arguments", f"is not valid JSON ({exc.msg})") from None
        if not isinstance(args, Mapping):
            raise fail(f"{where}.arguments", f"must be an object, got {type(args).__name__}")
    return calls
