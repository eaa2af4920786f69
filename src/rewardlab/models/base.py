"""What a reward model is: one required method, and optional capabilities as small protocols.

Every kind (embedding head, sequence classifier, judge, verifier, ...) implements ``score``;
commands check the optional capabilities with ``isinstance`` and raise ``CapabilityError``
when a model lacks what they need, instead of failing somewhere deep inside.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from rewardlab.data import Dataset, Prompt
from rewardlab.errors import CapabilityError

__all__ = [
    "PairwiseJudge",
    "ReferenceScorer",
    "RewardModel",
    "Saveable",
    "StepScorer",
    "Trainable",
    "UncertainScorer",
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
