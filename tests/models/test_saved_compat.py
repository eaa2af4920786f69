"""Directories saved before ``SaveLoadMixin`` existed still load, and re-save to the same bytes.

``saved_v1/`` holds models written by the hand-written save code each kind had before
(an ``embed:`` linear head trained on 24 HH pairs, a ``vote:`` around another such head, a
``verify:math`` and a ``judge:`` manifest), with the scores they gave on 8 held-out HH
replies. The manifest keys and the safetensors layout are the saved format: they must not
change. A config field added since may appear on re-save, but only at its default, so the old
directory still means the same model.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rewardlab import resolve
from rewardlab.models.judge import ReferenceLLMJudge
from rewardlab.models.registry import _kind_class

SAVED = Path(__file__).parent / "saved_v1"


def _manifest(directory: Path) -> dict:
    manifest = json.loads((directory / "rewardlab.json").read_text())
    manifest.pop("created")
    manifest.pop("versions")
    manifest.get("state", {}).pop("final_epoch", None)  # a loaded model has no history
    return manifest


def _without_new_defaults(new: dict, old: dict) -> dict:
    """``new`` less the config fields ``old`` lacks, each checked to hold its default."""
    kind_class = _kind_class(new["kind"])
    assert kind_class is not None
    defaults = {f.name: f.default for f in dataclasses.fields(kind_class.config_class)}
    config = dict(new.get("config", {}))
    for name in set(config) - set(old.get("config", {})):
        assert config.pop(name) == defaults[name], f"new config field '{name}' not at its default"
    return {**new, "config": config} if "config" in new else new


@pytest.mark.parametrize("kind", ["embed", "vote", "verify", "judge"])
def test_an_old_directory_loads_and_resaves_identically(kind: str, tmp_path: Path) -> None:
    model = resolve(SAVED / kind)
    assert model.kind == kind
    out = model.save(tmp_path / kind)
    old_files = sorted(p.relative_to(SAVED / kind) for p in (SAVED / kind).rglob("*"))
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == old_files
    for rel in old_files:
        if rel.name == "model.safetensors":
            assert (out / rel).read_bytes() == (SAVED / kind / rel).read_bytes()
        elif rel.name == "rewardlab.json":
            old = _manifest(SAVED / kind / rel.parent)
            assert _without_new_defaults(_manifest(out / rel.parent), old) == old


@pytest.mark.parametrize("kind", ["embed", "vote"])
def test_an_old_directory_scores_as_it_did(kind: str, hh_small, tmp_path: Path) -> None:
    test = hh_small[1].take(range(8))
    scores = resolve(SAVED / kind).score([r.prompt for r in test], [r.chosen for r in test])
    want = json.loads((SAVED / "scores.json").read_text())[kind]
    # recorded on another machine: MiniLM's fp32 embeddings differ between CPUs' kernels by
    # up to ~1e-5 relative, and a 1,152-input head adds them up; 1e-4 is that, not slack
    np.testing.assert_allclose(scores, want, rtol=1e-4, atol=1e-4)


def test_a_reference_judge_loads_as_one(tmp_path: Path) -> None:
    assert isinstance(resolve(SAVED / "judge"), ReferenceLLMJudge)


def test_a_missing_member_folder_is_a_clear_error(tmp_path: Path) -> None:
    from rewardlab import ModelFormatError

    broken = tmp_path / "vote"
    shutil.copytree(SAVED / "vote", broken)
    shutil.rmtree(broken / "orm")
    with pytest.raises(ModelFormatError, match="missing its ORM folder 'orm'"):
        resolve(broken)
