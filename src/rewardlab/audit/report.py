"""The audit as one self-contained HTML page: summary table, a plot per probe, worst examples.

Everything is inline (CSS, SVG plots), so the file opens offline, can be attached to a ticket
and still shows the same thing in a year. No JavaScript runs. Every text that came from data
or a model is escaped: a response can hold ``<script>`` as easily as anything else.
"""

from __future__ import annotations

import html
import math
from typing import Any

from rewardlab.audit._plots import plot_svg
from rewardlab.audit._results import AuditResult, Example, ProbeResult
from rewardlab.audit._text import shorten

__all__ = ["CSS", "VIEWS", "render_html", "view_section"]

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#212121;
background:#fafafa}
main{max-width:1060px;margin:0 auto;padding:24px}
h1{font-size:1.5em;margin:0 0 4px}h2{font-size:1.2em;margin:0}
.meta{color:#616161;font-size:.9em}
table{border-collapse:collapse;margin:10px 0;font-size:.9em;background:#fff}
th,td{border:1px solid #e0e0e0;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5}td.num{text-align:right;font-variant-numeric:tabular-nums}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:.85em;font-weight:600;
color:#fff}
.ok{background:#2e7d32}.warn{background:#ef6c00}.flagged{background:#c62828}
.skipped{background:#757575}
section.probe{background:#fff;border:1px solid #e0e0e0;border-radius:6px;padding:16px;
margin:18px 0}
section.probe header{display:flex;gap:10px;align-items:center}
svg.plot{max-width:100%;height:auto;display:block;margin:8px 0}
pre{white-space:pre-wrap;word-break:break-word;background:#f5f5f5;padding:6px;margin:4px 0;
max-height:14em;overflow:auto;font-size:.85em}
details{margin:6px 0}summary{cursor:pointer}
.notes{color:#616161;font-size:.85em}
"""

#: the report's stylesheet (``eval --html`` uses it too)
CSS = _CSS

_WHAT = {
    "length": "Accuracy on pairs whose chosen response is the longer one against pairs whose "
              "chosen response is the shorter one; a content-reading model scores both alike.",
    "master-keys": "How often content-free responses (punctuation, reasoning openers, "
                   "'The answer is correct.', translations) beat a real rejected response.",
    "paraphrase": "Meaning-preserving rewrites of both responses: how often the ranking "
                  "flips, and how much accuracy drops, per rewrite.",
    "position": "A pairwise judge asked in both orders: does the winner depend on which "
                "response comes first?",
    "label-noise": "The model's training recipe rerun with 0–40% of the labels flipped: "
                   "held-out accuracy per noise rate.",
    "over-optimisation": "Gold score of the proxy's best-of-k pick for k = 1..n, against the "
                         "proxy's own score: does the gold score stop rising?",
    "calibration": "Reliability of the Bradley–Terry probability σ(r_chosen − r_rejected).",
}


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "—"
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    return _e(value)


def _badge(verdict: str) -> str:
    return f'<span class="badge {verdict}">{_e(verdict)}</span>'


def _summary(result: AuditResult) -> str:
    rows = []
    for p in result.probes:
        if p.verdict == "skipped":
            rows.append(f'<tr><td>{_e(p.name)}</td><td colspan="3">{_e(p.reason)}</td>'
                        f"<td>{_badge(p.verdict)}</td></tr>")
            continue
        rows.append(
            f'<tr><td><a href="#probe-{_e(p.name)}">{_e(p.name)}</a></td><td>{_e(p.figure)}</td>'
            f'<td class="num">{_num(p.value)}</td>'
            f"<td>{_e(p.threshold.describe() if p.threshold else '')}</td>"
            f"<td>{_badge(p.verdict)}</td></tr>")
    return ('<table id="summary"><thead><tr><th>probe</th><th>figure</th><th>value</th>'
            "<th>threshold</th><th>verdict</th></tr></thead><tbody>" + "".join(rows)
            + "</tbody></table>")


def _table(title: str, rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    cols = list(rows[0])
    head = "".join(f"<th>{_e(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(
            f'<td class="num">{_num(r.get(c))}</td>' if isinstance(r.get(c), int | float)
            or r.get(c) is None else f"<td>{_e(r.get(c))}</td>" for c in cols) + "</tr>"
        for r in rows)
    return (f"<details open><summary>{_e(title)}</summary><table><thead><tr>{head}</tr></thead>"
            f"<tbody>{body}</tbody></table></details>")


def _example(ex: Example) -> str:
    other = (f"<div>compared with:</div><pre>{_e(shorten(ex.other))}</pre>"
             if ex.other is not None else "")
    response = ex.response if ex.response else "(empty response)"
    return (f'<details class="example"><summary>{_e(ex.label)} — {_e(ex.detail)}</summary>'
            f"<div>prompt:</div><pre>{_e(shorten(ex.prompt))}</pre>"
            f"<div>response:</div><pre>{_e(shorten(response))}</pre>{other}</details>")


def _section(p: ProbeResult) -> str:
    svg = plot_svg(p.name, p.plot)
    plot = f'<figure id="plot-{_e(p.name)}">{svg}</figure>' if svg else ""
    tables = "".join(_table(title, rows) for title, rows in p.tables.items())
    examples = ("<h3>Worst examples</h3>" + "".join(_example(e) for e in p.examples)
                if p.examples else "")
    notes = ('<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in p.notes) + "</ul>"
             if p.notes else "")
    threshold = f" ({_e(p.threshold.describe())})" if p.threshold else ""
    return (f'<section class="probe" id="probe-{_e(p.name)}"><header><h2>{_e(p.title)}</h2>'
            f"{_badge(p.verdict)}</header>"
            f"<p>{_e(_WHAT.get(p.name, ''))}</p>"
            f"<p><b>{_e(p.figure)} = {_num(p.value)}</b>{threshold}: {_e(p.summary)}</p>"
            f"{plot}{tables}{examples}{notes}"
            f'<p class="notes">{p.seconds:.1f} s</p></section>')


#: the model views (``AuditResult.views``): title and what the plot shows
VIEWS = {
    "attributes": ("Reward per attribute",
                   "Each attribute head's standardised reward on the chosen and the rejected "
                   "replies, and its own accuracy on these pairs (a multi: model)."),
    "users": ("Accuracy versus pairs per user",
              "Per-user accuracy on each user's last quarter of pairs after adapting a copy "
              "of the model from k of their earlier pairs (k = 0: the population mixture an "
              "unknown user gets), beside the model as given (a personal: model)."),
}


def view_section(name: str, data: dict[str, Any]) -> str:
    """One model view (``VIEWS``) as a section with its plot; shared with ``eval --html``."""
    title, what = VIEWS[name]
    svg = plot_svg(name, data)
    plot = f'<figure id="plot-{_e(name)}">{svg}</figure>' if svg else ""
    return (f'<section class="probe" id="view-{_e(name)}"><header><h2>{_e(title)}</h2>'
            f"</header><p>{_e(what)}</p>{plot}</section>")


def render_html(result: AuditResult) -> str:
    """The whole report as one HTML document."""
    sections = "".join(_section(p) for p in result.ran)
    sections += "".join(view_section(k, v) for k, v in result.views.items() if k in VIEWS)
    skipped = result.skipped
    skipped_html = ('<section id="skipped"><h2>Skipped probes and why</h2><ul>'
                    + "".join(f"<li><b>{_e(p.name)}</b>: {_e(p.reason)}</li>" for p in skipped)
                    + "</ul></section>") if skipped else ""
    s = result.settings
    caps = (f"max {s.get('max_pairs')} pairs per transforming probe (--max-pairs), seed "
            f"{s.get('seed')}; {s.get('n_pairs')} pairs in the data; "
            f"{s.get('responses_scored')} responses scored")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Reward model audit: {_e(result.model)}</title><style>{_CSS}</style></head>"
        f"<body><main><h1>Reward model audit: {_e(result.model)}</h1>"
        f'<div class="meta">data {_e(result.data)} · rewardlab {_e(result.version)} · '
        f"{result.seconds:.1f} s · worst verdict {_badge(result.worst)}</div>"
        f'<p class="meta">{_e(caps)}</p>'
        f"{_summary(result)}{sections}{skipped_html}</main></body></html>\n")
