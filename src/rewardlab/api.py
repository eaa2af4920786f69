"""The high-level Python API; the CLI is a thin layer over these functions.

Each function takes a model spec (or model) and a data path (or ``Dataset``), does one job,
writes what it was asked to write, and returns a result object; nothing here prints.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rewardlab._api_fit import check_resumable as _check_resumable
from rewardlab._api_fit import check_train_outputs as _check_train_outputs
from rewardlab._api_fit import check_workers as _check_workers
from rewardlab._api_fit import checkpoint_dir_for
from rewardlab._api_fit import launcher_for as _launcher
from rewardlab._io import check_outputs, report_skipped, write_json, write_jsonl
from rewardlab.data import (
    DEFAULT_MAX_CHARS,
    Dataset,
    SkippedRow,
    Task,
    load_data,
    load_dataset,
    require_task,
    split_by_prompt,
)
from rewardlab.errors import CapabilityError, ConfigError, OutputError
from rewardlab.evaluate.best_of_n import BestOfNResult, evaluate_best_of_n
from rewardlab.evaluate.pairwise import PairwiseResult, evaluate_pairwise
from rewardlab.evaluate.process import ProcessResult, evaluate_process
from rewardlab.models._clone import clone
from rewardlab.models.base import (
    FitOptions,
    NoiseAware,
    PairwiseJudge,
    Resumable,
    RewardModel,
    Saveable,
    Trainable,
    describe,
    require_capability,
)
from rewardlab.models.registry import resolve
from rewardlab.scoring import iter_scored_rows, row_reasons, skip_unscorable
from rewardlab.train.checkpoint import remove_checkpoints

if TYPE_CHECKING:
    from rewardlab.scale import DistributedScoreResult

from rewardlab._api_personal import (
    AdaptResult,
    AttributeTrainResult,
    SimulateResult,
    adapt_users,
    simulate_users_file,
    train_attributes,
)

__all__ = [
    "AdaptResult",
    "AttributeTrainResult",
    "DemoResult",
    "InjectResult",
    "RolloutLabelResult",
    "ScoreResult",
    "SimulateResult",
    "TrainResult",
    "adapt_users",
    "checkpoint_dir_for",
    "evaluate",
    "forecast",
    "inject_errors",
    "inspect_data",
    "judge_options",
    "label_rollouts",
    "load_data",
    "on_device",
    "run_demo",
    "score",
    "score_distributed",
    "select_to_label",
    "simulate_users_file",
    "train",
    "train_attributes",
]


def _with_params(model: RewardModel, params: dict[str, Any] | None) -> RewardModel:
    """A fresh copy of ``model`` with some config fields replaced (``--epochs``, ``--lr``,
    ...); the model itself when there are none. An option the model does not have is named
    as the user gave it (``--soft-labels``, ``--lora``), not as a config field or as
    ``clone()``'s keyword."""
    if not params:
        return model
    from dataclasses import fields, is_dataclass

    from rewardlab.models._clone import Composite

    config = getattr(model, "config", None)
    if is_dataclass(config) and not isinstance(model, Composite):
        names = {f.name for f in fields(config)}
        unknown = sorted(set(params) - names)
        if unknown:
            flags = ", ".join("--" + k.replace("_", "-") for k in unknown)
            raise ConfigError(f"{flags} {'does' if len(unknown) == 1 else 'do'} not apply to "
                              f"model '{describe(model)}', which has no such option; its "
                              f"options: {', '.join(sorted(names))}")
    return clone(model, **params)


@dataclass(frozen=True)
class TrainResult:
    """What ``train`` did: the fitted model, where it was saved, and the training log.

    ``report`` holds what the options changed: ``flipped`` (``inject_noise``), the
    ``noise_filter`` summary (``noise_robust``), ``eval_accuracy`` (``eval_data``).
    """

    model: RewardModel
    n_train: int
    out: Path | None
    history: list[dict[str, float]]
    seconds: float
    skipped: tuple[SkippedRow, ...] = ()
    skipped_file: Path | None = None
    encoded_texts: int = 0
    report: dict[str, Any] = field(default_factory=dict)


