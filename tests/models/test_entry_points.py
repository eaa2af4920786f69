"""Third-party kinds arrive through the ``rewardlab.kinds`` entry-point group.

Each test installs a real distribution the way pip leaves one: a ``NAME-VERSION.dist-info``
folder (``METADATA``, ``entry_points.txt``) beside its module, on ``sys.path``. Nothing in
``importlib`` is mocked.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from rewardlab import UnknownKindError, known_kinds, resolve
from rewardlab.models import registry
from rewardlab.testing import check_reward_model

KIND_MODULE = '''
from dataclasses import dataclass

import numpy as np

from rewardlab.models import SaveLoadMixin


@dataclass(frozen=True, kw_only=True)
class ExclaimConfig:
    weight: float = 1.0


class Exclaim(SaveLoadMixin):
    """Rewards exclamation marks; registered only by its entry point."""

    config_class = ExclaimConfig

    def score(self, prompts, responses):
        counts = [r.count("!") for _, r in zip(prompts, responses, strict=True)]
        return self.config.weight * np.array(counts, dtype=np.float64)
'''


def install(root: Path, *, module: str, source: str, entry: str, dist: str = "exclaim") -> None:
    """Write ``module.py`` and ``DIST-0.1.dist-info`` under ``root``."""
    (root / f"{module}.py").write_text(source)
    info = root / f"{dist}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[rewardlab.kinds]\n{entry}\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh site directory on ``sys.path``; the registry and ``sys.modules`` are restored
    afterwards, so no other test sees the kinds installed here."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setattr(registry, "_KINDS", dict(registry._KINDS))
    before = set(sys.modules)
    yield root
    for name in set(sys.modules) - before:
        if name.startswith(("exclaim_kind", "broken_kind")):
            del sys.modules[name]


def test_an_installed_kind_resolves_saves_and_passes_the_contract(site: Path) -> None:
    install(site, module="exclaim_kind", source=KIND_MODULE,
            entry="exclaim = exclaim_kind:Exclaim")
    assert "exclaim" in known_kinds()
    assert "exclaim_kind" not in sys.modules  # listed, but imported only when named
    model = resolve("exclaim:?weight=2")
    assert model.kind == "exclaim" and model.config.weight == 2.0
    assert model.score(["q", "q"], ["yes!!", "no"]).tolist() == [4.0, 0.0]
    ran = check_reward_model(model)
    assert "save_load" in ran


def test_a_saved_third_party_model_loads_through_its_entry_point(site: Path,
                                                                  tmp_path: Path) -> None:
    install(site, module="exclaim_kind", source=KIND_MODULE,
            entry="exclaim = exclaim_kind:Exclaim")
    saved = resolve("exclaim:?weight=3").save(tmp_path / "rm")
    registry._KINDS.pop("exclaim")  # a new process: the kind is not imported yet
    np.testing.assert_array_equal(resolve(saved).score(["q"], ["!"]), [3.0])


def test_a_broken_entry_point_names_its_distribution(site: Path) -> None:
    install(site, module="broken_kind", source="import not_a_module_anywhere\n",
            entry="broken = broken_kind:Broken", dist="brokenkind")
    with pytest.raises(UnknownKindError, match=(
            r"model kind 'broken' comes from the entry point 'broken = broken_kind:Broken' "
            r"\(group rewardlab.kinds\) of the distribution brokenkind 0.1, which failed to "
            r"load: ModuleNotFoundError")):
        resolve("broken:")


def test_an_entry_point_that_names_no_class_is_refused(site: Path) -> None:
    install(site, module="broken_kind", source="NOT_A_CLASS = 3\n",
            entry="broken = broken_kind:NOT_A_CLASS", dist="brokenkind")
    with pytest.raises(UnknownKindError, match="names int 3, not a class"):
        resolve("broken:")


def test_unknown_kinds_still_list_what_is_known(site: Path) -> None:
    install(site, module="exclaim_kind", source=KIND_MODULE,
            entry="exclaim = exclaim_kind:Exclaim")
    with pytest.raises(UnknownKindError, match=r"unknown model kind 'nope'.*exclaim"):
        resolve("nope:x")
