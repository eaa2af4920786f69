"""Fixtures for the conformance suite: the golden files and the trained model they pin.

The suite is cross-cutting (TRL, verl, OpenRLHF adapters, the server and the CLI), so it has a
directory of its own rather than mirroring one package of ``src/``. How to regenerate the
golden rewards: see ``test_conformance.py``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

#: The float model the embed golden file pins: a MiniLM head (MLP, dropout, AdamW) trained
#: with a fixed seed on the first 12 pairs of the conftest's small real HH split. Its
#: rewards are fp32 results, so they are compared at rtol 1e-5, atol 1e-6, never bitwise.
EMBED_SPEC = "embed:minilm?epochs=10&seed=0"
EMBED_TRAIN_PAIRS = 12


@pytest.fixture(scope="session")
def conformance_embed_dir(hh_small, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``EMBED_SPEC`` trained on ``EMBED_TRAIN_PAIRS`` real HH pairs and saved: a directory
    is what a user hands every path (trainer env var, ``serve``, ``score``). Its training
    texts are a subset of the other session models', so in a full run they are cached."""
    from rewardlab import resolve

    model = resolve(EMBED_SPEC).fit(hh_small[0].take(range(EMBED_TRAIN_PAIRS)))
    return model.save(tmp_path_factory.mktemp("conformance") / "embed-rm")
