"""Training: pairwise and step losses as pure functions and the loops that minimise them."""

from rewardlab.train.loop import train_pairwise_head
from rewardlab.train.losses import LOSSES, bradley_terry_loss, pairwise_loss
from rewardlab.train.step_loop import step_label_loss, train_step_head

__all__ = [
    "LOSSES",
    "bradley_terry_loss",
    "pairwise_loss",
    "step_label_loss",
    "train_pairwise_head",
    "train_step_head",
]
