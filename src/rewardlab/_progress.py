"""Rich progress bars for long work, shared by every module and off when nobody is watching.

Library code wraps long loops in ``with progress("embedding", total=n) as advance:``. Bars
show on an interactive stderr by default (the CLI can force them on or off); nested calls add
rows to the one live display instead of fighting over the terminal.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["progress", "set_progress"]

_enabled: bool | None = None
_live = None
_depth = 0


def set_progress(enabled: bool | None) -> None:
    """Force progress bars on (True) or off (False); None shows them when stderr is a TTY."""
    global _enabled
    _enabled = enabled


def _should_show() -> bool:
    return sys.stderr.isatty() if _enabled is None else _enabled


@contextmanager
def progress(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``; draws a bar when bars are on and is free otherwise."""
    global _live, _depth
    if not _should_show():
        yield lambda n=1: None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    if _live is None:
        _live = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        _live.start()
    live = _live
    task = live.add_task(description, total=total)
    _depth += 1
    try:
        yield lambda n=1: live.advance(task, n)
    finally:
        _depth -= 1
        if total is not None:
            live.update(task, completed=total)
        if _depth == 0:
            live.stop()
            _live = None
