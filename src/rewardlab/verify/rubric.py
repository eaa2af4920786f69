"""Rubrics: a checklist of criteria per prompt, each judged on its own, aggregated outside the
judge (Open Rubric System, Auto-Rubric, CARMO, WildBench checklists).

A criterion is one JSON object::

    {"text": "Names the capital", "kind": "llm" | "nugget" | <a constraint type>,
     "weight": 1.0, "hard": false, ...the constraint's own fields, e.g. "value": 100}

- a constraint kind (``max_words``, ``contains``, ``regex``, ``json``, ... — see
  ``rewardlab.verify.rules``) is checked by rule: 1 or 0, with the reason;
- ``nugget``: the response covers a reference fact (``value``, else ``text``): the best cosine
  similarity of the fact to one of the response's sentences is at least the threshold;
- ``llm``: a judge answers "does the response meet this criterion?" and the score is P(yes).

This module reads and validates rubrics (a list of criteria, or an object with ``criteria``),
from a row or from a YAML / JSON file with errors naming file, line and field, and
aggregates criterion scores (``aggregate``); the ``rubric:`` model kind scores them.

Example:
    >>> rubric = parse_rubric([{"kind": "max_words", "value": 5, "hard": True},
    ...                        {"kind": "contains", "value": "Paris", "weight": 3}])
    >>> aggregate(rubric, [1.0, 0.0], "mean"), aggregate(rubric, [0.0, 1.0], "gate")
    (0.25, 0.0)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rewardlab.errors import ConfigError, DataError
from rewardlab.verify.rules import CONSTRAINT_TYPES, Constraint, parse_constraint

__all__ = [
    "AGGREGATIONS",
    "CRITERION_KINDS",
    "Criterion",
    "Rubric",
    "aggregate",
    "load_rubric_file",
    "parse_rubric",
]

#: Criterion kinds besides the constraint types: judged by a model.
MODEL_KINDS = ("llm", "nugget")
CRITERION_KINDS = (*MODEL_KINDS, *CONSTRAINT_TYPES)
#: How criterion scores become one reward: weighted mean, the lowest score, or the weighted
#: mean unless a hard criterion failed (then the floor).
AGGREGATIONS = ("mean", "min", "gate")
#: Fields every criterion may carry; ``id`` and ``validation_accuracy`` (written by rubric
#: induction) are kept in the file and not used for scoring.
_COMMON = frozenset({"text", "kind", "weight", "hard", "id", "validation_accuracy"})
_NUGGET = frozenset({"value", "threshold"})
#: A criterion "fails" (for ``gate`` and the summary) when its score is below this.
PASS_MARK = 0.5

Fail = Callable[[str, str], Exception]


def _config_fail(where: str, msg: str) -> Exception:
    return ConfigError(f"field '{where}': {msg}")


@dataclass(frozen=True, slots=True)
class Criterion:
    """One validated criterion.

    Attributes:
        text: what it asks (for ``llm``, the question the judge answers).
        kind: ``llm``, ``nugget`` or a constraint type.
        weight: its share of the weighted mean (>= 0).
        hard: a failure sends ``agg=gate`` rewards to the floor.
        constraint: the rule of a constraint kind.
        fact: the reference fact of a ``nugget``.
        threshold: a ``nugget``'s own similarity threshold (None: the model's).
    """

    text: str
    kind: str
    weight: float = 1.0
    hard: bool = False
    constraint: Constraint | None = None
    fact: str | None = None
    threshold: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The criterion as a rubric file holds it."""
        out: dict[str, Any] = {"text": self.text, "kind": self.kind, "weight": self.weight,
                               "hard": self.hard}
        if self.constraint is not None:
            rule = self.constraint.to_json()
            rule.pop("type")
            out.update(rule)
        if self.fact is not None and self.fact != self.text:
            out["value"] = self.fact
        if self.threshold is not None:
            out["threshold"] = self.threshold
        return out


