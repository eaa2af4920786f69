"""The bench table for the terminal (Rich) and as a self-contained HTML page.

Presentation only: every figure comes from a ``BenchResult``. Both renderings share one
row model (``_lines``), so the page and the terminal always show the same table.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from rewardlab._io import _atomic_lines
from rewardlab.bench._results import OVERALL, BenchResult, ModelResult, RowResult

__all__ = ["bench_html", "bench_summary", "bench_tables", "write_bench_html"]

_ARROWS = {"longer": "↑", "shorter": "↓", "longest": "↑", "shortest": "↓"}


def _pct(x: float) -> str:
    return "—" if x != x else f"{100 * x:.1f}"


def _ci(ci: tuple[float, float]) -> str:
    return "—" if ci[0] != ci[0] else f"{_pct(ci[0])}–{_pct(ci[1])}"


@dataclass
class _Line:
    label: str
    n: str
    cells: list[tuple[str, str]]  # per model: (score, CI)
    baseline: str
    kind: str  # "row", "section"


def _footnotes(result: BenchResult) -> list[str]:
    notes: list[str] = []
    for m in result.models:
        for r in m.skipped:
            text = f"{r.name}: {r.skipped}"
            if len(result.models) > 1:
                text = f"{m.model} — {text}"
            if text not in notes:
                notes.append(text)
    return notes


def _lines(result: BenchResult) -> list[_Line]:
    notes = _footnotes(result)
    first = result.models[0]
    by_model = [{r.key: r for r in m.rows} for m in result.models]
    lines = []
    for section in first.sections:
        for row in (r for r in first.rows if r.section == section.name):
            cells = []
            for m, rows in zip(result.models, by_model, strict=True):
                r = rows[row.key]
                if r.skipped is not None:
                    text = f"{r.name}: {r.skipped}"
                    mark = notes.index(f"{m.model} — {text}" if len(result.models) > 1
                                       else text) + 1
                    cells.append((f"skipped [{mark}]", ""))
                else:
                    cells.append((_pct(r.score), _ci(r.ci95)))
            lines.append(_Line("  " + row.name, str(row.n), cells, _baseline(row), "row"))
        cells = []
        for m in result.models:
            s = next(x for x in m.sections if x.name == section.name)
            cells.append((_pct(s.score), _ci(s.ci95)) if s.score == s.score
                         else ("skipped", ""))
        lines.append(_Line(section.name, str(section.n), cells, "", "section"))
    return lines


def _letters(result: BenchResult) -> list[str]:
    """Short column labels for the models: A, B, C, ... (the legend names them)."""
    return [chr(ord("A") + i) if i < 26 else f"M{i + 1}" for i in range(len(result.models))]


def _pair_letters(result: BenchResult) -> list[tuple[str, str]]:
    """The letters of each comparison's two models, in ``result.comparisons`` order."""
    letters = _letters(result)
    pairs = [(i, j) for i in range(len(letters)) for j in range(i + 1, len(letters))]
    out, k = [], 0
    for c in result.comparisons:
        while (result.models[pairs[k][0]].model, result.models[pairs[k][1]].model) != (c.a, c.b):
            k += 1
        out.append((letters[pairs[k][0]], letters[pairs[k][1]]))
    return out


def _baseline(row: RowResult) -> str:
    best = row.length_baseline
    if best is None or row.skipped is not None:
        return "—"
    return f"{_pct(best[1])} {_ARROWS.get(best[0], '')}"


def bench_summary(m: ModelResult) -> str:
    """One line: every section's score and the overall score with its interval."""
    parts = [f"{s.name} {_pct(s.score)}" if s.score == s.score else f"{s.name} skipped"
             for s in m.sections]
    scored = sum(s.score == s.score for s in m.sections)
    over = f"overall {_pct(m.overall)} (95% CI {_ci(m.overall_ci95)})"
    if scored < len(m.sections):
        over += f" over {scored} of {len(m.sections)} sections"
    return f"{m.model}: " + " · ".join(parts) + " → " + over


def _caption(result: BenchResult) -> str:
    ties = ("ties count half" if result.ties == "half"
            else "pair ties count as losses (RewardBench)")
    text = (f"scores in %: accuracy (pairs), best-of-n accuracy (a tie at the top is 1/k), "
            f"first-error F1 (process); {ties}; 95% CI: bootstrap over items, "
            f"{result.n_boot} resamples; section = example-weighted mean of its rows, "
            "overall = mean of sections; length-only: the better of always-longer (↑) and "
            "always-shorter (↓)")
    if result.limit is not None:
        text += f"; --limit {result.limit}: first {result.limit} rows of every row only"
    return text


