"""The step head's loss and loop: weighted BCE, learning, reproducibility, NaN stops."""

from __future__ import annotations

import math

import pytest
import torch

from rewardlab.errors import TrainingError
from rewardlab.train.step_loop import step_label_loss, train_step_head


def test_loss_is_weighted_bce() -> None:
    logits, labels = torch.tensor([2.0, -1.0, 0.5]), torch.tensor([1.0, 0.0, 0.0])
    plain = step_label_loss(logits, labels)
    expected = -(math.log(1 / (1 + math.exp(-2))) + math.log(1 / (1 + math.exp(-1)))
                 + math.log(1 / (1 + math.exp(0.5)))) / 3
    assert plain.item() == pytest.approx(expected, rel=1e-6)
    # weight 0 leaves a step out entirely
    only_first = step_label_loss(logits, labels, weight=torch.tensor([1.0, 0.0, 0.0]))
    assert only_first.item() == pytest.approx(-math.log(1 / (1 + math.exp(-2))), rel=1e-6)


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200, 4, generator=g)
    return x, (x[:, 0] > 0).float()


def test_loop_learns_and_reports_step_metrics() -> None:
    x, y = _data()
    head = torch.nn.Linear(4, 1)
    history = train_step_head(head, x, y, epochs=30, lr=0.05, seed=1)
    last = history[-1]
    assert last["accuracy"] > 0.95 and last["margin"] > 0.3
    assert last["p_correct"] > 0.5 > last["p_wrong"]
    assert len(history) == 30 and not head.training


def test_same_seed_same_head() -> None:
    x, y = _data()
    heads = []
    for _ in range(2):
        torch.manual_seed(123)
        head = torch.nn.Linear(4, 1)
        train_step_head(head, x, y, epochs=3, seed=7)
        heads.append(head.weight.detach().clone())
    assert torch.equal(heads[0], heads[1])


def test_a_non_finite_loss_stops_training() -> None:
    x, y = _data()
    x[0, 0] = float("nan")
    with pytest.raises(TrainingError, match="the step loss became nan"):
        train_step_head(torch.nn.Linear(4, 1), x, y, epochs=1, batch_size=200)
