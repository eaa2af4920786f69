"""Every probe keeps the contract the runner and the report rely on; the package is light."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

from rewardlab.audit import PROBES, Threshold
from rewardlab.audit._plots import _DRAW
from rewardlab.audit.report import _WHAT

MODULES = ["rewardlab.audit", *(m.__name__ for m in PROBES.values()),
           "rewardlab.audit.transforms", "rewardlab.audit.report", "rewardlab.audit.runner"]


@pytest.mark.parametrize("name", list(PROBES))
def test_probe_modules_declare_name_title_threshold_and_run(name):
    module = PROBES[name]
    assert name == module.NAME
    assert isinstance(module.TITLE, str) and module.TITLE
    assert isinstance(module.THRESHOLD, Threshold)
    assert callable(module.run)
    assert module.__doc__ and len(module.__doc__) > 200  # what it measures and why
    assert name in _DRAW and name in _WHAT  # the report has a plot and a description


@pytest.mark.parametrize("name", MODULES)
def test_all_is_sorted_and_complete(name):
    module = importlib.import_module(name)
    exported = module.__all__
    assert len(set(exported)) == len(exported)
    for attr in exported:
        assert hasattr(module, attr)
    public = {k for k, v in vars(module).items() if not k.startswith("_")
              and getattr(v, "__module__", "") == name}
    assert public <= set(exported), public - set(exported)


def test_importing_the_audit_pulls_in_neither_torch_nor_matplotlib():
    code = ("import sys, rewardlab.audit, rewardlab.audit.report; "
            "print(sorted(m for m in ('torch', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"
