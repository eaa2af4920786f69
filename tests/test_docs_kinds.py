"""docs/kinds.md's example kind runs as written and passes ``check_reward_model``."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from rewardlab import resolve
from rewardlab.models import registry

KINDS_MD = (Path(__file__).resolve().parents[1] / "docs" / "kinds.md").read_text()


@pytest.fixture
def scratch_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The example registers ``length``; only this test sees it."""
    registry.known_kinds()
    monkeypatch.setattr(registry, "_KINDS", dict(registry._KINDS))


def test_example_kind_runs_and_passes_the_contract(scratch_registry, capsys,
                                                   tmp_path: Path) -> None:
    code = re.findall(r"```python\n(.*?)```", KINDS_MD, flags=re.S)[0]
    assert len(code.splitlines()) < 50  # a whole kind on one screen
    namespace: dict = {}
    exec(compile(code, "docs/kinds.md", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "'not_fitted'" in printed and "'save_load'" in printed
    # the kind now resolves from a spec and round-trips like a built-in
    model = resolve("length:?scale=2").fit(namespace["data"])
    saved = resolve(model.save(tmp_path / "length-rm"))
    np.testing.assert_array_equal(saved.score(["q"], ["abc"]), model.score(["q"], ["abc"]))
    assert saved.config.scale == 2.0


def test_entry_point_snippet_names_the_group() -> None:
    assert '[project.entry-points."rewardlab.kinds"]' in KINDS_MD
    assert registry.ENTRY_POINT_GROUP == "rewardlab.kinds"
