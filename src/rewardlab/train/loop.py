"""The training loop for heads over precomputed features (embeddings, cached activations).

Features are computed once, so an epoch is a few matrix products: hundreds of epochs cost
seconds on a CPU. The loop logs what TRL's RewardTrainer logs (loss, accuracy, margin,
min/mean/max reward) so numbers compare across tools.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rewardlab._progress import progress
from rewardlab.errors import TrainingError
from rewardlab.train.losses import pairwise_loss

if TYPE_CHECKING:
    import torch

__all__ = ["train_pairwise_head"]


def train_pairwise_head(
    head: torch.nn.Module,
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    *,
    loss: str = "bt",
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.01,
    seed: int = 0,
    margin: torch.Tensor | None = None,
    label_smoothing: float = 0.1,
    center_coef: float = 0.0,
    weight: torch.Tensor | None = None,
    description: str = "training head",
) -> list[dict[str, float]]:
    """Fit ``head`` so that ``head(chosen) > head(rejected)``, with mini-batch AdamW.

    Args:
        head: maps features ``(n, d)`` to rewards ``(n, 1)``; trained in place.
        chosen: features of the preferred responses, ``(n, d)``.
        rejected: features of the other responses, ``(n, d)``.
        loss: a name from ``rewardlab.train.LOSSES``.
        seed: fixes the batch order and dropout masks; the global RNG is left untouched.
        margin, label_smoothing, center_coef, weight: passed to the loss.

    Returns:
        One dict of training metrics per epoch.

    Raises:
        TrainingError: the loss became NaN or infinite.
    """
    import torch

    history: list[dict[str, float]] = []
    n = chosen.shape[0]
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay,
                                  fused=True)
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]), progress(description, total=epochs) as advance:
        torch.manual_seed(seed)
        for epoch in range(1, epochs + 1):
            head.train()
            order = torch.randperm(n, generator=generator)
            total, seen = 0.0, 0
            for batch in order.split(batch_size):
                # one forward over both sides: half the calls, and dropout masks drawn once
                rewards = head(torch.cat([chosen[batch], rejected[batch]])).squeeze(-1)
                r_c, r_r = rewards[: len(batch)], rewards[len(batch) :]
                value = pairwise_loss(
                    loss, r_c, r_r,
                    margin=None if margin is None else margin[batch],
                    label_smoothing=label_smoothing,
                    center_coef=center_coef,
                    weight=None if weight is None else weight[batch],
                )
                if not math.isfinite(value.item()):
                    raise TrainingError(
                        f"the training loss became {value.item()} at epoch {epoch}; lower the "
                        "learning rate ('lr') or check the data for extreme margins"
                    )
                optimizer.zero_grad(set_to_none=True)
                value.backward()
                optimizer.step()
                total += value.item() * len(batch)
                seen += len(batch)
            history.append({"epoch": epoch, "loss": total / seen,
                            **_pair_metrics(head, chosen, rejected)})
            advance(1)
    head.eval()
    return history


def _pair_metrics(head: torch.nn.Module, chosen: torch.Tensor, rejected: torch.Tensor
                  ) -> dict[str, float]:
    import torch

    head.eval()
    with torch.inference_mode():
        r_c = head(chosen).squeeze(-1)
        r_r = head(rejected).squeeze(-1)
    diff = r_c - r_r
    both = torch.cat([r_c, r_r])
    return {
        "accuracy": ((diff > 0).float() + 0.5 * (diff == 0).float()).mean().item(),
        "margin": diff.mean().item(),
        "reward_mean": both.mean().item(),
        "reward_min": both.min().item(),
        "reward_max": both.max().item(),
    }