def train(
    model: str | Path | RewardModel,
    data: str | Path | Dataset[Any],
    *,
    out: str | Path | None = None,
    params: dict[str, Any] | None = None,
    format: Task | None = None,
    skip_invalid: bool = False,
    max_chars: int = DEFAULT_MAX_CHARS,
    eval_data: str | Path | Dataset[Any] | None = None,
    ensemble: int = 0,
    inject_noise: float = 0.0,
    noise_robust: bool = False,
    noise_rate: float = 0.2,
    resume: bool = False,
    limit: int | None = None,
    workers: int = 1,
    strategy: str = "ddp",
    ray: bool = False,
    address: str | None = None,
    gpus_per_worker: float = 0.0,
) -> TrainResult:
    """Train a trainable model on ``data`` and, with ``out``, save it there.

    Args:
        eval_data: held-out pairs, scored after every epoch where the model supports it
            (``seq:``) and once at the end otherwise.
        ensemble: train this many members (seeds and bootstrap samples) as one ensemble.
        inject_noise: flip this share of training pairs first (seeded; for experiments).
        noise_robust: train despite flipped labels, assuming a share ``noise_rate`` of them:
            ``embed:`` heads use the noise-aware likelihood with cross-validated stopping
            (``train.loop.train_noise_aware_head``); other models, and ensembles, drop that
            share of pairs by co-filtering (``label.noise.co_filter``) before training.
        resume: continue a ``seq:`` run from the checkpoints beside ``out``.
        limit: train on the first N valid rows only (a quick trial run).
        workers, strategy: train a ``seq:`` model on this many local processes
            (``torch.distributed``; ``ddp``: each holds the whole model, ``fsdp``: each holds
            a shard of the weights, gradients and optimiser state); each step's global batch
            is split between them, so the weights match one process's.
        ray, address, gpus_per_worker: run those workers on a Ray cluster (Ray Train),
            restarted from the last checkpoint when one dies.

    Example:
        >>> result = train("embed:minilm?epochs=2", "bundled:hh_harmless",
        ...                out=tmp / "rm")  # doctest: +SKIP
    """
    from rewardlab.label.noise import co_filter, inject_label_noise
    from rewardlab.models.ensemble import train_ensemble

    start = time.perf_counter()
    check_outputs({"--out": out}, {"DATA": data, "--eval-data": eval_data}, skipped_files=True)
    _check_workers(workers, strategy, address if ray else None)
    base = resolve(model)
    require_capability(base, Trainable, "train")
    rm = _with_params(base, params)
    launcher = _launcher(rm, workers, ray=ray, address=address,
                         gpus_per_worker=gpus_per_worker, ensemble=ensemble)
    if out is not None:
        require_capability(rm, Saveable, "be saved")
        _check_train_outputs(rm, Path(out), resume=resume)
    dataset = load_data(data, format=format, skip_invalid=skip_invalid, max_chars=max_chars,
                        limit=limit)
    held_out = None if eval_data is None else load_data(eval_data, format=format,
                                                        max_chars=max_chars)
    report: dict[str, Any] = {}
    training = dataset
    seed = int(getattr(getattr(rm, "config", None), "seed", 0))
    if inject_noise:
        training, flipped = inject_label_noise(training, inject_noise, seed=seed)
        report["flipped"] = len(flipped)
    # heads over cached features refit cheaply, so they cross-validate a noise-aware fit;
    # other models, and ensembles, drop implausible pairs with cross-fitted peers first
    noise_aware = noise_robust and not ensemble and isinstance(rm, NoiseAware)
    if noise_robust and not noise_aware:
        training, filtered = co_filter(lambda peer_seed: clone(rm, seed=peer_seed),
                                       training, drop_rate=noise_rate, seed=seed)
        report["noise_filter"] = {"method": "co-filtering", **filtered.to_json()}
    checkpoints = None if out is None else checkpoint_dir_for(out)
    _check_resumable(rm, resume)
    options = FitOptions(eval_data=held_out, checkpoint_dir=checkpoints, resume=resume,
                         noise_rate=noise_rate if noise_aware else 0.0, workers=workers,
                         launcher=launcher, strategy=strategy)
    if ensemble:
        rm = train_ensemble(rm, training, ensemble)
    elif isinstance(rm, Resumable):
        rm.fit_resumable(training, options)
    elif noise_aware:
        rm.fit_noise_aware(training, options)  # type: ignore[union-attr]
        report["noise_filter"] = rm.noise_report_  # type: ignore[union-attr]
    else:
        rm.fit(training)
    skipped_file = None
    if out is not None:
        rm.save(out)  # type: ignore[attr-defined]
        skipped_file = report_skipped(dataset.skipped, Path(out))
        if checkpoints is not None:
            remove_checkpoints(checkpoints)
    history = list(getattr(rm, "history_", []))
    if held_out is not None and not any("eval_accuracy" in h for h in history):
        report["eval_accuracy"] = evaluate_pairwise(rm, held_out).overall.accuracy
    elif history and "eval_accuracy" in history[-1]:
        report["eval_accuracy"] = history[-1]["eval_accuracy"]
    encoder = getattr(rm, "encoder", None) or getattr(
        next(iter(getattr(rm, "members", [])), None), "encoder", None)
    return TrainResult(
        model=rm,
        n_train=len(training),
        out=Path(out) if out is not None else None,
        history=history,
        seconds=time.perf_counter() - start,
        skipped=dataset.skipped,
        skipped_file=skipped_file,
        encoded_texts=getattr(encoder, "encoded_texts", 0),
        report=report,
    )


