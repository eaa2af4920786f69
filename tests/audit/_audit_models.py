"""Planted reward models and small data for the audit probes.

Each planted model has exactly one known flaw (or none), so a probe can be shown to flag
what it claims and to leave a sound model alone. They score real HH harmless text where
they can; the label-noise and best-of-n cases use small synthetic sets whose gold labels
are known by construction. A module of its own, not ``conftest``: a test that imported
helpers ``from conftest`` got whichever directory's conftest was loaded first (``pytest
tests/train tests/audit`` failed to collect).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardlab.data import BestOfNRecord, Dataset, PairRecord


def content(text: str) -> str:
    """The words of a text, lower case, without digits, punctuation or Markdown: what every
    meaning-preserving rewrite of the audit keeps."""
    return " ".join(re.findall(r"[a-z]+", text.lower()))


def _unit(text: str) -> float:
    """A deterministic number in [0, 1) per text."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=4).digest(), "big") / 2**32


class OracleModel:
    """Knows which side of every given pair was chosen and reads content only: invariant to
    whitespace, casing, punctuation, Markdown and list numbering. Unknown texts (master keys)
    get the lowest reward. ``wrong`` inverts that share of the pairs (the first of a seeded
    permutation); ``margin`` is each side's distance from 0."""

    def __init__(self, pairs: Sequence[PairRecord], *, margin: float = 10.0,
                 wrong: float = 0.0) -> None:
        flip = set(np.random.default_rng(0).permutation(len(pairs))[:round(wrong * len(pairs))]
                   .tolist())
        self.table: dict[str, float] = {}
        for i, p in enumerate(pairs):
            sign = -1.0 if i in flip else 1.0
            self.table[content(p.chosen)] = sign * margin
            self.table[content(p.rejected)] = -sign * margin
        self.floor = -3 * margin
        self.calls = 0

    def score(self, prompts: Sequence[Any], responses: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return np.array([self.table.get(content(r), self.floor) for r in responses],
                        dtype=np.float64)


class LengthOnlyModel:
    """Reward = number of characters: the length hack in its purest form."""

    def score(self, prompts: Sequence[Any], responses: Sequence[str]) -> np.ndarray:
        return np.array([float(len(r)) for r in responses])


class ColonLoverModel(OracleModel):
    """The oracle, except that a lone ':' (the master key of Zhao et al.) gets top reward."""

    def score(self, prompts: Sequence[Any], responses: Sequence[str]) -> np.ndarray:
        out = super().score(prompts, responses)
        return np.where([r.strip() == ":" for r in responses], 100.0, out)


class WhitespaceSensitiveModel(OracleModel):
    """The oracle, minus a large penalty for every double space: a format-sensitive RM."""

    def score(self, prompts: Sequence[Any], responses: Sequence[str]) -> np.ndarray:
        return super().score(prompts, responses) - 15.0 * np.array(
            [r.count("  ") for r in responses])


class FirstPositionJudge:
    """A pairwise judge that prefers whatever it reads first."""

    def score(self, prompts: Sequence[Any], responses: Sequence[str]) -> np.ndarray:
        return np.zeros(len(responses))

    def compare(self, prompts: Sequence[Any], responses_a: Sequence[str],
                responses_b: Sequence[str], *, swap: bool = False) -> np.ndarray:
        p = np.full(len(responses_a), 0.9)
        return (p + 1 - p) / 2 if swap else p


class ConsistentJudge(OracleModel):
    """A pairwise judge whose verdict is the oracle's, whatever the order."""

    def compare(self, prompts: Sequence[Any], responses_a: Sequence[str],
                responses_b: Sequence[str], *, swap: bool = False) -> np.ndarray:
        a, b = self.score(prompts, responses_a), self.score(prompts, responses_b)
        return 1 / (1 + np.exp(-(a - b) / 10))


# --- trainable planted models on synthetic marker data -------------------------------------


@dataclass(frozen=True)
class SeedConfig:
    """The planted trainable models' whole config: what ``clone`` copies."""

    seed: int = 0


class NearestNeighbourModel:
    """Trainable, and memorises: a response gets the label of its most similar training
    response (shared words), so flipped training labels are copied to held-out pairs."""

    def __init__(self, seed: int = 0) -> None:
        self.config = SeedConfig(seed=seed)
        self.seed = seed

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}

    def fit(self, data: Dataset[PairRecord]) -> NearestNeighbourModel:
        self.memory_ = [(set(r.chosen.split()), 1.0) for r in data.records] + [
            (set(r.rejected.split()), -1.0) for r in data.records]
        return self

    def score(self, prompts: Sequence[Any], responses: Sequence[str]) -> np.ndarray:
        out = []
        for text in responses:
            words = set(text.split())
            best = max(self.memory_, key=lambda m: len(words & m[0]) / len(words | m[0]))
            out.append(best[1])
        return np.array(out)


