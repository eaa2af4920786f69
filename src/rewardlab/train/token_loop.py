"""Fine-tuning a token classifier on step labels: a transformer process reward model's loop.

Each solution is one sequence (TRL's PRM format: the prompt, then every step followed by the
step separator); only the last token of each step carries a label (0 wrong, 1 still correct),
every other position is ``-100`` and ignored. The loss is a pure function; the loop is
mini-batch AdamW with the global RNG forked, on the network's device and in the
``precision`` given (``rewardlab._device.Precision``: bf16/fp16 autocast, fp32 weights, a
grad scaler for fp16).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from rewardlab._progress import progress
from rewardlab.errors import TrainingError

if TYPE_CHECKING:
    import torch

__all__ = ["pad_batch", "step_token_loss", "train_token_classifier"]

IGNORE = -100


def step_token_loss(logits: torch.Tensor, labels: torch.Tensor, *,
                    class_weight: torch.Tensor | None = None) -> torch.Tensor:
    """Cross-entropy over the labelled positions only (``labels != -100``).

    Args:
        logits: ``(batch, length, 2)``.
        labels: ``(batch, length)``: 0 or 1 at a step's last token, -100 elsewhere.
        class_weight: optional weights of the two classes (wrong steps are the minority).

    Example:
        >>> import torch
        >>> logits = torch.zeros(1, 3, 2)
        >>> round(step_token_loss(logits, torch.tensor([[-100, 1, 0]])).item(), 4)
        0.6931
    """
    import torch.nn.functional as F

    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1),
                           weight=class_weight, ignore_index=IGNORE)


def pad_batch(rows: list[tuple[list[int], list[int]]], pad_id: int
              ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(input_ids, attention_mask, labels)`` for ``(ids, labels)`` rows, right-padded."""
    import torch

    width = max(len(ids) for ids, _ in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    for i, (row_ids, row_labels) in enumerate(rows):
        ids[i, :len(row_ids)] = torch.tensor(row_ids)
        mask[i, :len(row_ids)] = 1
        labels[i, :len(row_labels)] = torch.tensor(row_labels)
    return ids, mask, labels


def train_token_classifier(net: torch.nn.Module, rows: list[tuple[list[int], list[int]]], *,
                           pad_id: int, epochs: int, batch_size: int, lr: float,
                           weight_decay: float, seed: int, balance: bool = True,
                           precision: Any = None,
                           description: str = "fine-tuning step classifier"
                           ) -> list[dict[str, float]]:
    """Fit ``net`` (a token classifier with two labels) in place; one dict per epoch with
    ``loss`` and ``accuracy`` on the labelled positions seen.

    ``precision`` is a ``rewardlab._device.Precision`` (``None``: fp32); batches go to the
    device ``net``'s parameters are on.

    Raises:
        TrainingError: the loss became NaN or infinite.
    """
    from contextlib import nullcontext

    import torch

    n_good = sum(x == 1 for _, labels in rows for x in labels)
    n_bad = sum(x == 0 for _, labels in rows for x in labels)
    weight = None
    if balance and n_good and n_bad:
        total = n_good + n_bad
        weight = torch.tensor([total / (2 * n_bad), total / (2 * n_good)])
    params = [p for p in net.parameters() if p.requires_grad]  # LoRA: adapters and head
    device = params[0].device
    if weight is not None:
        weight = weight.to(device)
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    autocast = precision.autocast if precision is not None else nullcontext
    scaler = precision.grad_scaler() if precision is not None else None
    generator = torch.Generator().manual_seed(seed)
    history: list[dict[str, float]] = []
    with torch.random.fork_rng(devices=[]), progress(description, total=epochs) as advance:
        torch.manual_seed(seed)
        for epoch in range(1, epochs + 1):
            net.train()
            total_loss, right, seen = 0.0, 0, 0
            for batch in torch.randperm(len(rows), generator=generator).split(batch_size):
                ids, mask, labels = (t.to(device) for t in pad_batch(
                    [rows[int(i)] for i in batch], pad_id))
                with autocast():
                    logits = net(input_ids=ids, attention_mask=mask).logits
                logits = logits.float()
                loss = step_token_loss(logits, labels, class_weight=weight)
                if not math.isfinite(loss.item()):
                    raise TrainingError(f"the step loss became {loss.item()} at epoch {epoch}; "
                                        "lower the learning rate ('lr')")
                optimizer.zero_grad(set_to_none=True)
                if scaler is not None:
                    scaler.scale(loss).backward()
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    loss.backward()
                    optimizer.step()
                used = labels != IGNORE
                total_loss += loss.item() * int(used.sum())
                right += int((logits.argmax(-1)[used] == labels[used]).sum())
                seen += int(used.sum())
            history.append({"epoch": epoch, "loss": total_loss / max(seen, 1),
                            "accuracy": right / max(seen, 1)})
            advance(1)
    net.eval()
    return history