def on_device(model: str | Path | RewardModel, device: str) -> RewardModel:
    """``model`` loaded on ``device`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``, ``mps``), for
    ``serve --device``; a model without a ``device`` option is a ``CapabilityError``."""
    rm = resolve(model)
    config = getattr(rm, "config", None)
    if "device" in getattr(rm, "scoring_options", ()):  # trained heads a clone would drop
        return rm.with_options({"device": device})  # type: ignore[attr-defined]
    if config is None or not hasattr(config, "device"):
        raise CapabilityError(f"model '{describe(rm)}' has no device option (--device applies "
                              "to seq: models; embed: and prm: encoders and judge:hf use a "
                              "GPU when there is one)")
    return clone(rm, device=device)


def evaluate(
    model: str | Path | RewardModel,
    data: str | Path | Dataset[Any],
    *,
    json_out: str | Path | None = None,
    html: str | Path | None = None,
    ties: str = "half",
    format: Task | None = None,
    skip_invalid: bool = False,
    max_chars: int = DEFAULT_MAX_CHARS,
    limit: int | None = None,
) -> PairwiseResult | BestOfNResult | ProcessResult:
    """Evaluate ``model``; with ``json_out``, write the result as JSON; with ``html``, as one
    self-contained page (with each attribute's reward distribution for a ``multi:`` model and
    accuracy against pairs per user for a ``personal:`` one).

    Pairwise data gives pairwise accuracy (``PairwiseResult``); best-of-n data with
    ``is_correct`` labels gives best-of-n accuracy beside the oracle, random and majority-vote
    pickers (``BestOfNResult``). A verifier (``ReferenceScorer``) is given each best-of-n
    row's reference answer. Step-labelled data gives a process reward model's first-error
    accuracy and F1 beside the trivial baselines (``ProcessResult``). ``limit``: the first N
    valid rows only (a quick look, e.g. at a slow judge).
    """
    check_outputs({"--json": json_out}, {"DATA": data}, skipped_files=True)
    check_outputs({"--json": json_out, "--html": html}, {"DATA": data})
    rm = resolve(model)
    dataset = load_data(data, format=format, skip_invalid=skip_invalid, max_chars=max_chars,
                        limit=limit)
    if skip_invalid:  # rows the model refuses (no reference, unknown attributes)
        dataset = skip_unscorable(rm, dataset)
    require_task(dataset, ("pairwise", "best-of-n", "steps"), purpose="evaluation")
    result: PairwiseResult | BestOfNResult | ProcessResult
    if dataset.task == "best-of-n":
        result = evaluate_best_of_n(rm, dataset, ties=ties)
    elif dataset.task == "steps":
        result = evaluate_process(rm, dataset)
    else:
        result = evaluate_pairwise(rm, dataset, ties=ties)
    if json_out is not None:
        write_json(json_out, result.to_json())
        report_skipped(dataset.skipped, Path(json_out))
    if html is not None:
        from rewardlab._eval_html import write_eval_html

        write_eval_html(result, html)
    return result


