"""Every ``>>>`` example in rewardlab's docstrings runs and shows what it says.

Docstring examples are documentation users copy; one that went stale (an output that changed
with the code) is a wrong doc. Collected per module here rather than with
``--doctest-modules``, which would also import ``tests/**/conftest.py`` under clashing names.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import rewardlab

MODULES = sorted(m.name for m in pkgutil.walk_packages(rewardlab.__path__, "rewardlab."))


def _examples(name: str) -> list[doctest.DocTest]:
    """The module's own examples (the finder skips objects imported from elsewhere)."""
    module = importlib.import_module(name)
    return [t for t in doctest.DocTestFinder().find(module, name) if t.examples]


def test_examples_are_found() -> None:
    """Guards the finder itself: a broken walk would pass every module vacuously."""
    assert "rewardlab.models.vote" in MODULES
    assert sum(len(t.examples) for t in _examples("rewardlab.shaping._advantages")) >= 5


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in _examples(name):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} docstring example(s) in {name} failed (above)"
