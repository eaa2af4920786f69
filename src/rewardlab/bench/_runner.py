"""Run a suite for one or more models: plan the table rows, score through the cache,
aggregate the RewardBench way, and compare models with a paired bootstrap.

Planning reads every data file once and is model-independent (rows, sections, weights,
length-only baselines). A task that cannot run becomes skipped rows with their reason; a
model that cannot score a task (a first-error set for a model that is not a ``StepScorer``,
pairs for a verifier) or breaks the scoring contract on it (``ScoringError``: wrong shape or
type, or an exception inside the model) skips that task's rows for that model only, with
the reason. Everything else that goes wrong is raised. Scores come from the scoring layer
(``rewardlab.scoring``), through the score cache.
"""

from __future__ import annotations

import fnmatch
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab._progress import progress
from rewardlab._validation import check_int, check_option
from rewardlab.bench._cache import ScoreCache, model_fingerprint, prompt_key
from rewardlab.bench._data import invalid_rows_note, load_task_data
from rewardlab.bench._results import (
    OVERALL,
    BenchResult,
    Comparison,
    ModelResult,
    RowResult,
    SectionResult,
)
from rewardlab.bench._stats import (
    combine_strata,
    overall_score,
    paired_p_value,
    percentile_ci,
    replicate_scores,
    row_rng,
    section_scores,
)
from rewardlab.bench._suite import BENCH_TASKS, Suite, SuiteTask, load_suite
from rewardlab.errors import CapabilityError, DataError, ScoringError
from rewardlab.evaluate.best_of_n import best_of_n_outcomes
from rewardlab.evaluate.metrics import pair_outcomes
from rewardlab.models.base import GroupDependent, RewardModel, StepScorer, describe
from rewardlab.models.registry import resolve
from rewardlab.scoring import first_errors, needs_references, score_batch

__all__ = ["TIES", "run_bench"]

#: ``half``: a tie is a random pick (pairs count half, best-of-n 1/k when a correct reply is
#: among k tied at the top); ``rewardbench``: pairs count a tie as a loss (RewardBench 1),
#: best-of-n keeps 1/k (RewardBench 2's rule, which is already the random pick).
TIES = ("half", "rewardbench")
_METRICS = {"pairwise": "accuracy", "best-of-n": "best-of-n accuracy",
            "steps": "first-error F1"}


@dataclass
class _Row:
    """A planned table row, independent of the model."""

    key: str
    name: str
    task: SuiteTask
    section: str
    data_task: str
    records: list[Any] = field(default_factory=list)
    weight: float | None = None
    skipped: str | None = None
    baseline: dict[str, float] = field(default_factory=dict)

    def result(self, **changes: Any) -> RowResult:
        n = len(self.records)
        base = RowResult(key=self.key, name=self.name, task=self.task.name,
                         data=self.task.data, metric=_METRICS.get(self.data_task, "score"),
                         section=self.section, n=n,
                         weight=float(self.weight if self.weight is not None else n),
                         baseline=self.baseline, skipped=self.skipped)
        return replace(base, **changes)


# --- planning ------------------------------------------------------------------------------


def _section_of(task: SuiteTask, subset: str | None) -> str | None:
    if not task.subsets:
        return task.section
    for pattern, section in task.subsets:
        if subset is not None and fnmatch.fnmatchcase(subset, pattern):
            return section
    if task.own_sections:
        return subset if subset is not None else task.name
    return None