@dataclass(frozen=True)
class ScoreResult:
    """What ``score`` wrote: how many rows, where, and which rows were skipped."""

    n_rows: int
    out: Path
    task: str
    skipped: tuple[SkippedRow, ...] = ()
    skipped_file: Path | None = None
    #: users a personalised model had no data from, scored with its population mixture
    population_users: tuple[str, ...] = ()
    #: rows whose ``user`` column was not used, because the model is not personalised
    unused_user_rows: int = 0
    #: responses per reason a verifier or judge gave (``wrong-answer``, ``no-answer``,
    #: ``reference-unparsable``, a judge's missing verdict, ...), most common first
    reasons: tuple[tuple[str, int], ...] = ()


def score(
    model: str | Path | RewardModel,
    data: str | Path | Dataset[Any],
    *,
    out: str | Path,
    format: Task | None = None,
    skip_invalid: bool = False,
    max_chars: int = DEFAULT_MAX_CHARS,
    limit: int | None = None,
    weights: str | None = None,
    user: str | None = None,
) -> ScoreResult:
    """Score every row of ``data`` into ``out`` (JSONL): one row out per row in, in order
    (``limit``: the first N valid rows only). ``weights`` (``harmless=1,helpful=0.5``) steer
    a ``multi:`` model and ``user`` picks a ``personal:`` model's user, for every row
    without its own ``weights`` / ``user`` column."""
    from rewardlab._api_personal import with_conditions
    from rewardlab.models.base import UserScorer

    check_outputs({"--out": out}, {"DATA": data}, skipped_files=True, jsonl=True)
    rm = resolve(model)
    if user is not None and not isinstance(rm, UserScorer):
        raise ConfigError(f"--user picks a personal: model's user; model '{describe(rm)}' "
                          "gives everyone the same reward")
    dataset = load_data(data, format=format, skip_invalid=skip_invalid, max_chars=max_chars,
                        limit=limit)
    dataset = with_conditions(dataset, weights=weights, user=user, model=rm)
    if skip_invalid:  # rows the model refuses (no reference, unknown attributes)
        dataset = skip_unscorable(rm, dataset)
    out = Path(out)
    if out.is_dir():
        raise OutputError(f"cannot write scores to {out}: it is a directory; give a file name")
    fallback: set[str] = set()
    reasons: Counter[str] = Counter()

    def watched(rows: Any) -> Any:
        for row in rows:
            if "population" in (row.get("user_fit"), row.get("user_fit_chosen")) and \
                    row.get("user") is not None:
                fallback.add(str(row["user"]))
            reasons.update(row_reasons(row))
            yield row

    n = write_jsonl(out, watched(iter_scored_rows(rm, dataset)))
    unused = 0 if isinstance(rm, UserScorer) else sum(
        getattr(r, "user", None) is not None for r in dataset.records)
    return ScoreResult(n_rows=n, out=out, task=dataset.task, skipped=dataset.skipped,
                       skipped_file=report_skipped(dataset.skipped, out),
                       population_users=tuple(sorted(fallback)), unused_user_rows=unused,
                       reasons=tuple(reasons.most_common()))


def score_distributed(model: str | Path | RewardModel, data: str | Path, *, out: str | Path,
                      **options: Any) -> DistributedScoreResult:
    """Score ``data`` on Ray into the shard directory ``out`` (``rewardlab score --ray``).

    A thin entry point: ``rewardlab.scale.score_distributed`` documents the options
    (``address``, ``workers``, ``shard_rows``, ``output_format``, ...) and returns a
    ``DistributedScoreResult``. Imported lazily, so the API needs Ray only when used.
    """
    from rewardlab.scale import score_distributed as run

    check_outputs({"--out": out}, {"DATA": data})
    return run(model, data, out=out, **options)


