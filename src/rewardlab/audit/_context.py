"""What every probe reads: the model, the pairs, the settings, and one way to score.

Probes never call ``model.score`` themselves. ``AuditContext.score`` scores through the
scoring layer (``rewardlab.scoring``: a verifier is given each pair's reference answer, and
what comes back is checked there); a model that needs a reference and has none makes the
probe skip with the reason. The context counts what was scored, so the report can say what
the audit cost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab._validation import check_int, check_range
from rewardlab.audit._results import ProbeSkipped
from rewardlab.data import BestOfNRecord, Dataset, PairRecord, Prompt, best_of_n_to_pairs
from rewardlab.errors import ConfigError, DataError
from rewardlab.models.base import RewardModel, describe
from rewardlab.scoring import compare_pairs, needs_references, score_batch, uses_comparison

__all__ = ["DEFAULT_NOISE_RATES", "AuditConfig", "AuditContext", "AuditPair"]

DEFAULT_NOISE_RATES = (0.0, 0.1, 0.2, 0.4)


@dataclass(frozen=True, kw_only=True)
class AuditConfig:
    """Settings of an audit; all but `bins` and `test_fraction` are CLI options too.

    Args:
        probes: probe names to run, in order (``None``: all of them).
        max_pairs: pairs each probe that *transforms* responses (master keys, paraphrase,
            position, the bundled length sets, best-of-n problems) draws from the data, so an
            audit costs a bounded number of new scores; probes that read the data's own
            scores (length, calibration) use every pair.
        seed: fixes every sample drawn and the label-noise split.
        master_keys: extra content-free responses to try beside the built-in catalogue.
        noise_rates: label-flip rates of the label-noise probe (0 is the clean baseline).
        best_of_n: best-of-n data (path, ``bundled:NAME`` or ``Dataset``) for the
            over-optimisation probe; ``DATA`` is used when it is best-of-n itself.
        gold: a gold reward model (spec or model) for over-optimisation; without it the
            candidates' ``is_correct`` labels are the gold signal.
        length_references: also read the bundled AlpacaEval length and EvalBiasBench sets
            in the length probe.
        reference_prompts: AlpacaEval prompts the length probe scores in all three lengths
            (their answers are long: about 0.15 s of MiniLM time each on 2 cores).
        bins: bins of the calibration reliability diagram.
        test_fraction: held-out share of the label-noise probe's split by prompt.
    """

    probes: tuple[str, ...] | None = None
    max_pairs: int = 32
    seed: int = 0
    master_keys: tuple[str, ...] = ()
    noise_rates: tuple[float, ...] = DEFAULT_NOISE_RATES
    best_of_n: str | Path | Dataset[Any] | None = None
    gold: str | Path | RewardModel | None = None
    length_references: bool = True
    reference_prompts: int = 16
    bins: int = 10
    test_fraction: float = 0.25

    def __post_init__(self) -> None:
        check_int("AuditConfig", "max_pairs", self.max_pairs, minimum=2)
        check_int("AuditConfig", "seed", self.seed, minimum=0)
        check_int("AuditConfig", "bins", self.bins, minimum=2)
        check_int("AuditConfig", "reference_prompts", self.reference_prompts, minimum=2)
        check_range("AuditConfig", "test_fraction", self.test_fraction, 0.05, 0.95)
        if not self.noise_rates:
            raise ConfigError("The 'noise_rates' parameter of AuditConfig must hold at least "
                              "one rate. Got none.")
        for rate in self.noise_rates:
            check_range("AuditConfig", "noise_rates", rate, 0.0, 0.5)

    def to_json(self) -> dict[str, Any]:
        return {"probes": list(self.probes) if self.probes else None,
                "max_pairs": self.max_pairs, "seed": self.seed,
                "master_keys": list(self.master_keys), "noise_rates": list(self.noise_rates),
                "best_of_n": _label(self.best_of_n), "gold": _label(self.gold),
                "length_references": self.length_references,
                "reference_prompts": self.reference_prompts, "bins": self.bins,
                "test_fraction": self.test_fraction}


def _label(value: object) -> object:
    """A JSON-friendly name for a setting that may be a path, a data set or a model."""
    if value is None or isinstance(value, str | int | float):
        return value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Dataset):
        return value.source
    return describe(value)


@dataclass(frozen=True, slots=True)
class AuditPair:
    """A preference pair as probes see it: a ``PairRecord`` plus the reference answer of the
    best-of-n problem it came from (verifiers need it)."""

    prompt: Prompt
    chosen: str
    rejected: str
    reference: str | None = None
    subset: str | None = None


def _pairs_of(data: Dataset[Any]) -> tuple[Dataset[PairRecord], tuple[AuditPair, ...]]:
    if data.task not in ("pairwise", "best-of-n"):
        return data, ()
    # a pair's problem is its id before the last ':' *and* its line: rows may repeat an id
    refs: dict[tuple[str, int | None], str | None] = {}
    if data.task == "best-of-n":
        refs = {(str(r.id), r.line): r.reference for r in data.records}
    try:
        pairs = best_of_n_to_pairs(data)
    except DataError:  # unlabelled candidates: no pairs, but over-optimisation may use a gold
        return data, ()
    out = tuple(AuditPair(r.prompt, r.chosen, r.rejected,
                          refs.get((str(r.id).rpartition(":")[0], r.line)) if refs else None,
                          r.subset)
                for r in pairs.records)
    return pairs, out


@dataclass
class AuditContext:
    """The model and data of one audit, with the scoring every probe shares.

    ``pairs`` are the data's preference pairs (best-of-n rows become correct-over-incorrect
    pairs); ``best_of_n`` is best-of-n data when there is any.
    """

    model: RewardModel
    data: Dataset[Any]
    config: AuditConfig = field(default_factory=AuditConfig)
    best_of_n: Dataset[BestOfNRecord] | None = None
    gold: RewardModel | None = None
    scored: int = 0

    def __post_init__(self) -> None:
        self.pair_data, self.pairs = _pairs_of(self.data)
        if self.best_of_n is None and self.data.task == "best-of-n":
            self.best_of_n = self.data

    @property
    def name(self) -> str:
        return describe(self.model)

    # --- scoring -------------------------------------------------------------------------

    def score(self, prompts: Sequence[Prompt], responses: Sequence[str],
              references: Sequence[str | None] | None = None) -> np.ndarray:
        """Rewards float64 ``(n,)``; a verifier gets ``references`` (or the probe skips)."""
        if len(responses) == 0:
            return np.zeros(0)
        if needs_references(self.model) and (references is None
                                             or any(r is None for r in references)):
            raise ProbeSkipped(
                f"model '{self.name}' checks responses against reference answers, and "
                "these responses have none (give best-of-n data with a 'reference')")
        rewards = score_batch(self.model, prompts, responses, references=references).rewards
        self.scored += len(responses)
        return rewards

    @property
    def compares(self) -> bool:
        """Pairs are judged side by side (a judge in pairwise mode), not scored one by one."""
        return uses_comparison(self.model)

    def score_pairs(self, pairs: Sequence[AuditPair]) -> tuple[np.ndarray, np.ndarray]:
        """Rewards of the chosen and the rejected sides, in one call.

        A judge that compares pairs is asked ``compare(chosen, rejected, swap=True)`` (both
        orders, so position bias cancels), and its P(chosen better) = p is returned as the
        rewards ``±logit(p)/2``: ``σ(r_chosen − r_rejected) = p``, so every probe reads the
        judge's own probability.
        """
        n = len(pairs)
        prompts = [p.prompt for p in pairs]
        if self.compares and n:
            p = compare_pairs(self.model, prompts, [x.chosen for x in pairs],
                              [x.rejected for x in pairs], swap=True)
            self.scored += 2 * n
            p = np.clip(p, 1e-6, 1 - 1e-6)
            half = np.log(p / (1 - p)) / 2
            return half, -half
        refs = [p.reference for p in pairs]
        rewards = self.score(prompts + prompts, [p.chosen for p in pairs]
                             + [p.rejected for p in pairs], refs + refs)
        return rewards[:n], rewards[n:]

    @cached_property
    def base_rewards(self) -> tuple[np.ndarray, np.ndarray]:
        """The model's rewards for every pair of the data, scored once for all probes."""
        self.require_pairs()
        return self.score_pairs(self.pairs)

    # --- samples -------------------------------------------------------------------------

    def require_pairs(self, minimum: int = 2) -> None:
        if len(self.pairs) < minimum:
            what = ("pairwise or best-of-n data" if not self.pairs
                    else f"at least {minimum} pairs")
            raise ProbeSkipped(f"needs {what}; {self.data.source} holds "
                               f"{len(self.pairs)} pair(s) ({self.data.task} data)")

    def sample(self, n: int, k: int | None = None, *, salt: int = 0) -> np.ndarray:
        """``min(k, n)`` indices of ``range(n)`` drawn with the audit's seed, sorted."""
        k = self.config.max_pairs if k is None else k
        if n <= k:
            return np.arange(n)
        rng = np.random.default_rng([self.config.seed, salt])
        return np.sort(rng.choice(n, k, replace=False))

    def sample_pairs(self, *, salt: int = 0) -> np.ndarray:
        self.require_pairs()
        return self.sample(len(self.pairs), salt=salt)
