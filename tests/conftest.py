"""Shared fixtures: offline hub, one embedding cache per session, small real data.

Models and embeddings are shared through session fixtures: MiniLM costs ~65 ms of CPU per
256-token text, so every test that can reuse an embedding does.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
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
    from rewardlab.label import inject_errors, read_problems

    problems, _ = read_problems("bundled:gsm8k_examples", limit=40)
    return (inject_errors(problems[:30], seed=0).dataset("train"),
            inject_errors(problems[30:], seed=0).dataset("test"))


@pytest.fixture(scope="session")
def trained_prm(injected_steps):
    """A ``prm:minilm`` model trained on ``injected_steps``' training part (shared; do not
    mutate). Reads the problem+step embedding, step position and arithmetic checks."""
    from rewardlab import resolve

    return resolve("prm:minilm?epochs=20&max_length=128").fit(injected_steps[0])


@pytest.fixture(scope="session")
def attribute_sets(hh_small):
    """Two opposed attribute sets from the small HH split (the embeddings ``trained_embed``
    uses): ``harmless`` = the first 24 training pairs as labelled, ``contrary`` = the next 24
    with their sides swapped, so the two heads disagree and weights visibly steer."""
    from _pairs_util import flipped

    train = hh_small[0]
    return {"harmless": train.take(range(24)), "contrary": flipped(train.take(range(24, 48)))}


@pytest.fixture(scope="session")
def trained_multi(attribute_sets):
    """A two-head ``multi:embed:minilm`` model on ``attribute_sets`` (shared; do not mutate)."""
    from rewardlab import resolve

    return resolve("multi:embed:minilm?epochs=20").fit(attribute_sets)


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory):
    """A tiny random BERT checkpoint (``tests/tiny_models.py``) for fine-tuning tests."""
    from tiny_models import tiny_bert

    return tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def trained_multi_seq(tiny_backbone, attribute_sets):
    """A two-head ``multi:seq:`` model (one tiny fine-tuned backbone) on ``attribute_sets``
    (shared; do not mutate)."""
    from rewardlab import resolve
    from tiny_models import one_thread

    with one_thread():
        return resolve(f"multi:seq:{tiny_backbone}?max_length=64&batch_size=8&epochs=12"
                       "&lr=2e-3").fit(attribute_sets)


@pytest.fixture(scope="session")
def user_pairs(attribute_sets):
    """Two users who disagree on the same 24 pairs: ``u1`` labels as HH, ``u2`` the
    opposite way (no single reward can please both)."""
    from dataclasses import replace

    from _pairs_util import flipped, with_user

    a = with_user(attribute_sets["harmless"], "u1")
    b = with_user(flipped(attribute_sets["harmless"]), "u2")
    return replace(a, records=a.records + b.records)


@pytest.fixture(scope="session")
def trained_personal(user_pairs):
    """A rank-2 ``personal:embed:minilm`` model on ``user_pairs`` (shared; do not mutate)."""
    from rewardlab import resolve

    return resolve("personal:embed:minilm?rank=2&epochs=40").fit(user_pairs)


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


def _unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on (for servers to start, or to be refused)."""
    return _unused_port()


@pytest.fixture(scope="session")
def llama_server() -> Iterator[str]:
    """``python -m llama_cpp.server`` with the default model (SmolLM2-135M, alias
    ``smollm2``) on a free loopback port, started once for the session; its base URL
    (``http://127.0.0.1:PORT/v1``). One thread, so it competes fairly on a busy machine;
    ``logits_all`` so the judge can read log-probabilities. Skipped without
    llama-cpp-python[server]."""
    pytest.importorskip("llama_cpp.server", reason="llama-cpp-python[server] not installed")
    import httpx

    from rewardlab.llm import default_gguf

    port = _unused_port()
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - the server's log, closed below
    proc = subprocess.Popen(  # a file, not a pipe: a full pipe would stall the server
        [sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf()),
         "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
         "--n_threads", "1", "--n_threads_batch", "1", "--n_ctx", "2048",
         "--logits_all", "true", "--interrupt_requests", "False", "--verbose", "False"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 300
        while True:
            if proc.poll() is not None:
                log.seek(0)
                pytest.fail(f"llama_cpp.server exited: {log.read()[-2000:]}")
            try:
                if httpx.get(base + "/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not answer within 300 s")
            time.sleep(0.3)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
