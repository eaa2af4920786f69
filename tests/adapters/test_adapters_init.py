"""``rewardlab.adapters`` declares its public surface."""

from __future__ import annotations

import importlib

import rewardlab.adapters as adapters


def _ruff_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then everything else."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    return (1 if name[:1].isupper() else 2, name)


def test_all_is_sorted_complete_and_resolvable() -> None:
    exported = adapters.__all__
    assert exported == sorted(set(exported), key=_ruff_key)
    public = {k for k, v in vars(adapters).items() if not k.startswith("_")
              and getattr(v, "__module__", "").startswith("rewardlab")
              and not isinstance(v, type(importlib))}
    assert public <= set(exported)
    for name in exported:
        assert hasattr(adapters, name)
