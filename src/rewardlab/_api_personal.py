"""The API of attribute and personalised reward models: training from named sets, adapting
to users, simulating users. ``rewardlab.api`` re-exports these; the CLI calls them.

Kept apart from ``api.train`` so the general training path stays one function: a ``multi:``
model takes several named data sets (``--data harmless=FILE``) and a ``personal:`` model
takes users' pairs after training (``--adapt FILE``), and neither goes through the noise
or ensemble options (a ``multi:seq:`` model does take checkpoints, ``--resume`` and workers,
by ``api.train``'s rules in ``_api_fit.py``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from rewardlab._api_fit import (
    check_resumable,
    check_train_outputs,
    check_workers,
    checkpoint_dir_for,
    launcher_for,
)
from rewardlab._io import check_outputs, report_skipped, write_json, write_jsonl
from rewardlab.data import DEFAULT_MAX_CHARS, Dataset, SkippedRow, Task, load_dataset
from rewardlab.errors import CapabilityError, ConfigError, DataError
from rewardlab.models._clone import clone
from rewardlab.models._saved import check_model_target
from rewardlab.models.base import (
    AttributeScorer,
    FitOptions,
    Resumable,
    RewardModel,
    Saveable,
    UserScorer,
    describe,
    require_capability,
)
from rewardlab.models.registry import resolve

__all__ = ["AdaptResult", "AttributeTrainResult", "SimulateResult", "adapt_users",
           "parse_named_data", "simulate_users_file", "train_attributes", "with_conditions"]


def parse_named_data(items: Sequence[str]) -> dict[str, str]:
    """``["harmless=a.jsonl", "helpful=b.jsonl"]`` as ``{name: file}``; a single ``.toml``
    file holds the same as ``[data]`` ``harmless = "a.jsonl"`` (paths relative to it).

    Raises:
        ConfigError: an item is not ``NAME=FILE``, or a name is given twice; the TOML file
            cannot be read or parsed.
        DataError: a set in the TOML file's ``[data]`` is not a file name (names the key).
    """
    if len(items) == 1 and items[0].endswith(".toml") and "=" not in items[0]:
        import tomllib

        path = Path(items[0])
        try:
            # utf-8-sig: a byte-order mark (Windows editors) is not a TOML error
            table = tomllib.loads(path.read_text(encoding="utf-8-sig")).get("data")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read the data sets from {path}: {exc}") from None
        if not isinstance(table, dict) or not table:
            raise ConfigError(f"{path} has no [data] table naming the sets (harmless = "
                              "\"harmless.jsonl\")")
        for k, v in table.items():
            if not isinstance(v, str) or not v.strip():
                got = f"got {type(v).__name__}" if not isinstance(v, str) else "got an empty one"
                raise DataError(f"must be a file name in quotes (harmless = \"harmless.jsonl\"), "
                                f"{got}", file=str(path), field=f"data.{k}")
        return {str(k): (v if v.startswith("bundled:") else str(path.parent / v))
                for k, v in table.items()}
    out: dict[str, str] = {}
    for item in items:
        name, sep, file = item.partition("=")
        if not sep and item.endswith(".toml") and len(items) > 1:
            raise ConfigError(f"a .toml file ({item}) names every set itself; give it as the "
                              "only --data, or give every set as NAME=FILE")
        if not sep or not name or not file:
            raise ConfigError(f"--data takes NAME=FILE (e.g. harmless=harmless.jsonl); got "
                              f"{item!r}")
        if name in out:
            raise ConfigError(f"--data names the set '{name}' twice")
        out[name] = file
    return out


@dataclass(frozen=True)
class AttributeTrainResult:
    """What ``train_attributes`` did (the fields of ``api.TrainResult``); ``report`` has
    ``pairs_per_attribute``."""

    model: RewardModel
    n_train: int
    out: Path | None
    history: list[dict[str, Any]]
    seconds: float
    skipped: tuple[SkippedRow, ...] = ()
    skipped_file: Path | None = None
    encoded_texts: int = 0
    report: dict[str, Any] = field(default_factory=dict)


def train_attributes(model: str | Path | RewardModel, sets: Mapping[str, str | Path | Dataset],
                     *, out: str | Path | None = None, params: dict[str, Any] | None = None,
                     format: Task | None = None, skip_invalid: bool = False,
                     max_chars: int = DEFAULT_MAX_CHARS, limit: int | None = None,
                     eval_data: str | Path | Dataset | None = None, resume: bool = False,
                     workers: int = 1, strategy: str = "ddp", ray: bool = False,
                     address: str | None = None, gpus_per_worker: float = 0.0
                     ) -> AttributeTrainResult:
    """Train a ``multi:`` model, one head per named set, and save it to ``out``.

    Args:
        eval_data: held-out pairs scored once at the end with the model's combined reward
            (``report["eval_accuracy"]``).
        resume, workers, strategy, ray, address, gpus_per_worker: as for ``api.train``, for a
            ``multi:seq:`` model (checkpoints in ``OUT.checkpoints``; every step's batch of
            all attributes' pairs split between the workers). A ``multi:embed:`` model refuses
            them (``CapabilityError``).
    """
    from rewardlab.evaluate.pairwise import evaluate_pairwise
    from rewardlab.train.checkpoint import remove_checkpoints

    start = time.perf_counter()
    check_outputs({"--out": out}, {**{f"--data {k}": v for k, v in sets.items()},
                                   "--eval-data": eval_data}, skipped_files=True)
    check_workers(workers, strategy, address if ray else None)
    rm = resolve(model)
    if params:
        rm = clone(rm, **params)
    if not isinstance(rm, AttributeScorer):
        raise CapabilityError(f"--data NAME=FILE trains one head per named set, which only "
                              f"multi: models have; '{describe(rm)}' is not one (give its "
                              "data as DATA)")
    launcher = launcher_for(rm, workers, ray=ray, address=address,
                            gpus_per_worker=gpus_per_worker)
    check_resumable(rm, resume)
    if out is not None:
        require_capability(rm, Saveable, "be saved")
        check_train_outputs(rm, Path(out), resume=resume)
    elif resume:
        raise ConfigError("--resume continues the run saving to --out (its checkpoints are in "
                          "OUT.checkpoints); give --out")
    loaded = {name: (d if isinstance(d, Dataset) else
                     load_dataset(d, format=format, skip_invalid=skip_invalid,
                                  max_chars=max_chars, limit=limit))
              for name, d in sets.items()}
    held_out = eval_data if eval_data is None or isinstance(eval_data, Dataset) else \
        load_dataset(eval_data, format=format, max_chars=max_chars)
    checkpoints = None if out is None else checkpoint_dir_for(out)
    if isinstance(rm, Resumable):
        rm.fit_resumable(loaded, FitOptions(  # type: ignore[arg-type]
            checkpoint_dir=checkpoints, resume=resume, workers=workers, launcher=launcher,
            strategy=strategy))
    else:
        rm.fit(loaded)  # type: ignore[attr-defined]
    report: dict[str, Any] = {"pairs_per_attribute": {k: len(d) for k, d in loaded.items()}}
    if held_out is not None:
        report["eval_accuracy"] = evaluate_pairwise(rm, held_out).overall.accuracy
    skipped: tuple[SkippedRow, ...] = tuple(s for d in loaded.values() for s in d.skipped)
    skipped_file = None
    if out is not None:
        rm.save(out)  # type: ignore[attr-defined]
        skipped_file = report_skipped(skipped, Path(out))
        if checkpoints is not None:
            remove_checkpoints(checkpoints)
    return AttributeTrainResult(model=rm, n_train=sum(len(d) for d in loaded.values()),
                       out=None if out is None else Path(out),
                       history=list(getattr(rm, "history_", [])),
                       seconds=time.perf_counter() - start, skipped=skipped,
                       skipped_file=skipped_file,
                       encoded_texts=getattr(rm.encoder, "encoded_texts", 0),  # type: ignore
                       report=report)


@dataclass(frozen=True)
class AdaptResult:
    """What ``adapt_users`` did: pairs used per user, where the model went, how long."""

    pairs_per_user: dict[str, int]
    out: Path
    seconds: float
    skipped: tuple[SkippedRow, ...] = ()
    #: users the model already had, whose weights were re-fitted from these pairs alone
    replaced: tuple[str, ...] = ()


def adapt_users(model: str | Path | RewardModel, data: str | Path | Dataset, *,
                out: str | Path, format: Task | None = None, skip_invalid: bool = False,
                max_chars: int = DEFAULT_MAX_CHARS) -> AdaptResult:
    """Fit the users in ``data`` (pairs with a ``user`` column) into a trained ``personal:``
    model, its basis untouched, and save the result to ``out`` (may be the model's own
    directory).

    Raises:
        CapabilityError: the model is not personal.
    """
    check_outputs({"--out": out}, {"--adapt": data}, skipped_files=True)
    rm = resolve(model)
    if not isinstance(rm, UserScorer) or not hasattr(rm, "adapt"):
        raise CapabilityError(f"--adapt fits users into a personal: model's basis; model "
                              f"'{describe(rm)}' is not personal (train one with --model "
                              "personal:embed:minilm)")
    check_model_target(out)
    dataset = data if isinstance(data, Dataset) else load_dataset(
        data, format=format, skip_invalid=skip_invalid, max_chars=max_chars)
    known = set(getattr(rm, "user_weights_", None) or ())
    start_fit = time.perf_counter()
    used = rm.adapt(dataset)
    seconds = time.perf_counter() - start_fit
    rm.save(out)  # type: ignore[attr-defined]
    report_skipped(dataset.skipped, Path(out))
    return AdaptResult(used, Path(out), seconds, dataset.skipped,
                       replaced=tuple(u for u in used if u in known))


def with_conditions(data: Dataset[Any], *, weights: str | None = None,
                    user: str | None = None, model: RewardModel | None = None
                    ) -> Dataset[Any]:
    """``data`` with ``weights`` / ``user`` filled in on every row that has none of its own
    (``score --weights`` / ``--user``: a row's own column wins).

    With ``model``, ``weights`` are checked against it first, so a mistake in the option is
    reported as the option's, not as the first row's ``weights`` column.
    """
    from rewardlab.data import parse_weights, user_key

    if weights is None and user is None:
        return data
    if user is not None:
        user = user_key(user)
        if user is None:
            raise ConfigError("--user names no user; give a user id the model was adapted "
                              "to, or leave --user out for the population mixture")
    parsed = None
    if weights is not None:
        try:
            parsed = parse_weights(weights, "--weights")
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if model is not None and not isinstance(model, AttributeScorer):
            raise ConfigError(f"--weights steer a multi: model's attributes; model "
                              f"'{describe(model)}' has no attribute heads (drop --weights)")
        if model is not None:
            try:
                model.check_weights(parsed)
            except ConfigError as exc:
                raise ConfigError(f"--weights: {exc}") from None
    for option, value, field_name in (("--weights", weights, "weights"), ("--user", user, "user")):
        if value is not None and data.records and not hasattr(data.records[0], field_name):
            raise ConfigError(f"{option} applies to pairwise, pointwise and best-of-n rows; "
                              f"{data.source} holds {data.task} rows (drop {option})")
    records = []
    for r in data.records:
        changes: dict[str, Any] = {}
        if parsed is not None and hasattr(r, "weights") and r.weights is None:
            changes["weights"] = parsed
        if user is not None and hasattr(r, "user") and r.user is None:
            changes["user"] = user
        records.append(replace(r, **changes) if changes else r)
    return replace(data, records=tuple(records))


@dataclass(frozen=True)
class SimulateResult:
    """What ``simulate_users_file`` wrote."""

    n_rows: int
    n_users: int
    out: Path
    recipe_file: Path


def simulate_users_file(heads: str | Path | RewardModel, pool: Sequence[str | Path], *,
                        out: str | Path, users: int, pairs_per_user: int, seed: int = 0,
                        alpha: float = 0.3, first_user: int = 0,
                        max_chars: int = DEFAULT_MAX_CHARS) -> SimulateResult:
    """``rewardlab label simulate-users``: label pairs of the ``pool`` files by simulated
    users (``rewardlab.label.simulate_users``) into ``out`` (JSONL), the recipe beside it in
    ``OUT.recipe.json``."""
    from rewardlab.label.simulate import pool_from, simulate_users

    out = Path(out)
    recipe_file = out.with_name(out.name + ".recipe.json")
    # every --data file is an input --out must not replace, not only the first
    check_outputs({"--out": out, "recipe": recipe_file},
                  {"--data" if i == 0 else f"--data #{i + 1}": p for i, p in enumerate(pool)},
                  jsonl=True)
    twice = next((p for i, p in enumerate(pool) if str(p) in map(str, pool[:i])), None)
    if twice is not None:
        raise ConfigError(f"--data names {twice} twice: its pairs would enter the pool twice "
                          "and a user could label the same pair twice; give each file once")
    rm = resolve(heads)
    data = pool_from([load_dataset(p, format="pairwise", max_chars=max_chars) for p in pool])
    result = simulate_users(rm, data, users=users, pairs_per_user=pairs_per_user, seed=seed,
                            alpha=alpha, first_user=first_user)
    n = write_jsonl(out, result.rows)
    write_json(recipe_file, result.recipe)
    return SimulateResult(n, users, out, recipe_file)
