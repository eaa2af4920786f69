"""First-error evaluation of process reward models, as ProcessBench scores it.

For every step-labelled solution the model predicts the index of the first wrong step, or
"none". Figures:

- ``acc_erroneous``: over solutions with an error, the share where the predicted index is
  exactly the first wrong step (too early and too late are both wrong; both are counted);
- ``acc_correct``: over correct solutions, the share predicted "none";
- ``first_error_f1``: their harmonic mean. It rewards only a model that does both: "always
  none" has ``acc_correct = 1`` and F1 0, "always step 1" has ``acc_correct = 0`` and F1 0,
  and both baselines are reported beside every result, with their accuracies.

The 95% interval of F1 is a percentile bootstrap that resamples erroneous and correct
solutions separately (so every resample has both), drawn as binomials, which for 0/1
outcomes is exactly resampling the solutions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardlab._validation import check_int
from rewardlab.data import Dataset, SkippedRow, StepRecord, require_task
from rewardlab.errors import DataError
from rewardlab.models.base import RewardModel, StepScorer, describe, require_capability
from rewardlab.scoring import first_errors
from rewardlab.steps import first_error_accuracies, harmonic_f1

__all__ = [
    "ProcessResult",
    "ProcessSummary",
    "evaluate_process",
    "first_error_accuracies",
    "harmonic_f1",
]


def _f1_ci(acc_e: float, n_e: int, acc_c: float, n_c: int, *, n_boot: int, seed: int
           ) -> tuple[float, float]:
    if not n_e or not n_c:
        return (float("nan"), float("nan"))
    rng = np.random.default_rng(seed)
    e = rng.binomial(n_e, acc_e, size=n_boot) / n_e
    c = rng.binomial(n_c, acc_c, size=n_boot) / n_c
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(e + c > 0, 2 * e * c / (e + c), 0.0)
    lo, hi = np.quantile(f1, [0.025, 0.975])
    return (float(lo), float(hi))


@dataclass(frozen=True)
class ProcessSummary:
    """First-error figures for one group of solutions (a ``subset``, or all)."""

    name: str
    n: int
    n_erroneous: int
    n_correct: int
    first_error_f1: float
    f1_ci95: tuple[float, float]
    acc_erroneous: float
    acc_correct: float
    early: float
    late: float
    missed: float
    baselines: dict[str, dict[str, float]]

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "n_erroneous": self.n_erroneous,
            "n_correct": self.n_correct,
            "first_error_f1": self.first_error_f1,
            "f1_ci95": list(self.f1_ci95),
            "acc_erroneous": self.acc_erroneous,
            "acc_correct": self.acc_correct,
            "erroneous_flagged_early": self.early,
            "erroneous_flagged_late": self.late,
            "erroneous_missed": self.missed,
            "baselines": self.baselines,
        }


@dataclass(frozen=True)
class ProcessResult:
    """The result of ``evaluate_process``: overall figures, per ``subset`` (the error type,
    where the data names one; ``correct``/``original`` for correct solutions), per
    ``question_type`` (MR-GSM8K's original / reversed / program-of-thought), provenance."""

    model: str
    data: str
    overall: ProcessSummary
    subsets: tuple[ProcessSummary, ...] = ()
    question_types: tuple[ProcessSummary, ...] = ()
    skipped: tuple[SkippedRow, ...] = ()
    threshold: float | None = None
    primary_metric: str = field(default="process/first_error_f1")
    greater_is_better: bool = True

    @property
    def metrics(self) -> dict[str, float]:
        """Namespaced figures, e.g. ``process/first_error_f1``, ``process/<subset>/...``."""
        o = self.overall
        out = {
            "process/first_error_f1": o.first_error_f1,
            "process/f1_ci95_low": o.f1_ci95[0],
            "process/f1_ci95_high": o.f1_ci95[1],
            "process/acc_erroneous": o.acc_erroneous,
            "process/acc_correct": o.acc_correct,
        }
        for s in self.subsets:
            out[f"process/{s.name}/acc_erroneous"] = s.acc_erroneous
            out[f"process/{s.name}/acc_correct"] = s.acc_correct
        for s in self.question_types:
            out[f"process/question_type/{s.name}/first_error_f1"] = s.first_error_f1
            out[f"process/question_type/{s.name}/acc_erroneous"] = s.acc_erroneous
            out[f"process/question_type/{s.name}/acc_correct"] = s.acc_correct
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "task": "steps",
            "model": self.model,
            "data": self.data,
            "threshold": self.threshold,
            **self.overall.to_json(),
            "subsets": {s.name: s.to_json() for s in self.subsets},
            "question_types": {s.name: s.to_json() for s in self.question_types},
            "skipped": len(self.skipped),
            "primary_metric": self.primary_metric,
            "metrics": self.metrics,
        }


