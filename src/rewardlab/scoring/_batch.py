"""One batch of (prompt, response) pairs scored by a model, routed by its declared capability.

The route, first match wins:

1. ``ReferenceScorer`` (verifiers, a judge in ``mode=reference``): ``score_with_references``;
   every item needs its reference answer.
2. ``GroupDependent`` (``vote:``): ``score_groups``, so each group is scored whole.
3. ``UncertainScorer`` (ensembles): ``score_with_uncertainty``; the spread comes along.
4. ``Grader`` (generative judges): ``grade``; the reward is each verdict's value and the
   verdict's probabilities, rationale and reason for a missing reward come along.
5. ``AttributeScorer`` (``multi:``): ``score_attributes`` with each item's weights; every
   attribute's reward comes along as ``rewards_by_attribute``.
6. ``UserScorer`` (``personal:``): ``score_users`` with each item's user; the details say
   whether the user was adapted to or scored with the population mixture.
7. anything else: ``score``.

Whatever the route, what comes back passes ``check_rewards``, and an exception that is not
rewardlab's own becomes ``ScoringError`` naming the model and the method.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

import numpy as np

from rewardlab.data import Prompt
from rewardlab.errors import (
    CapabilityError,
    ConfigError,
    DataError,
    RewardLabError,
    ScoringError,
)
from rewardlab.models.base import (
    AttributeScorer,
    Grader,
    GroupDependent,
    ReferenceGrader,
    ReferenceScorer,
    UncertainScorer,
    UserScorer,
    describe,
)
from rewardlab.scoring._check import check_items, check_rewards

__all__ = [
    "Route",
    "ScoredBatch",
    "ascore_batch",
    "call_model",
    "needs_references",
    "require_row_references",
    "route",
    "score_batch",
    "takes_structured_references",
]

T = TypeVar("T")


@dataclass(frozen=True)
class ScoredBatch:
    """What ``score_batch`` returns.

    Attributes:
        rewards: float64 ``(n,)``; NaN where the model gave none (a judge without a verdict).
        uncertainty: float64 ``(n,)`` for models that know how sure they are (ensembles).
        details: per item, what the model said beside the reward (a judge's ``probs``,
            ``rationale`` and, where the reward is NaN, the ``reason``); ``None`` for models
            that say nothing more.
    """

    rewards: np.ndarray
    uncertainty: np.ndarray | None = None
    details: tuple[dict[str, Any], ...] | None = None


def call_model(model: object, method: str, fn: Callable[..., T], *args: Any,
               **kwargs: Any) -> T:
    """``fn(*args, **kwargs)`` (a method of ``model``), with any exception that is not
    rewardlab's own turned into ``ScoringError`` naming the model and ``method`` (chained,
    so the original traceback stays one ``raise ... from`` away).

    Example:
        >>> call_model(object(), "score", int, "x")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        rewardlab.errors.ScoringError: model 'object' failed in score(): ValueError: ...
    """
    try:
        return fn(*args, **kwargs)
    except RewardLabError:
        raise
    except Exception as exc:
        raise _failed_in(model, method, exc) from exc


def _failed_in(model: object, method: str, exc: Exception) -> ScoringError:
    """The message for a foreign exception raised inside ``model.<method>``."""
    return ScoringError(f"model '{describe(model)}' failed in {method}(): "
                        f"{type(exc).__name__}: {exc}")


Route = Literal["references", "groups", "uncertainty", "grade", "attributes", "users",
                "score"]


def route(model: object) -> Route:
    """Which method ``score_batch`` calls for ``model`` (the module docstring's order):
    ``references`` (``score_with_references``), ``groups`` (``score_groups``),
    ``uncertainty`` (``score_with_uncertainty``), ``grade``, ``attributes``
    (``score_attributes``), ``users`` (``score_users``) or ``score``.

    Example:
        >>> from rewardlab import resolve
        >>> route(object()), route(resolve("vote:"))
        ('score', 'groups')
    """
    if isinstance(model, ReferenceScorer):
        return "references"
    if isinstance(model, GroupDependent):
        return "groups"
    if isinstance(model, UncertainScorer):
        return "uncertainty"
    if isinstance(model, Grader):
        return "grade"
    if isinstance(model, AttributeScorer):
        return "attributes"
    if isinstance(model, UserScorer):
        return "users"
    return "score"


def row_location(source: str | Any) -> str:
    """How an error names a row's place in ``source``: a Parquet file's rows are counted
    (``row``), not its lines, as the data readers say."""
    return "row" if str(source).lower().endswith(".parquet") else "line"


def require_row_references(model: object, records: Sequence[Any], source: str) -> None:
    """Before scoring a data set's rows with a model that needs reference answers, name the
    first row without one by its file and line (rather than its position in a batch).

    Raises:
        DataError: a row has no ``reference`` and ``model`` is a ``ReferenceScorer``.
    """
    if not needs_references(model):
        return
    location = row_location(source)
    missing = next((r for r in records if r.reference is None), None)
    if missing is not None:
        raise DataError(
            f"has no reference answer, which model '{describe(model)}' checks responses "
            "against; add a 'reference' (or 'ground_truth' / 'answer') field to every row",
            file=source, line=missing.line, field="reference", location=location)
    # a structured reference (verify:rules' constraints, a rubric) is validated up front,
    # so a bad one is named by file, line and field before anything is scored
    check = getattr(model, "check_reference", None)
    if callable(check):
        for r in records:
            def fail(field: str, msg: str, line: int | None = r.line) -> DataError:
                return DataError(msg, file=source, line=line, field=field, location=location)

            check(r.reference, fail)


def needs_references(model: object) -> bool:
    """Whether ``model`` judges each response against a reference answer (so a batch without
    references cannot be scored); consumers ask this to check their input up front."""
    return route(model) == "references"


def takes_structured_references(model: object) -> bool:
    """Whether ``model``'s references may be JSON structures (reference tool calls, test
    cases) rather than one answer: such a kind declares ``structured_references = True``.
    Consumers that receive a list or object as a reference (a request field, a dataset
    column) pass it on as its JSON text (``rewardlab.data.json_text``); for other models a
    structure is refused, since its text would be judged as an answer and silently score 0."""
    return needs_references(model) and bool(getattr(model, "structured_references", False))


def _check_lengths(model: object, n: int, prompts: Sequence[Any], references: Any,
                   groups: Any) -> None:
    if len(prompts) != n:
        raise ConfigError(f"got {len(prompts)} prompts but {n} responses for model "
                          f"'{describe(model)}'; they must pair up one to one")
    for name, values in (("reference answers", references), ("group ids", groups)):
        if values is not None and len(values) != n:
            raise ConfigError(f"got {len(values)} {name} for {n} responses for model "
                              f"'{describe(model)}'; give one per response")


def score_batch(model: Any, prompts: Sequence[Prompt], responses: Sequence[str], *,
                references: Sequence[str | None] | None = None,
                groups: Sequence[Any] | None = None,
                weights: Sequence[Any] | None = None,
                users: Sequence[str | None] | None = None) -> ScoredBatch:
    """Score one batch with ``model``, the way its capabilities need (see the module
    docstring), and check the result.

    Args:
        model: any ``RewardModel``.
        prompts: a prompt (text or ``Message`` tuple) per response.
        responses: the responses.
        references: a reference answer per response; required (every one) by a
            ``ReferenceScorer``, ignored by other models.
        groups: a group id per response for a ``GroupDependent`` model (default: equal
            prompts form a group); ignored by other models.
        weights: per response, attribute weights (a mapping or ``(name, weight)`` pairs) or
            None, for an ``AttributeScorer``; other models refuse weights.
        users: per response, a user id or None, for a ``UserScorer``; ignored by other
            models (a data set's ``user`` column means nothing to them).

    Returns:
        A ``ScoredBatch``.

    Raises:
        CapabilityError: the model needs reference answers and ``references`` is None.
        ConfigError: the inputs do not pair up, or a reference answer the model needs is
            missing (the message names the item and the model).
        ScoringError: the model returned something that is not one number per response, or
            raised an exception that is not rewardlab's own.

    Example:
        >>> from rewardlab import resolve
        >>> score_batch(resolve("verify:math"), ["1+1?"], ["#### 2"], references=["2"]).rewards
        array([1.])
    """
    n = len(responses)
    _check_lengths(model, n, prompts, references, groups)
    name = describe(model)
    how = route(model)
    _check_conditions(model, name, how, n, weights, users)
    if how == "references":
        if references is None:
            raise CapabilityError(f"model '{name}' checks each response against a reference "
                                  "answer, and this batch has none; give one per response "
                                  "(a 'reference', 'ground_truth' or 'answer' field)")
        missing = next((i for i, r in enumerate(references) if r is None), None)
        if missing is not None:
            raise ConfigError(f"item {missing} has no reference answer, which model '{name}' "
                              "checks its response against")
    if n == 0:
        return ScoredBatch(np.zeros(0), np.zeros(0) if how == "uncertainty" else None)
    if how == "references":
        if isinstance(model, ReferenceGrader):  # the reward and why (each failed check)
            return _graded(model, name, prompts, responses, references)
        out = call_model(model, "score_with_references", model.score_with_references,
                         prompts, responses, references)
        return ScoredBatch(check_rewards(out, n, model=name, method="score_with_references"))
    if how == "groups":
        out = call_model(model, "score_groups", model.score_groups, prompts, responses, groups)
        return ScoredBatch(check_rewards(out, n, model=name, method="score_groups"))
    if how == "uncertainty":
        method = "score_with_uncertainty"
        out = call_model(model, method, model.score_with_uncertainty, prompts, responses)
        if not isinstance(out, tuple) or len(out) != 2:
            raise ScoringError(f"model '{name}' failed the scoring check: {method}() returned "
                               f"{type(out).__name__}; it must return a tuple (rewards, "
                               "uncertainty)")
        return ScoredBatch(check_rewards(out[0], n, model=name, method=method),
                           check_rewards(out[1], n, model=name, method=method,
                                         what="uncertainty"))
    if how == "grade":
        return _graded(model, name, prompts, responses)
    if how == "attributes":
        return _by_attribute(model, name, prompts, responses, weights)
    if how == "users":
        return _by_user(model, name, prompts, responses, users)
    out = call_model(model, "score", model.score, prompts, responses)
    return ScoredBatch(check_rewards(out, n, model=name))


def _check_conditions(model: Any, name: str, how: str, n: int, weights: Any, users: Any
                      ) -> None:
    """Weights only mean something to a ``multi:`` model: any other refuses them, rather than
    scoring as if they had been applied."""
    for what, values in (("attribute weights", weights), ("users", users)):
        if values is not None and len(values) != n:
            raise ConfigError(f"got {len(values)} {what} for {n} responses for model "
                              f"'{name}'; give one per response")
    if weights is not None and how != "attributes" and any(w is not None for w in weights):
        raise ConfigError(f"model '{name}' has no attribute heads, so attribute weights do "
                          "not apply to it; weights steer multi: models")


def _by_attribute(model: Any, name: str, prompts: Sequence[Prompt],
                  responses: Sequence[str], weights: Sequence[Any] | None) -> ScoredBatch:
    """An ``AttributeScorer``'s combined rewards, with every attribute's reward as details."""
    n = len(responses)
    method = "score_attributes"
    out = call_model(model, method, model.score_attributes, prompts, responses, weights)
    if not isinstance(out, tuple) or len(out) != 2 or not isinstance(out[1], dict):
        raise ScoringError(f"model '{name}' failed the scoring check: {method}() returned "
                           f"{type(out).__name__}; it must return (rewards, "
                           "{attribute: rewards})")
    rewards = check_rewards(out[0], n, model=name, method=method)
    parts = {a: check_rewards(v, n, model=name, method=method, what=f"rewards of '{a}'")
             for a, v in out[1].items()}
    details = tuple({"rewards_by_attribute": {a: float(v[i]) for a, v in parts.items()}}
                    for i in range(n))
    return ScoredBatch(rewards, details=details)


def _by_user(model: Any, name: str, prompts: Sequence[Prompt], responses: Sequence[str],
             users: Sequence[str | None] | None) -> ScoredBatch:
    """A ``UserScorer``'s rewards, each with its user and how that user was scored."""
    n = len(responses)
    who = list(users) if users is not None else [None] * n
    out = call_model(model, "score_users", model.score_users, prompts, responses, who)
    if not isinstance(out, tuple) or len(out) != 2 or len(out[1]) != n:
        raise ScoringError(f"model '{name}' failed the scoring check: score_users() must "
                           "return (rewards, one fit name per response)")
    rewards = check_rewards(out[0], n, model=name, method="score_users")
    # an item without a user is scored for the model's default user (DIR?user=NAME): name
    # that one, so a default that fell back to the population mixture is seen as such
    default = getattr(getattr(model, "config", None), "user", None) or None
    details = tuple({"user": u if u is not None else default, "user_fit": fit}
                    for u, fit in zip(who, out[1], strict=True))
    return ScoredBatch(rewards, details=details)


def _graded(model: Any, name: str, prompts: Sequence[Prompt], responses: Sequence[str],
            references: Sequence[Any] | None = None) -> ScoredBatch:
    """A ``Grader``'s (or ``ReferenceGrader``'s) verdicts: the rewards, and the rest of each
    verdict as its details."""
    n = len(responses)
    if references is None:
        method = "grade"
        verdicts = call_model(model, method, model.grade, prompts, responses)
    else:
        method = "grade_with_references"
        verdicts = call_model(model, method, model.grade_with_references, prompts, responses,
                              references)
    check_items(verdicts, n, model=name, method=method, what="verdicts")
    values = call_model(model, method, lambda: np.array(
        [v.value for v in verdicts], dtype=np.float64))
    # the reward is the row's already (a verifier's verdict calls it "reward", a judge's "value")
    details = call_model(model, method, lambda: tuple(
        {k: v for k, v in verdict.to_json().items() if k not in ("value", "reward")}
        for verdict in verdicts))
    return ScoredBatch(check_rewards(values, n, model=name, method=method), details=details)


async def ascore_batch(model: Any, prompts: Sequence[Prompt], responses: Sequence[str], *,
                       references: Sequence[str | None] | None = None,
                       groups: Sequence[Any] | None = None,
                       weights: Sequence[Any] | None = None,
                       users: Sequence[str | None] | None = None,
                       lock: threading.Lock | None = None) -> ScoredBatch:
    """``score_batch`` without blocking the event loop: a model whose plain route is
    ``score`` and that has an ``async def ascore(prompts, responses)`` (a remote judge) is
    awaited; everything else runs ``score_batch`` in a worker thread, holding ``lock`` (if
    given) for the call, since models are not assumed to be thread-safe."""
    native = getattr(model, "ascore", None)
    if route(model) == "score" and native is not None and inspect.iscoroutinefunction(native):
        n = len(responses)
        _check_lengths(model, n, prompts, None, None)
        try:
            out = await native(prompts, responses)
        except RewardLabError:
            raise
        except Exception as exc:
            raise _failed_in(model, "ascore", exc) from exc
        return ScoredBatch(check_rewards(out, n, model=describe(model), method="ascore"))

    def run() -> ScoredBatch:
        with lock if lock is not None else contextlib.nullcontext():
            return score_batch(model, prompts, responses, references=references, groups=groups,
                               weights=weights, users=users)

    return await asyncio.to_thread(run)
