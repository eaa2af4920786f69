"""Every package declares a complete, sorted ``__all__`` (the public surface)."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = ["rewardlab", "rewardlab.data", "rewardlab.models", "rewardlab.train",
            "rewardlab.evaluate", "rewardlab.errors", "rewardlab.verify", "rewardlab.steps",
            "rewardlab.llm", "rewardlab.judge", "rewardlab.label", "rewardlab.audit",
            "rewardlab.bench", "rewardlab.scale", "rewardlab.shaping", "rewardlab.adapters",
            "rewardlab.serve"]


def _isort_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then everything else."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    return (1 if name[:1].isupper() else 2, name)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_and_resolvable(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(set(exported)) == len(exported)
    assert exported == sorted(exported, key=_isort_key)
    for attr in exported:
        assert hasattr(module, attr), f"{name}.__all__ names missing {attr}"


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_complete(name: str) -> None:
    module = importlib.import_module(name)
    public = {k for k, v in vars(module).items()
              if not k.startswith("_") and getattr(v, "__module__", "").startswith("rewardlab")
              and not isinstance(v, type(importlib))}
    assert public <= set(module.__all__), public - set(module.__all__)


def test_import_is_light() -> None:
    """``import rewardlab`` must not pull torch in: the CLI's --help stays instant."""
    import subprocess
    import sys

    code = "import sys, rewardlab, rewardlab.cli; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