def bench_tables(result: BenchResult) -> list[Table | str]:
    """The Rich renderables of a bench: the table, footnotes, summaries, comparisons."""
    letters = _letters(result)
    table = Table(title=f"rewardlab bench · suite {escape(result.suite.name)}",
                  title_justify="left", caption_justify="left")
    table.add_column("section / row", overflow="fold", min_width=14)
    table.add_column("n", justify="right", no_wrap=True)
    for letter in letters:
        label = "score" if len(letters) == 1 else f"{letter}\nscore"
        table.add_column(label, justify="right", no_wrap=True)
        table.add_column("95% CI", justify="right", no_wrap=True)
    table.add_column("length-\nonly", justify="right", no_wrap=True)
    lines = _lines(result)
    for i, line in enumerate(lines):
        cells = [escape(c) for pair in line.cells for c in pair]
        label = escape(line.label)
        if line.kind == "section":
            table.add_row(label, line.n, *cells, line.baseline, style="bold")
            if i + 1 < len(lines):
                table.add_section()
        else:
            table.add_row(label, line.n, *cells, line.baseline)
    table.caption = _caption(result)
    out: list[Table | str] = [table]
    if len(letters) > 1:
        out += [f"{letter} = {m.model}" for letter, m in zip(letters, result.models,
                                                                strict=True)]
    out += [f"[{i}] {note}" for i, note in enumerate(_footnotes(result), start=1)]
    out += [f"left out: {n['rows']} rows of {n['data']} ({n['reason']})"
            for n in result.left_out]
    out += [bench_summary(m) for m in result.models]
    if result.comparisons:
        comp = Table(title="paired bootstrap: A − B on the same rows", title_justify="left",
                     caption_justify="left")
        for col in ("A", "B", "section", "n", "A − B", "95% CI", "p"):
            comp.add_column(col, justify="left" if col in ("A", "B", "section") else "right",
                            no_wrap=True)
        for c, (x, y) in zip(result.comparisons, _pair_letters(result), strict=True):
            style = "bold" if c.section == OVERALL else None
            comp.add_row(x, y, escape(c.section), str(c.n),
                         f"{100 * c.diff:+.1f}", _ci(c.ci95), f"{c.p_value:.3f}", style=style)
        comp.caption = ("two-sided p of 'no difference': the share of centred bootstrap "
                        "differences at least as large as the observed one; identical models "
                        "give 1")
        out.append(comp)
    return out


_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{padding:.25em .7em;border-bottom:1px solid #ddd}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}tr.section td{font-weight:bold;
background:#f4f4f4}caption{caption-side:bottom;text-align:left;color:#666;font-size:.85em;
max-width:60em}.note{color:#555;font-size:.9em}"""


def bench_html(result: BenchResult) -> str:
    """A self-contained HTML page (inline CSS, no scripts) with the same table."""
    e = html.escape
    names = [m.model for m in result.models]
    head = "".join(f'<th class="num">{e(n)}<br>score</th><th class="num">95% CI</th>'
                   for n in names)
    body = []
    for line in _lines(result):
        cells = "".join(f'<td class="num">{e(s)}</td><td class="num">{e(c)}</td>'
                        for s, c in line.cells)
        cls = ' class="section"' if line.kind == "section" else ""
        label = e(line.label.strip())
        label = f"&nbsp;&nbsp;{label}" if line.kind == "row" else label
        body.append(f'<tr{cls}><td>{label}</td><td class="num">{e(line.n)}</td>{cells}'
                    f'<td class="num">{e(line.baseline)}</td></tr>')
    parts = [f"<!doctype html><html><head><meta charset=\"utf-8\"><title>rewardlab bench: "
             f"{e(result.suite.name)}</title><style>{_CSS}</style></head><body>",
             f"<h1>rewardlab bench · suite {e(result.suite.name)}</h1>",
             f"<table><caption>{e(_caption(result))}</caption><thead><tr><th>section / row</th>"
             f'<th class="num">n</th>{head}<th class="num">length-only</th></tr></thead>'
             f"<tbody>{''.join(body)}</tbody></table>"]
    parts += [f'<p class="note">[{i}] {e(n)}</p>'
              for i, n in enumerate(_footnotes(result), start=1)]
    parts += [f'<p class="note">left out: {n["rows"]} rows of {e(n["data"])} ({e(n["reason"])})'
              "</p>" for n in result.left_out]
    parts += [f"<p><b>{e(bench_summary(m))}</b></p>" for m in result.models]
    if result.comparisons:
        rows = "".join(
            f"<tr><td>{e(c.a)}</td><td>{e(c.b)}</td><td>{e(c.section)}</td>"
            f'<td class="num">{c.n}</td><td class="num">{100 * c.diff:+.1f}</td>'
            f'<td class="num">{e(_ci(c.ci95))}</td><td class="num">{c.p_value:.3f}</td></tr>'
            for c in result.comparisons)
        parts.append("<h2>Paired bootstrap: A − B on the same rows</h2><table><thead><tr>"
                     "<th>A</th><th>B</th><th>section</th><th class=\"num\">n</th>"
                     "<th class=\"num\">A − B</th><th class=\"num\">95% CI</th>"
                     f"<th class=\"num\">p</th></tr></thead><tbody>{rows}</tbody></table>")
    parts.append("</body></html>\n")
    return "".join(parts)


def write_bench_html(result: BenchResult, path: str | Path) -> Path:
    """Write ``bench_html(result)`` to ``path`` atomically."""
    _atomic_lines(Path(path), [bench_html(result)])
    return Path(path)