def _plan_task(task: SuiteTask, *, limit: int | None, ties: str
               ) -> tuple[list[_Row], list[dict[str, Any]]]:
    wanted = BENCH_TASKS.get(task.task, "?")
    section = task.section or (task.subsets[0][1] if task.subsets else task.name)
    if wanted == "?":
        reason = (f"unknown task '{task.task}'; use one of "
                  f"{', '.join(repr(t) for t in BENCH_TASKS)}")
        return [_Row(task.name, task.name, task, section, "?", skipped=reason)], []
    try:
        data = load_task_data(task.data, wanted, holdout=task.holdout)
    except DataError as exc:
        return [_Row(task.name, task.name, task, section, wanted or "?",
                     skipped=str(exc))], []
    if data.task == "pointwise":
        return [_Row(task.name, task.name, task, section, "pointwise", skipped=(
            f"{task.data} holds pointwise rows; a benchmark needs pairs, best-of-n rows "
            "or step labels"))], []
    invalid = invalid_rows_note(task.name, data)
    rows: dict[str, _Row] = {}
    left_out = 0
    for record in data.records:
        subset = record.subset if task.by_subset else None
        target = _section_of(task, subset)
        if target is None:
            left_out += 1
            continue
        key = task.name if subset is None else f"{task.name}/{subset}"
        if key not in rows:
            rows[key] = _Row(key, subset or task.name, task, target, data.task,
                             weight=task.weights.get(subset or task.name))
        rows[key].records.append(record)
    for pattern, target in task.subsets:  # a named subset with no rows is reported, not lost
        if not any(c in pattern for c in "*?[") and f"{task.name}/{pattern}" not in rows \
                and not task.own_sections:
            rows[f"{task.name}/{pattern}"] = _Row(
                f"{task.name}/{pattern}", pattern, task, target, data.task,
                skipped=f"subset '{pattern}' has no rows in {task.data}")
    if not rows:
        rows[task.name] = _Row(task.name, task.name, task, section, data.task,
                               skipped=f"no rows of {task.data} match the suite's subsets")
    for row in rows.values():
        if limit is not None:
            del row.records[limit:]
        if row.skipped is None and not row.records:
            row.skipped = "has no rows"
        _check_labels(row)  # the length baselines need the labels too
        if row.skipped is None:
            row.baseline = _baseline(row, ties)
    notes = [invalid] if invalid else []
    if left_out:
        notes.append({"task": task.name, "data": task.data, "rows": left_out,
                      "reason": "their subsets are not mapped to a section by the suite"})
    return list(rows.values()), notes


def _baseline(row: _Row, ties: str) -> dict[str, float]:
    if row.data_task == "pairwise":
        len_c = np.array([len(r.chosen) for r in row.records], dtype=np.float64)
        len_r = np.array([len(r.rejected) for r in row.records], dtype=np.float64)
        mode = "half" if ties == "half" else "loss"
        return {"longer": float(pair_outcomes(len_c, len_r, ties=mode).mean()),
                "shorter": float(pair_outcomes(-len_c, -len_r, ties=mode).mean())}
    if row.data_task == "best-of-n":
        lengths = [np.array([len(t) for t in r.responses], dtype=np.float64)
                   for r in row.records]
        correct = [np.asarray(r.is_correct, dtype=bool) for r in row.records]
        return {"longest": float(best_of_n_outcomes(lengths, correct)[0].mean()),
                "shortest": float(best_of_n_outcomes([-x for x in lengths], correct)[0].mean()),
                "random": float(np.mean([c.mean() for c in correct]))}
    return {}


def _check_labels(row: _Row) -> None:
    if row.skipped is not None:
        return
    if row.data_task == "best-of-n":
        missing = next((r for r in row.records if r.is_correct is None), None)
        if missing is not None:
            row.skipped = (f"{row.task.data}:{missing.line}: field 'is_correct': is missing; "
                           "best-of-n rows need a label on every reply")
    elif row.data_task == "steps":
        missing = next((r for r in row.records if r.labels is None), None)
        if missing is not None:
            row.skipped = (f"{row.task.data}:{missing.line}: field 'labels': is missing; "
                           "first-error rows need a label on every step")


def plan_suite(suite: Suite, *, limit: int | None = None, ties: str = "half"
               ) -> tuple[list[_Row], list[dict[str, Any]]]:
    """The suite's table rows (with their records) and the data rows it leaves out."""
    rows, notes = [], []
    for task in suite.tasks:
        planned, task_notes = _plan_task(task, limit=limit, ties=ties)
        for row in planned:
            _check_labels(row)
        rows.extend(planned)
        notes.extend(task_notes)
    return rows, notes


# --- scoring -------------------------------------------------------------------------------