@dataclass(frozen=True, slots=True)
class Rubric:
    """Criteria, and anything else the file said (provenance, validation accuracy)."""

    criteria: tuple[Criterion, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def kinds(self) -> set[str]:
        return {c.kind for c in self.criteria}

    def to_json(self) -> dict[str, Any]:
        return {**self.meta, "criteria": [c.to_json() for c in self.criteria]}


def parse_rubric(value: Any, *, field: str = "rubric", fail: Fail = _config_fail,
                 lines: Callable[[str], int | None] | None = None) -> Rubric:
    """A rubric from its JSON form: a list of criteria, or ``{"criteria": [...], ...}``.

    Args:
        value: the rubric, or its JSON text (a CSV cell, a served request's reference).
        field: the name errors give it (``rubric`` -> ``rubric[2].weight``).
        fail: builds the error from (field, message): a data row's names its file and line.
        lines: for a file, the line of a field path (so errors point into the file).
    """
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as exc:
            raise fail(field, f"is text that is not a JSON rubric ({exc.msg} at character "
                              f"{exc.pos})") from None
    meta: dict[str, Any] = {}
    prefix = field
    if isinstance(value, dict):
        if "criteria" not in value:
            raise fail(field, "is an object without 'criteria'; a rubric is a list of criteria "
                              "or {\"criteria\": [...]}")
        meta = {k: v for k, v in value.items() if k != "criteria"}
        value, prefix = value["criteria"], f"{field}.criteria" if field else "criteria"
    if not isinstance(value, list) or not value:
        raise fail(prefix, "has no criteria; a rubric needs a non-empty list of "
                           "{\"text\", \"kind\", \"weight\", \"hard\"} objects"
                   if isinstance(value, list) else
                   f"must be a list of criteria, got {type(value).__name__}")
    criteria = tuple(_criterion(item, f"{prefix}[{i}]", fail)
                     for i, item in enumerate(value))
    total = sum(c.weight for c in criteria)
    if total <= 0:
        raise fail(prefix, "has weights that sum to zero; give at least one criterion a "
                           "positive weight")
    return Rubric(criteria, meta)


def _criterion(item: Any, where: str, fail: Fail) -> Criterion:
    if not isinstance(item, dict):
        raise fail(where, f"must be a criterion object ({{\"text\", \"kind\", ...}}), got "
                          f"{type(item).__name__}")
    kind = item.get("kind", "llm")
    if kind not in CRITERION_KINDS:
        raise fail(f"{where}.kind", f"unknown criterion kind {kind!r}; known: llm, nugget, "
                                    f"{', '.join(CONSTRAINT_TYPES)}")
    text = item.get("text")
    if text is not None and (not isinstance(text, str) or not text.strip()):
        raise fail(f"{where}.text", f"must be non-empty text, got {text!r}")
    weight = item.get("weight", 1.0)
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(
            weight) or weight < 0:
        raise fail(f"{where}.weight", f"must be a number >= 0, got {weight!r}")
    hard = item.get("hard", False)
    if not isinstance(hard, bool):
        raise fail(f"{where}.hard", f"must be true or false, got {hard!r}")
    if kind in CONSTRAINT_TYPES:
        rule = parse_constraint(item, field=where, fail=fail, type_key="kind",
                                allowed=_COMMON)
        return Criterion(text or _describe(rule), kind, float(weight), hard, constraint=rule)
    extra = set(item) - _COMMON - (_NUGGET if kind == "nugget" else set())
    if extra:
        raise fail(f"{where}.{sorted(extra)[0]}", f"is not a field of an '{kind}' criterion")
    if kind == "llm":
        if text is None:
            raise fail(f"{where}.text", "is missing; an llm criterion is the question the "
                                        "judge answers")
        return Criterion(text.strip(), kind, float(weight), hard)
    fact = item.get("value", text)
    if not isinstance(fact, str) or not fact.strip():
        raise fail(f"{where}.value", "is missing; a nugget criterion needs the reference fact "
                                     "as 'value' (or 'text')")
    threshold = item.get("threshold")
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(
            threshold, int | float) or not -1 <= threshold <= 1):
        raise fail(f"{where}.threshold", f"must be a cosine similarity in [-1, 1], got "
                                         f"{threshold!r}")
    return Criterion((text or fact).strip(), kind, float(weight), hard, fact=fact.strip(),
                     threshold=None if threshold is None else float(threshold))


