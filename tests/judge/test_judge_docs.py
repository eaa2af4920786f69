"""The judge modules' docstring examples run, and round-robin judgments feed the RL shaping."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

from rewardlab.errors import CapabilityError
from rewardlab.scoring import preference_matrix
from rewardlab.shaping import win_rate_advantages


@pytest.mark.parametrize("name", ["rewardlab.judge._verdict", "rewardlab.llm._openai",
                                  "rewardlab.scoring._tournament",
                                  "rewardlab.scoring._pairs"])
def test_docstring_examples(name: str) -> None:
    failed, tried = doctest.testmod(importlib.import_module(name),
                                    optionflags=doctest.ELLIPSIS)
    assert tried and not failed


class BiasedJudge:
    """Prefers the longer response, plus a pull towards whatever is shown first."""

    def compare(self, prompts, a, b, *, swap=False):
        return np.array([0.5 + 0.3 * np.sign(len(x) - len(y)) + 0.15
                         for x, y in zip(a, b, strict=True)])


def test_round_robin_cancels_position_bias_in_advantages() -> None:
    responses = ["short", "a longer one", "the longest response of all"]
    p = preference_matrix(BiasedJudge(), "q", responses)
    assert np.isnan(np.diag(p)).all()
    assert p[0, 1] + p[1, 0] == pytest.approx(1.3)  # the bias: both orders favour slot one
    adv = win_rate_advantages(p)
    assert np.argsort(adv).tolist() == [0, 1, 2]
    assert adv.sum() == pytest.approx(0.0)


def test_non_judges_are_refused() -> None:
    with pytest.raises(CapabilityError, match="not a PairwiseJudge"):
        preference_matrix(object(), "q", ["a", "b"])
