"""Code tasks: what a reference of ``verify:code`` holds, and the program a response makes.

A reference is a mapping (or its JSON text, which is how references travel through data
files, adapters and the server) in one of the shapes users already have:

- HumanEval: ``test`` (code defining ``check(candidate)``), ``entry_point``, and the
  ``prompt`` the completion continues (its helpers are available to the tests);
- MBPP: ``test_list`` (assert statements), optional ``test_imports`` and ``test_setup_code``;
- generic: ``tests`` as a list of assert statements, or of ``{"input", "output"}``
  stdin/stdout cases (the whole program runs once per case).

A plain string that is not JSON is test code: asserts run after the program.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rewardlab.data import test_code_problem

__all__ = ["CodeTask", "TaskError", "extract_code", "parse_task"]

_FENCE = re.compile(r"```[^\n`]*\n(.*?)(?:```|\Z)", re.DOTALL)
_CODE_LINE = re.compile(r"^\s*(def|class|import|from|return|for|while|if|print)\b|=|\(",
                        re.MULTILINE)


class TaskError(ValueError):
    """A reference that is not a usable code task (no tests, wrong types)."""


@dataclass(frozen=True, slots=True)
class CodeTask:
    """One task's tests, ready to become sandbox jobs.

    Attributes:
        kind: ``check`` (HumanEval), ``asserts`` (MBPP / generic asserts) or ``stdio``.
        tests: the ``check`` code, or one assert snippet per test.
        cases: stdin/stdout cases (``stdio``).
        entry_point: the function ``check`` is given (``check``).
        prompt: the text a HumanEval completion continues.
        setup: trusted code the tests run first (MBPP imports and setup, HumanEval prompt).
        imports: import lines put before the program too (MBPP's ``test_imports``: in the
            original harness they share the program's module, so solutions may rely on them).
    """

    kind: str
    tests: tuple[str, ...] = ()
    cases: tuple[tuple[str, str], ...] = ()
    entry_point: str | None = None
    prompt: str = ""
    setup: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()

    @property
    def size(self) -> int:
        return len(self.cases) if self.kind == "stdio" else len(self.tests)

    def program(self, code: str) -> str:
        """The program a response's code makes: a HumanEval completion continues its prompt
        (a whole function repeated after the prompt simply redefines it)."""
        if self.kind == "check" and self.prompt:
            return self.prompt + code if code.startswith((" ", "\t")) else (
                self.prompt + "\n" + code)
        if self.imports:
            return "\n".join(self.imports) + "\n" + code
        return code

    def job(self, code: str) -> dict[str, Any]:
        """The sandbox job for ``code`` (``rewardlab.verify._sandbox``)."""
        if self.kind == "stdio":
            return {"mode": "stdio", "program": code,
                    "cases": [{"input": i, "output": o} for i, o in self.cases]}
        return {"mode": "func", "kind": self.kind, "program": self.program(code),
                "tests": list(self.tests), "entry_point": self.entry_point,
                "setup": list(self.setup)}


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise TaskError(f"'{field}' must be text, got {type(value).__name__}")
    return value


def _texts(value: Any, field: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value.strip() else ()
    if not isinstance(value, list | tuple):
        raise TaskError(f"'{field}' must be a list of strings, got {type(value).__name__}")
    return tuple(_text(v, f"{field}[{i}]") for i, v in enumerate(value))


def _tests(values: tuple[str, ...], field: str, *, check: bool = False) -> tuple[str, ...]:
    for i, code in enumerate(values):
        problem = test_code_problem(code, check=check)
        if problem is not None:
            where = f"{field}[{i}]" if field in ("tests", "test_list") else field
            raise TaskError(f"'{where}' {problem}")
    return values


def parse_task(reference: str | Mapping[str, Any]) -> CodeTask:
    """The ``CodeTask`` a reference describes.

    Raises:
        TaskError: the reference has no tests, or a field has the wrong type.

    Example:
        >>> parse_task({"tests": ["assert f(1) == 2"]}).kind
        'asserts'
    """
    ref: Any = reference
    if isinstance(reference, str):
        text = reference.strip()
        if not text:
            raise TaskError("the reference is empty; a code task needs tests")
        if text.startswith(("{", "[")):
            try:
                ref = json.loads(text)
            except ValueError:
                ref = reference
        if isinstance(ref, list):  # a bare list of tests (MBPP's test_list, or cases)
            ref = {"tests": ref}
        if isinstance(ref, str):
            return CodeTask(kind="asserts", tests=_tests((reference,), "reference"))
    if not isinstance(ref, Mapping):
        raise TaskError(f"a code reference must be a mapping or text, got {type(ref).__name__}")
    if ref.get("test") is not None and ref.get("entry_point") is not None:
        test, entry = _text(ref["test"], "test"), _text(ref["entry_point"], "entry_point")
        if not test.strip():
            raise TaskError("'test' is empty; a code task needs tests")
        if not entry.isidentifier():
            raise TaskError(f"'entry_point' must be a function name, got {entry!r}")
        _tests((test,), "test", check=True)
        prompt = _text(ref.get("prompt") or "", "prompt")
        return CodeTask(kind="check", tests=(test,), entry_point=entry, prompt=prompt,
                        setup=(prompt,) if prompt.strip() else ())
    if ref.get("test_list") is not None:
        tests = _tests(_texts(ref["test_list"], "test_list"), "test_list")
        if not tests:
            raise TaskError("'test_list' is empty; a code task needs tests")
        imports = _texts(ref.get("test_imports") or [], "test_imports")
        setup = (*imports, *_texts(ref.get("test_setup_code") or "", "test_setup_code"))
        return CodeTask(kind="asserts", tests=tests, setup=setup, imports=imports)
    if ref.get("tests") is not None:
        items = ref["tests"]
        if isinstance(items, str):
            items = [items]
        if not isinstance(items, list | tuple) or not items:
            raise TaskError("'tests' must be a non-empty list of assert statements or of "
                            "{'input', 'output'} cases")
        if all(isinstance(t, Mapping) for t in items):
            cases = []
            for i, t in enumerate(items):
                if "input" not in t or "output" not in t:
                    raise TaskError(f"'tests[{i}]' must have 'input' and 'output'")
                cases.append((_text(t["input"], f"tests[{i}].input"),
                              _text(t["output"], f"tests[{i}].output")))
            return CodeTask(kind="stdio", cases=tuple(cases))
        setup = _texts(ref.get("setup") or [], "setup")
        return CodeTask(kind="asserts", tests=_tests(_texts(items, "tests"), "tests"),
                        setup=setup)
    raise TaskError("the reference names no tests: give 'test' and 'entry_point' (HumanEval), "
                    "'test_list' (MBPP) or 'tests' (asserts or input/output cases)")


def extract_code(response: str) -> str | None:
    """The code of a response: the last fenced block when it is Markdown, else the whole
    text; None when there is none (empty, or prose without a line of code).

    Example:
        >>> extract_code("Here:\\n```python\\nprint(1)\\n```\\nDone.")
        'print(1)\\n'
    """
    blocks = _FENCE.findall(response)
    if blocks:
        code = blocks[-1]
        return code if code.strip() else None
    if not response.strip():
        return None
    if _looks_like_prose(response):
        return None
    return response


def _looks_like_prose(text: str) -> bool:
    try:
        ast.parse(text)
        return False
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        pass
    try:  # a completion continuing a function body is indented
        ast.parse("def _f():\n" + text)
        return False
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        pass
    return _CODE_LINE.search(text) is None
