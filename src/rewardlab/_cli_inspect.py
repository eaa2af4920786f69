"""``rewardlab inspect``, ``select`` and ``forecast``: know the data before training, choose
which pairs to label next, and forecast over-optimisation before RL."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from rewardlab._cli_common import LimitOpt, err, not_written, on_interrupt, out
from rewardlab._console import print_skipped


class InspectFailOn(StrEnum):
    never = "never"
    warn = "warn"


class Strategy(StrEnum):
    bald = "bald"
    disagreement = "disagreement"
    entropy = "entropy"


def inspect(
    data: Annotated[str, typer.Argument(help="Preference pairs (chosen/rejected, or prompt with "
                                        "response_a/response_b), or bundled:NAME.")],
    model: Annotated[str, typer.Option(help="Trainable model cross-fitted for the flip-rate "
                                       "estimate ('none' to skip it).")] = "embed:minilm",
    html_out: Annotated[Path | None, typer.Option("--html", help="Write the HTML report.")
                        ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write every figure as JSON.")
                        ] = None,
    folds: Annotated[int, typer.Option(min=2, help="Cross-fitting folds.")] = 5,
    near_threshold: Annotated[float, typer.Option(min=0.0, max=1.0, help="MiniLM cosine (both "
                                                  "sides) for near duplicates.")] = 0.97,
    embeddings: Annotated[bool, typer.Option("--embeddings/--no-embeddings", help="Embedding "
                                             "near-duplicate pass (MiniLM, cached).")] = True,
    stream: Annotated[bool, typer.Option("--stream", help="Bounded memory for large files: "
                                         "digests only; no embeddings or flip estimate.")
                      ] = False,
    seed: Annotated[int, typer.Option(min=0, help="Seed of folds and bootstrap.")] = 0,
    limit: LimitOpt = None,
    ray: Annotated[bool, typer.Option("--ray", help="Every check on a large JSONL/Parquet file: "
                                      "rows featurised on Ray workers in shards, merged here "
                                      "(near duplicates by LSH above 10k rows; flip estimate "
                                      "on a --flip-sample random sample).")] = False,
    address: Annotated[str | None, typer.Option(help="Ray cluster (HOST:6379, ray://HOST:10001, "
                                                "auto); default a local Ray. Needs --ray.")
                       ] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Ray workers (default: cluster "
                                                "CPUs). Needs --ray.")] = None,
    flip_sample: Annotated[int, typer.Option(min=2, help="With --ray: rows the flip estimate "
                                             "samples when the file has more.")] = 2000,
    flip_learner: Annotated[str, typer.Option(help="Margins of the flip estimate: 'peers' (two "
                                              "copies of --model per fold), 'linear' (a ridge "
                                              "head on its frozen features; embed: only, six "
                                              "times less CPU) or 'auto'.")] = "peers",
    fail_on: Annotated[InspectFailOn, typer.Option(help="Exit with status 1 when a check's "
                                                   "verdict is warn (for CI).")
                       ] = InspectFailOn.never,
) -> None:
    """Inspect a preference set before training: duplicates, contradictions, confounds
    (length, structure, refusals, position) and an estimated label-flip rate."""
    from rewardlab.api import inspect_data
    from rewardlab.errors import ConfigError

    if not ray and (address is not None or workers is not None):
        raise ConfigError("--address and --workers only apply to --ray")
    on_interrupt(not_written(html_out, json_out))
    extra = ({"ray": True, "address": address, "workers": workers, "flip_sample": flip_sample}
             if ray else {})
    report = inspect_data(data, model=None if model == "none" else model, html=html_out,
                          json_out=json_out, limit=limit, folds=folds,
                          near_threshold=near_threshold, embeddings=embeddings, stream=stream,
                          seed=seed, flip_learner=flip_learner, **extra)
    j = report.to_json()
    table = Table(title=f"{escape(str(data))}: {j['rows']:,} pairs, {j['skipped']['count']} "
                        "skipped")
    for col in ("check", "value", "verdict"):
        table.add_column(col)
    values = {k: str(j[k]["count"]) for k in ("exact_duplicates", "near_duplicates",
                                              "contradictions", "identical_pairs")}
    values["skipped"] = str(j["skipped"]["count"])
    for name, row in (j["confounds"] or {}).items():
        if row.get("rule_accuracy") is not None:
            share = "" if row.get("share") is None else f"share {row['share']:.3f}, "
            values[f"confound:{name}"] = f"{share}rule accuracy {row['rule_accuracy']:.3f}"
    flip = j["flip_rate"]
    if flip.get("estimate") is not None:
        values["flip_rate"] = (f"{flip['estimate']:.3f} (95% CI {flip['ci95'][0]:.3f}-"
                               f"{flip['ci95'][1]:.3f})")
    for name, v in j["verdicts"].items():
        colour = "green" if v["verdict"] == "go" else "yellow"
        table.add_row(name, values.get(name, ""), f"[{colour}]{v['verdict']}[/]")
    out.print(table)
    # the first ten reasons here, every one in --json (the report keeps them, not a file)
    print_skipped(err, report.skipped, json_out)
    if report.skipped and json_out is None and len(report.skipped) > 10:
        err.print("  (--json lists every one)")
    if flip.get("estimate") is None:
        err.print(f"[yellow]flip rate not estimated:[/] {escape(flip.get('skipped') or '')}")
    for note in j["notes"]:
        if note != flip.get("skipped"):
            err.print(f"note: {escape(note)}")
    for path in (html_out, json_out):
        if path is not None:
            out.print(f"wrote {path}")
    if fail_on == InspectFailOn.warn and j["verdict"] == "warn":
        raise typer.Exit(1)


def select(
    unlabelled: Annotated[str, typer.Argument(help="Unlabelled pairs: prompt with "
                                              "response_a/response_b (or chosen/rejected, "
                                              "order ignored).")],
    model: Annotated[str, typer.Option(help="Model spec: an ensemble: spec, a trained model, "
                                       "or a trainable kind with --train.")],
    budget: Annotated[int, typer.Option(min=1, help="How many pairs to pick.")],
    out_path: Annotated[Path, typer.Option("--out", help="Picked pairs, .csv or .jsonl.")],
    strategy: Annotated[Strategy, typer.Option(help="Acquisition score.")] = Strategy.bald,
    diverse: Annotated[bool, typer.Option("--diverse", help="Spread picks over MiniLM "
                                          "clusters.")] = False,
    train: Annotated[str | None, typer.Option(help="Labelled pairs: train --members copies of "
                                              "MODEL on bootstrap resamples.")] = None,
    members: Annotated[int, typer.Option(min=1, help="Ensemble size with --train.")] = 5,
    label_studio: Annotated[Path | None, typer.Option(help="Label Studio import file (default "
                                                      "OUT.labelstudio.json).")] = None,
    seed: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """Rank unlabelled pairs by ensemble disagreement, predictive entropy or BALD and write
    the BUDGET most informative to label next (plus a Label Studio import file)."""
    from rewardlab.api import select_to_label

    on_interrupt(not_written(out_path, label_studio))
    result = select_to_label(unlabelled, model, budget=budget, out=out_path,
                             strategy=strategy.value, diverse=diverse, train_data=train,
                             members=members, seed=seed, label_studio=label_studio)
    out.print(f"picked {len(result['selected'])} of {result['pool']:,} pairs by "
              f"{strategy.value} over {result['members']} member(s)")
    print_skipped(err, result["skipped"], result["skipped_file"])
    out.print(f"wrote {result['out']}")
    out.print(f"wrote {result['label_studio']}")


def forecast(
    model: Annotated[str, typer.Argument(help="Proxy reward model spec or saved directory.")],
    data: Annotated[str, typer.Argument(help="Best-of-n data (prompt + responses).")],
    gold: Annotated[str, typer.Option(help="Gold signal: 'is_correct' (the rows' labels) or "
                                      "a gold model spec.")] = "is_correct",
    fit_max_k: Annotated[int | None, typer.Option(min=3, help="Fit on k <= this; the rest "
                                                  "are predicted.")] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write the HTML report.")
                        ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the fit as JSON.")
                        ] = None,
    n_boot: Annotated[int, typer.Option(min=10, help="Bootstrap resamples.")] = 200,
    seed: Annotated[int, typer.Option(min=0)] = 0,
    limit: LimitOpt = None,
) -> None:
    """Fit Gao et al.'s best-of-n law to the proxy's and the gold's best-of-k points and say
    where the gold is predicted to peak."""
    from rewardlab.api import forecast as run_forecast

    on_interrupt(not_written(html_out, json_out))
    result = run_forecast(model, data, gold=None if gold == "is_correct" else gold,
                          fit_max_k=fit_max_k, html=html_out, json_out=json_out,
                          n_boot=n_boot, seed=seed, limit=limit)
    j = result.to_json()
    g = j["gold_fit"]
    out.print(f"{j['n_problems']} problems, k = 1..{int(result.ks.max())}, gold signal: "
              f"{escape(j['gold_source'])}")
    out.print(f"gold fit: alpha {g['alpha']:.4f} (95% CI {g['alpha_ci95'][0]:.4f}.."
              f"{g['alpha_ci95'][1]:.4f}), beta {g['beta']:.4f} (95% CI "
              f"{g['beta_ci95'][0]:.4f}..{g['beta_ci95'][1]:.4f})")
    if j["peak_predicted"]:
        out.print(f"gold predicted to peak at n = {g['peak_n']:.1f} (KL {g['peak_kl']:.3f}); "
                  f"recommended n = {j['recommended_n']:g}")
    else:
        out.print("no gold peak predicted (beta <= 0): gold still rising at the largest n; "
                  f"recommended n = {j['recommended_n']:g}")
    if j["held_out_mean_abs_error"] is not None:
        out.print(f"held-out k > {j['fit_max_k']}: mean abs error "
                  f"{j['held_out_mean_abs_error']:.4f}")
    for note in j["notes"]:
        err.print(f"note: {escape(note)}")
    for path in (html_out, json_out):
        if path is not None:
            out.print(f"wrote {path}")
