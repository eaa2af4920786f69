"""Small scoring heads over standardised features: how they are built, saved and loaded.

Shared by the kinds that train a head on frozen embeddings (``embed:`` and ``prm:``): one
architecture, one on-disk layout (``model.safetensors`` with ``head.*``, ``feature_mean``,
``feature_scale``, next to ``rewardlab.json``), one set of checks on load.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rewardlab.errors import ConfigError, ModelFormatError
from rewardlab.models._saved import atomic_directory, write_manifest

if TYPE_CHECKING:
    import torch

__all__ = ["WEIGHTS_FILE", "build_head", "load_head", "save_head"]

WEIGHTS_FILE = "model.safetensors"


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


def save_head(path: str | Path, *, kind: str, config: dict[str, Any], head: torch.nn.Module,
              mean: np.ndarray, scale: np.ndarray, state: dict[str, Any]) -> Path:
    """Write the head and its feature standardisation, plus the manifest, atomically."""
    import torch
    from safetensors.torch import save_file

    tensors = {f"head.{k}": v.detach().contiguous() for k, v in head.state_dict().items()}
    tensors["feature_mean"] = torch.from_numpy(mean)
    tensors["feature_scale"] = torch.from_numpy(scale)
    with atomic_directory(path) as tmp:
        save_file(tensors, str(tmp / WEIGHTS_FILE))
        write_manifest(tmp, kind=kind, config=config,
                       state={"feature_dim": int(mean.shape[0]), **state})
    return Path(path)


def load_head(cls: type, directory: Path, manifest: dict[str, Any]
              ) -> tuple[Any, torch.nn.Module, np.ndarray, np.ndarray]:
    """``(model, head, mean, scale)``: a ``cls`` built from the manifest's config and the
    head it saved, in eval mode. Any mismatch is a ``ModelFormatError`` naming the file."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    config = dict(manifest["config"])
    if isinstance(config.get("features"), list):
        config["features"] = tuple(config["features"])
    try:
        model = cls(**config)
    except (TypeError, ConfigError) as exc:
        raise ModelFormatError(f"{directory}/rewardlab.json has a bad config: {exc}") from None
    weights = directory / WEIGHTS_FILE
    if not weights.is_file():
        raise ModelFormatError(f"{directory} is missing {WEIGHTS_FILE}")
    try:
        tensors = load_file(str(weights))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFormatError(f"{weights} is corrupt: {exc}") from None
    try:
        mean = tensors.pop("feature_mean").numpy()
        scale = tensors.pop("feature_scale").numpy()
        head = build_head(model.config, mean.shape[0])
        head.load_state_dict({k.removeprefix("head."): v for k, v in tensors.items()})
    except (KeyError, RuntimeError) as exc:
        raise ModelFormatError(f"{weights} does not match its config: {exc}") from None
    head.eval()
    return model, head, mean, scale
