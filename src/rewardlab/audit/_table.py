"""The audit's summary as a Rich table for the terminal (presentation only)."""

from __future__ import annotations

import math

from rich.markup import escape
from rich.table import Table

from rewardlab.audit._results import AuditResult

__all__ = ["summary_table"]

_STYLE = {"ok": "green", "warn": "yellow", "flagged": "bold red", "skipped": "dim"}


def summary_table(result: AuditResult) -> Table:
    """One row per probe: its deciding figure, the threshold, the verdict and the time."""
    table = Table(title=f"audit of {escape(result.model)} on {escape(result.data)}",
                  title_justify="left")
    for col, justify in (("probe", "left"), ("figure", "left"), ("value", "right"),
                         ("threshold", "left"), ("verdict", "left"), ("s", "right")):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    for p in result.probes:
        style = _STYLE[p.verdict]
        if p.verdict == "skipped":
            table.add_row(escape(p.name), "[dim](reason below)[/]", "", "",
                          f"[{style}]skipped[/]", "")
            continue
        value = "—" if math.isnan(p.value) else f"{p.value:.3f}"
        table.add_row(escape(p.name), escape(p.figure), value,
                      escape(p.threshold.describe() if p.threshold else ""),
                      f"[{style}]{p.verdict}[/]", f"{p.seconds:.1f}")
    table.caption = (f"{result.seconds:.1f} s; {result.settings.get('responses_scored', 0)} "
                     "responses scored; --max-pairs "
                     f"{result.settings.get('max_pairs')} per transforming probe")
    return table
