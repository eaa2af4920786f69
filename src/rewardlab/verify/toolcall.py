"""Check a response's tool calls against reference calls: the logic of ``verify:toolcall``.

A reference is the Berkeley Function Calling Leaderboard's ``ground_truth``: per expected
call, ``{function: {argument: [every acceptable value]}}`` (``""`` among them = may be
omitted); ``[]`` = no call is correct (BFCL "irrelevance"). It may come with the row's tools
(``{"tools": [...], "ground_truth": [...]}``, what ``rewardlab.data`` builds from a row), whose
JSON schemas give each argument's type and the required arguments.

The checks follow BFCL's AST checker rules (facts, not its code): the function name must
match; every required argument must be present; an argument the reference does not list is
refused; an integer is accepted where a float is declared but not the other way round, and a
bool is never a number; when every acceptable value of a non-string argument is a string (a
variable's name, as BFCL writes ``x="data['sales']"``) the argument compares as a string;
strings compare case-insensitively, ignoring spaces and the characters ``, . / - _ * ^``
(single quotes read as double);
lists compare element by element and nested objects key by key with the same rules. Parallel
calls match in any order: the pairing of produced to expected calls that passes most checks is
found as an assignment problem.

The reward is 1/0, or with ``partial=True`` the share of items that pass (ToolRL-style credit):
one item for a readable format, then per expected call one for the function name and one per
argument (expected or produced); a missing expected call fails its name and all its
arguments, each extra call fails one item. Every item carries its reason.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from rewardlab.data import REFERENCE_KEYS, TOOL_KEYS, json_text, tool_functions, tool_reference
from rewardlab.errors import ConfigError
from rewardlab.verify._toolparse import ParsedCalls, ToolCall, parse_calls

__all__ = [
    "TOOL_REASONS",
    "ExpectedCall",
    "ToolCallChecker",
    "ToolCheck",
    "ToolReference",
    "ToolVerdict",
    "parse_tool_reference",
    "standardize",
]

#: Every reason a check (or a verdict) can give.
TOOL_REASONS = ("ok", "no_call", "unparsable", "wrong_function", "missing_argument",
                "unknown_argument", "unexpected_argument", "wrong_value", "wrong_type",
                "missing_call", "extra_call", "called_irrelevant")

_STRIP = str.maketrans("", "", " \t\n\r,./-_*^")


def standardize(text: str) -> str:
    """A string as BFCL compares it: lower case, without whitespace and ``, . / - _ * ^``,
    single quotes read as double quotes.

    Example:
        >>> standardize("New York, NY") == standardize("new-york ny")
        True
    """
    return text.translate(_STRIP).lower().replace("'", '"')


@dataclass(frozen=True, slots=True)
class ExpectedCall:
    """One reference call: the function and each argument's acceptable values."""

    name: str
    arguments: dict[str, tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class ToolReference:
    """The reference calls of one row, and the row's functions (name -> parameter schema)
    when it gave its tools."""

    calls: tuple[ExpectedCall, ...]
    functions: dict[str, dict[str, Any]] | None = None


@dataclass(frozen=True, slots=True)
class ToolCheck:
    """One item of the credit: what was checked, whether it passed, and why not."""

    item: str
    passed: bool
    reason: str = "ok"
    detail: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"item": self.item, "passed": self.passed, "reason": self.reason,
                "detail": self.detail}


@dataclass(frozen=True, slots=True)
class ToolVerdict:
    """A response's reward, the first failing reason (``ok`` when none), every item checked,
    and the calls read from the response (None when unreadable)."""

    reward: float
    reason: str
    checks: tuple[ToolCheck, ...]
    calls: tuple[ToolCall, ...] | None

    @property
    def passed(self) -> bool:
        return self.reason == "ok"

    @property
    def value(self) -> float:
        """The reward, under the name ``ReferenceGrader`` verdicts give it."""
        return self.reward

    def to_json(self) -> dict[str, Any]:
        return {"reward": self.reward, "reason": self.reason,
                "checks": [c.to_json() for c in self.checks],
                "calls": None if self.calls is None else [c.to_json() for c in self.calls]}


# --- references ----------------------------------------------------------------------------


def _ref_fail(field: str, msg: str) -> ConfigError:
    return ConfigError(f"tool-call reference field '{field}': {msg}")


