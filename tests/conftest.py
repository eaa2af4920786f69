"""Shared fixtures: offline hub, one embedding cache per session, small real data.

Models and embeddings are shared through session fixtures: MiniLM costs ~65 ms of CPU per
256-token text, so every test that can reuse an embedding does.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from rewardlab.data import Dataset, PairRecord, load_dataset, split_by_prompt

ROOT = Path(__file__).resolve().parents[1]

try:  # property tests draw the same examples on every run: CI cannot be flaky by chance
    from hypothesis import settings as _hypothesis_settings

    _hypothesis_settings.register_profile("rewardlab", derandomize=True, deadline=None)
    _hypothesis_settings.load_profile("rewardlab")
except ImportError:  # hypothesis is a test extra; tests that need it import it themselves
    pass


@pytest.fixture(scope="session", autouse=True)
def session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every test embeds through one cache in a temporary directory, never the user's."""
    path = tmp_path_factory.mktemp("rewardlab-cache")
    os.environ["REWARDLAB_CACHE_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def hh() -> Dataset[PairRecord]:
    return load_dataset("bundled:hh_harmless")


@pytest.fixture(scope="session")
def hh_small(hh: Dataset[PairRecord]) -> tuple[Dataset[PairRecord], Dataset[PairRecord]]:
    """A small real train/test split of HH harmless: 48 training pairs, 24 test pairs."""
    train, test = split_by_prompt(hh, seed=0)
    return train.take(range(48)), test.take(range(24))


@pytest.fixture(scope="session")
def trained_embed(hh_small):
    """An ``embed:minilm`` model trained on the small split (shared; do not mutate)."""
    from rewardlab import resolve

    model = resolve("embed:minilm?epochs=20")
    return model.fit(hh_small[0])


@pytest.fixture(scope="session")
def trained_seq(hh_small):
    """A ``seq:minilm`` model fine-tuned for one epoch on 16 real pairs at 64 tokens (shared;
    fine-tuning costs ~1 CPU-second per pair per step at full length)."""
    from rewardlab import resolve

    train, test = hh_small
    model = resolve("seq:minilm?max_length=64&batch_size=8&epochs=1&lr=5e-5")
    return model.fit(train.take(range(16)), eval_data=test.take(range(12)))


@pytest.fixture(scope="session")
def injected_steps():
    """Error-injected step data from the first 40 bundled GSM8K test problems' reference
    solutions: (train = problems 0-29, test = problems 30-39), real text throughout."""
    from rewardlab.prm import inject_errors, read_problems

    problems, _ = read_problems("bundled:gsm8k_examples", limit=40)
    return (inject_errors(problems[:30], seed=0).dataset("train"),
            inject_errors(problems[30:], seed=0).dataset("test"))


@pytest.fixture(scope="session")
def trained_prm(injected_steps):
    """A ``prm:minilm`` model trained on ``injected_steps``' training part (shared; do not
    mutate). Reads the problem+step embedding, step position and arithmetic checks."""
    from rewardlab import resolve

    return resolve("prm:minilm?epochs=20&max_length=128").fit(injected_steps[0])


class CliResult:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
            ) -> Callable[..., CliResult]:
    """Run ``rewardlab ARGS`` in-process through the real entry point (``cli.main``)."""
    from rewardlab import cli

    def run(*args: str) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["rewardlab", "--no-progress", *map(str, args)])
        code = 0
        try:
            cli.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run
