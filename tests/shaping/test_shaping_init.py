"""``rewardlab.shaping`` declares its public surface and stays light to import."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys

import rewardlab.shaping as shaping


def _ruff_key(name: str) -> tuple[int, str]:
    """ruff's RUF022 order: CONSTANTS, then Classes, then everything else."""
    if name.isupper() and len(name) > 1:
        return (0, name)
    return (1 if name[:1].isupper() else 2, name)


def test_all_is_sorted_complete_and_resolvable() -> None:
    exported = shaping.__all__
    assert exported == sorted(set(exported), key=_ruff_key)
    public = {k for k, v in vars(shaping).items() if not k.startswith("_")
              and getattr(v, "__module__", "").startswith("rewardlab")
              and not isinstance(v, type(importlib))}
    assert public <= set(exported)


def test_every_function_cites_its_method_and_says_what_nan_does() -> None:
    functions = [getattr(shaping, n) for n in shaping.__all__
                 if inspect.isfunction(getattr(shaping, n))]
    assert len(functions) == 13
    for fn in functions:
        doc = fn.__doc__ or ""
        assert "arXiv:" in doc, f"{fn.__name__} cites no paper"
        assert "NaN" in doc, f"{fn.__name__} does not say what it does with NaN"
        assert "Example:" in doc, f"{fn.__name__} has no example"


def test_import_does_not_pull_torch() -> None:
    code = "import sys, rewardlab.shaping, rewardlab.adapters; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"
