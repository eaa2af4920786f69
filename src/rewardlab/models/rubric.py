"""``rubric:`` — a checklist of criteria per prompt, each judged on its own and aggregated
outside the judge.

Specs:

- ``rubric:`` — each row brings its rubric (a ``rubric`` column: a list of criteria, see
  ``rewardlab.verify.rubric``), passed as the row's reference like ``verify:rules``'
  constraints, so it reaches the model through data files, served requests and the RL
  adapters' dataset columns;
- ``rubric:?file=PATH`` — one rubric (YAML or JSON) for every row (``rewardlab score
  --rubric PATH``).

Options: ``agg=mean|min|gate`` (weighted mean, the default; the lowest score; the floor when a
hard criterion fails, else the weighted mean), ``floor``, ``judge=SPEC`` (the judge that
answers ``llm`` criteria, e.g. ``judge=judge:default`` or
``judge=judge:openai:http://127.0.0.1:8000/v1#Qwen2.5-7B-Instruct``; a spec with its own
options goes in parentheses), ``nugget_threshold`` and ``encoder`` (``nugget`` criteria).

A criterion's score: a constraint kind 1/0 by rule; ``nugget`` 1 when some sentence of the
response has cosine similarity >= the threshold to the fact under the sentence encoder
(MiniLM), else 0; ``llm`` the judge's P(yes) to "does the response meet: <text>?", read from
the verdict tokens' probabilities. A rubric of constraint kinds only loads no model at all.
``score`` writes every criterion's score and reason beside the reward.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab._validation import check_option, check_range
from rewardlab.data import Prompt
from rewardlab.errors import CapabilityError, ConfigError, SpecError
from rewardlab.models._module import SaveLoadMixin
from rewardlab.models.base import Grader, ReferenceGrader, ReferenceScorer
from rewardlab.models.registry import config_from_options, register_kind
from rewardlab.verify.rubric import (
    AGGREGATIONS,
    PASS_MARK,
    Criterion,
    Rubric,
    aggregate,
    load_rubric_file,
    parse_rubric,
)
from rewardlab.verify.rules import split_sentences

__all__ = ["NUGGET_THRESHOLD", "FixedRubricModel", "RubricConfig", "RubricModel",
           "RubricVerdict", "llm_question"]

#: Default cosine threshold of a ``nugget`` criterion under MiniLM, chosen on data: the value
#: of the grid 0.30..0.90 that maximised pairwise accuracy on the first 250 FineGrained QA
#: bench pairs (facts = the passages' sentences; benchmarks/rubric.py, benchmarks/README.md).
#: It is the grid's top and the tuning curve is flat (0.47-0.53), so it says mostly that
#: those answers copy passage sentences: a high bar means "states this fact nearly
#: verbatim". Facts that a good reply paraphrases want a lower one (``nugget_threshold=0.7``
#: or a criterion's own ``threshold``).
NUGGET_THRESHOLD = 0.9
_CACHE_SIZE = 4096


def llm_question(criterion: str) -> str:
    """The rubric text a judge is shown for one ``llm`` criterion."""
    return ("The standard to check is this one criterion (judge only this, nothing else):\n"
            f"{criterion}")


@dataclass(frozen=True, kw_only=True, slots=True)
class RubricConfig:
    """Settings of ``rubric:``; every field is also a spec option.

    Args:
        agg: ``mean`` (weighted), ``min`` or ``gate`` (any failed hard criterion -> ``floor``).
        floor: the reward ``gate`` gives when a hard criterion fails.
        judge: spec of the judge for ``llm`` criteria (None: a rubric with one is an error).
        nugget_threshold: cosine similarity a response sentence needs to cover a fact.
        encoder: the sentence encoder of ``nugget`` criteria.
        file: a rubric file for every row (None: each row's ``rubric``).
    """

    agg: str = "mean"
    floor: float = 0.0
    judge: str | None = None
    nugget_threshold: float = NUGGET_THRESHOLD
    encoder: str = "minilm"
    file: str | None = None

    def __post_init__(self) -> None:
        check_option("RubricConfig", "agg", self.agg, AGGREGATIONS)
        check_range("RubricConfig", "nugget_threshold", self.nugget_threshold, -1.0, 1.0)
        if self.judge is not None and not self.judge.strip("() "):
            raise ConfigError("The 'judge' parameter of RubricConfig must be a judge spec "
                              "such as judge:default. Got ''.")


@dataclass(frozen=True, slots=True)
class RubricVerdict:
    """One response judged on its rubric: the reward and every criterion's score and reason."""

    value: float
    criteria: tuple[Criterion, ...]
    scores: tuple[float, ...]
    reasons: tuple[str | None, ...]
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        rows = []
        for c, s, why in zip(self.criteria, self.scores, self.reasons, strict=True):
            row: dict[str, Any] = {"text": c.text, "kind": c.kind, "weight": c.weight,
                                   "score": None if math.isnan(s) else s}
            if c.hard:
                row["hard"] = True
            if why is not None:
                row["reason"] = why
            rows.append(row)
        out: dict[str, Any] = {"value": None if math.isnan(self.value) else self.value,
                               "criteria": rows}
        if self.reason is not None:
            out["reason"] = self.reason
        return out


class _RubricScoring(SaveLoadMixin):
    """What both rubric models share: criteria scored by kind, then aggregated."""

    kind = "rubric"
    config_class = RubricConfig
    spec: str | None = None

    # --- the models a rubric may need, loaded only then --------------------------------------
    def _judge(self) -> Any:
        judge = self.__dict__.get("_judge_model")
        if judge is None:
            from rewardlab.models.registry import resolve

            spec = self.config.judge
            if spec is None:
                raise ConfigError("this rubric has llm criteria, which a judge answers; give "
                                  "one with rubric:?judge=SPEC (e.g. judge=judge:default)")
            spec = spec.strip()
            if spec.startswith("(") and spec.endswith(")"):
                spec = spec[1:-1]
            judge = resolve(spec)
            if not hasattr(judge, "engine"):
                raise CapabilityError(f"'{spec}' cannot answer rubric criteria: it is not a "
                                      "generative judge (judge:...)")
            self.__dict__["_judge_model"] = judge
        return judge

    def _encoder(self) -> Any:
        encoder = self.__dict__.get("_encoder_model")
        if encoder is None:
            from rewardlab.models._encoder import SentenceEncoder

            encoder = SentenceEncoder(self.config.encoder)
            self.__dict__["_encoder_model"] = encoder
        return encoder

    def _needs_judge(self, rubric: Rubric, fail: Callable[[str, str], Exception],
                     field: str) -> None:
        if "llm" in rubric.kinds and self.config.judge is None:
            raise fail(field, "has llm criteria, which a judge answers, but the model has no "
                              "judge; use rubric:?judge=SPEC (e.g. judge=judge:default)")

    # --- scoring ---------------------------------------------------------------------------
    def _grade(self, prompts: Sequence[Prompt], responses: Sequence[str],
               rubrics: Sequence[Rubric]) -> list[RubricVerdict]:
        n = len(responses)
        scores: list[list[float]] = [[math.nan] * len(r.criteria) for r in rubrics]
        reasons: list[list[str | None]] = [[None] * len(r.criteria) for r in rubrics]
        nuggets: list[tuple[int, int, Criterion]] = []
        llm: dict[str, list[tuple[int, int]]] = {}
        for i, (response, rubric) in enumerate(zip(responses, rubrics, strict=True)):
            for j, c in enumerate(rubric.criteria):
                if c.constraint is not None:
                    check = c.constraint.check(response)
                    scores[i][j], reasons[i][j] = float(check.passed), check.reason
                elif c.kind == "nugget":
                    nuggets.append((i, j, c))
                else:
                    llm.setdefault(c.text, []).append((i, j))
        if nuggets:
            self._score_nuggets(responses, nuggets, scores, reasons)
        if llm:
            self._score_llm(prompts, responses, llm, scores, reasons)
        out = []
        for i in range(n):
            rubric, s = rubrics[i], scores[i]
            missing = [j for j, v in enumerate(s) if math.isnan(v)]
            if missing:
                value, why = math.nan, (f"criterion {missing[0]} has no score: "
                                        f"{reasons[i][missing[0]]}")
            else:
                value, why = aggregate(rubric, s, self.config.agg,
                                       floor=self.config.floor), None
            out.append(RubricVerdict(value, rubric.criteria, tuple(s), tuple(reasons[i]), why))
        return out

    def _score_nuggets(self, responses: Sequence[str], nuggets: list[tuple[int, int, Criterion]],
                       scores: list[list[float]], reasons: list[list[str | None]]) -> None:
        rows = sorted({i for i, _, _ in nuggets})
        sentences = {i: split_sentences(responses[i]) for i in rows}
        texts = list(dict.fromkeys([c.fact for _, _, c in nuggets]
                                   + [s for i in rows for s in sentences[i]]))
        where = {t: k for k, t in enumerate(texts)}
        vectors = self._encoder().embed(texts).astype(np.float64)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        for i, j, c in nuggets:
            threshold = c.threshold if c.threshold is not None else self.config.nugget_threshold
            if not sentences[i]:
                scores[i][j], reasons[i][j] = 0.0, "nugget: the response has no sentences"
                continue
            sims = vectors[[where[s] for s in sentences[i]]] @ vectors[where[c.fact]]
            best = float(sims.max())
            scores[i][j] = float(best >= threshold)
            if best < threshold:
                reasons[i][j] = (f"nugget: best sentence similarity {best:.3f} < "
                                 f"{threshold:.3f}")

    def _score_llm(self, prompts: Sequence[Prompt], responses: Sequence[str],
                   llm: dict[str, list[tuple[int, int]]], scores: list[list[float]],
                   reasons: list[list[str | None]]) -> None:
        judge = self._judge()
        for text, items in llm.items():
            engine = dataclasses.replace(judge.engine, rubric=llm_question(text))
            verdicts = engine.singles("yesno", [prompts[i] for i, _ in items],
                                      [responses[i] for i, _ in items])
            for (i, j), v in zip(items, verdicts, strict=True):
                scores[i][j] = float(v.value)
                if math.isnan(v.value):
                    reasons[i][j] = f"llm: no verdict ({v.reason})"
                elif v.value < PASS_MARK:
                    reasons[i][j] = f"llm: P(yes) = {v.value:.3f}"


@register_kind("rubric")
class RubricModel(_RubricScoring, ReferenceScorer, ReferenceGrader):
    """Reward each response by its row's rubric (``rubric:``); see the module docstring.

    Example:
        >>> model = RubricModel(agg="gate")
        >>> rubric = '[{"kind": "max_words", "value": 3, "hard": true}, ' \\
        ...          '{"kind": "contains", "value": "Paris"}]'
        >>> model.score_with_references(["q"] * 2, ["Paris.", "It is not Paris."], [rubric] * 2)
        array([1., 0.])
    """

    #: references are lists of objects (as JSON text), which the server and adapters pass on
    structured_references = True
    #: a valid reference, for a server's warm-up call
    warm_up_reference = '[{"kind": "min_words", "value": 1}]'

    @classmethod
    def from_spec(cls, arg: str, options: dict[str, str]) -> Any:
        if arg:
            options = {**options, "file": arg}  # rubric:PATH is rubric:?file=PATH
        config = config_from_options(RubricConfig, options, spec=f"rubric:{arg}")
        if config.file is not None:
            return FixedRubricModel(**asdict(config))
        return cls(**asdict(config))

    @classmethod
    def from_saved(cls, directory: Path, config: dict[str, Any], state: dict[str, Any]
                   ) -> Any:
        return (FixedRubricModel if config.get("file") else cls)(**config)

    def rubric(self, reference: Any, fail: Callable[[str, str], Exception] | None = None
               ) -> Rubric:
        """The validated rubric of one row (its JSON text, or the list itself)."""
        cache: dict[str, Rubric] = self.__dict__.setdefault("_parsed", {})
        key = reference if isinstance(reference, str) else None
        if key is not None and key in cache:
            return cache[key]
        kwargs = {"fail": fail} if fail is not None else {}
        rubric = parse_rubric(reference, field="rubric", **kwargs)
        self._needs_judge(rubric, fail or _plain_fail, "rubric")
        if key is not None:
            if len(cache) >= _CACHE_SIZE:
                cache.clear()
            cache[key] = rubric
        return rubric

    def check_reference(self, reference: Any, fail: Callable[[str, str], Exception]) -> None:
        """Validate one row's rubric before scoring (errors name file, line and field)."""
        self.rubric(reference, fail)

    def score(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """Always raises: each row brings its rubric (or use ``rubric:?file=PATH``)."""
        raise CapabilityError(
            f"model '{self.spec or 'rubric:'}' judges each response by its row's rubric, and "
            "score(prompts, responses) carries none. Give data rows a 'rubric' column, use "
            "one rubric for every row with rubric:?file=PATH (rewardlab score --rubric PATH), "
            "or call score_with_references(prompts, responses, rubrics)")

    def grade_with_references(self, prompts: Sequence[Prompt], responses: Sequence[str],
                              references: Sequence[Any]) -> list[RubricVerdict]:
        """Per response, the reward and every criterion's score and reason."""
        if not len(prompts) == len(responses) == len(references):
            raise ConfigError(f"got {len(prompts)} prompts, {len(responses)} responses and "
                              f"{len(references)} rubrics; they must pair up")
        bad = next((i for i, r in enumerate(references) if r is None), None)
        if bad is not None:
            raise ConfigError(f"item {bad} has no rubric, which model "
                              f"'{self.spec or 'rubric:'}' judges its response by")
        return self._grade(prompts, responses, [self.rubric(r) for r in references])

    def score_with_references(self, prompts: Sequence[Prompt], responses: Sequence[str],
                              references: Sequence[Any]) -> np.ndarray:
        """Rewards float64 ``(n,)``, response ``i`` judged by rubric ``references[i]``."""
        verdicts = self.grade_with_references(prompts, responses, references)
        return np.array([v.value for v in verdicts], dtype=np.float64)


class FixedRubricModel(_RubricScoring, Grader):
    """One rubric file for every row (``rubric:?file=PATH``): a plain reward model that
    explains each reward."""

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        if self.config.file is None:
            raise SpecError("FixedRubricModel needs a rubric file: rubric:?file=PATH")
        # the file is configuration, read once; not learned state
        self.rubric = load_rubric_file(self.config.file)

        def fail(field: str, msg: str) -> Exception:
            return ConfigError(f"{self.config.file}: {msg}")

        self._needs_judge(self.rubric, fail, "")

    def grade(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> list[RubricVerdict]:
        """Per response, the reward and every criterion's score and reason."""
        if len(prompts) != len(responses):
            raise ConfigError(f"got {len(prompts)} prompts but {len(responses)} responses; "
                              "they must pair up one to one")
        return self._grade(prompts, responses, [self.rubric] * len(responses))

    def score(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """Rewards float64 ``(n,)`` under the rubric file."""
        return np.array([v.value for v in self.grade(prompts, responses)], dtype=np.float64)


def _plain_fail(field: str, msg: str) -> Exception:
    return ConfigError(f"field '{field}': {msg}")
