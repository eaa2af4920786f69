"""``rewardlab eval --html``: an evaluation as one self-contained HTML page.

The page holds what ``eval --json`` holds, as tables, plus the plots of the kinds that split
one reward: each attribute's reward distribution for a ``multi:`` model, and accuracy against
pairs per user for a ``personal:`` model on data with users. It reuses the audit report's
stylesheet and plots (``audit.report.view_section``), so both reports draw these the same way;
like the audit report it is inline only (no JavaScript, no network) and escapes every text.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from rewardlab._io import _atomic_lines
from rewardlab.audit.report import CSS, view_section

__all__ = ["render_eval_html", "write_eval_html"]


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return _e(value)
    if isinstance(value, float) and math.isnan(value):
        return "—"
    return f"{value:.3f}" if isinstance(value, float) else f"{value:,}"


def _table(head: list[str], rows: list[list[Any]]) -> str:
    cells = "".join("<tr>" + "".join(
        f'<td class="num">{_num(v)}</td>' if isinstance(v, int | float) else f"<td>{_e(v)}</td>"
        for v in row) + "</tr>" for row in rows)
    return (f"<table><thead><tr>{''.join(f'<th>{_e(h)}</th>' for h in head)}</tr></thead>"
            f"<tbody>{cells}</tbody></table>")


def render_eval_html(result: Any) -> str:
    """The page for any ``eval`` result (pairwise, best-of-n, process)."""
    body = result.to_json()
    metrics = [[k, v] for k, v in result.metrics.items()]
    parts = [f"<h2>Figures</h2>{_table(['metric', 'value'], metrics)}"]
    subsets = body.get("subsets") or {}
    if subsets and body.get("task") == "pairwise":
        rows = [[name, s["n"], s["accuracy"], f"{s['ci95'][0]:.3f}–{s['ci95'][1]:.3f}",
                 s["baselines"]["longer_wins"], s["baselines"]["shorter_wins"]]
                for name, s in subsets.items()]
        parts.append("<h2>Per subset</h2>" + _table(
            ["subset", "pairs", "accuracy", "95% CI", "longer wins", "shorter wins"], rows))
    if "per_user_accuracy_mean" in body:
        keys = [k for k in ("n_users", "per_user_accuracy_mean", "per_user_accuracy_p10",
                            "users_scored_with_population") if k in body]
        parts.append("<h2>Per user</h2>" + _table(keys, [[body[k] for k in keys]]))
    for name in ("attributes", "users"):
        view = body.get("accuracy_vs_k" if name == "users" else name)
        if view:
            parts.append(view_section(name, view))
    title = f"Reward model evaluation: {body.get('model', '')}"
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>"
            f"<h1>{_e(title)}</h1><div class=\"meta\">data {_e(body.get('data', ''))} · task "
            f"{_e(body.get('task', ''))}</div>{''.join(parts)}</main></body></html>\n")


def write_eval_html(result: Any, path: str | Path) -> Path:
    """Write ``render_eval_html(result)`` to ``path`` (atomically)."""
    path = Path(path)
    _atomic_lines(path, [render_eval_html(result)])
    return path
