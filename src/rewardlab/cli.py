"""The ``rewardlab`` command: parse, call ``rewardlab.api``, print. No logic lives here.

A ``RewardLabError`` (bad data, bad spec, ...) prints as ``error: <message>`` and exits 2,
without a traceback; any other exception is a bug and keeps its traceback. Ctrl-C (SIGINT)
prints ``interrupted: <what was kept>`` and exits 130.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from rewardlab import __version__, _cli_inspect, _cli_personal, _cli_rubric, api
from rewardlab import _cli_common as _common
from rewardlab._cli_common import (
    FormatOpt,
    LimitOpt,
    MaxCharsOpt,
    SkipOpt,
    Ties,
    err,
    fmt,
    not_written,
    on_interrupt,
    out,
)
from rewardlab._console import evaluation_table, pairwise_table, print_skipped
from rewardlab._io import check_outputs, skipped_path, write_json
from rewardlab._progress import set_progress
from rewardlab.data import DEFAULT_MAX_CHARS
from rewardlab.errors import ConfigError, RewardLabError

app = typer.Typer(
    name="rewardlab",
    help="Train, evaluate and score reward models for LLM alignment, on a CPU by default.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
def _version(value: bool) -> None:
    if value:
        out.print(f"rewardlab {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    progress: Annotated[bool | None, typer.Option(
        "--progress/--no-progress", help="Show progress bars (default: when on a terminal).")
    ] = None,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Print the version and exit.")] = False,
) -> None:
    set_progress(progress)


@app.command()
def train(
    data: Annotated[str | None, typer.Argument(help="Training data file (or bundled:NAME); "
                                               "multi: models take --data NAME=FILE.")] = None,
    out_dir: Annotated[Path | None, typer.Option("--out", "-o",
                                                 help="Directory to save the model.")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Model spec to train: embed:minilm, "
                                       "seq:minilm, seq:PATH, ...")] = "embed:minilm",
    epochs: Annotated[int | None, typer.Option(min=1, help="Training epochs.")] = None,
    lr: Annotated[float | None, typer.Option(min=0.0, help="Learning rate.")] = None,
    batch_size: Annotated[int | None, typer.Option(min=1, help="Pairs per batch.")] = None,
    loss: Annotated[str | None, typer.Option(
        help="bt, margin (needs a margin column), label-smoothing or hinge.")] = None,
    center_coef: Annotated[float | None, typer.Option(min=0.0,
                                                      help="Reward-centring coefficient.")] = None,
    seed: Annotated[int | None, typer.Option(min=0, help="Random seed.")] = None,
    max_length: Annotated[int | None, typer.Option(min=8, help="Tokens per input.")] = None,
    lora: Annotated[int | None, typer.Option(min=0, help="LoRA rank for seq: models "
                                             "(0 = full fine-tuning).")] = None,
    grad_accum: Annotated[int | None, typer.Option(min=1, help="Micro-batches per optimiser "
                                                   "step (seq:).")] = None,
    checkpoint_every: Annotated[int | None, typer.Option(
        min=0, help="Optimiser steps between checkpoints (seq:; kept in OUT.checkpoints).")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue a seq: (or multi:seq:) run from "
                                         "OUT.checkpoints.")
                      ] = False,
    eval_data: Annotated[str | None, typer.Option(
        help="Held-out pairs, evaluated after each epoch (seq:) or at the end.")] = None,
    ensemble: Annotated[int, typer.Option(min=0, help="Train K members (seeds, bootstrap "
                                          "samples) as one ensemble model.")] = 0,
    inject_noise: Annotated[float, typer.Option(min=0.0, max=1.0, help="Flip this share of "
                                                "training pairs first (experiments).")] = 0.0,
    noise_robust: Annotated[bool, typer.Option(help="Train despite flipped labels: "
                                               "noise-aware likelihood with cross-validated "
                                               "stopping (embed:), else co-filtering.")
                            ] = False,
    noise_rate: Annotated[float, typer.Option(min=0.0, max=0.9, help="Expected share of "
                                              "flipped labels --noise-robust assumes "
                                              "(co-filtering drops that share).")] = 0.2,
    limit: Annotated[int | None, typer.Option(min=1, help="Train on the first N valid rows "
                                              "only (a quick trial).")] = None,
    device: Annotated[str | None, typer.Option(
        help="auto (a GPU when present), cpu, cuda, cuda:N or mps (seq:).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Train seq: (or multi:seq:) on N local "
                                         "processes (torch.distributed; the weights of "
                                         "one).")] = 1,
    strategy: Annotated[str, typer.Option(help="ddp (each worker holds the whole model) or "
                                          "fsdp (each holds a shard of weights, gradients "
                                          "and optimiser state).")] = "ddp",
    ray: Annotated[bool, typer.Option("--ray", help="Run the --workers on Ray Train "
                                      "(restarts from the last checkpoint).")] = False,
    address: Annotated[str | None, typer.Option(help="Ray cluster address (with --ray).")
                       ] = None,
    gpus_per_worker: Annotated[float, typer.Option(min=0.0, help="GPUs per Ray worker.")
                               ] = 0.0,
    named_data: Annotated[list[str] | None, typer.Option(
        "--data", help="NAME=FILE, repeatable: one attribute head per named set (multi: "
        "models), or one TOML file with a [data] table.")] = None,
    adapt: Annotated[str | None, typer.Option(
        help="Users' pairs (a 'user' column) to fit into the personal: model given as "
        "--model DIR (or personal:DIR), the basis untouched.")] = None,
    soft_labels: Annotated[bool, typer.Option(
        help="Train towards each pair's share of annotator votes (votes / meta.votes).")
    ] = False,
    format: FormatOpt = None,
    skip_invalid: SkipOpt = False,
    max_chars: MaxCharsOpt = DEFAULT_MAX_CHARS,
) -> None:
    """Train a reward model (pairs, best-of-n rows or step labels) and save it to --out."""
    if out_dir is None:
        raise ConfigError("train needs --out DIR, where the model is saved")
    if named_data or adapt:
        _cli_personal.train_special(data, out_dir, model, named_data, adapt, soft_labels,
                                    {"epochs": epochs, "lr": lr, "batch_size": batch_size,
                                     "seed": seed, "max_length": max_length, "lora": lora,
                                     "device": device, "loss": loss, "center_coef": center_coef,
                                     "grad_accum": grad_accum,
                                     "checkpoint_every": checkpoint_every},
                                    fmt(format), skip_invalid, max_chars, limit,
                                    run={"eval_data": eval_data, "resume": resume,
                                         "workers": workers, "strategy": strategy, "ray": ray,
                                         "address": address, "gpus_per_worker": gpus_per_worker,
                                         "ensemble": ensemble, "inject_noise": inject_noise,
                                         "noise_robust": noise_robust,
                                         "noise_rate": noise_rate})
        return
    if data is None:
        raise ConfigError("train needs DATA (a file or bundled:NAME), or --data NAME=FILE "
                          "for a multi: model")
    checkpoints = api.checkpoint_dir_for(out_dir)

    def kept() -> str:
        if checkpoints.is_dir():
            return (f"no model saved to {out_dir}; the checkpoints in {checkpoints} are kept "
                    "(continue with --resume)")
        return f"no model saved to {out_dir}"

    on_interrupt(kept)
    given = {"epochs": epochs, "lr": lr, "batch_size": batch_size, "loss": loss,
             "center_coef": center_coef, "seed": seed, "max_length": max_length,
             "lora": lora, "grad_accum": grad_accum, "checkpoint_every": checkpoint_every,
             "device": device,
             "soft_labels": soft_labels or None}
    params = {k: v for k, v in given.items() if v is not None}
    result = api.train(model, data, out=out_dir, params=params, format=fmt(format),
                       skip_invalid=skip_invalid, max_chars=max_chars, eval_data=eval_data,
                       ensemble=ensemble, inject_noise=inject_noise, noise_robust=noise_robust,
                       noise_rate=noise_rate, resume=resume, limit=limit, workers=workers,
                       strategy=strategy, ray=ray, address=address,
                       gpus_per_worker=gpus_per_worker)
    last = result.history[-1] if result.history else {}
    embedded = (f" ({result.encoded_texts} texts embedded, the rest from cache)"
                if result.encoded_texts else "")
    out.print(f"trained [bold]{model}[/] on {result.n_train} pairs in {result.seconds:.1f}s"
              f"{embedded}")
    report = result.report
    if "flipped" in report:
        out.print(f"--inject-noise flipped {report['flipped']} training pairs")
    if "noise_filter" in report:
        f = report["noise_filter"]
        if "n_dropped" in f:
            out.print(f"--noise-robust ({f['method']}) dropped {f['n_dropped']} of "
                      f"{f['n_pairs']} pairs")
        else:
            out.print(f"--noise-robust ({f['method']}) down-weighted {f['n_down_weighted']} of "
                      f"{f['n_pairs']} pairs (posterior flip probability > 0.5); "
                      f"trained {f['epochs']} epoch(s), chosen by {f['folds']}-fold "
                      "cross-validation")
    if last:
        out.print(f"final epoch: loss {last['loss']:.4f}, train accuracy "
                  f"{100 * last['accuracy']:.1f}%, margin {last['margin']:+.3f}")
    if "eval_accuracy" in report:
        out.print(f"held-out accuracy on {eval_data}: {100 * report['eval_accuracy']:.1f}%")
    out.print(f"saved to [bold]{result.out}[/]; use it as a model spec: "
              f"rewardlab eval {result.out} DATA")
    print_skipped(err, result.skipped, result.skipped_file)


@app.command("eval")
def evaluate(
    model: Annotated[str, typer.Argument(help="Model spec or saved model directory.")],
    data: Annotated[str, typer.Argument(help="Pairwise, best-of-n or step-labelled data file "
                                        "(or bundled:NAME).")],
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the result as JSON.")
                        ] = None,
    html_out: Annotated[Path | None, typer.Option(
        "--html", help="Write the result as one self-contained HTML page (with plots for "
        "multi: and personal: models).")] = None,
    ties: Annotated[Ties, typer.Option(help="How reward ties count: half, or loss "
                                       "(RewardBench).")] = Ties.half,
    swap: Annotated[bool | None, typer.Option(
        "--swap/--no-swap", help="judge: models: ask every pair in both orders and average "
        "(position-bias control; reports the order-consistency rate).")] = None,
    reason: Annotated[bool | None, typer.Option(
        "--reason/--no-reason", help="judge: models: write a rationale before each verdict "
        "(kept in the output).")] = None,
    format: FormatOpt = None,
    skip_invalid: SkipOpt = False,
    max_chars: MaxCharsOpt = DEFAULT_MAX_CHARS,
    limit: LimitOpt = None,
) -> None:
    """Pairwise data: accuracy with a 95% CI, per subset, beside length-only baselines.
    Best-of-n data: best-of-n accuracy beside oracle, random and majority vote.
    Step-labelled data (prm: models): first-error F1 beside the trivial baselines.
    judge: models compare pairs side by side, the chosen response shown first in every other
    pair; --swap asks both orders."""
    on_interrupt(not_written(json_out, html_out))
    model = api.judge_options(model, swap=swap, reason=reason)
    result = api.evaluate(model, data, json_out=json_out, html=html_out, ties=ties.value,
                          format=fmt(format), skip_invalid=skip_invalid, max_chars=max_chars,
                          limit=limit)
    out.print(evaluation_table(result))
    _cli_personal.say_eval_population(result)
    _say_reasons(getattr(result, "reasons", None) or ())  # a verifier's, on best-of-n
    for path in (json_out, html_out):
        if path is not None:
            out.print(f"wrote {path}")
    print_skipped(err, result.skipped, skipped_path(json_out) if json_out else None)


class PartFormat(StrEnum):
    jsonl = "jsonl"
    parquet = "parquet"


@app.command()
def score(
    model: Annotated[str, typer.Argument(help="Model spec or saved model directory.")],
    data: Annotated[str, typer.Argument(help="Data file to score (or bundled:NAME).")],
    out_file: Annotated[Path, typer.Option("--out", "-o", help="Output JSONL file (with "
                                           "--ray: a directory of shards).")],
    swap: Annotated[bool | None, typer.Option(
        "--swap/--no-swap", help="judge: models: ask every pair in both orders and average "
        "(position-bias control; reports the order-consistency rate).")] = None,
    reason: Annotated[bool | None, typer.Option(
        "--reason/--no-reason", help="judge: models: write a rationale before each verdict "
        "(kept in the output).")] = None,
    rubric: Annotated[Path | None, typer.Option(
        "--rubric", help="rubric: models: one rubric file (YAML or JSON) for every row.")
                      ] = None,
    format: FormatOpt = None,
    skip_invalid: SkipOpt = False,
    max_chars: MaxCharsOpt = DEFAULT_MAX_CHARS,
    limit: LimitOpt = None,
    ray: Annotated[bool, typer.Option("--ray", help="Score a JSONL/Parquet file of any size "
                                      "on Ray, streamed in resumable shards (docs/ray.md).")
                   ] = False,
    address: Annotated[str | None, typer.Option(help="Ray cluster to use (HOST:6379, "
                                                "ray://HOST:10001, auto); default: a local "
                                                "Ray. Needs --ray.")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Scoring workers, each loading "
                                                "the model once (default: CPUs / "
                                                "--cpus-per-worker). Needs --ray.")] = None,
    cpus_per_worker: Annotated[float, typer.Option(min=0.01, help="CPUs (and torch threads) "
                                                   "per worker. Needs --ray.")] = 1.0,
    gpus_per_worker: Annotated[float | None, typer.Option(
        min=0.0, help="GPUs per worker (0.5: two workers share one); the model loads on the "
        "GPU Ray assigns. Needs --ray.")] = None,
    shard_rows: Annotated[int, typer.Option(min=1, help="Input rows per shard: the unit of "
                                            "output, retry and resume. Needs --ray.")
                          ] = 5000,
    output_format: Annotated[PartFormat, typer.Option(help="Shard file format. Needs --ray.")
                             ] = PartFormat.jsonl,
    connect_timeout: Annotated[float, typer.Option(min=0.1, help="Seconds to wait for "
                                                   "--address to answer.")] = 10.0,
    weights: Annotated[str | None, typer.Option(
        help="multi: models: attribute weights, e.g. harmless=1,helpful=0.5 (a row's "
        "'weights' column wins).")] = None,
    user: Annotated[str | None, typer.Option(
        help="personal: models: whose reward to give (a row's 'user' column wins).")] = None,
) -> None:
    """Score every row: one output row per input row, in order, with its id. With --ray,
    shards of the file are scored in parallel into --out; rerun to resume."""
    model = api.judge_options(model, swap=swap, reason=reason)
    model = _cli_rubric.with_rubric_file(model, rubric)
    given = ({"--limit": limit, "--weights": weights, "--user": user} if ray
             else {"--address": address, "--workers": workers,
                   "--gpus-per-worker": gpus_per_worker})
    used = [name for name, value in given.items() if value is not None]
    if used:
        raise ConfigError(f"{', '.join(used)} " + ("does not apply to --ray" if ray else
                                                   "only applies to Ray scoring; add --ray"))
    if not ray:
        on_interrupt(not_written(out_file))
        result = api.score(model, data, out=out_file, format=fmt(format),
                           skip_invalid=skip_invalid, max_chars=max_chars, limit=limit,
                           weights=weights, user=user)
        out.print(f"scored {result.n_rows} {result.task} rows into [bold]{result.out}[/]")
        _cli_personal.say_population(result.population_users)
        _cli_personal.say_unused_users(result.unused_user_rows, model)
        _say_reasons(result.reasons)
        print_skipped(err, result.skipped, result.skipped_file)
        return
    on_interrupt(lambda: f"the shards finished so far are kept in {out_file}; run the same "
                  "command again to resume")
    shards = api.score_distributed(
        model, data, out=out_file, address=address, workers=workers,
        cpus_per_worker=cpus_per_worker, gpus_per_worker=gpus_per_worker or 0.0,
        shard_rows=shard_rows, output_format=output_format.value, format=fmt(format),
        skip_invalid=skip_invalid, max_chars=max_chars, connect_timeout=connect_timeout)
    resumed = (f", {shards.shards_resumed} already done by an earlier run"
               if shards.shards_resumed else "")
    how = (f"{shards.shards_scored} scored by {shards.workers} Ray "
           f"worker{'s' * (shards.workers != 1)} on {escape(shards.address)}{resumed}"
           if shards.shards_scored else "all finished by an earlier run; nothing left to score")
    out.print(f"scored {shards.n_rows} {shards.task} rows into [bold]{shards.out}[/] "
              f"({shards.n_shards} {shards.output_format} shards: {how}) "
              f"in {shards.seconds:.1f}s")
    if shards.n_skipped > len(shards.skipped):
        err.print(f"[yellow]{shards.n_skipped} rows skipped in all; the first "
                  f"{len(shards.skipped)} follow[/]")
    _say_reasons(shards.reasons)
    print_skipped(err, shards.skipped, shards.skipped_file)


def _say_reasons(reasons: tuple[tuple[str, int], ...]) -> None:
    """The verifier's or judge's reasons, tallied: a column of zeros reads the same whether
    the answers were wrong, unmarked, or checked against a reference nobody could read."""
    if not reasons:
        return
    out.print("reasons: " + ", ".join(f"{escape(k)} {v}" for k, v in reasons))
    unreadable = dict(reasons).get("reference-unparsable", 0)
    if unreadable:
        err.print(f"[yellow]{unreadable} response{'s' * (unreadable != 1)} scored 0 because "
                  "the reference answer could not be read as an answer (reason "
                  "reference-unparsable): check those rows' reference column[/]")


label_app = typer.Typer(help="Make step-labelled data for process reward models.",
                        no_args_is_help=True)
app.add_typer(label_app, name="label")


@label_app.command("inject-errors")
def inject_errors(
    data: Annotated[str, typer.Argument(help="Problems with correct worked solutions: raw "
                                        "GSM8K (question/answer) or bundled:gsm8k_examples.")],
    out_file: Annotated[Path, typer.Option("--out", "-o", help="Output JSONL (TRL's PRM "
                                           "format).")],
    seed: Annotated[int, typer.Option(min=0, help="Random seed (per problem).")] = 0,
    correct: Annotated[bool, typer.Option("--correct/--no-correct", help="Also write each "
                                          "problem's correct solution.")] = True,
    limit: Annotated[int | None, typer.Option(min=1, help="Read the first N problems only.")
                     ] = None,
    skip_invalid: SkipOpt = False,
) -> None:
    """Corrupt one calculation of every correct solution and carry it forward; label the
    steps before it correct and it (and every later step) wrong."""
    on_interrupt(not_written(out_file))
    result = api.inject_errors(data, out=out_file, seed=seed, include_correct=correct,
                               limit=limit, skip_invalid=skip_invalid)
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(result.kinds.items()))
    out.print(f"wrote {result.n_rows} solutions ({kinds}) from {result.n_problems} problems "
              f"into [bold]{result.out}[/]")
    if result.uncorrupted:
        out.print(f"{len(result.uncorrupted)} problems had no calculation whose corruption "
                  "reaches the final answer; they are left out")
    print_skipped(err, result.skipped, result.skipped_file)


label_app.command("rubrics")(_cli_rubric.label_rubrics)
label_app.command("induce-rubric")(_cli_rubric.induce_rubric)


class Denoise(StrEnum):
    none = "none"
    mark = "mark"
    drop = "drop"


@label_app.command("rollouts")
def label_rollouts(
    data: Annotated[str, typer.Argument(help="Solutions with a reference answer: GSM8K "
                                        "problems, best-of-n rows (bundled:gsm8k_examples) "
                                        "or steps with a 'reference'.")],
    policy: Annotated[str, typer.Option(help="policy:default, policy:gguf:PATH or "
                                        "policy:openai:URL#MODEL (options after ?).")],
    out_file: Annotated[Path, typer.Option("--out", "-o", help="Output JSONL (TRL's PRM "
                                           "format).")],
    k: Annotated[int, typer.Option("--k", min=1, help="Rollouts per step prefix.")] = 8,
    seed: Annotated[int, typer.Option(min=0, help="Random seed (per prefix).")] = 0,
    temperature: Annotated[float, typer.Option(min=0.0, help="Sampling temperature.")] = 0.7,
    top_p: Annotated[float, typer.Option(min=0.0, max=1.0, help="Nucleus sampling.")] = 1.0,
    max_tokens: Annotated[int, typer.Option(min=1, help="Longest continuation.")] = 256,
    threshold: Annotated[float, typer.Option(min=0.0, max=0.999, help="Hard label = MC value "
                                             "> threshold (0: Math-Shepherd's hard "
                                             "estimation).")] = 0.0,
    denoise: Annotated[Denoise, typer.Option(help="Low-confidence labels (SCAN): none, mark "
                                             "them, or drop their rows.")] = Denoise.none,
    alpha: Annotated[float, typer.Option(min=0.0, max=0.999, help="Plausibility level of "
                                         "the low-confidence test.")] = 0.1,
    keep_rollouts: Annotated[bool, typer.Option(help="Write every rollout's text.")] = False,
    limit: Annotated[int | None, typer.Option(min=1, help="Read the first N rows only.")
                     ] = None,
    skip_invalid: SkipOpt = False,
) -> None:
    """Label every step by Monte-Carlo rollouts (Math-Shepherd): the share of K
    continuations from the step that reach the reference answer."""
    on_interrupt(not_written(out_file))
    result = api.label_rollouts(data, policy=policy, out=out_file, k=k, seed=seed,
                                temperature=temperature, top_p=top_p, max_tokens=max_tokens,
                                threshold=threshold, denoise=denoise.value, alpha=alpha,
                                keep_rollouts=keep_rollouts, limit=limit,
                                skip_invalid=skip_invalid)
    st = result.stats
    steps = int(st["steps"])
    share = f" ({st['positive'] / steps:.0%} positive)" if steps else ""
    out.print(f"wrote {result.n_rows} of {result.n_solutions} solutions into "
              f"[bold]{result.out}[/]: {steps} steps labelled{share} from "
              f"{int(st['rollouts'])} rollouts in {st['seconds']:.1f}s")
    if denoise != Denoise.none:
        out.print(f"{int(st['low_confidence'])} low-confidence step labels; "
                  f"{int(st['dropped'])} rows dropped")
    print_skipped(err, result.skipped, result.skipped_file)


label_app.command("simulate-users")(_cli_personal.simulate_users)


@app.command()
def demo(
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the result as JSON.")
                        ] = None,
    cache: Annotated[bool, typer.Option("--cache/--no-cache",
                                        help="Use the on-disk embedding cache.")] = True,
) -> None:
    """Train embed:minilm on bundled HH harmless pairs and evaluate it on held-out pairs."""
    out.print("[bold]rewardlab demo[/]: train [bold]embed:minilm[/] (frozen MiniLM + MLP head, "
              "Bradley–Terry) on Anthropic HH harmless pairs, evaluate on held-out prompts")
    on_interrupt(not_written(json_out))
    result = api.run_demo(cache=cache)
    out.print(pairwise_table(result.evaluation,
                             title=f"held-out HH harmless pairs (trained on {result.n_train})"))
    out.print(f"finished in {result.seconds:.1f}s: {result.encoded_texts} texts embedded "
              f"(the rest came from the cache); training took {result.timings['train']:.1f}s")
    if json_out is not None:
        write_json(json_out, {**result.evaluation.to_json(), "n_train": result.n_train,
                              "seconds": result.seconds, "encoded_texts": result.encoded_texts})
        out.print(f"wrote {json_out}")


@app.command()
def serve(
    model: Annotated[str, typer.Argument(help="Model spec or saved model directory.")],
    host: Annotated[str, typer.Option(help="Interface to listen on (0.0.0.0 for all).")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="Port to listen on.")] = 8000,
    token: Annotated[str | None, typer.Option(
        envvar="REWARDLAB_SERVE_TOKEN", show_default=False,
        help="Require 'Authorization: Bearer TOKEN' (also read from REWARDLAB_SERVE_TOKEN, "
             "which keeps it out of the process list).")] = None,
    max_batch: Annotated[int, typer.Option(min=1, help="Most items per model call (1: every "
                                           "item in a call of its own).")] = 64,
    max_wait_ms: Annotated[float, typer.Option(min=0.0, help="Longest an item waits for "
                                               "others to share its model call.")] = 5.0,
    max_request_items: Annotated[int, typer.Option(min=1, help="Most items in one request "
                                                   "(413 above).")] = 16384,
    max_body_mb: Annotated[float, typer.Option(min=0.001, help="Largest request body in MiB "
                                               "(413 above).")] = 128.0,
    device: Annotated[str | None, typer.Option(
        help="auto (a GPU when present), cpu, cuda, cuda:N or mps (seq: models).")] = None,
) -> None:
    """Serve a reward model over HTTP: OpenRLHF's POST /get_reward, POST /v1/score,
    GET /health and GET /metrics, with concurrent requests micro-batched."""
    from rewardlab.serve import ServeConfig, check_port, create_app, run

    check_port(host, port)  # before the model loads: a busy port fails at once
    config = ServeConfig(token=token, max_batch=max_batch, max_wait_ms=max_wait_ms,
                         max_request_items=max_request_items,
                         max_body_bytes=int(max_body_mb * 1024 * 1024))
    server = create_app(api.on_device(model, device) if device else model, config)
    url = f"http://{host}:{port}"
    out.print(f"serving [bold]{escape(model)}[/] on {url}: POST /get_reward (OpenRLHF "
              f"--remote_rm_url {url}/get_reward), POST /v1/score, GET /health, GET /metrics; "
              f"micro-batches of up to {max_batch} items, waiting at most {max_wait_ms:g} ms"
              + ("; bearer token required" if token else ""))
    run(server, host=host, port=port)


class BenchTies(StrEnum):
    half = "half"
    rewardbench = "rewardbench"


@app.command()
def bench(
    models: Annotated[list[str], typer.Argument(metavar="MODEL", help="Model specs or "
                                                "saved model directories; several are "
                                                "compared on the same rows.")],
    suite: Annotated[str, typer.Option(help="default (or another bundled suite), a suite "
                                       ".toml file, or a data file as a one-file suite.")
                     ] = "default",
    json_out: Annotated[Path | None, typer.Option("--json", help="Write everything as JSON.")
                        ] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write the table as a "
                                                  "self-contained HTML page.")] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Score the first N rows of every "
                                              "table row only (a quick look).")] = None,
    ties: Annotated[BenchTies, typer.Option(help="half, or rewardbench (a pair tie is a "
                                            "loss).")] = BenchTies.half,
    strict: Annotated[bool, typer.Option("--strict", help="Exit with status 1 when a row "
                                         "was skipped.")] = False,
    cache: Annotated[bool, typer.Option("--cache/--no-cache", help="Reuse cached scores.")
                     ] = True,
) -> None:
    """A RewardBench-style table over a suite of data sets: per-row and section scores with
    95% CIs beside length-only baselines; several models get a paired bootstrap test."""
    from rewardlab.bench import bench_tables, load_suite, run_bench, write_bench_html

    loaded = load_suite(suite)
    check_outputs({"--json": json_out, "--html": html_out},
                  {"--suite": suite, **{f"the data of task '{t.name}'": t.data
                                        for t in loaded.tasks}})
    on_interrupt(not_written(json_out, html_out))
    result = run_bench(models, loaded, ties=ties.value, limit=limit, cache=cache)
    for item in bench_tables(result):
        if isinstance(item, str):
            out.print(escape(item), soft_wrap=True)
        else:
            out.print(item)
    if json_out is not None:
        write_json(json_out, result.to_json())
        out.print(f"wrote {json_out}")
    if html_out is not None:
        write_bench_html(result, html_out)
        out.print(f"wrote {html_out}")
    if result.unscored_models:
        err.print(f"error: nothing was scored for {', '.join(result.unscored_models)}: every "
                  "row of the suite was skipped (the reasons are in the table above)")
        raise typer.Exit(1)
    if strict and result.any_skipped:
        raise typer.Exit(1)


class FailOn(StrEnum):
    never = "never"
    warn = "warn"
    flagged = "flagged"


@app.command()
def audit(
    model: Annotated[str, typer.Argument(help="Model spec or saved model directory.")],
    data: Annotated[str, typer.Argument(help="Pairwise or best-of-n data file (or "
                                        "bundled:NAME).")],
    probes: Annotated[str | None, typer.Option(help="Comma-separated probes (default all): "
                                               "length, master-keys, paraphrase, position, "
                                               "label-noise, over-optimisation, calibration."
                                               )] = None,
    html_out: Annotated[Path | None, typer.Option("--html", help="Write the self-contained "
                                                  "HTML report.")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write every figure as JSON.")
                        ] = None,
    max_pairs: Annotated[int, typer.Option(min=2, help="Pairs (or best-of-n problems) each "
                                           "probe that rewrites responses draws.")] = 32,
    reference_prompts: Annotated[int, typer.Option(min=2, help="AlpacaEval prompts the "
                                                   "length probe scores in three lengths.")
                                 ] = 16,
    length_references: Annotated[bool, typer.Option(
        "--length-references/--no-length-references", help="Also read the bundled AlpacaEval "
        "length and EvalBiasBench sets in the length probe.")] = True,
    best_of_n: Annotated[str | None, typer.Option(help="Best-of-n data with is_correct (or "
                                                  "--gold) for over-optimisation; default "
                                                  "DATA when it is best-of-n.")] = None,
    gold: Annotated[str | None, typer.Option(help="Gold reward model spec for "
                                             "over-optimisation.")] = None,
    master_key: Annotated[list[str] | None, typer.Option(
        help="An extra content-free response to try (repeatable).")] = None,
    noise_rates: Annotated[str, typer.Option(help="Label-flip rates of the label-noise "
                                             "probe.")] = "0,0.1,0.2,0.4",
    seed: Annotated[int, typer.Option(min=0, help="Seed of every sample and split.")] = 0,
    limit: Annotated[int | None, typer.Option(min=1, help="Read the first N rows of DATA "
                                              "only.")] = None,
    fail_on: Annotated[FailOn, typer.Option(help="Exit with status 1 when a probe's verdict "
                                            "is at least this (for CI).")] = FailOn.never,
) -> None:
    """Audit a reward model for hacking and bias: length, master keys, paraphrase, position,
    label noise, over-optimisation and calibration probes, with an HTML/JSON report."""
    from rewardlab.audit import AuditConfig
    from rewardlab.audit import audit as run_audit
    from rewardlab.audit._table import summary_table

    try:
        rates = tuple(float(r) for r in noise_rates.split(",") if r.strip())
    except ValueError:
        raise ConfigError(f"--noise-rates must be comma-separated numbers in [0, 0.5). Got "
                          f"{noise_rates!r}.") from None
    config = AuditConfig(
        probes=tuple(p for p in probes.split(",") if p.strip()) if probes else None,
        max_pairs=max_pairs, seed=seed, master_keys=tuple(master_key or ()),
        noise_rates=rates, best_of_n=best_of_n, gold=gold,
        length_references=length_references, reference_prompts=reference_prompts)
    on_interrupt(not_written(html_out, json_out))
    result = run_audit(model, data, config=config, html=html_out, json_out=json_out,
                       limit=limit)
    out.print(summary_table(result))
    for probe in result.skipped:
        err.print(f"[yellow]skipped {escape(probe.name)}:[/] {escape(probe.reason or '')}")
    for path in (html_out, json_out):
        if path is not None:
            out.print(f"wrote {path}")
    if result.probes and not result.ran:
        err.print("error: no probe ran: every probe asked for was skipped (reasons above), "
                  "so the audit says nothing about the model")
        raise typer.Exit(1)
    levels = {"ok": 0, "warn": 1, "flagged": 2}
    if fail_on != FailOn.never and levels[result.worst] >= levels[fail_on.value]:
        raise typer.Exit(1)


app.command("inspect")(_cli_inspect.inspect)
app.command("select")(_cli_inspect.select)
app.command("forecast")(_cli_inspect.forecast)


def _interrupted(exc: BaseException) -> bool:
    """Whether ``exc`` comes from Ctrl-C: typer turns KeyboardInterrupt into a silent
    ``Exit(130)``, so the SystemExit that reaches ``main`` carries it as its cause."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return False
        if isinstance(seen, KeyboardInterrupt):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _say_interrupted() -> None:
    note = _common.kept() if _common.kept is not None else ""
    err.print(f"interrupted{': ' + note if note else ''}", markup=False, highlight=False,
              soft_wrap=True)


def main() -> None:
    """Entry point: run the app, turning rewardlab's own errors into one clean line."""
    _common.kept = None
    try:
        app()
    except RewardLabError as exc:
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        _say_interrupted()
        sys.exit(130)
    except SystemExit as exc:
        if exc.code == 130 and _interrupted(exc):
            _say_interrupted()
        raise


if __name__ == "__main__":
    main()
