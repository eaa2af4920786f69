"""Fixtures of the bench tests: real saved models, tiny real-data suites, RewardBench files."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from rewardlab.data import Prompt


class LengthModel:
    """A real (if naive) reward model: the reply's length in characters, optionally
    rounded to ``bucket`` characters so that near-equal replies tie."""

    spec = "length-model"

    def __init__(self, bucket: int = 1) -> None:
        self.bucket = bucket

    def score(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        return np.array([len(r) // self.bucket for r in responses], dtype=np.float64)


@pytest.fixture(scope="session")
def embed_dir(trained_embed, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared small ``embed:minilm`` model, saved: a spec the score cache can key."""
    return trained_embed.save(tmp_path_factory.mktemp("bench-models") / "embed-rm")


@pytest.fixture(scope="session")
def prm_dir(trained_prm, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return trained_prm.save(tmp_path_factory.mktemp("bench-models") / "prm-rm")


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def write_jsonl():
    """``write_jsonl(path, rows)``: write rows as JSON Lines and return the path."""
    return _write_jsonl


@pytest.fixture
def length_model():
    """``length_model(bucket=1)``: a ``LengthModel``."""
    return LengthModel


@pytest.fixture
def small_suite(tmp_path: Path) -> Path:
    """Two real bundled sets, a handful of rows each (``--limit`` keeps them small)."""
    path = tmp_path / "small.toml"
    path.write_text(
        'name = "small"\n'
        '[[task]]\nname = "hh"\ndata = "bundled:hh_harmless"\ntask = "pairwise"\n'
        'section = "Safety"\n'
        '[[task]]\nname = "bias"\ndata = "bundled:evalbiasbench"\ntask = "pairwise"\n'
        'section = "Bias"\nrows = "subset"\n', encoding="utf-8")
    return path
