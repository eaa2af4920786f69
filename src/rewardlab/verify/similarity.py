"""Overlap of a response with a reference text: BLEU, chrF and ROUGE-L, as rewards in [0, 1].

BLEUBERI trains instruction followers with BLEU against reference answers as the RL reward;
chrF (character n-grams) is kinder to morphology and short texts, ROUGE-L (longest common
subsequence) to reordering. Each function scores one response against one reference with the
field's own library (``sacrebleu`` for BLEU and chrF, Google's ``rouge-score`` for ROUGE-L),
sentence-level, and scales it to [0, 1]. ``similarity:`` (``rewardlab.models.similarity``)
wraps them as reward models, with ``similarity:embed`` for MiniLM cosine similarity.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

from rewardlab.errors import ConfigError, MissingDependencyError

__all__ = ["OVERLAP_METRICS", "bleu", "chrf", "overlap_scores", "rouge_l"]


def _need(package: str, pip: str) -> Any:
    import importlib

    try:
        return importlib.import_module(package)
    except ImportError:
        raise MissingDependencyError(f"this similarity metric needs the package '{pip}'; "
                                     f"pip install {pip}") from None


def _unit(value: float) -> float:
    """Into [0, 1]: sacrebleu's percentages carry float round-off (100.00000000000004)."""
    return min(1.0, max(0.0, float(value)))


def bleu(response: str, reference: str) -> float:
    """Sentence BLEU (sacrebleu's defaults: 13a tokens, exponential smoothing) / 100.

    Example:
        >>> bleu("the cat sat on the mat", "the cat sat on the mat")
        1.0
        >>> bleu("", "the cat sat on the mat")
        0.0
    """
    sacrebleu = _need("sacrebleu", "sacrebleu")
    if not response.strip() or not reference.strip():
        return 0.0
    return _unit(sacrebleu.sentence_bleu(response, [reference]).score / 100.0)


def chrf(response: str, reference: str) -> float:
    """Sentence chrF (sacrebleu: character 6-grams, beta 2) / 100.

    Example:
        >>> round(chrf("the cat sat", "the cat sat"), 3)
        1.0
    """
    sacrebleu = _need("sacrebleu", "sacrebleu")
    if not response.strip() or not reference.strip():
        return 0.0
    return _unit(sacrebleu.sentence_chrf(response, [reference]).score / 100.0)


@lru_cache(maxsize=1)
def _rouge() -> Any:
    rouge_scorer = _need("rouge_score.rouge_scorer", "rouge-score")
    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)


def rouge_l(response: str, reference: str) -> float:
    """ROUGE-L F-measure (longest common subsequence of Porter-stemmed tokens).

    Example:
        >>> round(rouge_l("the cats sat on a mat", "the cat sat on the mat"), 3)
        0.833
    """
    if not response.strip() or not reference.strip():
        return 0.0
    return float(_rouge().score(reference, response)["rougeL"].fmeasure)


#: What ``similarity:ARG`` may name besides ``embed``, and the function of each.
OVERLAP_METRICS: dict[str, Callable[[str, str], float]] = {
    "bleu": bleu, "chrf": chrf, "rougeL": rouge_l}


def overlap_scores(metric: str, responses: Sequence[str], references: Sequence[str]
                   ) -> list[float]:
    """``metric`` (a key of ``OVERLAP_METRICS``) for each response against its reference."""
    if metric not in OVERLAP_METRICS:
        raise ConfigError(f"unknown overlap metric '{metric}'; known: "
                          f"{', '.join(OVERLAP_METRICS)}")
    if len(responses) != len(references):
        raise ConfigError(f"got {len(responses)} responses but {len(references)} references; "
                          "they must pair up one to one")
    fn = OVERLAP_METRICS[metric]
    return [fn(r, ref) for r, ref in zip(responses, references, strict=True)]
