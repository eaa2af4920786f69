"""Fixtures of the distributed-training tests: a tiny random BERT and one torch thread."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> str:
    from tiny_models import tiny_bert

    return str(tiny_bert(tmp_path_factory.mktemp("tiny") / "bert"))


@pytest.fixture
def one_thread():
    from tiny_models import one_thread

    with one_thread():
        yield
