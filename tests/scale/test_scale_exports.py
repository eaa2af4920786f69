"""``rewardlab.scale`` declares a complete, sorted ``__all__`` and imports without Ray or
torch (Ray is imported when a job runs, torch by the model that needs it)."""

from __future__ import annotations

import subprocess
import sys

import rewardlab.scale as scale


def _ruff_order(name: str) -> tuple[int, str]:
    """RUF022: CONSTANTS, then Classes, then functions."""
    return (0, name) if name.isupper() else (1 if name[:1].isupper() else 2, name)


def test_all_is_sorted_complete_and_resolvable() -> None:
    exported = scale.__all__
    assert exported == sorted(exported, key=_ruff_order) and len(set(exported)) == len(exported)
    assert all(hasattr(scale, name) for name in exported)
    public = {k for k, v in vars(scale).items() if not k.startswith("_")
              and getattr(v, "__module__", "").startswith("rewardlab")}
    assert public <= set(exported), public - set(exported)


def test_import_needs_neither_ray_nor_torch() -> None:
    code = ("import sys, rewardlab.scale, rewardlab.cli; "
            "print('ray' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]
