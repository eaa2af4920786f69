"""Unit tests as a row's reference: HumanEval, MBPP and generic code rows.

A code task's reference is not one answer but a set of tests, spread over several columns
in the formats users have: HumanEval's ``test`` + ``entry_point`` (+ the ``prompt`` the
completion continues), MBPP's ``test_list`` (+ ``test_imports``, ``test_setup_code``), or a
generic ``tests`` list of assert statements or ``{"input", "output"}`` stdin/stdout cases.
``code_reference`` gathers them into one canonical JSON text, so the reference travels like
any other (records, dataset columns, the server) and ``verify:code`` reads it back. A row
whose test columns are present but empty or of the wrong type is an error naming the field.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from rewardlab.data._tools import json_text

__all__ = ["CODE_TEST_KEYS", "CodeRowError", "code_reference", "test_code_problem"]

#: Columns that carry unit tests (any of them makes a row a code task).
CODE_TEST_KEYS = ("test", "entry_point", "test_list", "test_imports", "test_setup_code",
                  "tests")


class CodeRowError(ValueError):
    """A code row's tests are unusable; ``field`` names the column."""

    def __init__(self, field: str, msg: str) -> None:
        super().__init__(msg)
        self.field = field


def test_code_problem(code: str, *, check: bool = False) -> str | None:
    """Why ``code`` cannot be a test, or None: it must be Python, and assert or call
    something (a bare ``72`` — a math answer given as the tests — would pass any program);
    HumanEval's (``check=True``) must define ``check``.

    Example:
        >>> test_code_problem("72")
        'has no assert statement or call, so it would pass any program'
    """
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError) as exc:
        return f"is not valid Python ({type(exc).__name__}: {exc})"
    except (MemoryError, RecursionError):
        return "is too deeply nested to parse"
    nodes = list(ast.walk(tree))
    if check and not any(isinstance(n, ast.FunctionDef) and n.name == "check" for n in nodes):
        return "defines no check(candidate) function"
    if not any(isinstance(n, ast.Assert | ast.Call) for n in nodes):
        return "has no assert statement or call, so it would pass any program"
    return None


def _tests(values: list[str], field: str) -> list[str]:
    for i, code in enumerate(values):
        problem = test_code_problem(code)
        if problem is not None:
            raise CodeRowError(f"{field}[{i}]", problem)
    return values


def _strings(value: Any, field: str, *, allow_empty: bool = True) -> list[str]:
    if isinstance(value, str):
        value = [value] if value.strip() else []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise CodeRowError(field, "must be a list of strings (Python statements)")
    if not allow_empty and not value:
        raise CodeRowError(field, "is empty; a code task needs at least one test")
    return list(value)


def code_reference(row: Mapping[str, Any]) -> str | None:
    """The canonical JSON text of a row's unit tests, or None when the row has none.

    Raises:
        CodeRowError: a test column is present but empty or of the wrong type.

    Example:
        >>> code_reference({"test_list": ["assert f(1) == 2"]})
        '{"test_list":["assert f(1) == 2"],"test_imports":[],"test_setup_code":""}'
    """
    if row.get("test") is not None and row.get("entry_point") is not None:
        test, entry = row["test"], row["entry_point"]
        if not isinstance(test, str) or not test.strip():
            raise CodeRowError("test", "must be the task's test code (a non-empty string)")
        if not isinstance(entry, str) or not entry.isidentifier():
            raise CodeRowError("entry_point", "must be the name of the function the tests "
                               f"call, got {entry!r}")
        problem = test_code_problem(test, check=True)
        if problem is not None:
            raise CodeRowError("test", problem)
        prompt = row.get("prompt")
        ref = {"test": test, "entry_point": entry,
               "prompt": prompt if isinstance(prompt, str) else ""}
    elif row.get("test_list") is not None:
        setup = row.get("test_setup_code") or ""
        if not isinstance(setup, str):
            raise CodeRowError("test_setup_code", "must be a string of Python code")
        ref = {"test_list": _tests(_strings(row["test_list"], "test_list", allow_empty=False),
                                   "test_list"),
               "test_imports": _strings(row.get("test_imports") or [], "test_imports"),
               "test_setup_code": setup}
    elif row.get("tests") is not None:
        tests = row["tests"]
        if isinstance(tests, str):
            tests = [tests] if tests.strip() else []
        if not isinstance(tests, list) or not tests:
            raise CodeRowError("tests", "must be a non-empty list of assert statements or of "
                               "{'input', 'output'} cases; a code task needs at least one test")
        for i, t in enumerate(tests):
            if isinstance(t, Mapping):
                if not (isinstance(t.get("input"), str) and isinstance(t.get("output"), str)):
                    raise CodeRowError(f"tests[{i}]", "must have 'input' and 'output' texts")
            elif not isinstance(t, str):
                raise CodeRowError(f"tests[{i}]", "must be an assert statement (text) or an "
                                   "{'input', 'output'} case")
        if len({isinstance(t, str) for t in tests}) > 1:
            raise CodeRowError("tests", "mixes assert statements and input/output cases")
        if isinstance(tests[0], str):
            _tests(tests, "tests")
        ref = {"tests": tests}
    else:
        return None
    return json_text(ref)
