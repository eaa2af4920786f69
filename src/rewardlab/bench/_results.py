"""Result objects of ``run_bench``: per row, per section, per model, and paired comparisons."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rewardlab.bench._suite import Suite

__all__ = ["BenchResult", "Comparison", "ModelResult", "RowResult", "SectionResult"]

OVERALL = "overall"


@dataclass(frozen=True)
class RowResult:
    """One row of the table for one model: a data file, or one subset of it.

    ``score`` is an accuracy (pairwise, best-of-n) or first-error F1; ``weight`` is the row's
    weight in its section (its example count unless the suite overrides it); ``baseline``
    holds the length-only pickers' scores on the same rows (``longer``/``shorter`` for pairs,
    ``longest``/``shortest``/``random`` for best-of-n); ``skipped`` is why the row was not
    scored (``None`` when it was).
    """

    key: str
    name: str
    task: str
    data: str
    metric: str
    section: str
    n: int
    weight: float
    score: float = float("nan")
    ci95: tuple[float, float] = (float("nan"), float("nan"))
    baseline: dict[str, float] = field(default_factory=dict)
    skipped: str | None = None
    details: dict[str, float] = field(default_factory=dict)

    @property
    def length_baseline(self) -> tuple[str, float] | None:
        """The better of the two length-only pickers: ``(which, score)``."""
        pairs = [(k, v) for k, v in self.baseline.items() if k != "random"]
        return max(pairs, key=lambda kv: kv[1]) if pairs else None

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "name": self.name, "task": self.task, "data": self.data,
                "metric": self.metric, "section": self.section, "n": self.n,
                "weight": self.weight, "score": self.score, "ci95": list(self.ci95),
                "baseline": self.baseline, "skipped": self.skipped, **self.details}


@dataclass(frozen=True)
class SectionResult:
    """A section's score (weighted mean of its scored rows) with a bootstrap interval."""

    name: str
    score: float
    ci95: tuple[float, float]
    n: int
    n_rows: int
    n_skipped: int

    def to_json(self) -> dict[str, Any]:
        return {"score": self.score, "ci95": list(self.ci95), "n": self.n,
                "rows": self.n_rows, "skipped_rows": self.n_skipped}


@dataclass(frozen=True)
class ModelResult:
    """Everything one model scored: rows, sections and the overall score."""

    model: str
    fingerprint: str
    rows: tuple[RowResult, ...]
    sections: tuple[SectionResult, ...]
    overall: float
    overall_ci95: tuple[float, float]
    seconds: float = 0.0
    cache_hits: int = 0
    cache_misses: int = 0

    @property
    def skipped(self) -> tuple[RowResult, ...]:
        return tuple(r for r in self.rows if r.skipped is not None)

    @property
    def metrics(self) -> dict[str, float]:
        """Namespaced figures: ``bench/overall``, ``bench/<section>``, ``bench/<row>``."""
        out = {"bench/overall": self.overall}
        out.update({f"bench/{s.name}": s.score for s in self.sections})
        out.update({f"bench/{r.key}": r.score for r in self.rows if r.skipped is None})
        return out

    def to_json(self) -> dict[str, Any]:
        return {"model": self.model, "fingerprint": self.fingerprint,
                "overall": self.overall, "overall_ci95": list(self.overall_ci95),
                "sections": {s.name: s.to_json() for s in self.sections},
                "rows": [r.to_json() for r in self.rows],
                "seconds": self.seconds,
                "score_cache": {"hits": self.cache_hits, "misses": self.cache_misses},
                "metrics": self.metrics}


@dataclass(frozen=True)
class Comparison:
    """A paired bootstrap comparison of two models on one section (or ``overall``).

    ``diff`` is score(a) − score(b) on the rows both models scored; ``p_value`` is the
    two-sided bootstrap p-value of "no difference" (``paired_p_value``).
    """

    a: str
    b: str
    section: str
    diff: float
    ci95: tuple[float, float]
    p_value: float
    n: int

    def to_json(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "section": self.section, "diff": self.diff,
                "ci95": list(self.ci95), "p_value": self.p_value, "n": self.n}


@dataclass(frozen=True)
class BenchResult:
    """The result of ``run_bench``: one ``ModelResult`` per model, comparisons between them,
    and the data rows the suite left out (subsets it does not map)."""

    suite: Suite
    models: tuple[ModelResult, ...]
    comparisons: tuple[Comparison, ...] = ()
    left_out: tuple[dict[str, Any], ...] = ()
    ties: str = "half"
    limit: int | None = None
    n_boot: int = 2000
    seed: int = 0
    primary_metric: str = field(default="bench/overall")
    greater_is_better: bool = True

    @property
    def metrics(self) -> dict[str, float]:
        """The first model's figures (``ModelResult.metrics``); the others are in ``models``."""
        return self.models[0].metrics if self.models else {}

    @property
    def any_skipped(self) -> bool:
        return any(m.skipped for m in self.models)

    @property
    def unscored_models(self) -> tuple[str, ...]:
        """Models none of whose table rows could be scored: their table holds only reasons,
        which a script reading the exit status alone should not take for a result."""
        return tuple(m.model for m in self.models
                     if m.rows and all(r.skipped is not None for r in m.rows))

    def to_json(self) -> dict[str, Any]:
        return {"suite": self.suite.to_json(), "ties": self.ties, "limit": self.limit,
                "n_boot": self.n_boot, "seed": self.seed,
                "models": [m.to_json() for m in self.models],
                "comparisons": [c.to_json() for c in self.comparisons],
                "left_out": list(self.left_out), "primary_metric": self.primary_metric,
                "metrics": self.metrics}
