"""The bench package's public surface: a complete, sorted ``__all__``; light to import."""

from __future__ import annotations

import subprocess
import sys

import rewardlab.bench as bench


def test_all_is_sorted_complete_and_resolvable() -> None:
    def key(name: str) -> tuple[int, str]:  # ruff's RUF022 order
        return (0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2, name)

    assert bench.__all__ == sorted(bench.__all__, key=key)
    public = {k for k, v in vars(bench).items() if not k.startswith("_")
              and getattr(v, "__module__", "").startswith("rewardlab")}
    assert public <= set(bench.__all__)
    assert all(hasattr(bench, name) for name in bench.__all__)


def test_import_does_not_load_torch() -> None:
    code = "import sys, rewardlab.bench; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
