"""The high-level Python API; the CLI is a thin layer over these functions.

Each function takes a model spec (or model) and a data path (or ``Dataset``), does one job,
writes what it was asked to write, and returns a result object; nothing here prints.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rewardlab._io import skipped_path, write_json, write_jsonl, write_skipped
from rewardlab.data import (
    DEFAULT_MAX_CHARS,
    Dataset,
    SkippedRow,
    Task,
    load_dataset,
    split_by_prompt,
)
from rewardlab.errors import CapabilityError, OutputError
from rewardlab.evaluate.pairwise import PairwiseResult, evaluate_pairwise
from rewardlab.models.base import RewardModel, Saveable, Trainable, describe, require_capability
from rewardlab.models.registry import resolve
from rewardlab.scoring import iter_scored_rows

__all__ = [
    "DemoResult",
    "ScoreResult",
    "TrainResult",
    "evaluate",
    "load_data",
    "run_demo",
    "score",
    "train",
]


def load_data(data: str | Path | Dataset[Any], *, format: Task | None = None,
              skip_invalid: bool = False, max_chars: int = DEFAULT_MAX_CHARS) -> Dataset[Any]:
    """A ``Dataset`` passes through; a path (or ``bundled:NAME``) is read with ``load_dataset``."""
    if isinstance(data, Dataset):
        return data
    return load_dataset(data, format=format, skip_invalid=skip_invalid, max_chars=max_chars)


def _with_params(model: RewardModel, params: dict[str, Any] | None) -> RewardModel:
    """A copy of ``model`` with some config fields replaced (``--epochs``, ``--lr``, ...)."""
    if not params:
        return model
    get_config = getattr(model, "get_config", None)
    if get_config is None:
        raise CapabilityError(f"model '{describe(model)}' takes no training parameters")
    copy = type(model)(**{**get_config(), **params})
    copy.spec = getattr(model, "spec", None)
    return copy


def _report_skipped(dataset: Dataset[Any], output: Path | None) -> Path | None:
    if not dataset.skipped or output is None:
        return None
    path = skipped_path(output)
    write_skipped(dataset.skipped, path)
    return path


@dataclass(frozen=True)
class TrainResult:
    """What ``train`` did: the fitted model, where it was saved, and the training log."""

    model: RewardModel
    n_train: int
    out: Path | None
    history: list[dict[str, float]]
    seconds: float
    skipped: tuple[SkippedRow, ...] = ()
    skipped_file: Path | None = None
    encoded_texts: int = 0


def train(
    model: str | Path | RewardModel,
    data: str | Path | Dataset[Any],
    *,
    out: str | Path | None = None,
    params: dict[str, Any] | None = None,
    format: Task | None = None,
    skip_invalid: bool = False,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> TrainResult:
    """Train a trainable model on ``data`` and, with ``out``, save it there.

    Example:
        >>> result = train("embed:minilm?epochs=2", "bundled:hh_harmless",
        ...                out=tmp / "rm")  # doctest: +SKIP
    """
    start = time.perf_counter()
    rm = _with_params(resolve(model), params)
    require_capability(rm, Trainable, "train")
    if out is not None:
        require_capability(rm, Saveable, "be saved")
    dataset = load_data(data, format=format, skip_invalid=skip_invalid, max_chars=max_chars)
    rm.fit(dataset)
    skipped_file = None
    if out is not None:
        rm.save(out)
        skipped_file = _report_skipped(dataset, Path(out))
    encoder = getattr(rm, "encoder", None)
    return TrainResult(
        model=rm,
        n_train=len(dataset),
        out=Path(out) if out is not None else None,
        history=list(getattr(rm, "history_", [])),
        seconds=time.perf_counter() - start,
        skipped=dataset.skipped,
        skipped_file=skipped_file,
        encoded_texts=getattr(encoder, "encoded_texts", 0),
    )


def evaluate(
    model: str | Path | RewardModel,
    data: str | Path | Dataset[Any],
    *,
    json_out: str | Path | None = None,
    ties: str = "half",
    format: Task | None = None,
    skip_invalid: bool = False,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> PairwiseResult:
    """Evaluate ``model`` on pairwise data; with ``json_out``, write the result as JSON."""
    rm = resolve(model)
    dataset = load_data(data, format=format, skip_invalid=skip_invalid, max_chars=max_chars)
    result = evaluate_pairwise(rm, dataset, ties=ties)
    if json_out is not None:
        write_json(json_out, result.to_json())
        _report_skipped(dataset, Path(json_out))
    return result


@dataclass(frozen=True)
class ScoreResult:
    """What ``score`` wrote: how many rows, where, and which rows were skipped."""

    n_rows: int
    out: Path
    task: str
    skipped: tuple[SkippedRow, ...] = ()
    skipped_file: Path | None = None


def score(
    model: str | Path | RewardModel,
    data: str | Path | Dataset[Any],
    *,
    out: str | Path,
    format: Task | None = None,
    skip_invalid: bool = False,
    max_chars: int = DEFAULT_MAX_CHARS,
) -> ScoreResult:
    """Score every row of ``data`` into ``out`` (JSONL): one row out per row in, in order."""
    rm = resolve(model)
    dataset = load_data(data, format=format, skip_invalid=skip_invalid, max_chars=max_chars)
    out = Path(out)
    if out.is_dir():
        raise OutputError(f"cannot write scores to {out}: it is a directory; give a file name")
    n = write_jsonl(out, iter_scored_rows(rm, dataset))
    return ScoreResult(n_rows=n, out=out, task=dataset.task, skipped=dataset.skipped,
                       skipped_file=_report_skipped(dataset, out))


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
