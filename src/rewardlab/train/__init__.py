"""Training: pairwise losses as pure functions and the loops that minimise them."""

from rewardlab.train.loop import train_pairwise_head
from rewardlab.train.losses import LOSSES, bradley_terry_loss, pairwise_loss

__all__ = ["LOSSES", "bradley_terry_loss", "pairwise_loss", "train_pairwise_head"]
