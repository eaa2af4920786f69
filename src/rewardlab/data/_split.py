"""Deterministic train/test splits that keep every prompt on one side.

Splitting by a hash of the prompt (not by row position) means the same prompt never lands in
both halves — HH has many pairs that share an opening turn — and a row keeps its side when
rows are added or reordered, so figures measured on a split stay comparable over time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

from rewardlab._validation import check_int, check_range
from rewardlab.data._records import Dataset, render_prompt

__all__ = ["kfold_by_prompt", "kfold_ids", "prompt_buckets", "split_by_prompt"]


def _bucket(text: str, seed: int) -> float:
    digest = hashlib.blake2b(f"{seed}\0{text}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def prompt_buckets(dataset: Dataset[Any], seed: int) -> list[float]:
    """Per record, a number in [0, 1) fixed by its first user turn and the seed."""
    out = []
    for record in dataset.records:
        prompt = record.prompt
        out.append(_bucket(render_prompt(prompt[:1] if isinstance(prompt, tuple) else prompt),
                           seed))
    return out


def split_by_prompt(
    dataset: Dataset[Any], *, test_fraction: float = 0.25, seed: int = 0
) -> tuple[Dataset[Any], Dataset[Any]]:
    """Split into ``(train, test)`` so that rows sharing a prompt stay together.

    The first user turn decides the side (for HH, branches of one conversation share it).

    Example:
        >>> from rewardlab.data import load_dataset
        >>> train, test = split_by_prompt(load_dataset("bundled:hh_harmless"), seed=0)
        >>> len(train) + len(test)
        1812
    """
    check_range("split_by_prompt", "test_fraction", test_fraction, 0.0, 1.0)
    buckets = prompt_buckets(dataset, seed)
    test = [i for i, b in enumerate(buckets) if b < test_fraction]
    train = [i for i, b in enumerate(buckets) if b >= test_fraction]
    return dataset.take(train), dataset.take(test)


def kfold_ids(dataset: Dataset[Any], *, k: int, seed: int) -> list[int]:
    """Per record, the fold ``kfold_by_prompt`` puts it in: one rule for code that needs
    the fold numbers rather than the split datasets (cross-fitting into arrays)."""
    return [int(b * k) for b in prompt_buckets(dataset, seed)]


def kfold_by_prompt(
    dataset: Dataset[Any], *, k: int = 5, seed: int = 0
) -> Iterator[tuple[Dataset[Any], Dataset[Any]]]:
    """``k`` (train, test) splits whose test parts partition the data, grouped by prompt.

    Example:
        >>> from rewardlab.data import load_dataset
        >>> data = load_dataset("bundled:hh_harmless")
        >>> sum(len(test) for _, test in kfold_by_prompt(data, k=5))
        1812
    """
    check_int("kfold_by_prompt", "k", k, minimum=2)
    folds = kfold_ids(dataset, k=k, seed=seed)
    for fold in range(k):
        yield (dataset.take([i for i, f in enumerate(folds) if f != fold]),
               dataset.take([i for i, f in enumerate(folds) if f == fold]))
