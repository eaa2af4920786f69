"""``rewardlab`` commands and helpers for attribute (``multi:``) and personalised
(``personal:``) reward models: ``train --data NAME=FILE`` / ``--adapt FILE`` (called by
``train``), the population-fallback note of ``score``, and ``label simulate-users``."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from rewardlab import api
from rewardlab._cli_common import MaxCharsOpt, err, not_written, on_interrupt, out
from rewardlab._console import print_skipped
from rewardlab.data import DEFAULT_MAX_CHARS
from rewardlab.errors import ConfigError

__all__ = ["say_eval_population", "say_population", "simulate_users", "train_special"]


#: ``train``'s options about the run (not the model's config), at their defaults: read from
#: ``api.train``'s signature, the defaults plain ``train`` runs with, so the two cannot drift.
RUN_DEFAULTS: dict[str, Any] = {
    name: inspect.signature(api.train).parameters[name].default
    for name in ("eval_data", "resume", "workers", "strategy", "ray", "address",
                 "gpus_per_worker", "ensemble", "inject_noise", "noise_robust", "noise_rate")}
#: Of those, what training from named sets does not do (``api.train`` only).
_NOT_FOR_NAMED = ("ensemble", "inject_noise", "noise_robust", "noise_rate")


def _flags(names: Any) -> str:
    return ", ".join(f"--{k.replace('_', '-')}" for k in names)


def train_special(data: str | None, out_dir: Path, model: str, named: list[str] | None,
                  adapt: str | None, soft_labels: bool, given: dict[str, Any],
                  format: Any, skip_invalid: bool, max_chars: int, limit: int | None,
                  run: dict[str, Any] | None = None) -> None:
    """``train --data NAME=FILE ...`` (a ``multi:`` model, one head per set) or ``train
    --model DIR --adapt USERS`` (users fitted into a ``personal:`` model). ``run``: the
    run options (``RUN_DEFAULTS``' keys) as given; one that does not apply is refused by
    name, never ignored."""
    from rewardlab._api_personal import parse_named_data

    run = {**RUN_DEFAULTS, **(run or {})}
    changed = [k for k, v in run.items() if v != RUN_DEFAULTS[k]]

    if named and adapt:
        raise ConfigError("--data NAME=FILE trains a multi: model and --adapt fits users into "
                          "a personal: one; give one of them")
    if adapt and data is not None and model == "embed:minilm" and (
            data.startswith("personal:") or Path(data).is_dir()):
        # `train personal:DIR --adapt USERS`: the model given where the data would go, with
        # --model left at its default, can only mean the model to adapt
        data, model = None, data
    if data is not None:
        raise ConfigError(f"DATA ({data}) and {'--data' if named else '--adapt'} both name "
                          "training data; give the sets with --data NAME=FILE only"
                          if named else f"--adapt fits users into a trained model; DATA "
                          f"({data}) has no place here (give the model as --model DIR)")
    if adapt:
        on_interrupt(lambda: f"no model saved to {out_dir}")
        ignored = [f"--{k.replace('_', '-')}" for k, v in given.items() if v is not None]
        ignored += [_flags([k]) for k in changed]
        ignored += ["--soft-labels"] if soft_labels else []
        ignored += ["--limit"] if limit is not None else []
        if ignored:
            raise ConfigError(f"--adapt only fits users' weights over the saved basis; "
                              f"{', '.join(ignored)} do not apply to it (train a new model "
                              "with them instead)")
        spec = model.removeprefix("personal:") if Path(model.removeprefix("personal:")
                                                       ).is_dir() else model
        result = api.adapt_users(spec, adapt, out=out_dir, format=format,
                                 skip_invalid=skip_invalid, max_chars=max_chars)
        users = result.pairs_per_user
        share = sum(users.values())
        out.print(f"adapted {len(users)} user(s) from {share} pairs in "
                  f"{result.seconds:.2f}s ({result.seconds / max(len(users), 1):.3f}s per "
                  f"user, embedding included); saved to [bold]{result.out}[/]")
        if result.replaced:
            names = ", ".join(result.replaced[:10]) + (" ..." if len(result.replaced) > 10
                                                       else "")
            err.print(f"note: {len(result.replaced)} user(s) were already in the model; their "
                      f"weights were re-fitted from these pairs alone: {escape(names)}")
        print_skipped(err, result.skipped, None)
        return
    refused = [k for k in changed if k in _NOT_FOR_NAMED]
    if refused:
        verb = "does" if len(refused) == 1 else "do"
        raise ConfigError(f"{_flags(refused)} {verb} not apply to training a multi: model from "
                          "named sets (--data NAME=FILE): drop it, or give one file with a "
                          "'subset' column as DATA")
    checkpoints = api.checkpoint_dir_for(out_dir)
    on_interrupt(lambda: f"no model saved to {out_dir}" + (
        f"; the checkpoints in {checkpoints} are kept (continue with --resume)"
        if checkpoints.is_dir() else ""))
    params = {k: v for k, v in given.items() if v is not None}
    if soft_labels:
        params["soft_labels"] = True
    result = api.train_attributes(model, parse_named_data(named or []), out=out_dir,
                                  params=params, format=format, skip_invalid=skip_invalid,
                                  max_chars=max_chars, limit=limit,
                                  **{k: run[k] for k in RUN_DEFAULTS if k not in _NOT_FOR_NAMED})
    sets = ", ".join(f"{k} ({v} pairs)" for k, v in result.report["pairs_per_attribute"].items())
    embedded = (f" ({result.encoded_texts} texts embedded, the rest from cache)"
                if result.encoded_texts else "")
    out.print(f"trained [bold]{model}[/] heads {sets} in {result.seconds:.1f}s{embedded}")
    for h in result.history:
        out.print(f"  {h['attribute']}: train accuracy {100 * h['accuracy']:.1f}%, "
                  f"loss {h['loss']:.4f}")
    if "eval_accuracy" in result.report:
        out.print(f"held-out accuracy on {run['eval_data']} (combined reward): "
                  f"{100 * result.report['eval_accuracy']:.1f}%")
    out.print(f"saved to [bold]{result.out}[/]; steer it with "
              f"{result.out}?weights=NAME:W,... or score --weights NAME=W,...")
    print_skipped(err, result.skipped, result.skipped_file)


def say_population(users: Sequence[str], marked: str = " (user_fit: population)") -> None:
    """Say which users a personalised model had no data from (scored with its population
    mixture), so the fallback is never silent; ``marked``: where the output says so per
    row, if it does."""
    if users:
        shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
        err.print(f"[yellow]{len(users)} user(s) have no adaptation data ({shown}); their "
                  f"rows were scored with the population mixture{marked}. "
                  "Fit them with `rewardlab train --model DIR --adapt PAIRS --out DIR`.[/]")


def say_unused_users(rows: int, model: Any) -> None:
    """Say that the data's ``user`` column changed nothing: the model gives every user the
    same reward, which a user who expected personal scores should hear."""
    if rows:
        err.print(f"[yellow]{rows} row(s) name a user, but model '{model}' is not "
                  "personalised: every user got the same reward (train a personal: model "
                  "to score per user).[/]")


def say_eval_population(result: Any) -> None:
    """After ``eval`` of a personal model: per-user accuracy against k (when the data has
    users), and which pairs were scored with the population mixture (users without
    adaptation data, or data without a ``user`` column)."""
    by_k = getattr(result, "accuracy_vs_k", None)
    skipped = (getattr(result, "per_user", None) or {}).get("accuracy_vs_k_skipped")
    if skipped:
        err.print(f"[yellow]per-user accuracy against k not measured: {skipped}[/]")
    if by_k:
        curve = ", ".join(f"k={r['k']} {100 * r['per_user_accuracy_mean']:.1f}%"
                          for r in by_k["rows"])
        out.print(f"per-user accuracy on each user's last quarter of pairs, adapted from k of "
                  f"their earlier pairs: {curve}")
    say_population(getattr(result, "population_users", None) or (), marked="")  # best-of-n
    pairs = getattr(result, "population_pairs", None)
    if not pairs:
        return
    per_user = getattr(result, "per_user", None) or {}
    n_users = per_user.get("users_scored_with_population", 0)
    no_user = per_user.get("pairs_without_user", 0)
    if no_user:
        err.print(f"[yellow]{no_user} pair(s) have no 'user': scored with the population "
                  "mixture, and counted as one user in the per-user figures.[/]")
    if n_users:
        shown = ", ".join(per_user.get("users_scored_with_population_examples", []))
        more = f" and {n_users - 5} more" if n_users > 5 else ""
        err.print(f"[yellow]{n_users} user(s) have no adaptation data ({shown}{more}); their "
                  f"{pairs - no_user} pair(s) were scored with the population mixture. Fit "
                  "them with "
                  "`rewardlab train --model DIR --adapt PAIRS --out DIR`.[/]")
    elif not no_user:
        err.print(f"[yellow]no pair names a user the model was adapted to (the data has no "
                  "'user' column, or DIR?user=NAME names an unknown one): all "
                  f"{pairs} pair(s) were scored with the population mixture (add a 'user' "
                  "column, or name an adapted user with DIR?user=NAME).[/]")


def simulate_users(
    heads: Annotated[str, typer.Option(help="A trained multi: model: its attribute heads "
                                       "are the users' preference directions.")],
    data: Annotated[list[str], typer.Option("--data", help="Real pairs to relabel "
                                            "(repeatable; bundled:NAME works).")],
    out_file: Annotated[Path, typer.Option("--out", "-o", help="Output JSONL (one 'user' "
                                           "column); the recipe goes to OUT.recipe.json.")],
    users: Annotated[int, typer.Option(min=1, help="How many users.")] = 200,
    pairs_per_user: Annotated[int, typer.Option(min=1, help="Pairs each user labels.")] = 64,
    seed: Annotated[int, typer.Option(min=0, help="Random seed (mixtures and pairs).")] = 0,
    alpha: Annotated[float, typer.Option(min=0.001, help="Dirichlet concentration: small = "
                                         "users lean on few attributes.")] = 0.3,
    first_user: Annotated[int, typer.Option(min=0, help="Number of the first user, so "
                                            "held-out users can be disjoint.")] = 0,
    max_chars: MaxCharsOpt = DEFAULT_MAX_CHARS,
) -> None:
    """Simulated users from real data (PersonalLLM): each a Dirichlet mixture over a multi:
    model's heads, labelling real pairs by its own mixture."""
    on_interrupt(not_written(out_file))
    result = api.simulate_users_file(heads, data, out=out_file, users=users,
                                     pairs_per_user=pairs_per_user, seed=seed, alpha=alpha,
                                     first_user=first_user, max_chars=max_chars)
    out.print(f"wrote {result.n_rows} pairs by {result.n_users} simulated users into "
              f"[bold]{result.out}[/]; recipe in {result.recipe_file}")