def _score_rewards(model: RewardModel, cache: ScoreCache, prompts: list[Any],
                   responses: list[str], refs: list[str | None] | None, advance: Any
                   ) -> np.ndarray:
    if isinstance(model, GroupDependent):
        # a reward depends on the rest of its group: score every group whole, in one call,
        # never a cache's leftovers or a chunk that cuts a group
        rewards = score_batch(model, prompts, responses, references=refs).rewards
        advance(len(responses))
        return rewards
    if needs_references(model):
        if refs is None or any(r is None for r in refs):
            raise DataError(f"has no reference answers, which model '{describe(model)}' "
                            "checks replies against", file="(this task)")
        keys = [cache.key("ref", prompt_key(p), t, ref or "")
                for p, t, ref in zip(prompts, responses, refs, strict=True)]
    else:
        keys = [cache.key("score", prompt_key(p), t)
                for p, t in zip(prompts, responses, strict=True)]

    def compute(idx: list[int]) -> np.ndarray:
        return score_batch(model, [prompts[i] for i in idx], [responses[i] for i in idx],
                           references=None if refs is None else [refs[i] for i in idx]
                           ).rewards

    return cache.values(keys, compute, advance=advance)


def _outcomes(model: RewardModel, cache: ScoreCache, rows: list[_Row], ties: str,
              label: str) -> dict[str, tuple[str, list[np.ndarray]]]:
    """Per row key: (kind, strata of per-item outcomes) for one task's rows."""
    records = [r for row in rows for r in row.records]
    task = rows[0].data_task
    out: dict[str, tuple[str, list[np.ndarray]]] = {}
    if task == "pairwise":
        prompts = [r.prompt for r in records]
        with progress(label, total=2 * len(records)) as advance:
            rewards = _score_rewards(model, cache, prompts + prompts,
                                     [r.chosen for r in records] + [r.rejected for r in records],
                                     None, advance)
        n = len(records)
        outcomes = pair_outcomes(rewards[:n], rewards[n:], ties="half" if ties == "half"
                                 else "loss")
        at = 0
        for row in rows:
            out[row.key] = ("mean", [outcomes[at:at + len(row.records)]])
            at += len(row.records)
    elif task == "best-of-n":
        prompts = [r.prompt for r in records for _ in r.responses]
        texts = [t for r in records for t in r.responses]
        refs = [r.reference for r in records for _ in r.responses]
        with progress(label, total=len(texts)) as advance:
            flat = _score_rewards(model, cache, prompts, texts, refs, advance)
        at, per = 0, []
        for r in records:
            per.append(flat[at:at + len(r.responses)])
            at += len(r.responses)
        at = 0
        for row in rows:
            k = len(row.records)
            hits, _ = best_of_n_outcomes(per[at:at + k],
                                         [np.asarray(r.is_correct, bool) for r in row.records])
            out[row.key] = ("mean", [hits])
            at += k
    else:
        if not isinstance(model, StepScorer):
            raise CapabilityError(f"model '{describe(model)}' cannot score steps (it is not a "
                                  "StepScorer, e.g. prm:); first-error rows need one")
        keys = [cache.key("first_error", prompt_key(r.prompt), json.dumps(r.steps))
                for r in records]
        with progress(label, total=len(records)) as advance:
            raw = cache.values(keys, lambda idx: [
                -1 if p is None else p for p in first_errors(
                    model, [records[i].prompt for i in idx], [records[i].steps for i in idx])],
                advance=advance)
        at = 0
        for row in rows:
            predicted = [None if p < 0 else int(p) for p in raw[at:at + len(row.records)]]
            actual = [r.first_error for r in row.records]
            erroneous = np.array([p == a for p, a in zip(predicted, actual, strict=True)
                                  if a is not None], dtype=np.float64)
            correct = np.array([p is None for p, a in zip(predicted, actual, strict=True)
                                if a is None], dtype=np.float64)
            out[row.key] = ("f1", [erroneous, correct])
            at += len(row.records)
    return out


# --- aggregation ---------------------------------------------------------------------------