@dataclass(frozen=True)
class InjectResult:
    """What ``inject_errors`` wrote: solutions per corruption kind, and what was left out."""

    out: Path
    n_problems: int
    n_rows: int
    kinds: dict[str, int]
    uncorrupted: tuple[str | int, ...] = ()
    skipped: tuple[SkippedRow, ...] = ()
    skipped_file: Path | None = None


def inject_errors(
    data: str | Path,
    *,
    out: str | Path,
    seed: int = 0,
    include_correct: bool = True,
    limit: int | None = None,
    skip_invalid: bool = False,
) -> InjectResult:
    """Write step-labelled solutions (TRL's PRM format) made by error injection.

    Every problem's correct worked solution gets one calculation corrupted and carried
    forward (``rewardlab.label.inject``); with ``include_correct`` the correct solution is
    written too. Problems with nothing to corrupt are counted in ``uncorrupted``.
    """
    from rewardlab.label import inject_errors as inject
    from rewardlab.label import read_problems

    check_outputs({"--out": out}, {"DATA": data}, skipped_files=True, jsonl=True)
    problems, skipped = read_problems(data, skip_invalid=skip_invalid, limit=limit)
    result = inject(problems, seed=seed, include_correct=include_correct)
    out = Path(out)
    if out.is_dir():
        raise OutputError(f"cannot write steps to {out}: it is a directory; give a file name")
    n = write_jsonl(out, result.rows())
    kinds: dict[str, int] = {}
    for record in result.records:
        kinds[record.subset or ""] = kinds.get(record.subset or "", 0) + 1
    skipped_file = report_skipped(skipped, out)
    return InjectResult(out=out, n_problems=len(problems), n_rows=n, kinds=kinds,
                        uncorrupted=result.uncorrupted, skipped=tuple(skipped),
                        skipped_file=skipped_file)


@dataclass(frozen=True)
class RolloutLabelResult:
    """What ``label_rollouts`` wrote: the labelled rows, the counts, and every solution that
    got no row (malformed, no reference, policy failure, dropped by denoising) with why."""

    out: Path
    n_solutions: int
    n_rows: int
    stats: dict[str, float]
    skipped: tuple[SkippedRow, ...] = ()
    skipped_file: Path | None = None


def label_rollouts(
    data: str | Path,
    *,
    policy: str | Any,
    out: str | Path,
    limit: int | None = None,
    skip_invalid: bool = False,
    **options: Any,
) -> RolloutLabelResult:
    """Write step labels (TRL's PRM format) estimated by Monte-Carlo rollouts.

    ``policy`` is a spec (``policy:default``, ``policy:gguf:PATH``,
    ``policy:openai:URL#MODEL``) or a loaded policy; ``options`` are ``RolloutConfig`` fields
    (``k``, ``seed``, ``temperature``, ``threshold``, ``denoise``, ...). The data is read and
    the policy loaded (a missing model or a server that is down fails here) before any
    rollout; ``rewardlab.label.rollouts`` documents the labels.
    """
    from rewardlab.label import RolloutConfig, label_solutions, load_policy, read_solutions

    config = RolloutConfig(**options)
    check_outputs({"--out": out}, {"DATA": data}, skipped_files=True, jsonl=True)
    out = Path(out)
    if out.is_dir():
        raise OutputError(f"cannot write steps to {out}: it is a directory; give a file name")
    solutions, bad_rows = read_solutions(data, split=config.split, skip_invalid=skip_invalid,
                                         limit=limit)
    loaded = load_policy(policy) if isinstance(policy, str) else policy
    try:
        result = label_solutions(solutions, loaded, config, file=str(data))
    finally:
        if isinstance(policy, str):
            loaded.close()
    n = write_jsonl(out, result.rows)
    skipped = (*bad_rows, *result.skipped)
    skipped_file = report_skipped(skipped, out)
    return RolloutLabelResult(out=out, n_solutions=len(solutions), n_rows=n,
                              stats=result.stats, skipped=skipped, skipped_file=skipped_file)


