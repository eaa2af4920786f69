"""Typed results of an audit: one ``ProbeResult`` per probe, gathered in an ``AuditResult``.

A probe's result carries everything a reader needs to act on it: the one figure that decides
its verdict, the threshold that figure was judged against, the other numbers behind it, the
worst examples, and the data its plot is drawn from. Reports (HTML, JSON, the terminal table)
only render these objects; nothing is computed while rendering.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["AuditResult", "Example", "ProbeResult", "ProbeSkipped", "Threshold", "Verdict"]

Verdict = Literal["ok", "warn", "flagged", "skipped"]
_ORDER = {"ok": 0, "warn": 1, "flagged": 2}


class ProbeSkipped(Exception):
    """Raised by a probe that does not apply to this model or data; the reason is reported."""


@dataclass(frozen=True, kw_only=True, slots=True)
class Threshold:
    """How a figure is read: ``warn`` and ``flag`` levels, and which direction is bad.

    Example:
        >>> t = Threshold(warn=0.1, flag=0.2)
        >>> t.verdict(0.05), t.verdict(0.15), t.verdict(0.3)
        ('ok', 'warn', 'flagged')
        >>> Threshold(warn=0.85, flag=0.7, higher_is_worse=False).verdict(0.5)
        'flagged'
    """

    warn: float
    flag: float
    higher_is_worse: bool = True

    def verdict(self, value: float) -> Verdict:
        if value != value:  # NaN: nothing to judge
            return "ok"
        bad = (lambda level: value >= level) if self.higher_is_worse else (
            lambda level: value <= level)
        return "flagged" if bad(self.flag) else ("warn" if bad(self.warn) else "ok")

    def describe(self) -> str:
        op = "≥" if self.higher_is_worse else "≤"
        return f"warn {op} {self.warn:g}, flag {op} {self.flag:g}"

    def to_json(self) -> dict[str, Any]:
        return {"warn": self.warn, "flag": self.flag, "higher_is_worse": self.higher_is_worse}


@dataclass(frozen=True, kw_only=True, slots=True)
class Example:
    """One case behind a figure, worst first: what was scored and what the model made of it."""

    prompt: str
    response: str
    other: str | None = None
    label: str = ""
    detail: str = ""
    severity: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "response": self.response, "other": self.other,
                "label": self.label, "detail": self.detail, "severity": self.severity}


@dataclass(frozen=True, kw_only=True)
class ProbeResult:
    """What one probe found.

    Attributes:
        name: the probe's name (``--probes``), e.g. ``length``.
        title: a human title.
        verdict: ``ok``, ``warn``, ``flagged`` or ``skipped``.
        figure: the name of the deciding figure; ``value`` is it, judged by ``threshold``.
        metrics: every number the probe measured, flat, with stable keys (the JSON holds
            them; ``AuditResult.metrics`` namespaces them as ``audit/<probe>/<key>``).
        tables: small tables (rows of dicts) shown under the plot, e.g. per transformation.
        examples: the worst cases, worst first.
        plot: the arrays the report's plot is drawn from.
        notes: caveats (sample caps, parts that did not apply).
        reason: why a skipped probe was skipped.
    """

    name: str
    title: str
    verdict: Verdict
    figure: str = ""
    value: float = float("nan")
    threshold: Threshold | None = None
    summary: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    examples: tuple[Example, ...] = ()
    plot: dict[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    reason: str | None = None
    seconds: float = 0.0

    @classmethod
    def skipped(cls, name: str, title: str, reason: str) -> ProbeResult:
        return cls(name=name, title=title, verdict="skipped", reason=reason)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "verdict": self.verdict,
            "figure": self.figure,
            "value": self.value,
            "threshold": None if self.threshold is None else self.threshold.to_json(),
            "summary": self.summary,
            "metrics": self.metrics,
            "tables": self.tables,
            "examples": [e.to_json() for e in self.examples],
            "plot": self.plot,
            "notes": list(self.notes),
            "reason": self.reason,
            "seconds": self.seconds,
        }


@dataclass(frozen=True, kw_only=True)
class AuditResult:
    """Every probe's result, with what was audited and under which settings."""

    model: str
    data: str
    probes: tuple[ProbeResult, ...]
    settings: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    version: str = ""
    #: what the model itself is made of, beside the probes (no verdict): ``attributes`` (a
    #: multi: model's reward per head) and ``users`` (a personal: model's accuracy vs k)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ran(self) -> tuple[ProbeResult, ...]:
        return tuple(p for p in self.probes if p.verdict != "skipped")

    @property
    def skipped(self) -> tuple[ProbeResult, ...]:
        return tuple(p for p in self.probes if p.verdict == "skipped")

    @property
    def worst(self) -> Verdict:
        """The worst verdict of the probes that ran (``ok`` when none ran)."""
        verdicts = [p.verdict for p in self.ran]
        return max(verdicts, key=_ORDER.__getitem__, default="ok")

    def probe(self, name: str) -> ProbeResult:
        for p in self.probes:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def metrics(self) -> dict[str, float]:
        """Namespaced figures: ``audit/<probe>/<key>``, finite or NaN."""
        out: dict[str, float] = {}
        for p in self.ran:
            out[f"audit/{p.name}/{p.figure}"] = p.value
            for key, value in p.metrics.items():
                if isinstance(value, int | float) and not isinstance(value, bool):
                    out[f"audit/{p.name}/{key}"] = float(value)
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "task": "audit",
            "model": self.model,
            "data": self.data,
            "version": self.version,
            "seconds": self.seconds,
            "settings": self.settings,
            "worst_verdict": self.worst,
            "summary": [
                {"probe": p.name, "figure": p.figure, "value": p.value,
                 "threshold": None if p.threshold is None else p.threshold.describe(),
                 "verdict": p.verdict, "reason": p.reason}
                for p in self.probes
            ],
            "probes": {p.name: p.to_json() for p in self.probes},
            "metrics": self.metrics,
            **({"views": self.views} if self.views else {}),
        }

