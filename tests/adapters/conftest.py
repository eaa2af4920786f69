"""Fixtures for the adapter tests: a small trained MiniLM reward model, real HH texts, and
test-only reward models (a reference judge, a NaN producer, a call counter)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from rewardlab.data import Dataset, Message, PairRecord
from rewardlab.errors import CapabilityError


@pytest.fixture(scope="session")
def small_rm(hh_small: tuple[Dataset[PairRecord], Dataset[PairRecord]]):
    """``embed:minilm?epochs=5`` trained on 24 real HH pairs (shared; do not mutate)."""
    from rewardlab import resolve

    return resolve("embed:minilm?epochs=5").fit(hh_small[0].take(range(24)))


@pytest.fixture(scope="session")
def small_rm_dir(small_rm, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small model saved: a directory is a spec the adapters resolve by path."""
    return small_rm.save(tmp_path_factory.mktemp("adapters") / "small-rm")


@pytest.fixture(scope="session")
def hh_texts(hh_small) -> tuple[list[tuple[Message, ...]], list[str]]:
    """Eight real HH prompts (conversations) and their chosen replies."""
    rows = hh_small[1].records[:8]
    return [r.prompt for r in rows], [r.chosen for r in rows]


def as_chat(prompt: tuple[Message, ...]) -> list[dict[str, str]]:
    """A rewardlab conversation as TRL / OpenAI chat messages."""
    return [{"role": m.role, "content": m.content} for m in prompt]


class ExactMatch:
    """Test-only ``ReferenceScorer``: 1.0 when the stripped response equals the reference."""

    spec = "test:exact-match"

    def score(self, prompts: Sequence, responses: Sequence[str]) -> np.ndarray:
        raise CapabilityError("test:exact-match needs references")

    def score_with_references(self, prompts: Sequence, responses: Sequence[str],
                              references: Sequence[str]) -> np.ndarray:
        assert all(isinstance(r, str) for r in references)
        return np.array([float(a.strip() == b.strip()) for a, b in
                         zip(responses, references, strict=True)])


class LengthModel:
    """Test-only reward: response length in characters; counts its calls and batch sizes."""

    spec = "test:length"

    def __init__(self, nan_at: Sequence[int] = ()) -> None:
        self.nan_at, self.calls = list(nan_at), []

    def score(self, prompts: Sequence, responses: Sequence[str]) -> np.ndarray:
        assert len(prompts) == len(responses)
        self.calls.append(len(responses))
        out = np.array([float(len(r)) for r in responses])
        for i in self.nan_at:
            if i < len(out):
                out[i] = np.nan
        return out


@pytest.fixture
def exact_match() -> ExactMatch:
    return ExactMatch()


@pytest.fixture
def length_model() -> type[LengthModel]:
    """The ``LengthModel`` class: call it (optionally with ``nan_at``) for a fresh model."""
    return LengthModel


@pytest.fixture
def chat():
    """Turns a rewardlab conversation into TRL / OpenAI chat messages."""
    return as_chat
