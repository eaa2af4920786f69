"""The math-verify worker: a child process that compares one answer with one reference at a
time, so the parent can enforce a time limit by killing it.

Why a process: sympy can spend minutes (or all memory) on an answer like ``9^{9^{9^9}}``;
math-verify's own guard is ``signal.alarm``, which only works in the main thread and cannot
interrupt a long computation inside C. A process can always be killed.

Protocol, one JSON object per line: the worker prints ``{"ready": true}`` (or ``false`` with
an ``error``) once math-verify is imported, then answers each request
``{"gold": ..., "pred": ...}`` with ``{"status": ...}``, status being ``correct``,
``wrong-answer``, ``answer-unparsable``, ``reference-unparsable`` or ``error``.

This file imports nothing from rewardlab, so it runs as a plain script whatever the parent's
``sys.path`` is.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from typing import Any

#: Address space the worker may use; a runaway expression fails with MemoryError instead of
#: taking the machine's memory from everyone else.
MEMORY_LIMIT = 2 * 1024**3
_LATEX_HINT = re.compile(r"[\\^_{}]")
_WORD = re.compile(r"[A-Za-z]{2,}")
_COMMAND = re.compile(r"\\[A-Za-z]+")


def _limit_memory() -> None:
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        limit = MEMORY_LIMIT if hard == resource.RLIM_INFINITY else min(MEMORY_LIMIT, hard)
        if soft == resource.RLIM_INFINITY or soft > limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, ValueError, OSError):  # not POSIX, or not allowed: go on without
        pass


def _parsed(parse: Any, text: str) -> list[Any]:
    """math-verify's parse of a bare answer, keeping only real (sympy) results.

    LaTeX-looking answers are read as LaTeX (``$...$``); others with math-verify's plain
    reader, which drops unit words ("18 dollars"). A plain answer that yields nothing is
    retried as LaTeX unless it holds words, which LaTeX would read as products of symbols
    ("Paris" as P*a*r*i*s).
    """
    from sympy import Basic, MatrixBase

    text = text.strip().strip("$").strip()
    wrapped = f"${text}$"
    if _LATEX_HINT.search(text):
        tries = [wrapped]
    else:
        tries = [text]
        if not _WORD.search(_COMMAND.sub("", text)):
            tries.append(wrapped)
    for attempt in tries:
        parsed = parse(attempt, parsing_timeout=None)
        found = [p for p in parsed if isinstance(p, Basic | MatrixBase)]
        if found:
            return found
    return []


def check(request: dict[str, Any], parse: Any, verify: Any) -> dict[str, Any]:
    """Compare ``pred`` with ``gold``; every failure is a status, never an exception."""
    try:
        gold = _parsed(parse, request["gold"])
        if not gold:
            return {"status": "reference-unparsable"}
        pred = _parsed(parse, request["pred"])
        if not pred:
            return {"status": "answer-unparsable"}
        same = verify(gold, pred, timeout_seconds=None)
        return {"status": "correct" if same else "wrong-answer"}
    except MemoryError:
        return {"status": "error", "detail": "ran out of memory"}
    except Exception as exc:  # a sympy or parser bug on one odd answer must not end the run
        return {"status": "error", "detail": f"{type(exc).__name__}: {str(exc)[:200]}"}


def main() -> int:
    _limit_memory()
    try:
        from math_verify import parse, verify
    except ImportError as exc:
        print(json.dumps({"ready": False, "error": str(exc)}), flush=True)
        return 1
    # math-verify warns once that its own (signal-based) timeout is off: the parent enforces
    # the time limit here, by killing this process.
    logging.getLogger("math_verify").setLevel(logging.CRITICAL)
    # the first parse builds the LaTeX parser (~0.1 s): do it before the time limits start
    check({"gold": "\\frac{1}{2}", "pred": "x^2"}, parse, verify)
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        if line.strip():
            print(json.dumps(check(json.loads(line), parse, verify)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
