"""One matplotlib figure per probe, rendered to inline SVG for the self-contained report.

Plots are drawn from ``ProbeResult.plot`` only, so what the report shows is exactly what the
JSON holds. SVG needs no JavaScript and no network; every figure gets its own id salt so the
clip paths of several inline SVGs never collide.
"""

from __future__ import annotations

import io
import itertools
import re
from collections.abc import Callable
from typing import Any

__all__ = ["plot_svg"]

_OK, _WARN, _BAD, _GREY, _BLUE = "#2e7d32", "#ef6c00", "#c62828", "#9e9e9e", "#1565c0"


def _figure(width: float = 7.0, height: float = 3.2) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _length(fig: Any, d: dict[str, Any]) -> None:
    parts = [p for p in ("alpacaeval", "evalbiasbench") if p in d]
    ratios = [1.0] + [1.2 if p == "alpacaeval" else 1.4 for p in parts]
    axes = fig.subplots(1, 1 + len(parts), squeeze=False, width_ratios=ratios)[0]
    ax = axes[0]
    acc = [a if a == a else 0 for a in d["accuracy"]]
    err = [[max(a - c[0], 0) if c[0] == c[0] else 0 for a, c in zip(acc, d["ci"], strict=True)],
           [max(c[1] - a, 0) if c[1] == c[1] else 0 for a, c in zip(acc, d["ci"], strict=True)]]
    ax.bar([g.replace(" ", "\n") for g in d["groups"]], acc, yerr=err, color=[_BLUE, _WARN],
           capsize=4)
    ax.axhline(0.5, color=_GREY, ls="--", lw=1)
    ax.set_ylim(0, 1)
    ax.set_ylabel("accuracy")
    ax.set_title("audit data", fontsize=10)
    for i, n in enumerate(d["n"]):
        ax.text(i, 0.02, f"n={n}", ha="center", fontsize=8, color="white")
    for ax, part in zip(axes[1:], parts, strict=True):
        if part == "alpacaeval":
            a = d[part]
            ax.plot(a["variants"], a["rm_win_rate"], "o-", color=_BLUE, label="this model")
            ax.plot(a["variants"], a["judge_win_rate"], "s--", color=_GREY,
                    label="GPT-4-turbo judge")
            ax.set_ylim(0, 1)
            ax.set_ylabel("win rate vs reference")
            ax.set_title("AlpacaEval length", fontsize=10)
            ax.legend(fontsize=8)
        else:
            rows = d[part]["types"]
            ax.barh([r["bias"] for r in rows], [r["accuracy"] for r in rows], color=_BLUE)
            ax.axvline(0.5, color=_GREY, ls="--", lw=1)
            ax.set_xlim(0, 1)
            ax.set_xlabel("accuracy")
            ax.tick_params(axis="y", labelsize=7)
            ax.set_title("EvalBiasBench", fontsize=10)


def _master_keys(fig: Any, d: dict[str, Any]) -> None:
    ax = fig.subplots()
    order = sorted(range(len(d["keys"])), key=lambda i: d["rate"][i])
    # the plot font has no CJK glyphs: such keys are drawn escaped (the table shows them)
    labels = [f"{_short(_latin(d['keys'][i]))} ({d['families'][i]})" for i in order]
    rates = [d["rate"][i] for i in order]
    colors = [_BAD if r >= 0.25 else _WARN if r >= 0.1 else _OK for r in rates]
    ax.barh(range(len(order)), rates, color=colors, label="beats rejected")
    ax.scatter([d["beats_chosen"][i] for i in order], range(len(order)), color="black",
               marker="|", s=80, zorder=3, label="beats chosen")
    ax.set_yticks(range(len(order)), labels, fontsize=7)
    ax.set_xlim(0, 1)
    ax.set_xlabel("false-positive rate")
    ax.legend(fontsize=8, loc="lower right")


def _latin(text: str) -> str:
    """``text`` with characters outside Latin-1 written as escapes, for the plot font."""
    return text.encode("latin-1", "backslashreplace").decode("latin-1")


def _short(text: str, limit: int = 28) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _paraphrase(fig: Any, d: dict[str, Any]) -> None:
    ax = fig.subplots()
    names = d["transformations"]
    x = range(len(names))
    flips = [f if f is not None else 0 for f in d["flip_rate"]]
    drops = [a if a is not None else 0 for a in d["accuracy_drop"]]
    ax.bar([i - 0.2 for i in x], flips, width=0.4, color=_BAD, label="ranking flips")
    ax.bar([i + 0.2 for i in x], drops, width=0.4, color=_BLUE, label="accuracy drop")
    for i, n in enumerate(d["changed"]):
        ax.text(i, max(flips[i], drops[i], 0) + 0.01, f"n={n}", ha="center", fontsize=7)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_ylim(min(-0.05, min(drops) - 0.05), max(0.3, max(flips + drops) + 0.08))
    ax.set_xticks(list(x), names, rotation=25, ha="right", fontsize=8)
    ax.set_ylabel("share of changed pairs")
    ax.legend(fontsize=8)


