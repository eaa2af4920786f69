"""``judge:...?mode=process`` — an LLM critic as a process reward model.

The judge is asked ProcessBench's critic question (``rewardlab.judge._process``): which is
the earliest wrong step? Its answer becomes per-step scores (1 before that step, 0 from it
on), so a capable model behind an OpenAI-compatible server serves every consumer of step
scores: ``eval`` on step data (first-error F1), ``bench``'s Process rows, ``score``
(``min`` of the steps: 0 for a solution with an error) and the RL adapters.

A reply that names a step the solution does not have, or no step, is not guessed at: that
solution's step scores are NaN and ``last_reasons_`` (and ``rewardlab score``'s row) says
why; ``first_error`` reports it as None, which first-error F1 counts as a miss on an
erroneous solution.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rewardlab.data import Prompt
from rewardlab.errors import ConfigError
from rewardlab.models.base import StepScorer
from rewardlab.models.judge import LLMJudge
from rewardlab.steps import aggregate_step_scores, split_steps

__all__ = ["ProcessLLMJudge"]


class ProcessLLMJudge(LLMJudge, StepScorer):
    """A judge asked for the earliest wrong step of each solution (``mode=process``).

    The critic may write ``max_reason_tokens`` tokens (its reasoning, then the boxed index).

    Example:
        >>> judge = resolve("judge:gguf:default?mode=process")  # doctest: +SKIP
        >>> judge.first_error(["2+2*3?"], [["2+2 = 4", "4*3 = 12"]])  # doctest: +SKIP
        [0]
    """

    #: a step with p(correct) below this is an error; the critic's scores are 0 or 1
    threshold_ = 0.5

    def judge_steps(self, prompts: Sequence[Prompt], step_lists: Sequence[Sequence[str]]
                    ) -> list[Any]:
        """Per solution, the ``ProcessVerdict``: first error, step scores, text, reason."""
        from rewardlab.judge._process import ask_earliest_errors

        if len(prompts) != len(step_lists):
            raise ConfigError(f"got {len(prompts)} prompts but {len(step_lists)} solutions; "
                              "they must pair up one to one")
        engine = self.engine
        verdicts = ask_earliest_errors(engine.backend, engine.templates["process"], prompts,
                                       step_lists, max_tokens=self.config.max_reason_tokens)
        self.last_reasons_ = [v.reason for v in verdicts]
        return verdicts

    def score_steps(self, prompts: Sequence[Prompt], step_lists: Sequence[Sequence[str]]
                    ) -> list[np.ndarray]:
        """Per solution, 1.0 for each step before the earliest error the critic names, 0.0
        from it on; NaN throughout when its reply was unusable (``last_reasons_``)."""
        return [v.step_scores for v in self.judge_steps(prompts, step_lists)]

    def first_error(self, prompts: Sequence[Prompt], step_lists: Sequence[Sequence[str]], *,
                    threshold: float | None = None) -> list[int | None]:
        """Per solution, the earliest wrong step the critic names (0-based), or None."""
        return [v.first_error for v in self.judge_steps(prompts, step_lists)]

    def score(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """One reward per response: split into lines, judged, the ``min`` of the steps (1 for
        a solution the critic finds no error in, 0 otherwise, NaN with a reason)."""
        if len(prompts) != len(responses):
            raise ConfigError(f"score() got {len(prompts)} prompts but {len(responses)} "
                              "responses; they must pair up one to one")
        if not responses:
            return np.zeros(0, dtype=np.float64)
        steps = [split_steps(r) or [r] for r in responses]
        return aggregate_step_scores(self.score_steps(prompts, steps), "min")