def _summarise(name: str, predicted: list[int | None], actual: list[int | None], *,
               n_boot: int, seed: int) -> ProcessSummary:
    figures = first_error_accuracies(predicted, actual)
    n_e = sum(a is not None for a in actual)
    n_c = len(actual) - n_e
    baselines = {
        "always_none": first_error_accuracies([None] * len(actual), actual),
        "always_first_step": first_error_accuracies([0] * len(actual), actual),
    }
    keep = ("first_error_f1", "acc_erroneous", "acc_correct")
    return ProcessSummary(
        name=name, n=len(actual), n_erroneous=n_e, n_correct=n_c,
        first_error_f1=figures["first_error_f1"],
        f1_ci95=_f1_ci(figures["acc_erroneous"], n_e, figures["acc_correct"], n_c,
                       n_boot=n_boot, seed=seed),
        acc_erroneous=figures["acc_erroneous"], acc_correct=figures["acc_correct"],
        early=figures["early"], late=figures["late"], missed=figures["missed"],
        baselines={k: {m: v[m] for m in keep} for k, v in baselines.items()},
    )


def evaluate_process(
    model: RewardModel,
    data: Dataset[StepRecord],
    *,
    threshold: float | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    predictions: Sequence[int | None] | None = None,
) -> ProcessResult:
    """First-error accuracy of a process reward model on step-labelled solutions.

    Args:
        model: a ``StepScorer`` (``prm:``).
        data: ``steps`` rows with labels; a solution's first ``False`` is its first error.
        threshold: p(correct) below which a step is an error; the model's own by default.
        n_boot: bootstrap resamples for the F1 interval.
        seed: seed of the bootstrap.
        predictions: precomputed first-error predictions, to skip scoring.

    Returns:
        A ``ProcessResult``: overall, per-``subset`` and per-``question_type`` figures with
        both trivial baselines.

    Raises:
        DataError: the data is not step-labelled, or a row has no labels.
        CapabilityError: the model does not score steps.
    """
    require_task(data, ("steps",), purpose="first-error evaluation")
    check_int("evaluate_process", "n_boot", n_boot)
    records = data.records
    unlabelled = next((r for r in records if r.labels is None), None)
    if unlabelled is not None:
        raise DataError("is missing; first-error F1 needs 'labels', one true/false per step "
                        "(rows without labels can be scored with `rewardlab score`)",
                        file=data.source, line=unlabelled.line, field="labels")
    if predictions is None:
        require_capability(model, StepScorer, "evaluate first errors")
        predictions = first_errors(model, [r.prompt for r in records],
                                   [r.steps for r in records], threshold=threshold)
    predicted = list(predictions)
    if len(predicted) != len(records):
        raise ValueError(f"got {len(predicted)} predictions for {len(records)} solutions")
    actual = [r.first_error for r in records]
    kw = {"n_boot": n_boot, "seed": seed}
    overall = _summarise("all", predicted, actual, **kw)
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        if r.subset is not None:
            groups.setdefault(r.subset, []).append(i)
    subsets = tuple(_summarise(name, [predicted[i] for i in idx], [actual[i] for i in idx],
                               **kw) for name, idx in sorted(groups.items()))
    kinds: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        if r.question_type is not None:
            kinds.setdefault(r.question_type, []).append(i)
    question_types = tuple(_summarise(name, [predicted[i] for i in idx],
                                      [actual[i] for i in idx], **kw)
                           for name, idx in sorted(kinds.items()))
    used = threshold if threshold is not None else getattr(model, "threshold_", None)
    return ProcessResult(model=describe(model), data=data.source, overall=overall,
                         subsets=subsets, question_types=question_types,
                         skipped=data.skipped, threshold=used)