def _point(kind: str, strata: list[np.ndarray]) -> float:
    means = np.array([s.mean() if s.size else np.nan for s in strata])
    return float(combine_strata(kind, means))


def _aggregate(suite: Suite, rows: list[RowResult], replicates: dict[str, np.ndarray]
               ) -> tuple[dict[str, Any], dict[str, np.ndarray], Any, np.ndarray]:
    """Section and overall point scores and replicates over the scored rows."""
    scored = [r for r in rows if r.skipped is None and r.key in replicates]
    sections = {r.key: r.section for r in scored}
    weights = {r.key: r.weight for r in scored}
    point = section_scores({r.key: r.score for r in scored}, sections, weights)
    reps = section_scores({r.key: replicates[r.key] for r in scored}, sections, weights)
    if not point:
        return {}, {}, float("nan"), np.full(1, np.nan)
    return (point, reps, overall_score(point, suite.section_weights),
            overall_score(reps, suite.section_weights))


def _model_result(spec: str, fingerprint: str, suite: Suite, plan: list[_Row],
                  outcomes: dict[str, tuple[str, list[np.ndarray]]],
                  reasons: dict[str, str], *, n_boot: int, seed: int) -> ModelResult:
    rows, replicates = [], {}
    for row in plan:
        if row.skipped is not None or row.key in reasons:
            rows.append(row.result(skipped=row.skipped or reasons[row.key]))
            continue
        kind, strata = outcomes[row.key]
        reps = replicate_scores(kind, [s[:, None] for s in strata], n_boot=n_boot,
                                rng=row_rng(seed, row.key))[:, 0]
        replicates[row.key] = reps
        details = {}
        if kind == "f1":
            details = {"acc_erroneous": float(strata[0].mean()) if strata[0].size else np.nan,
                       "acc_correct": float(strata[1].mean()) if strata[1].size else np.nan}
        rows.append(row.result(score=_point(kind, strata), ci95=percentile_ci(reps),
                               details=details))
    point, reps, overall, overall_reps = _aggregate(suite, rows, replicates)
    order = _section_order(suite, plan)
    sections = []
    for name in order:
        members = [r for r in rows if r.section == name]
        scored = [r for r in members if r.skipped is None]
        sections.append(SectionResult(
            name=name, score=float(point.get(name, np.nan)),
            ci95=percentile_ci(reps[name]) if name in reps else (np.nan, np.nan),
            n=sum(r.n for r in scored), n_rows=len(members),
            n_skipped=len(members) - len(scored)))
    return ModelResult(model=spec, fingerprint=fingerprint, rows=tuple(rows),
                       sections=tuple(sections), overall=float(overall),
                       overall_ci95=percentile_ci(np.asarray(overall_reps)))


def _section_order(suite: Suite, plan: list[_Row]) -> list[str]:
    order = [s for s in suite.section_weights if any(r.section == s for r in plan)]
    for row in plan:
        if row.section not in order:
            order.append(row.section)
    return order


def _compare(suite: Suite, a: ModelResult, b: ModelResult,
             outcomes: list[dict[str, tuple[str, list[np.ndarray]]]], *, n_boot: int,
             seed: int) -> list[Comparison]:
    """Paired bootstrap of a − b per section and overall, over rows both models scored."""
    ra = {r.key: r for r in a.rows if r.skipped is None}
    rb = {r.key: r for r in b.rows if r.skipped is None}
    common = [k for k in ra if k in rb]
    reps_a, reps_b = {}, {}
    for key in common:
        kind, strata_a = outcomes[0][key]
        strata = [np.column_stack([sa, sb]) for sa, sb in
                  zip(strata_a, outcomes[1][key][1], strict=True)]
        reps = replicate_scores(kind, strata, n_boot=n_boot, rng=row_rng(seed, "pair/" + key))
        reps_a[key], reps_b[key] = reps[:, 0], reps[:, 1]
    rows_a = [ra[k] for k in common]
    rows_b = [rb[k] for k in common]
    pa, sa, oa, ova = _aggregate(suite, rows_a, reps_a)
    pb, sb, ob, ovb = _aggregate(suite, rows_b, reps_b)
    out = []
    for name in [s.name for s in a.sections if s.name in pa]:
        diff = float(pa[name] - pb[name])
        d_reps = sa[name] - sb[name]
        n = sum(ra[k].n for k in common if ra[k].section == name)
        out.append(Comparison(a.model, b.model, name, diff, percentile_ci(d_reps),
                              paired_p_value(diff, d_reps), n))
    if pa:
        diff = float(oa - ob)
        d_reps = np.asarray(ova) - np.asarray(ovb)
        out.append(Comparison(a.model, b.model, OVERALL, diff, percentile_ci(d_reps),
                              paired_p_value(diff, d_reps), sum(ra[k].n for k in common)))
    return out