@dataclass(frozen=True)
class DemoResult:
    """The demo's figures: the held-out evaluation and what it cost."""

    evaluation: PairwiseResult
    n_train: int
    n_test: int
    seconds: float
    encoded_texts: int
    spec: str
    timings: dict[str, float] = field(default_factory=dict)


DEMO_SPEC = "embed:minilm"


def run_demo(*, spec: str = DEMO_SPEC, test_fraction: float = 0.25, seed: int = 0,
             cache: bool | str | Path = True) -> DemoResult:
    """Train ``embed:minilm`` on the bundled HH harmless pairs and evaluate on held-out pairs.

    The split is by prompt (a conversation never sits on both sides) and fixed by ``seed``.
    """
    start = time.perf_counter()
    data = load_dataset("bundled:hh_harmless")
    train_set, test_set = split_by_prompt(data, test_fraction=test_fraction, seed=seed)
    model = resolve(spec)
    if hasattr(model, "cache"):
        model.cache = cache
    t0 = time.perf_counter()
    model.fit(train_set)
    t1 = time.perf_counter()
    result = evaluate_pairwise(model, test_set)
    t2 = time.perf_counter()
    return DemoResult(
        evaluation=result,
        n_train=len(train_set),
        n_test=len(test_set),
        seconds=time.perf_counter() - start,
        encoded_texts=getattr(getattr(model, "encoder", None), "encoded_texts", 0),
        spec=spec,
        timings={"train": t1 - t0, "evaluate": t2 - t1},
    )


def judge_options(model: str | Path | RewardModel, *, swap: bool | None = None,
                  reason: bool | None = None) -> str | Path | RewardModel:
    """``model`` with a generative judge's ``swap`` / ``reason`` set (``--swap``,
    ``--reason``); returned unchanged when neither is given.

    Raises:
        CapabilityError: an option was given for a model that is not a ``judge:``.
    """
    params = {k: v for k, v in {"swap": swap, "reason": reason}.items() if v is not None}
    if not params:
        return model
    rm = resolve(model)
    if not isinstance(rm, PairwiseJudge):
        raise CapabilityError(f"--swap and --reason apply to judge: models; '{describe(rm)}' "
                              "is not one")
    return _with_params(rm, params)


def inspect_data(data: str | Path, *, model: str | None = "embed:minilm",
                 html: str | Path | None = None, json_out: str | Path | None = None,
                 limit: int | None = None, **settings: Any) -> Any:
    """Inspect a preference set before training (``rewardlab.inspection.inspect_pairs``):
    defects, confounds, an estimated label-flip rate; writes ``json_out`` / ``html``.

    ``settings`` are ``InspectConfig`` fields (``folds``, ``stream``, ``embeddings``, ...).
    """
    from rewardlab._io import _atomic_lines
    from rewardlab.inspection import InspectConfig, inspect_pairs
    from rewardlab.inspection._html import inspect_html

    check_outputs({"--html": html, "--json": json_out}, {"DATA": data})
    report = inspect_pairs(data, InspectConfig(model=model, **settings), limit=limit)
    doc = report.to_json()
    if json_out is not None:
        write_json(json_out, doc)
    if html is not None:
        _atomic_lines(Path(html), [inspect_html(doc)])
    return report


