"""``similarity:bleu|chrf|rougeL|embed`` — reward by closeness to a reference text.

A ``ReferenceScorer``: every response is compared with its row's ``reference`` (or
``ground_truth`` / ``answer``). ``bleu``, ``chrf`` and ``rougeL`` are n-gram overlaps in [0,
1] (``rewardlab.verify.similarity``; BLEUBERI's RL reward is BLEU); ``embed`` is the cosine
similarity of the two texts' sentence embeddings (MiniLM by default, through the project's
encoder and its on-disk embedding cache), in [-1, 1] and in practice [0, 1].
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab._validation import check_option, check_positive
from rewardlab.data import Prompt
from rewardlab.errors import CapabilityError, ConfigError, SpecError
from rewardlab.models._encoder import SentenceEncoder, open_encoder
from rewardlab.models._module import SaveLoadMixin
from rewardlab.models.base import ReferenceScorer
from rewardlab.models.registry import config_from_options, register_kind
from rewardlab.verify.similarity import OVERLAP_METRICS, overlap_scores

__all__ = ["SIMILARITY_METRICS", "SimilarityConfig", "SimilarityRewardModel"]

#: What ``similarity:ARG`` may name.
SIMILARITY_METRICS = (*OVERLAP_METRICS, "embed")


@dataclass(frozen=True, kw_only=True, slots=True)
class SimilarityConfig:
    """Settings of ``similarity:``; ``metric`` is the spec's argument, the rest options.

    Args:
        metric: ``bleu``, ``chrf``, ``rougeL`` or ``embed``.
        encoder: the sentence encoder of ``embed`` (``minilm`` or a model directory).
        max_length: tokens per text for ``embed`` (longer texts are cut).
    """

    metric: str = "bleu"
    encoder: str = "minilm"
    max_length: int = 256

    def __post_init__(self) -> None:
        check_option("SimilarityConfig", "metric", self.metric, SIMILARITY_METRICS)
        check_positive("SimilarityConfig", "max_length", self.max_length)


@register_kind("similarity")
class SimilarityRewardModel(SaveLoadMixin, ReferenceScorer):
    """Reward = similarity of the response to the reference text.

    Args:
        cache: where ``embed`` caches embeddings: ``True`` for the default directory, a
            directory, or ``False``.
        **params: fields of ``SimilarityConfig``.

    Example:
        >>> model = SimilarityRewardModel(metric="rougeL")
        >>> model.score_with_references(["q", "q"], ["Paris is the capital", "I like cheese"],
        ...                             ["The capital is Paris"] * 2).round(2)
        array([0.5, 0. ])
    """

    kind = "similarity"
    config_class = SimilarityConfig
    spec: str | None = None

    def __init__(self, *, cache: bool | str | Path = True, **params: Any) -> None:
        self.config = SimilarityConfig(**params)
        self.cache = cache

    @classmethod
    def from_spec(cls, arg: str, options: dict[str, str]) -> SimilarityRewardModel:
        known = arg in SIMILARITY_METRICS
        config = config_from_options(SimilarityConfig, options, spec=f"similarity:{arg}",
                                     fixed={"metric": arg if known else "bleu"})
        if arg and not known:  # after the options, so a bad option is named first
            raise SpecError(f"unknown metric '{arg}' in 'similarity:{arg}'; known: "
                            f"{', '.join(SIMILARITY_METRICS)} (e.g. similarity:bleu)")
        return cls(**asdict(config))

    @property
    def encoder(self) -> SentenceEncoder:
        if getattr(self, "_encoder", None) is None:
            self._encoder = open_encoder(self.config.encoder, max_length=self.config.max_length,
                                         cache=self.cache)
        return self._encoder

    def score(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """Always raises: similarity needs reference texts (``score_with_references``)."""
        raise CapabilityError(
            f"model '{self.spec or 'similarity:' + self.config.metric}' compares responses "
            "with reference texts, and score(prompts, responses) carries none. In Python call "
            "score_with_references(prompts, responses, references); `rewardlab score` and "
            "`eval` read each row's 'reference' (or 'ground_truth' / 'answer') field")

    def score_with_references(self, prompts: Sequence[Prompt], responses: Sequence[str],
                              references: Sequence[str]) -> np.ndarray:
        """Rewards float64 ``(n,)``: response ``i`` against ``references[i]``."""
        if not len(prompts) == len(responses) == len(references):
            raise ConfigError(f"got {len(prompts)} prompts, {len(responses)} responses and "
                              f"{len(references)} references; they must pair up one to one")
        bad = next((i for i, r in enumerate(references) if not isinstance(r, str)), None)
        if bad is not None:
            raise ConfigError(f"references[{bad}] is {type(references[bad]).__name__}; every "
                              "response needs its reference text as a string")
        if self.config.metric != "embed":
            return np.array(overlap_scores(self.config.metric, responses, references),
                            dtype=np.float64)
        if not responses:
            return np.zeros(0, dtype=np.float64)
        vectors = self.encoder.embed([*responses, *references]).astype(np.float64)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        n = len(responses)
        return np.einsum("ij,ij->i", vectors[:n], vectors[n:])