# --- entry point ---------------------------------------------------------------------------


def run_bench(
    models: Sequence[str | Path | RewardModel],
    suite: Suite | str | Path = "default",
    *,
    ties: str = "half",
    limit: int | None = None,
    n_boot: int = 2000,
    seed: int = 0,
    cache: bool = True,
) -> BenchResult:
    """Benchmark one or more reward models on a suite, the way RewardBench scores.

    Args:
        models: model specs, saved directories or model objects; several are evaluated on
            the same rows and compared pairwise with a paired bootstrap.
        suite: ``default`` (or another bundled suite's name), a suite ``.toml`` file, a data
            file (a one-file suite), or a ``Suite``.
        ties: ``half`` (rewardlab's default) or ``rewardbench`` (a pair tie is a loss).
        limit: score at most the first N rows of every table row (a quick look).
        n_boot: bootstrap resamples for every interval and p-value.
        seed: seed of the bootstrap (per row, so adding a row changes no other row).
        cache: reuse scores from the score cache (only for models given as specs).

    Returns:
        A ``BenchResult``; rows that could not run carry their ``skipped`` reason.

    Raises:
        DataError: the suite file is malformed.
        SpecError, ModelFormatError, NotFittedError: a model cannot be loaded or used at all.
    """
    check_option("run_bench", "ties", ties, TIES)
    check_int("run_bench", "n_boot", n_boot, minimum=100)
    if limit is not None:
        check_int("run_bench", "limit", limit)
    if not models:
        raise CapabilityError("run_bench needs at least one model")
    suite = suite if isinstance(suite, Suite) else load_suite(suite)
    plan, left_out = plan_suite(suite, limit=limit, ties=ties)
    by_task: dict[str, list[_Row]] = {}
    for row in plan:
        if row.skipped is None:
            by_task.setdefault(row.task.name, []).append(row)
    results, all_outcomes = [], []
    for given in models:
        start = time.perf_counter()
        model = resolve(given)
        spec = str(given) if isinstance(given, str | Path) else describe(model)
        fingerprint = model_fingerprint(str(given)) if isinstance(given, str | Path) and cache \
            else ""
        store = ScoreCache(fingerprint)
        outcomes: dict[str, tuple[str, list[np.ndarray]]] = {}
        reasons: dict[str, str] = {}
        try:
            for name, rows in by_task.items():
                try:
                    outcomes.update(_outcomes(model, store, rows, ties, f"{spec}: {name}"))
                except (CapabilityError, DataError, ScoringError) as exc:
                    reasons.update(dict.fromkeys((r.key for r in rows), str(exc)))
        finally:
            store.close()
        result = _model_result(spec, fingerprint, suite, plan, outcomes, reasons,
                               n_boot=n_boot, seed=seed)
        results.append(replace(result, seconds=time.perf_counter() - start,
                               cache_hits=store.hits, cache_misses=store.misses))
        all_outcomes.append(outcomes)
    comparisons = []
    for i in range(len(results)):
        for j in range(i + 1, len(results)):
            comparisons.extend(_compare(suite, results[i], results[j],
                                        [all_outcomes[i], all_outcomes[j]], n_boot=n_boot,
                                        seed=seed))
    return BenchResult(suite=suite, models=tuple(results), comparisons=tuple(comparisons),
                       left_out=tuple(left_out), ties=ties, limit=limit, n_boot=n_boot,
                       seed=seed)
