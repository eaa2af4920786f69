"""Small scoring heads over standardised features: how they are built, saved and restored.

Shared by the kinds that train a head on frozen embeddings (``embed:`` and ``prm:``): one
architecture and one tensor layout (``model.safetensors`` with ``head.*``, ``feature_mean``,
``feature_scale``); ``SaveLoadMixin`` writes and reads the directory around it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["build_head", "head_tensors", "restore_head"]


def build_head(config: Any, dim: int) -> torch.nn.Module:
    """``config.head``: ``linear``, or ``mlp`` (dropout, ``config.hidden`` GELU units)."""
    from torch import nn

    if config.head == "linear":
        return nn.Linear(dim, 1)
    return nn.Sequential(
        nn.Dropout(config.dropout),
        nn.Linear(dim, config.hidden),
        nn.GELU(),
        nn.Dropout(config.dropout),
        nn.Linear(config.hidden, 1),
    )


def head_tensors(head: torch.nn.Module, mean: np.ndarray, scale: np.ndarray
                 ) -> dict[str, Any]:
    """What ``model.safetensors`` holds: ``head.*`` weights and the feature standardisation."""
    tensors: dict[str, Any] = {f"head.{k}": v for k, v in head.state_dict().items()}
    tensors["feature_mean"] = mean
    tensors["feature_scale"] = scale
    return tensors


def restore_head(config: Any, tensors: dict[str, Any]
                 ) -> tuple[torch.nn.Module, np.ndarray, np.ndarray]:
    """``(head, mean, scale)`` from ``head_tensors``' output, the head built for ``config``
    and in eval mode. A missing or mismatched tensor raises ``KeyError`` / ``RuntimeError``
    (``SaveLoadMixin.load`` reports it as a ``ModelFormatError`` naming the file)."""
    tensors = dict(tensors)
    mean = tensors.pop("feature_mean").numpy()
    scale = tensors.pop("feature_scale").numpy()
    head = build_head(config, mean.shape[0])
    head.load_state_dict({k.removeprefix("head."): v for k, v in tensors.items()})
    head.eval()
    return head, mean, scale