def forecast(model: str | Path | RewardModel, data: str | Path | Dataset[Any], *,
             gold: str | Path | RewardModel | None = None, fit_max_k: int | None = None,
             html: str | Path | None = None, json_out: str | Path | None = None,
             n_boot: int = 200, seed: int = 0, limit: int | None = None) -> Any:
    """Fit Gao et al.'s best-of-n form to the proxy ``model``'s best-of-k points on
    best-of-n ``data`` (gold: ``is_correct`` or a ``gold`` model) and say where the gold is
    predicted to peak (``rewardlab.audit.forecast``)."""
    from rewardlab._io import _atomic_lines
    from rewardlab.audit.forecast import forecast as run_forecast
    from rewardlab.inspection._html import forecast_html

    check_outputs({"--html": html, "--json": json_out}, {"DATA": data})
    dataset = load_data(data, format="best-of-n", limit=limit)
    result = run_forecast(resolve(model), dataset, gold=None if gold is None else resolve(gold),
                          fit_max_k=fit_max_k, n_boot=n_boot, seed=seed)
    if json_out is not None:
        write_json(json_out, result.to_json())
    if html is not None:
        _atomic_lines(Path(html), [forecast_html(result.to_json(), result.plot(),
                                                 describe(resolve(model)), str(data))])
    return result


def select_to_label(unlabelled: str | Path, model: str | Path | RewardModel, *, budget: int,
                    out: str | Path, strategy: str = "bald", diverse: bool = False,
                    train_data: str | Path | None = None, members: int = 5, seed: int = 0,
                    label_studio: str | Path | None = None) -> Any:
    """Rank unlabelled pairs by what an ensemble does not know and write the ``budget`` best
    to ``out`` (CSV or JSONL, with scores and the reason) and a Label Studio import file.

    The ensemble: an ``ensemble:`` model's members; or, with ``train_data``, ``members``
    copies of ``model`` trained on bootstrap resamples of it; or ``model`` alone (entropy).
    """
    import csv
    import io

    import numpy as np

    from rewardlab._io import _atomic_lines
    from rewardlab.data import render_prompt
    from rewardlab.inspection import read_pairs
    from rewardlab.inspection._pairs import no_pairs_error
    from rewardlab.inspection.selection import (
        bootstrap_members,
        member_margins,
        select_pairs,
    )
    from rewardlab.models._clone import Composite

    out = Path(out)
    ls_path = Path(label_studio) if label_studio else out.with_name(out.stem + ".labelstudio.json")
    check_outputs({"--out": out, "--label-studio": ls_path},
                  {"UNLABELLED": unlabelled, "--train": train_data}, skipped_files=True)
    read = read_pairs(unlabelled)
    pool = read.pairs
    if not pool:
        raise no_pairs_error(unlabelled, read.skipped)
    if budget > len(pool):
        from rewardlab.errors import ConfigError

        raise ConfigError(f"the budget ({budget}) is larger than the pool of {len(pool)} "
                          f"unlabelled pair(s) in {unlabelled}; lower --budget to at most "
                          f"{len(pool)}")
    records = [p.as_record() for p in pool]
    rm = resolve(model)
    if train_data is not None:
        require_capability(rm, Trainable, "be trained into an ensemble")
        labelled = load_data(train_data, format="pairwise")
        team = bootstrap_members(lambda s: clone(rm, seed=s), labelled, members, seed=seed)
    elif isinstance(rm, Composite):
        team = list(rm.submodels)
    else:
        team = [rm]
    margins = member_margins(team, records)
    picked = select_pairs(margins, budget, strategy=strategy, diverse=diverse, records=records,
                          seed=seed)
    rows = []
    for rank, i in enumerate(picked.indices):
        p = pool[i]
        rows.append({"rank": rank + 1, "id": p.id, "line": p.line,
                     "prompt": render_prompt(p.prompt), "response_a": p.first,
                     "response_b": p.second, "score": float(picked.scores[i]),
                     "mean_p_a": float(np.mean(1 / (1 + np.exp(-margins[:, i])))),
                     "reason": picked.reason(rank)})
    if out.suffix.lower() == ".csv":
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        _atomic_lines(out, [buf.getvalue()])
    else:
        write_jsonl(out, rows)
    tasks = [{"data": {k: r[k] for k in ("id", "prompt", "response_a", "response_b")},
              "meta": {"score": r["score"], "reason": r["reason"]}} for r in rows]
    write_json(ls_path, tasks)
    skipped_file = report_skipped(read.skipped, out)
    return {"selected": rows, "out": str(out), "label_studio": str(ls_path),
            "skipped": read.skipped, "skipped_file": skipped_file, "members": len(team),
            "pool": len(pool)}