class MarkerModel:
    """Trainable and robust: learns one sign, whether the 'good' marker wins in most
    training pairs, so a minority of flipped labels cannot change it. Also a consistent
    pairwise judge, so one model exercises every probe."""

    def __init__(self, seed: int = 0) -> None:
        self.config = SeedConfig(seed=seed)
        self.seed = seed
        self.sign_ = 1.0

    def get_config(self) -> dict[str, Any]:
        return {"seed": self.seed}

    def fit(self, data: Dataset[PairRecord]) -> MarkerModel:
        votes = sum(1 if " good" in r.chosen else -1 for r in data.records)
        self.sign_ = 1.0 if votes >= 0 else -1.0
        return self

    def score(self, prompts: Sequence[Any], responses: Sequence[str]) -> np.ndarray:
        return np.array([self.sign_ * (1.0 if " good" in r else -1.0) + 0.6 * _unit(r)
                         for r in responses])

    def compare(self, prompts: Sequence[Any], responses_a: Sequence[str],
                responses_b: Sequence[str], *, swap: bool = False) -> np.ndarray:
        a, b = self.score(prompts, responses_a), self.score(prompts, responses_b)
        return 1 / (1 + np.exp(-(a - b)))


def marker_pairs(n: int = 160, seed: int = 0) -> Dataset[PairRecord]:
    """Synthetic pairs: each response is 8 random words plus a 'good' or 'bad' marker;
    the chosen one carries 'good'."""
    rng = np.random.default_rng(seed)
    vocab = [f"w{i}" for i in range(120)]
    records = []
    for i in range(n):
        words = [" ".join(rng.choice(vocab, 8, replace=False)) for _ in range(2)]
        records.append(PairRecord(prompt=f"Question number {i}?", chosen=words[0] + " good",
                                  rejected=words[1] + " bad", id=i, line=i + 1))
    return Dataset(task="pairwise", records=tuple(records), source="synthetic-markers",
                   form="explicit")


class TableModel:
    """Rewards read from a table of response texts (a proxy or gold for best-of-n)."""

    def __init__(self, table: dict[str, float]) -> None:
        self.table = table

    def score(self, prompts: Sequence[Any], responses: Sequence[str]) -> np.ndarray:
        return np.array([self.table[r] for r in responses])


def best_of_n_set(problems: int = 40, n: int = 8, *, labelled: bool = True
                  ) -> tuple[Dataset[BestOfNRecord], dict[str, float]]:
    """Synthetic best-of-n problems with known correctness, and each candidate's gold."""
    rng = np.random.default_rng(1)
    records, gold = [], {}
    for p in range(problems):
        correct = rng.random(n) < 0.4
        correct[0], correct[1] = True, False
        texts = tuple(f"problem {p} candidate {j}" for j in range(n))
        gold.update({t: float(c) for t, c in zip(texts, correct, strict=True)})
        records.append(BestOfNRecord(prompt=f"Problem {p}", responses=texts, id=p,
                                     is_correct=tuple(bool(c) for c in correct)
                                     if labelled else None, line=p + 1))
    return Dataset(task="best-of-n", records=tuple(records), source="synthetic-bon",
                   form="explicit"), gold