def _describe(rule: Constraint) -> str:
    value = rule.to_json()["value"]
    return f"{rule.type}: {json.dumps(value, ensure_ascii=False)}"


# --- files -----------------------------------------------------------------------------------

def load_rubric_file(path: str | Path) -> Rubric:
    """A rubric from a ``.yaml`` / ``.yml`` / ``.json`` file, validated; errors name the file,
    the line of the offending criterion and the field.

    Raises:
        DataError: unreadable file, not YAML/JSON, or an invalid rubric.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the rubric: {exc}", file=str(path)) from None
    import yaml

    try:  # JSON is read as YAML too, for the line numbers of its nodes
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        node = None
        if path.suffix.lower() != ".json":
            mark = getattr(exc, "problem_mark", None)
            raise DataError(f"is not valid YAML: {getattr(exc, 'problem', exc)}",
                            file=str(path), line=None if mark is None else mark.line + 1
                            ) from None
    if path.suffix.lower() == ".json":
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"is not valid JSON: {exc.msg} (column {exc.colno})",
                            file=str(path), line=exc.lineno) from None
    else:
        value = yaml.safe_load(text)
    if not isinstance(value, list | dict):  # empty (None), or one scalar
        got = "is empty" if value is None else f"holds one {type(value).__name__} value"
        raise DataError(f"{got}; a rubric is a list of criteria or {{\"criteria\": [...]}}",
                        file=str(path))
    index = _node_lines(node) if node is not None else {}

    def fail(where: str, msg: str) -> DataError:
        line = None
        probe = where
        while probe and line is None:  # the field's own line, else its criterion's
            line = index.get(probe)
            probe = probe.rsplit(".", 1)[0] if "." in probe else probe.rsplit("[", 1)[0] \
                if "[" in probe else ""
        return DataError(msg, file=str(path), line=line, field=where or None)

    return parse_rubric(value, field="", fail=lambda f, m: fail(f.lstrip("."), m))


def _node_lines(node: Any, path: str = "") -> dict[str, int]:
    """1-based line of every node of a composed YAML document, keyed by field path
    (``criteria[1].weight``; a top-level list's items are ``[1]``)."""
    import yaml

    out = {path: node.start_mark.line + 1}
    if isinstance(node, yaml.MappingNode):
        for key, child in node.value:
            sub = f"{path}.{key.value}" if path else str(key.value)
            out[sub] = key.start_mark.line + 1
            out.update({k: v for k, v in _node_lines(child, sub).items() if k != sub})
    elif isinstance(node, yaml.SequenceNode):
        for i, child in enumerate(node.value):
            out.update(_node_lines(child, f"{path}[{i}]"))
    return out


# --- aggregation -----------------------------------------------------------------------------

def aggregate(rubric: Rubric, scores: Sequence[float], agg: str, *, floor: float = 0.0
              ) -> float:
    """One reward from the criteria's scores (each in [0, 1]).

    ``mean``: weighted mean; ``min``: the lowest score among criteria of positive weight;
    ``gate``: ``floor`` if any hard criterion scored below 0.5, else the weighted mean. NaN
    if a score it needs is NaN (a judge gave no verdict).
    """
    if agg not in AGGREGATIONS:
        raise ConfigError(f"The 'agg' option of rubric must be one of "
                          f"{', '.join(map(repr, AGGREGATIONS))}. Got {agg!r}.")
    pairs = list(zip(rubric.criteria, scores, strict=True))
    if agg == "min":
        return min(s for c, s in pairs if c.weight > 0)
    if agg == "gate" and any(c.hard and s < PASS_MARK for c, s in pairs):
        return floor
    total = sum(c.weight for c, _ in pairs)
    return sum(c.weight * s for c, s in pairs) / total