def _position(fig: Any, d: dict[str, Any]) -> None:
    ax1, ax2 = fig.subplots(1, 2)
    ax1.scatter(d["p_chosen_first"], d["p_chosen_second"], s=14, color=_BLUE, alpha=0.7)
    ax1.plot([0, 1], [0, 1], color=_GREY, ls="--", lw=1)
    ax1.set_xlim(-0.02, 1.02)
    ax1.set_ylim(-0.02, 1.02)
    ax1.set_xlabel("P(chosen better), chosen first")
    ax1.set_ylabel("P(chosen better), chosen second")
    names = ["first wins", *d["accuracy"]]
    values = [d["first_position_wins"], *d["accuracy"].values()]
    ax2.bar(names, values, color=[_WARN, _BLUE, _BLUE, _BLUE])
    ax2.axhline(0.5, color=_GREY, ls="--", lw=1)
    ax2.set_ylim(0, 1)
    ax2.tick_params(axis="x", labelsize=7)
    ax2.set_title(f"consistency {d['consistency']:.0%}", fontsize=10)


def _label_noise(fig: Any, d: dict[str, Any]) -> None:
    ax = fig.subplots()
    pct = [100 * r for r in d["rates"]]
    ax.fill_between(pct, d["low"], d["high"], color=_BLUE, alpha=0.2, label="95% CI")
    ax.plot(pct, d["accuracy"], "o-", color=_BLUE, label="held-out accuracy")
    ax.axhline(0.5, color=_GREY, ls="--", lw=1)
    ax.set_xlabel("training labels flipped (%)")
    ax.set_ylabel("held-out accuracy")
    ax.legend(fontsize=8)


def _overoptimisation(fig: Any, d: dict[str, Any]) -> None:
    ax = fig.subplots()
    ax.plot(d["k"], d["gold"], "o-", color=_BLUE, label="gold of the proxy's pick")
    ax.plot(d["k"], d["oracle"], "s--", color=_GREY, label="gold of the oracle's pick")
    ax.axvline(d["peak_k"], color=_WARN, ls=":", lw=1.5, label=f"gold peaks at k={d['peak_k']}")
    if d.get("fitted_k"):
        ax.plot(d["fitted_k"], d["fitted_gold"], "-", color=_BLUE, alpha=0.4, lw=1,
                label="Gao fit of the gold")
    ax.set_xlabel("k (best of k candidates)")
    ax.set_ylabel(f"gold ({d['gold_source']})")
    twin = ax.twinx()
    twin.plot(d["k"], d["proxy"], "^-", color=_BAD, alpha=0.7, label="proxy score (sd)")
    twin.set_ylabel("proxy score of the pick (sd units)")
    lines = ax.get_legend_handles_labels()
    more = twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="best")


def _calibration(fig: Any, d: dict[str, Any]) -> None:
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[2, 1])
    edges = d["edges"]
    centres = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
    width = edges[1] - edges[0]
    acc = [a if a == a else 0 for a in d["accuracy"]]
    ax1.bar(centres, acc, width=width * 0.9, color=_BLUE, label="accuracy")
    ax1.plot([0.5, 1], [0.5, 1], color=_GREY, ls="--", lw=1, label="perfect calibration")
    ax1.set_xlim(0.5, 1)
    ax1.set_ylim(0, 1)
    ax1.set_xlabel("confidence σ(|r_c − r_r|)")
    ax1.set_ylabel("accuracy")
    ax1.legend(fontsize=8, loc="upper left")
    ax2.bar(centres, d["count"], width=width * 0.9, color=_GREY)
    ax2.set_xlim(0.5, 1)
    ax2.set_xlabel("confidence")
    ax2.set_ylabel("pairs")


