"""Fixtures for the server tests: a small trained MiniLM reward model, real HH texts, real
uvicorn servers on loopback, and test-only models (a NaN producer, a model that breaks)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pytest

from rewardlab.data import Dataset, Message, PairRecord
from rewardlab.serve import BackgroundServer, ServeConfig, create_app


@pytest.fixture(scope="session")
def serve_rm(hh_small: tuple[Dataset[PairRecord], Dataset[PairRecord]]):
    """``embed:minilm?epochs=5`` trained on 24 real HH pairs (shared; do not mutate)."""
    from rewardlab import resolve

    return resolve("embed:minilm?epochs=5").fit(hh_small[0].take(range(24)))


@pytest.fixture(scope="session")
def hh_items(hh_small) -> tuple[list[tuple[Message, ...]], list[str]]:
    """Sixteen real held-out HH prompts (conversations) and their chosen replies."""
    rows = hh_small[1].records[:16]
    return [r.prompt for r in rows], [r.chosen for r in rows]


def hh_text(prompt: Sequence[Message]) -> str:
    """A conversation as Anthropic HH text, ending where the assistant's reply begins."""
    names = {"user": "Human", "assistant": "Assistant"}
    return "".join(f"\n\n{names[m.role]}: {m.content}" for m in prompt) + "\n\nAssistant:"


@pytest.fixture(scope="module")
def rm_server(serve_rm) -> Iterator[BackgroundServer]:
    """The trained model behind a real uvicorn server on a free loopback port."""
    app = create_app(serve_rm, ServeConfig(max_batch=32, max_wait_ms=20,
                                           max_request_items=64, max_body_bytes=256 * 1024))
    with BackgroundServer(app) as server:
        yield server


@pytest.fixture(scope="module")
def verify_server() -> Iterator[BackgroundServer]:
    """``verify:math`` (a reference-taking model) behind a real server."""
    with BackgroundServer(create_app("verify:math", ServeConfig(max_batch=16))) as server:
        yield server


class Flaky:
    """Test-only reward: response length; NaN for responses containing 'nan', a crash
    (ValueError) for responses containing 'boom'. Records the size of every call."""

    spec = "test:flaky"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def score(self, prompts: Sequence, responses: Sequence[str]) -> np.ndarray:
        self.calls.append(len(responses))
        if any("boom" in r for r in responses):
            raise ValueError("boom: this model cannot score that")
        return np.array([np.nan if "nan" in r else float(len(r)) for r in responses])


def metric(text: str, name: str) -> float:
    """One sample's value from Prometheus text (``name`` includes any labels)."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in metrics:\n{text}")


@pytest.fixture
def flaky() -> type[Flaky]:
    """The ``Flaky`` test model class: call it for a fresh model."""
    return Flaky


@pytest.fixture(name="hh_text")
def hh_text_fixture():
    """Turns a rewardlab conversation into the HH prompt text OpenRLHF would send."""
    return hh_text


@pytest.fixture(name="metric")
def metric_fixture():
    """Reads one sample from Prometheus text."""
    return metric
