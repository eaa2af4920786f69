"""Self-contained HTML for ``inspect`` and ``forecast``, in the audit report's style (its CSS,
tables, badges and inline SVG plots), drawn only from what the JSON holds."""

from __future__ import annotations

from typing import Any

from rewardlab._version import __version__
from rewardlab.audit._plots import plot_svg
from rewardlab.audit.report import _CSS, _e, _num, _table

__all__ = ["forecast_html", "inspect_html"]

_VERDICT_CSS = ".go{background:#2e7d32}"


def _badge(verdict: str) -> str:
    return f'<span class="badge {_e(verdict)}">{_e(verdict)}</span>'


def _page(title: str, meta: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{_CSS}{_VERDICT_CSS}</style></head>"
            f"<body><main><h1>{_e(title)}</h1><div class=\"meta\">{meta}</div>{body}"
            "</main></body></html>\n")


def _section(title: str, inner: str, verdict: str | None = None) -> str:
    badge = _badge(verdict) if verdict else ""
    return (f'<section class="probe"><header><h2>{_e(title)}</h2>{badge}</header>'
            f"{inner}</section>")


def inspect_html(j: dict[str, Any]) -> str:
    """The inspection report (``InspectReport.to_json()``) as one HTML document."""
    verdicts = j["verdicts"]
    summary = _table("Verdicts", [{"check": k, "verdict": v["verdict"], "rule": v["rule"]}
                                  for k, v in verdicts.items()])
    counts = [{"check": k, "count": j[k]["count"],
               "rows (ids)": ", ".join(map(str, j[k]["ids"][:30]))
               + (" …" if len(j[k]["ids"]) > 30 else "")}
              for k in ("exact_duplicates", "near_duplicates", "contradictions",
                        "identical_pairs")]
    skipped = [{"line": s["line"], "field": s["field"], "reason": s["reason"]}
               for s in j["skipped"]["rows"][:50]]
    near = [{"row": p["id"], "resembles": p["of"], "similarity": p["similarity"],
             "how": p["how"]} for p in j["near_duplicates"].get("pairs", [])[:50]]
    body = summary + _section("Defects", _table("Counts", counts) + _table(
        "Near duplicates (first 50)", near) + f'<p class="notes">'
        f'{_e(j["near_duplicates"].get("note", ""))}</p>' + _table(
        f"Skipped rows ({j['skipped']['count']}, first 50)", skipped))
    if j.get("confounds"):
        rows = [{"feature": k, "share": v["share"],
                 "95% CI": _ci(v.get("ci95")),
                 "rule accuracy": v["rule_accuracy"], "pairs differing":
                 v["pairs_differing"], "means": v["means"]} for k, v in j["confounds"].items()]
        body += _section("Confounds", "<p>Share: among pairs whose replies differ in the "
                         "feature, how often the chosen one has more of it. Rule accuracy: "
                         "preferring the reply with more of it, over all pairs (0.5 = "
                         "tells nothing).</p>" + _table("Features", rows))
    flip = j["flip_rate"]
    if flip.get("estimate") is not None:
        text = (f"<p><b>estimated flip rate {flip['estimate']:.3f}</b> (95% CI "
                f"{flip['ci95'][0]:.3f}–{flip['ci95'][1]:.3f}); cross-fitted "
                f"{_e(flip.get('model'))} agrees with {flip.get('cross_fitted_agreement', 0):.3f}"
                f" of the labels.</p><p class=\"notes\">{_e(flip['method'])}</p>")
        selected = flip.get("selected")
        for key, label, tail in (
                ("noise_limited", "Noise-limited estimate", lambda r: "; where the two "
                 "disagree, the data cannot tell a weak model from noisy labels."),
                ("profile", "Profile-likelihood estimate", lambda r: ": a lower reading, "
                 "which takes a weak model's unclear margins for a weak model rather "
                 "than for flips."),
                ("anchor", "Anchor reading", lambda r: f" over the {r['pairs']} most "
                 "confident pairs: an upper reading, the model's own mistakes among them "
                 "count as flips."),
                ("extrapolated", "Extrapolated anchor", lambda r: ", from a line through "
                 f"the {r['pairs']} most confident pairs.")):
            reading = flip.get(key)
            if reading and key != selected:
                text += (f"<p>{label} {reading['estimate']:.3f} (95% CI "
                         f"{reading['ci95'][0]:.3f}–{reading['ci95'][1]:.3f}){tail(reading)}"
                         f"</p><p class=\"notes\">{_e(reading['method'])}</p>")
        worst = [{"id": w["id"], "line": w["line"], "P(flipped)": w["flip_probability"],
                  "margin": w["margin"], "prompt (end)": w["prompt"][-160:],
                  "chosen": w["chosen"][:200], "rejected": w["rejected"][:200]}
                 for w in j.get("least_plausible", [])]
        body += _section("Label flips", text + _table("Least plausible pairs", worst),
                         verdicts.get("flip_rate", {}).get("verdict"))
    else:
        body += _section("Label flips", f"<p>{_e(flip.get('skipped', 'not run'))}</p>")
    body += _section("Per subset", _table("Subsets", j.get("subsets", [])))
    if j.get("notes"):
        body += '<ul class="notes">' + "".join(f"<li>{_e(n)}</li>" for n in j["notes"]) + "</ul>"
    meta = (f"{_e(j['source'])} · {j['rows']:,} pairs · rewardlab {_e(__version__)} · "
            f"{j['seconds']:.1f} s · verdict {_badge(j['verdict'])}")
    return _page("Preference data inspection", meta, body)


def forecast_html(j: dict[str, Any], plot: dict[str, Any], model: str, data: str) -> str:
    """The forecast (``Forecast.to_json()``, ``Forecast.plot()``) as one HTML document."""
    svg = plot_svg("forecast", plot) or ""
    g, p = j["gold_fit"], j["proxy_fit"]
    fits = [{"curve": name, "alpha": f["alpha"], "alpha 95% CI": _ci(f["alpha_ci95"]),
             "beta": f["beta"], "beta 95% CI": _ci(f["beta_ci95"]), "peak n": f["peak_n"],
             "peak n 95% CI": _ci(f["peak_n_ci95"])} for name, f in (("gold", g), ("proxy", p))]
    peak = (f"gold is predicted to peak at n ≈ {_num(g['peak_n'])} (KL {_num(g['peak_kl'])})"
            if j["peak_predicted"] else "no gold peak is predicted (β ≤ 0): still rising at "
            "the largest n measured")
    body = _section("Best-of-n forecast (Gao et al. 2023)",
                    f"<p><b>{_e(peak)}</b>; recommended n = {_num(j['recommended_n'])}.</p>"
                    f"<figure>{svg}</figure>" + _table("Fits", fits) + _table(
                        "Points", j["points"]) + '<ul class="notes">' + "".join(
                        f"<li>{_e(n)}</li>" for n in j["notes"]) + "</ul>")
    meta = (f"proxy {_e(model)} · data {_e(data)} · {j['n_problems']} problems · gold "
            f"{_e(j['gold_source'])} · rewardlab {_e(__version__)}")
    return _page("Over-optimisation forecast", meta, body)


def _ci(ci: list[float] | None) -> str | None:
    if not ci or ci[0] is None or ci[1] is None:
        return None
    return f"{ci[0]:.4g}–{ci[1]:.4g}"