def _acceptable_form(value: Any) -> Any:
    """A plain reference value in acceptable-values form: nested objects become
    ``{key: [value]}``, as BFCL writes them."""
    if isinstance(value, dict):
        return {k: [_acceptable_form(v)] for k, v in value.items()}
    return value


@lru_cache(maxsize=8192)
def _parse_reference_text(text: str) -> ToolReference:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"a tool-call reference must be JSON (BFCL ground_truth, or "
                          f"{{'tools', 'ground_truth'}}); got {text[:60]!r} ({exc.msg})") from None
    tools = None
    if isinstance(doc, dict) and not _is_call_object(doc):
        key = next((k for k in REFERENCE_KEYS if k in doc), None)
        if key is None:
            raise ConfigError("a tool-call reference object needs 'ground_truth' (the "
                              f"reference calls); got keys {', '.join(map(repr, doc))}")
        tools = next((doc[k] for k in TOOL_KEYS if k in doc), None)
        tool_reference(tools, doc[key], _ref_fail)
        doc = doc[key]
    elif isinstance(doc, dict):
        doc = [doc]
    else:
        tool_reference(None, doc, _ref_fail)
    functions = None if tools is None else tool_functions(tools, _ref_fail)
    calls = []
    for call in doc:
        if "name" in call and ("arguments" in call or "parameters" in call):
            args = call.get("arguments", call.get("parameters"))
            calls.append(ExpectedCall(call["name"], {k: (_acceptable_form(v),)
                                                     for k, v in args.items()}))
        else:
            name, args = next(iter(call.items()))
            calls.append(ExpectedCall(name, {k: tuple(v) for k, v in args.items()}))
    return ToolReference(tuple(calls), functions)


def _is_call_object(doc: dict[str, Any]) -> bool:
    return "name" in doc and ("arguments" in doc or "parameters" in doc)


def parse_tool_reference(reference: Any) -> ToolReference:
    """A reference in any accepted shape (JSON text, a BFCL ``ground_truth`` list, a
    ``{"tools", "ground_truth"}`` object, a ``{"name", "arguments"}`` call) as a
    ``ToolReference``; parsed once per distinct text.

    Raises:
        ConfigError: the reference is not JSON, has no calls list, a tool's schema is not
            valid JSON Schema, or a call names a function the tools do not define.
    """
    if isinstance(reference, ToolReference):
        return reference
    text = reference if isinstance(reference, str) else json_text(reference)
    return _parse_reference_text(text)


# --- values --------------------------------------------------------------------------------


def _type_ok(value: Any, declared: str | list[str] | None) -> bool:
    if declared is None:
        return True
    if isinstance(declared, list):
        return any(_type_ok(value, d) for d in declared)
    if declared == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if declared == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if declared == "string":
        return isinstance(value, str)
    if declared == "boolean":
        return isinstance(value, bool)
    if declared == "array":
        return isinstance(value, list | tuple)
    if declared == "object":
        return isinstance(value, dict)
    if declared == "null":
        return value is None
    return True


def _inferred_type(acceptable: Sequence[Any]) -> str | None:
    """With no schema, the type the acceptable values share (an int among floats widens to
    a number)."""
    kinds = set()
    for a in acceptable:
        if a == "" and isinstance(a, str):
            continue
        if isinstance(a, bool):
            kinds.add("boolean")
        elif isinstance(a, int):
            kinds.add("integer")
        elif isinstance(a, float):
            kinds.add("number")
        elif isinstance(a, str):
            kinds.add("string")
        elif isinstance(a, list | tuple):
            kinds.add("array")
        elif isinstance(a, dict):
            kinds.add("object")
        else:
            return None
    if kinds == {"integer", "number"}:
        return "number"
    return kinds.pop() if len(kinds) == 1 else None


