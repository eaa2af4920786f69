"""From step scores to a reward and to a first-error prediction."""

from __future__ import annotations

import numpy as np
import pytest

from rewardlab.errors import ConfigError
from rewardlab.steps import AGGREGATIONS, aggregate_step_scores, first_error_index

SCORES = [np.array([0.9, 0.2, 0.8]), np.array([0.5]), np.array([])]


@pytest.mark.parametrize(("agg", "expected"), [
    ("min", [0.2, 0.5]), ("prod", [0.144, 0.5]), ("mean", [19 / 30, 0.5]), ("last", [0.8, 0.5]),
])
def test_aggregations(agg: str, expected: list[float]) -> None:
    out = aggregate_step_scores(SCORES, agg)
    assert out.dtype == np.float64 and out.shape == (3,)
    np.testing.assert_allclose(out[:2], expected)
    assert np.isnan(out[2])  # no steps, nothing to judge


def test_every_aggregation_is_named_and_unknown_ones_refused() -> None:
    assert set(AGGREGATIONS) == {"min", "prod", "mean", "last"}
    with pytest.raises(ConfigError, match="'agg' parameter of aggregate_step_scores"):
        aggregate_step_scores(SCORES, "max")


def test_first_error_is_the_first_step_below_the_threshold() -> None:
    assert first_error_index(SCORES[0]) == 1
    assert first_error_index(SCORES[0], threshold=0.1) is None
    assert first_error_index(SCORES[0], threshold=0.95) == 0
    assert first_error_index(np.array([])) is None
    with pytest.raises(ConfigError, match="'threshold' parameter"):
        first_error_index(SCORES[0], threshold=2.0)
