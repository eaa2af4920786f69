"""Training a step classifier head over precomputed features: a process reward model's loop.

Each row is one step (its features), its label says whether the solution is still correct
after it, and the head outputs a logit. The loss is a pure function, testable alone; the loop
is mini-batch AdamW with the global RNG forked, as ``train.loop`` does for pairwise heads.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rewardlab._progress import progress
from rewardlab.errors import TrainingError
from rewardlab.train.loop import one_torch_thread

if TYPE_CHECKING:
    import torch

__all__ = ["step_label_loss", "train_step_head"]


def step_label_loss(logits: torch.Tensor, labels: torch.Tensor, *,
                    weight: torch.Tensor | None = None) -> torch.Tensor:
    """Weighted binary cross-entropy of step logits against step labels.

    Args:
        logits: the head's output per step, shape ``(n,)``.
        labels: 1.0 for a step after which the solution is still correct, 0.0 otherwise.
        weight: optional per-step weights (class balance, or 0 to leave a step out); the
            loss is their weighted mean.

    Returns:
        A scalar tensor.

    Example:
        >>> import torch
        >>> round(step_label_loss(torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.0])).item(), 4)
        0.6931
    """
    import torch.nn.functional as F

    per_step = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    if weight is None:
        return per_step.mean()
    return (per_step * weight).sum() / weight.sum().clamp_min(1e-12)


def train_step_head(
    head: torch.nn.Module,
    features: torch.Tensor,
    labels: torch.Tensor,
    *,
    weight: torch.Tensor | None = None,
    epochs: int = 30,
    batch_size: int = 64,
    lr: float = 1e-3,
    weight_decay: float = 0.01,
    seed: int = 0,
    description: str = "training step head",
) -> list[dict[str, float]]:
    """Fit ``head`` so that ``sigmoid(head(features))`` predicts ``labels``.

    Args:
        head: maps features ``(n, d)`` to logits ``(n, 1)``; trained in place.
        features: one row per step.
        labels: 1.0 / 0.0 per step.
        weight: per-step loss weights (see ``step_label_loss``).
        seed: fixes batch order and dropout; the global RNG is left untouched.
        description: the progress bar's label.

    Returns:
        One dict per epoch: ``loss``, ``accuracy`` (steps on the right side of 0.5),
        ``margin`` (mean p(correct) on correct steps minus on wrong ones), ``p_correct`` and
        ``p_wrong`` (those two means).

    Raises:
        TrainingError: the loss became NaN or infinite.
    """
    import torch

    n = features.shape[0]
    w = torch.ones(n) if weight is None else weight
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay,
                                  fused=True)
    generator = torch.Generator().manual_seed(seed)
    history: list[dict[str, float]] = []
    with one_torch_thread():  # a head this small only loses with a thread pool
        _run_epochs(head, features, labels, w, optimizer, generator, history, epochs=epochs,
                    batch_size=batch_size, seed=seed, description=description)
    head.eval()
    return history


def _run_epochs(head: torch.nn.Module, features: torch.Tensor, labels: torch.Tensor,
                w: torch.Tensor, optimizer: torch.optim.Optimizer, generator: torch.Generator,
                history: list[dict[str, float]], *, epochs: int, batch_size: int, seed: int,
                description: str) -> None:
    import torch

    n = features.shape[0]
    with torch.random.fork_rng(devices=[]), progress(description, total=epochs) as advance:
        torch.manual_seed(seed)
        for epoch in range(1, epochs + 1):
            head.train()
            total, seen = 0.0, 0.0
            for batch in torch.randperm(n, generator=generator).split(batch_size):
                logits = head(features[batch]).squeeze(-1)
                value = step_label_loss(logits, labels[batch], weight=w[batch])
                if not math.isfinite(value.item()):
                    raise TrainingError(f"the step loss became {value.item()} at epoch {epoch}; "
                                        "lower the learning rate ('lr')")
                optimizer.zero_grad(set_to_none=True)
                value.backward()
                optimizer.step()
                total += value.item() * float(w[batch].sum())
                seen += float(w[batch].sum())
            history.append({"epoch": epoch, "loss": total / max(seen, 1e-12),
                            **_step_metrics(head, features, labels, w)})
            advance(1)


def _step_metrics(head: torch.nn.Module, features: torch.Tensor, labels: torch.Tensor,
                  weight: torch.Tensor) -> dict[str, float]:
    import torch

    head.eval()
    with torch.inference_mode():
        p = torch.sigmoid(head(features).squeeze(-1))
    used = weight > 0
    good, bad = used & (labels > 0.5), used & (labels <= 0.5)
    right = ((p > 0.5) == (labels > 0.5)) & used
    p_good = p[good].mean().item() if good.any() else float("nan")
    p_bad = p[bad].mean().item() if bad.any() else float("nan")
    return {"accuracy": right.sum().item() / max(int(used.sum()), 1),
            "margin": p_good - p_bad, "p_correct": p_good, "p_wrong": p_bad}
