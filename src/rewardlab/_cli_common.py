"""What every ``rewardlab`` command shares: the consoles, the common options, and what to say
when Ctrl-C stops a command. Commands live in ``cli.py`` and in ``_cli_<topic>.py`` modules that
``cli.py`` registers, so a new command does not grow one file (and branches adding commands do
not collide in it)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from rewardlab._console import make_console

out = make_console()
err = make_console(stderr=True)


class DataFormat(StrEnum):
    pairwise = "pairwise"
    pointwise = "pointwise"
    best_of_n = "best-of-n"
    steps = "steps"


class Ties(StrEnum):
    half = "half"
    loss = "loss"


FormatOpt = Annotated[
    DataFormat | None,
    typer.Option("--format", help="Data layout; detected from the first row when omitted."),
]
SkipOpt = Annotated[
    bool,
    typer.Option("--skip-invalid", help="Skip bad rows (written with their reasons beside the "
                 "output) instead of stopping at the first."),
]
MaxCharsOpt = Annotated[
    int, typer.Option("--max-chars", min=1, help="Longest text a field may hold.")
]
LimitOpt = Annotated[
    int | None, typer.Option("--limit", min=1, help="Read the first N valid rows only (a quick "
                             "look).")
]


def fmt(value: DataFormat | None) -> Any:
    return value.value if value is not None else None


kept: Callable[[], str] | None = None


def on_interrupt(say: Callable[[], str]) -> None:
    """Tell ``main`` what to say if Ctrl-C stops this command: what was kept, what was not
    (asked at interrupt time, so it can look at what exists then)."""
    global kept
    kept = say


def not_written(*paths: Path | None) -> Callable[[], str]:
    given = [str(p) for p in paths if p is not None]
    # every output is written to a temporary file and renamed into place at the end
    return lambda: f"nothing was written to {' or '.join(given)}" if given else ""


