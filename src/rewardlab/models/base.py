"""What a reward model is: one required method, and optional capabilities as small protocols.

Every kind (embedding head, sequence classifier, judge, verifier, ...) implements ``score``;
commands check the optional capabilities with ``isinstance`` and raise ``CapabilityError``
when a model lacks what they need, instead of failing somewhere deep inside.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from rewardlab.data import Dataset, Prompt
from rewardlab.errors import CapabilityError

__all__ = [
    "AttributeScorer",
    "FitOptions",
    "Grader",
    "GroupDependent",
    "NoiseAware",
    "PairwiseJudge",
    "ReferenceGrader",
    "ReferenceScorer",
    "Resumable",
    "RewardModel",
    "Saveable",
    "StepScorer",
    "Trainable",
    "UncertainScorer",
    "UserScorer",
    "describe",
    "require_capability",
]


@runtime_checkable
class RewardModel(Protocol):
    """Anything that assigns a scalar reward to a response given its prompt."""

    def score(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """Rewards as float64 of shape ``(len(responses),)``; higher is better.

        Scores depend only on each (prompt, response): not on batch size, padding or order,
        to within float32 round-off (relative 1e-5 of the rewards' magnitude; a network's
        matrix products add their terms in an order that follows the batch's shape, the
        thread count and the CPU). The same call twice in one process gives the same bits.
        """
        ...


@runtime_checkable
class Trainable(Protocol):
    """A reward model that learns from data. ``fit`` returns ``self``."""

    def fit(self, data: Dataset[Any]) -> Trainable: ...


@dataclass(frozen=True, kw_only=True, slots=True)
class FitOptions:
    """What ``rewardlab.train`` passes to a fit beyond the data, for the kinds that take it.

    A plain ``Trainable.fit(data)`` needs none of it; a ``Resumable`` kind reads
    ``eval_data``, ``checkpoint_dir`` and ``resume``; a ``NoiseAware`` kind reads
    ``noise_rate``. One object, so a new option is one field here, not a new keyword in every
    kind's ``fit``.

    Args:
        eval_data: held-out pairs scored after every epoch (``eval_accuracy`` in the history).
        checkpoint_dir: where checkpoints go; a failed run leaves its last good one there.
        resume: continue from the checkpoint in ``checkpoint_dir``.
        noise_rate: expected share of flipped labels, for a noise-aware fit (0: plain).
        workers, launcher: train on ``workers`` processes that ``launcher`` starts
            (``rewardlab.train.workers.Launcher``); None trains in this process.
        strategy: how those workers hold the model: ``ddp`` (whole) or ``fsdp`` (sharded).
    """

    eval_data: Dataset[Any] | None = None
    checkpoint_dir: Path | None = None
    resume: bool = False
    noise_rate: float = 0.0
    workers: int = 1
    launcher: Any = None
    strategy: str = "ddp"


@runtime_checkable
class Resumable(Protocol):
    """A trainable model that checkpoints while it trains and can continue from a checkpoint
    (``seq:``), evaluating ``eval_data`` after every epoch. ``rewardlab train --resume``
    needs it."""

    def fit_resumable(self, data: Dataset[Any], options: FitOptions) -> Resumable:
        """``fit`` with checkpoints in ``options.checkpoint_dir`` (resumed from with
        ``options.resume``) and per-epoch evaluation on ``options.eval_data``."""
        ...


@runtime_checkable
class NoiseAware(Protocol):
    """A trainable model that can learn despite flipped labels itself, given their expected
    share (``embed:`` heads: a noise-aware likelihood with cross-validated stopping).
    ``rewardlab train --noise-robust`` uses it; other kinds are co-filtered instead.

    After ``fit_noise_aware`` the model holds ``noise_report_``: a JSON-ready summary of what
    the noise-aware fit did."""

    def fit_noise_aware(self, data: Dataset[Any], options: FitOptions) -> NoiseAware:
        """``fit`` assuming a share ``options.noise_rate`` of the labels is flipped."""
        ...


@runtime_checkable
class GroupDependent(Protocol):
    """A reward model whose reward of a response depends on the other responses of its group
    (``vote:``: agreement with the group's other answers). The scoring layer hands it whole
    groups; the server scores each request alone, never merged with other traffic."""

    def score_groups(self, prompts: Sequence[Prompt], responses: Sequence[str],
                     groups: Sequence[Any] | None = None) -> np.ndarray:
        """Rewards float64 ``(n,)``, each response judged within its group: responses with
        equal ``groups`` ids (default: equal prompts)."""
        ...


@runtime_checkable
class Grader(Protocol):
    """A reward model that explains each reward (a generative judge): ``grade`` returns per
    response a verdict whose ``value`` is the reward and whose ``to_json()`` adds the
    judge's probabilities, rationale and the reason a reward is missing."""

    def grade(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> list[Any]: ...


@runtime_checkable
class Saveable(Protocol):
    """A reward model that writes itself to a directory that ``rewardlab.load_model`` reads."""

    def save(self, path: str | Path) -> Path: ...


@runtime_checkable
class ReferenceScorer(Protocol):
    """A reward model that judges each response against a reference answer (a verifier).

    ``score(prompts, responses)`` has no reference to offer, so such a model raises
    ``CapabilityError`` there; evaluators and adapters that hold references (best-of-n rows
    with ``reference`` / ``ground_truth`` / ``answer``) call this method instead.
    """

    def score_with_references(self, prompts: Sequence[Prompt], responses: Sequence[str],
                              references: Sequence[str]) -> np.ndarray:
        """Rewards as float64 ``(len(responses),)``, response ``i`` judged against
        ``references[i]``."""
        ...


@runtime_checkable
class ReferenceGrader(Protocol):
    """A ``ReferenceScorer`` that explains each reward (``verify:rules``, ``rubric:``):
    ``grade_with_references`` returns per response a verdict whose ``value`` is the reward and
    whose ``to_json()`` adds why (each failed constraint, each criterion's score and reason).
    The scoring layer calls it instead of ``score_with_references`` when it is there, so
    ``rewardlab score`` writes the explanation beside the reward."""

    def grade_with_references(self, prompts: Sequence[Prompt], responses: Sequence[str],
                              references: Sequence[str]) -> list[Any]: ...


@runtime_checkable
class StepScorer(Protocol):
    """A reward model that judges every step of a solution (a process reward model).

    ``score(prompts, responses)`` still gives one reward per response (steps split and
    aggregated); these methods expose the steps, which first-error evaluation needs.
    """

    def score_steps(self, prompts: Sequence[Prompt], step_lists: Sequence[Sequence[str]]
                    ) -> list[np.ndarray]:
        """Per solution, float64 ``(len(steps),)``: p(the solution is still correct) after
        each step."""
        ...

    def first_error(self, prompts: Sequence[Prompt], step_lists: Sequence[Sequence[str]], *,
                    threshold: float | None = None) -> list[int | None]:
        """Per solution, the 0-based index of the first wrong step, or None."""
        ...


@runtime_checkable
class UncertainScorer(Protocol):
    """A reward model that knows how sure it is (an ensemble: the members' spread)."""

    def score_with_uncertainty(self, prompts: Sequence[Prompt], responses: Sequence[str]
                               ) -> tuple[np.ndarray, np.ndarray]:
        """Rewards and their uncertainty (a standard deviation), both ``(n,)``."""
        ...


@runtime_checkable
class PairwiseJudge(Protocol):
    """A reward model that can read two responses side by side (a generative judge).

    ``score`` still gives one reward per response; ``compare`` is the judge's native
    question, which position-bias audits and tournament advantages need.
    """

    def compare(self, prompts: Sequence[Prompt], responses_a: Sequence[str],
                responses_b: Sequence[str], *, swap: bool = False) -> np.ndarray:
        """P(response A is better than response B) per pair, float64 ``(n,)``.

        With ``swap=False`` A is shown first, exactly as given, so order effects stay
        visible; ``swap=True`` also asks with B first and averages the two answers.
        NaN marks a pair the judge gave no verdict for.
        """
        ...


@runtime_checkable
class AttributeScorer(Protocol):
    """A reward model with one reward per attribute (``multi:``), combined into one reward
    by weights that each call may set. ``score`` uses the model's own weights."""

    attributes: tuple[str, ...]

    def score_attributes(self, prompts: Sequence[Prompt], responses: Sequence[str],
                         weights: Sequence[Any] | None = None
                         ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """The combined rewards ``(n,)`` and each attribute's rewards ``(n,)``.
        ``weights``: per item, a mapping attribute -> weight, or None for the model's own."""
        ...

    def check_weights(self, weights: Any) -> dict[str, float]:
        """``weights`` (a mapping or ``(name, weight)`` pairs) checked against the model's
        attributes: ``ConfigError`` for an unknown attribute, a negative weight or a zero sum."""
        ...


@runtime_checkable
class UserScorer(Protocol):
    """A personalised reward model (``personal:``): the reward depends on whose it is. A
    user it has not adapted to gets the population's reward, and the details say so."""

    def score_users(self, prompts: Sequence[Prompt], responses: Sequence[str],
                    users: Sequence[str | None]) -> tuple[np.ndarray, list[str]]:
        """Rewards ``(n,)`` and, per item, how its user was scored: ``"adapted"`` or
        ``"population"``."""
        ...


def describe(model: object) -> str:
    """A short name for messages: the model's spec when it has one, else its class."""
    spec = getattr(model, "spec", None)
    return spec if isinstance(spec, str) else type(model).__name__


def require_capability(model: object, capability: type, action: str) -> None:
    """Raise CapabilityError unless ``model`` implements ``capability``.

    Example:
        >>> require_capability(object(), Trainable, "train")
        Traceback (most recent call last):
        ...
        rewardlab.errors.CapabilityError: model 'object' cannot train: it is not Trainable
    """
    if not isinstance(model, capability):
        raise CapabilityError(
            f"model '{describe(model)}' cannot {action}: it is not {capability.__name__}"
        )