def _forecast(fig: Any, d: dict[str, Any]) -> None:
    ax = fig.subplots()
    ax.set_xscale("log", base=2)
    ax.plot(d["k"], d["gold"], "o", color=_BLUE, label="gold of the proxy's pick")
    ax.plot(d["grid"], d["gold_fitted"], "-", color=_BLUE, alpha=0.7, label="Gao fit (gold)")
    if d.get("peak_n"):
        ax.axvline(d["peak_n"], color=_WARN, ls=":", lw=1.5,
                   label=f"predicted peak n={d['peak_n']:.1f}")
    ax.axvline(d["fit_max_k"], color=_GREY, ls="--", lw=1, label="fitted up to here")
    ax.set_xlabel("n (best of n)")
    ax.set_ylabel("gold")
    twin = ax.twinx()
    twin.plot(d["k"], d["proxy"], "^", color=_BAD, alpha=0.7, label="proxy score of the pick")
    twin.plot(d["grid"], d["proxy_fitted"], "-", color=_BAD, alpha=0.4, label="Gao fit (proxy)")
    twin.set_ylabel("proxy")
    lines, more = ax.get_legend_handles_labels(), twin.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="best")


def _users(fig: Any, d: dict[str, Any]) -> None:
    """A personal: model's per-user accuracy against k, from ``accuracy_vs_k``."""
    ax = fig.subplots()
    rows = d["rows"]
    x = list(range(len(rows)))
    mean = [r["per_user_accuracy_mean"] for r in rows]
    ax.fill_between(x, [r["ci95"][0] for r in rows], [r["ci95"][1] for r in rows],
                    color=_BLUE, alpha=0.2, label="95% CI over users")
    ax.plot(x, mean, "o-", color=_BLUE, label="adapted from k pairs per user (mean)")
    ax.plot(x, [r["per_user_accuracy_p10"] for r in rows], ".:", color=_BLUE,
            label="10th percentile of users")
    if rows and rows[0]["k"] == 0:
        ax.axhline(mean[0], color=_GREY, ls="--", lw=1,
                   label="population mixture (k = 0, an unknown user)")
    given = d.get("as_given")
    if given:
        ax.axhline(given["per_user_accuracy_mean"], color=_WARN, ls="-.", lw=1,
                   label="model as given (its own user weights)")
    ax.set_xticks(x, [f"{r['k']}\n({r['n_users']} users)" for r in rows], fontsize=8)
    ax.set_xlabel("pairs from each user (k)")
    ax.set_ylabel("held-out accuracy per user")
    ax.set_ylim(max(0.0, min([*mean, 0.5]) - 0.1), 1.0)
    ax.legend(fontsize=7, loc="lower right")


def _attributes(fig: Any, d: dict[str, Any]) -> None:
    """A multi: model's reward per attribute on chosen and rejected replies."""
    names = list(d)
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names, strict=True):
        a = d[name]
        edges = a["edges"]
        centres = [(lo + hi) / 2 for lo, hi in itertools.pairwise(edges)]
        width = edges[1] - edges[0]
        ax.bar(centres, a["chosen_counts"], width=width, color=_OK, alpha=0.55,
               label="chosen")
        ax.bar(centres, a["rejected_counts"], width=width, color=_BAD, alpha=0.45,
               label="rejected")
        ax.set_title(f"{_short(_latin(name), 16)}\nacc {a['accuracy']:.2f}", fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_xlabel("reward (sd)", fontsize=8)
    axes[0].set_ylabel("replies")
    axes[0].legend(fontsize=7)


_DRAW: dict[str, Callable[[Any, dict[str, Any]], None]] = {
    "forecast": _forecast,
    "length": _length,
    "master-keys": _master_keys,
    "paraphrase": _paraphrase,
    "position": _position,
    "label-noise": _label_noise,
    "over-optimisation": _overoptimisation,
    "calibration": _calibration,
    "users": _users,
    "attributes": _attributes,
}
_HEIGHTS = {"master-keys": 5.5}
_WIDTHS = {"length": 9.5, "master-keys": 8.0}


def plot_svg(name: str, data: dict[str, Any]) -> str | None:
    """The probe's figure as an ``<svg>`` element (no XML prologue), or None without data.
    Besides the probes: ``users`` (accuracy vs k of a personal: model) and ``attributes``
    (reward per attribute of a multi: model), shown by the audit report and ``eval --html``."""
    draw = _DRAW.get(name)
    if draw is None or not data:
        return None
    import matplotlib

    width = _WIDTHS.get(name, 7.0)
    if name == "attributes":  # one panel per head
        width = max(7.0, 2.2 * len(data))
    fig = _figure(width=width, height=_HEIGHTS.get(name, 3.2))
    draw(fig, data)
    buf = io.StringIO()
    with matplotlib.rc_context({"svg.hashsalt": f"rewardlab-{name}", "svg.fonttype": "path"}):
        fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    # the RDF metadata (creator, date) only names remote vocabularies and makes reports differ
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, flags=re.DOTALL)
    # an accessible name, and a class the report's CSS scales
    return re.sub(r"<svg\b", f'<svg role="img" aria-label="{name} plot" class="plot"', svg,
                  count=1)
