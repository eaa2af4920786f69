"""Math problems with a correct worked solution: raw GSM8K (``question``, ``answer``), the
GSM8K example solutions (``question``, ``ground_truth``), or any rows with a question and a
solution, named from the column vocabulary (``QUESTION_KEYS``, ``SOLUTION_KEYS``).

Step labelling starts from these: error injection corrupts the worked solution, Monte-Carlo
rollouts continue it step by step.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rewardlab.data._columns import QUESTION_KEYS, SOLUTION_KEYS
from rewardlab.data._fields import DEFAULT_MAX_CHARS, RowContext, read_id, read_text, type_name
from rewardlab.data._records import SkippedRow
from rewardlab.data._rows import read_rows

__all__ = ["Problem", "is_problem_row", "parse_problem", "read_problems"]


@dataclass(frozen=True)
class Problem:
    """A question with a correct worked solution, read from a GSM8K-style file."""

    id: str | int
    question: str
    solution: str
    line: int | None = None


def _first_text(row: dict[str, Any], keys: tuple[str, ...], allow_empty: bool) -> str | None:
    return next((k for k in keys if isinstance(row.get(k), str)
                 and (allow_empty or row[k].strip())), None)


def is_problem_row(row: dict[str, Any]) -> bool:
    """Whether the row has a question and a worked solution as text (GSM8K's layout)."""
    return (_first_text(row, QUESTION_KEYS, True) is not None
            and _first_text(row, SOLUTION_KEYS, True) is not None)


def _no_text(row: dict[str, Any], ctx: RowContext, keys: tuple[str, ...], default: str,
             need: str) -> Exception:
    """The error for a row without the text ``keys`` name: a present value of another type
    (``"answer": 72``) is named with its type, not called missing."""
    given = next((k for k in keys if row.get(k) is not None and not isinstance(row[k], str)),
                 None)
    if given is not None:
        return ctx.fail(given, f"must be text, got {type_name(row[given])}; {need}")
    return ctx.fail(next((k for k in keys if k in row), default), f"is missing or empty; {need}")


def parse_problem(row: dict[str, Any], ctx: RowContext, *, allow_empty: bool = False
                  ) -> Problem:
    """One problem row: the first of ``QUESTION_KEYS`` and of ``SOLUTION_KEYS`` that hold
    text. ``allow_empty`` keeps an empty solution (rollout labelling reports it as a
    solution with no steps, rather than refusing the row).

    Raises:
        DataError: the question or the solution is missing or empty, or too long.
    """
    qkey = _first_text(row, QUESTION_KEYS, allow_empty)
    if qkey is None:
        raise _no_text(row, ctx, QUESTION_KEYS, "question", "a problem row needs the question "
                       "its solution answers ('question', 'prompt' or 'problem')")
    skey = _first_text(row, SOLUTION_KEYS, allow_empty)
    if skey is None:
        raise _no_text(row, ctx, SOLUTION_KEYS, "answer", "a problem row needs a correct worked "
                       "solution ('answer' in GSM8K, or 'ground_truth' / 'solution' / "
                       "'reference')")
    return Problem(id=read_id(row, ctx), question=read_text(row[qkey], ctx, qkey),
                   solution=read_text(row[skey], ctx, skey), line=ctx.line)


def read_problems(source: str | Path, *, skip_invalid: bool = False, limit: int | None = None,
                  max_chars: int = DEFAULT_MAX_CHARS) -> tuple[list[Problem], list[SkippedRow]]:
    """Questions and correct worked solutions from raw GSM8K (``question``, ``answer``), the
    example solutions (``question``, ``ground_truth``), or any rows with a ``question`` (or
    ``prompt``) and a ``solution`` (or ``reference``).

    Raises:
        DataError: the file is missing or holds no rows, or (without ``skip_invalid``) a row
            has no question or no solution text, or repeats an earlier row's ``id``.

    Example:
        >>> problems, skipped = read_problems("bundled:gsm8k_examples", limit=1)
        >>> problems[0].id, problems[0].solution.splitlines()[-1], skipped
        (0, 'A: 18', [])
    """
    first_seen: dict[str | int, int] = {}

    def parse(row: dict[str, Any], ctx: RowContext) -> Problem:
        # every output row's id is built from its problem's, so a repeated id would write one
        # problem's reference answer onto another's solution
        problem = parse_problem(row, ctx)
        first = first_seen.setdefault(problem.id, ctx.line)
        if first != ctx.line:
            raise ctx.fail("id", f"{problem.id!r} is also the id of {ctx.location} {first}; "
                           "problem ids must be unique (each solution's id is built from it)")
        return problem

    read = read_rows(source, parse, skip_invalid=skip_invalid, limit=limit,
                     max_chars=max_chars)
    return read.records, read.skipped