def _equal(given: Any, accepted: Any) -> bool:
    """BFCL's value comparison of one given value with one acceptable value."""
    if isinstance(accepted, bool) or isinstance(given, bool):
        return isinstance(given, bool) and isinstance(accepted, bool) and given == accepted
    if isinstance(accepted, int | float):
        return isinstance(given, int | float) and math.isclose(given, accepted, rel_tol=0,
                                                               abs_tol=0)
    if isinstance(accepted, str):
        return isinstance(given, str) and standardize(given) == standardize(accepted)
    if isinstance(accepted, list | tuple):
        return isinstance(given, list | tuple) and len(given) == len(accepted) and all(
            _equal(g, a) for g, a in zip(given, accepted, strict=True))
    if isinstance(accepted, dict):
        if not isinstance(given, dict) or set(given) - set(accepted):
            return False
        for key, options in accepted.items():
            options = options if isinstance(options, list) else [options]
            if key not in given:
                if "" not in options:
                    return False
            elif not any(_equal(given[key], o) for o in options if not _omit(o)):
                return False
        return True
    return given == accepted


def _omit(value: Any) -> bool:
    return isinstance(value, str) and value == ""


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 60 else text[:57] + "..."


def _pair_checks(call: ToolCall, expected: ExpectedCall, ref: ToolReference,
                 index: int, detail: bool = True) -> list[ToolCheck]:
    """The name item and one item per argument of ``call`` checked against ``expected``
    (without ``detail``, items unnamed and unexplained: only their pass/fail, for pairing)."""
    at = f"call[{index}]" if detail else ""
    checks = [ToolCheck(f"{at}.function", call.name == expected.name,
                        "ok" if call.name == expected.name else "wrong_function",
                        "" if call.name == expected.name else
                        f"called '{call.name}', expected '{expected.name}'")]
    schema = (ref.functions or {}).get(expected.name)
    props = schema.get("properties", {}) if schema else {}
    required = set(schema.get("required", ())) if schema else set()
    for arg, options in expected.arguments.items():
        item = f"{at}.{arg}" if detail else ""
        if arg not in call.arguments:
            ok = any(_omit(o) for o in options) and arg not in required
            checks.append(ToolCheck(item, ok, "ok" if ok else "missing_argument",
                                    "" if ok else f"'{arg}' is required"))
            continue
        value = call.arguments[arg]
        declared = props.get(arg, {}).get("type") if arg in props else None
        values = [o for o in options if not _omit(o)]
        if declared is None and not props:
            declared = _inferred_type(values)
        elif declared not in (None, "string") and values and all(
                isinstance(v, str) for v in values):
            declared = "string"  # BFCL: a variable's name where a value is declared
        if not _type_ok(value, declared):
            why = f"{_show(value)} is not of type {declared}" if detail else ""
            checks.append(ToolCheck(item, False, "wrong_type", why))
        elif any(_equal(value, o) for o in values):
            checks.append(ToolCheck(item, True))
        else:
            why = (f"got {_show(value)}, acceptable: "
                   f"{', '.join(_show(v) for v in values) or 'omit it'}") if detail else ""
            checks.append(ToolCheck(item, False, "wrong_value", why))
    for arg in call.arguments:
        if arg in expected.arguments:
            continue
        if schema is not None and arg not in props:
            checks.append(ToolCheck(f"{at}.{arg}", False, "unknown_argument",
                                    f"'{expected.name}' has no parameter '{arg}'"))
        else:
            checks.append(ToolCheck(f"{at}.{arg}", False, "unexpected_argument"
                                    if schema is not None else "unknown_argument",
                                    f"'{arg}' is not among the reference's arguments"))
    for arg in sorted(required - set(expected.arguments) - set(call.arguments)):
        checks.append(ToolCheck(f"{at}.{arg}", False, "missing_argument",
                                f"'{arg}' is required by the schema"))
    return checks


def _missing(expected: ExpectedCall, index: int) -> list[ToolCheck]:
    at = f"expected[{index}]"
    return [ToolCheck(f"{at}.function", False, "missing_call",
                      f"no call matches expected '{expected.name}'")] + [
        ToolCheck(f"{at}.{arg}", False, "missing_call") for arg in expected.arguments]


