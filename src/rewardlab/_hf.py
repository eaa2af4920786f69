"""Helpers for Hugging Face ``transformers``, shared by every layer that loads a model with it
(the ``seq:`` and ``embed:`` kinds, the LLM clients). Importing this module does not import
``transformers``."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["quiet_transformers"]


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """Hide transformers' weight-loading bars and load reports (an untrained seq: head is
    expected before training; rewardlab says so itself when it matters)."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()
