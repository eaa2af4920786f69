"""The training loop for heads over precomputed features (embeddings, cached activations).

Features are computed once, so an epoch is a few matrix products: hundreds of epochs cost
seconds on a CPU. The loop logs what TRL's RewardTrainer logs (loss, accuracy, margin,
min/mean/max reward) so numbers compare across tools.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rewardlab._progress import progress
from rewardlab.errors import TrainingError
from rewardlab.train.losses import pairwise_loss

if TYPE_CHECKING:
    import torch

__all__ = ["one_torch_thread", "train_coteaching_heads", "train_pairwise_head"]


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run a small head's training on one torch thread (restored after).

    A head over cached features is a few small matrix products per batch: a thread pool only
    adds a barrier per op. Idle machine: 4.8 s of CPU for a PRM head's 40 epochs with one
    thread, 7.3 s with two; on a busy 2-core machine one demo-sized fit took 130 s with two
    threads against 9.4 s with one, since every barrier waits for a core.
    """
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


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
    with (torch.random.fork_rng(devices=[]), one_torch_thread(),
          progress(description, total=epochs) as advance):
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


def train_coteaching_heads(
    head_a: torch.nn.Module,
    head_b: torch.nn.Module,
    chosen: torch.Tensor,
    rejected: torch.Tensor,
    *,
    forget_rate: float,
    ramp_epochs: int = 10,
    loss: str = "bt",
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.01,
    seed: int = 0,
    margin: torch.Tensor | None = None,
    label_smoothing: float = 0.1,
    center_coef: float = 0.0,
) -> list[dict[str, float]]:
    """Co-teaching (Han et al., NeurIPS 2018) for two heads over precomputed features.

    Networks fit clean patterns before they memorise noise, so in every batch each head
    ranks the pairs by its own loss and its *peer* learns only from the ``1 - rate`` share
    with the smallest loss; ``rate`` ramps from 0 to ``forget_rate`` over ``ramp_epochs``.
    Two heads rather than one keep a head's own early mistakes from confirming themselves.
    Returns the history of ``head_a`` (the head the caller keeps).
    """
    import torch
    import torch.nn.functional as F

    history: list[dict[str, float]] = []
    n = chosen.shape[0]
    opt_a = torch.optim.AdamW(head_a.parameters(), lr=lr, weight_decay=weight_decay)
    opt_b = torch.optim.AdamW(head_b.parameters(), lr=lr, weight_decay=weight_decay)
    generator = torch.Generator().manual_seed(seed)
    with (torch.random.fork_rng(devices=[]), one_torch_thread(),
          progress("co-teaching heads", total=epochs) as advance):
        torch.manual_seed(seed)
        for epoch in range(1, epochs + 1):
            head_a.train()
            head_b.train()
            rate = forget_rate * min(epoch / max(ramp_epochs, 1), 1.0)
            total, seen = 0.0, 0
            for batch in torch.randperm(n, generator=generator).split(batch_size):
                both = torch.cat([chosen[batch], rejected[batch]])
                ra, rb = head_a(both).squeeze(-1), head_b(both).squeeze(-1)
                k = len(batch)
                keep = max(1, round((1.0 - rate) * k))
                da, db = ra[:k] - ra[k:], rb[:k] - rb[k:]
                if margin is not None:
                    da, db = da - margin[batch], db - margin[batch]
                pick_a = torch.argsort(-F.logsigmoid(da).detach())[:keep]  # a's small-loss
                pick_b = torch.argsort(-F.logsigmoid(db).detach())[:keep]
                weight_for_a = torch.zeros(k).index_fill_(0, pick_b, 1.0)
                weight_for_b = torch.zeros(k).index_fill_(0, pick_a, 1.0)
                extra = {"margin": None if margin is None else margin[batch],
                         "label_smoothing": label_smoothing, "center_coef": center_coef}
                value_a = pairwise_loss(loss, ra[:k], ra[k:], weight=weight_for_a, **extra)
                value_b = pairwise_loss(loss, rb[:k], rb[k:], weight=weight_for_b, **extra)
                if not (math.isfinite(value_a.item()) and math.isfinite(value_b.item())):
                    raise TrainingError(
                        f"the co-teaching loss became non-finite at epoch {epoch}; lower the "
                        "learning rate ('lr')")
                opt_a.zero_grad(set_to_none=True)
                opt_b.zero_grad(set_to_none=True)
                (value_a + value_b).backward()
                opt_a.step()
                opt_b.step()
                total += value_a.item() * k
                seen += k
            history.append({"epoch": epoch, "loss": total / seen, "forget_rate": rate,
                            **_pair_metrics(head_a, chosen, rejected)})
            advance(1)
    head_a.eval()
    head_b.eval()
    return history