def _assign(scores: list[list[int]]) -> list[tuple[int, int]]:
    """Pairs (produced, expected) maximising the passed items: exhaustive for small
    problems, the Hungarian method (scipy) beyond."""
    m, n = len(scores), len(scores[0]) if scores else 0
    if m == 0 or n == 0:
        return []
    if min(m, n) == 1:
        if m == 1:
            j = max(range(n), key=lambda j: scores[0][j])
            return [(0, j)]
        i = max(range(m), key=lambda i: scores[i][0])
        return [(i, 0)]
    if max(m, n) <= 6:
        best: tuple[float, list[tuple[int, int]]] = (-math.inf, [])
        if m <= n:
            for perm in itertools.permutations(range(n), m):
                total = sum(scores[i][j] for i, j in enumerate(perm))
                if total > best[0]:
                    best = (total, list(enumerate(perm)))
        else:
            for perm in itertools.permutations(range(m), n):
                total = sum(scores[i][j] for j, i in enumerate(perm))
                if total > best[0]:
                    best = (total, [(i, j) for j, i in enumerate(perm)])
        return best[1]
    from scipy.optimize import linear_sum_assignment

    rows, cols = linear_sum_assignment(scores, maximize=True)
    return list(zip(rows.tolist(), cols.tolist(), strict=True))


class ToolCallChecker:
    """Rewards responses' tool calls against reference calls (see the module docstring).

    Args:
        partial: reward the share of items that pass instead of 1 only when all do.

    Example:
        >>> checker = ToolCallChecker()
        >>> ref = [{"get_weather": {"city": ["Paris"], "unit": ["C", ""]}}]
        >>> [v.reward for v in checker.check(['get_weather(city="paris")',
        ...                                   'get_weather(city="Rome")'], [ref, ref])]
        [1.0, 0.0]
        >>> ToolCallChecker(partial=True).check(['get_weather(city="Rome")'], [ref])[0].reward
        0.75
    """

    def __init__(self, *, partial: bool = False) -> None:
        self.partial = partial

    def check_one(self, response: str, reference: Any) -> ToolVerdict:
        """The verdict of one response against its reference."""
        ref = parse_tool_reference(reference)
        parsed = parse_calls(response)
        return self._verdict(parsed, ref)

    def check(self, responses: Sequence[str], references: Sequence[Any]) -> list[ToolVerdict]:
        """One verdict per response, response ``i`` against ``references[i]``."""
        if len(responses) != len(references):
            raise ConfigError(f"got {len(responses)} responses but {len(references)} "
                              "references; they must pair up one to one")
        out = []
        for i, (response, reference) in enumerate(zip(responses, references, strict=True)):
            try:
                ref = parse_tool_reference(reference)
            except ConfigError as exc:
                raise ConfigError(f"references[{i}]: {exc}") from None
            out.append(self._verdict(parse_calls(response), ref))
        return out

    def _verdict(self, parsed: ParsedCalls, ref: ToolReference) -> ToolVerdict:
        if not ref.calls:
            if parsed.calls:
                checks = tuple(ToolCheck(f"call[{i}]", False, "called_irrelevant",
                                         f"called '{c.name}' where no call is correct")
                               for i, c in enumerate(parsed.calls))
                return ToolVerdict(0.0, "called_irrelevant", checks, parsed.calls)
            return ToolVerdict(1.0, "ok", (ToolCheck("no_call", True, "ok", parsed.detail),),
                               parsed.calls)
        if parsed.calls is None or not parsed.calls:
            check = ToolCheck("format", False, parsed.reason, parsed.detail)
            return ToolVerdict(0.0, parsed.reason, (check,), parsed.calls)
        calls, expected = parsed.calls, ref.calls
        if len(calls) == 1 and len(expected) == 1:
            pairs = [(0, 0)]
        else:  # pair by failures counted without details, then explain the chosen pairs
            scores = [[-sum(not ch.passed for ch in _pair_checks(c, e, ref, i, detail=False))
                       for e in expected] for i, c in enumerate(calls)]
            pairs = sorted(_assign(scores))
        checks = [ToolCheck("format", True)]
        for i, j in pairs:
            checks.extend(_pair_checks(calls[i], expected[j], ref, i))
        matched_calls = {i for i, _ in pairs}
        matched_expected = {j for _, j in pairs}
        for j, e in enumerate(expected):
            if j not in matched_expected:
                checks.extend(_missing(e, j))
        for i, c in enumerate(calls):
            if i not in matched_calls:
                checks.append(ToolCheck(f"call[{i}]", False, "extra_call",
                                        f"'{c.name}' matches no expected call"))
        passed = sum(c.passed for c in checks)
        reason = next((c.reason for c in checks if not c.passed), "ok")
        reward = passed / len(checks) if self.partial else 1.0 if reason == "ok" else 0.0
        return ToolVerdict(reward, reason, tuple(checks), calls)
