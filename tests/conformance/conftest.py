"""Fixtures for the conformance suite: the trained model the embed golden file pins.

The suite is cross-cutting (TRL, verl, OpenRLHF adapters, the server and the CLI), so it has a
directory of its own rather than mirroring one package of ``src/``. How to regenerate the
golden rewards: see ``test_conformance.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

GOLDEN = Path(__file__).parent / "golden"
#: The float model the embed golden file pins, kept beside it as a saved model directory: a
#: linear MiniLM head trained with a fixed seed on the first 12 pairs of the small real HH
#: split of ``tests/conftest.py`` (``hh_small``).
EMBED_MODEL = GOLDEN / "embed_minilm.model"
EMBED_SPEC = "embed:minilm?head=linear&epochs=10&seed=0"
EMBED_TRAIN_PAIRS = 12
REGEN_ENV = "REWARDLAB_REGEN_GOLDEN"


def regenerating() -> bool:
    """Whether this run rewrites the golden rewards instead of checking them."""
    return os.environ.get(REGEN_ENV, "") not in ("", "0")


@pytest.fixture(scope="session")
def regenerate() -> bool:
    """True on a regeneration run (``REWARDLAB_REGEN_GOLDEN=1``), never by default."""
    return regenerating()


@pytest.fixture(scope="session")
def conformance_embed_dir(request: pytest.FixtureRequest) -> Path:
    """The saved embed model the golden file pins (what a user hands every path: trainer
    env var, ``serve``, ``score``).

    Its weights are kept, not trained per run: training amplifies fp32 round-off (Adam's
    first steps follow the sign of near-zero gradients), so the same seed on another CPU gives
    rewards up to ~5% apart (measured: embeddings perturbed by 3e-7 relative noise, the size
    of a different CPU's kernels, moved trained rewards by up to 3.5e-3), while scoring fixed
    weights moves them by under 1.6e-6 even at 1e-6 noise, inside rtol 1e-5 / atol 1e-6. A
    regeneration run trains it (``EMBED_SPEC``) only when the directory is missing.
    """
    if not EMBED_MODEL.is_dir():
        if not regenerating():
            pytest.fail(f"{EMBED_MODEL} is missing; regenerate it with {REGEN_ENV}=1 "
                        "(see test_conformance.py)")
        from rewardlab import resolve

        train = request.getfixturevalue("hh_small")[0]
        resolve(EMBED_SPEC).fit(train.take(range(EMBED_TRAIN_PAIRS))).save(EMBED_MODEL)
    return EMBED_MODEL
