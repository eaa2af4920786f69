"""Best-of-n evaluation: does the reward model pick a correct candidate out of n?

For each problem (a best-of-n row with ``is_correct`` labels) the model scores every
candidate. Figures, each a mean over problems unless said otherwise:

- ``best_of_n_accuracy``: the top-scored candidate is correct. **Ties at the top** are
  explicit: with ``ties="half"`` (default) a tie counts as a uniformly random pick among the
  tied candidates, i.e. the share of them that is correct (the expected accuracy of breaking
  the tie at random); with ``ties="loss"`` it counts as correct only if every tied candidate
  is (the pessimistic reading, as RewardBench counts ties as losses). A NaN reward ranks
  below every number. ``top_ties`` is the share of problems with a tie at the top.
- ``oracle``: some candidate is correct (the ceiling of any picker).
- ``random``: the expected accuracy of a uniformly random pick (share of correct candidates).
- ``majority``: majority vote on the candidates' extracted final answers
  (``rewardlab.verify.extract_answer``, last number as fallback); equal numbers vote together.
  A tie between answers counts as a random pick among the tied answers, and a problem where no
  candidate states an answer falls back to a random pick. Needs no model.
- ``pairwise_accuracy``: over every (correct, incorrect) pair of candidates of one problem,
  the share where the correct one scores higher (ties count half, or as losses). A mean over
  pairs; its interval resamples problems, since pairs of one problem are not independent.

Per-problem figures get a percentile bootstrap interval (``bootstrap_ci``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardlab._validation import check_int, check_option
from rewardlab.data import BestOfNRecord, Dataset, SkippedRow, require_task
from rewardlab.errors import DataError
from rewardlab.evaluate.metrics import bootstrap_ci, pair_outcomes
from rewardlab.models.base import RewardModel, describe
from rewardlab.scoring import score_best_of_n, score_best_of_n_details
from rewardlab.verify import vote_key

__all__ = [
    "BestOfNResult",
    "BestOfNSummary",
    "best_of_n_outcomes",
    "evaluate_best_of_n",
    "majority_outcomes",
    "score_best_of_n",
]

_TIES = ("half", "loss")


# --- pure per-problem metrics --------------------------------------------------------------


def best_of_n_outcomes(rewards: Sequence[np.ndarray], correct: Sequence[np.ndarray], *,
                       ties: str = "half") -> tuple[np.ndarray, np.ndarray]:
    """Per problem, whether the top-scored candidate is correct, and whether the top is tied.

    Args:
        rewards: per problem, the candidates' rewards.
        correct: per problem, the candidates' labels (bool).
        ties: ``half``: a tie at the top scores the share of tied candidates that is correct
            (a random tie-break, in expectation); ``loss``: it scores 1 only if all are.

    Example:
        >>> out, tied = best_of_n_outcomes([np.array([0.2, 0.9]), np.array([1.0, 1.0])],
        ...                                [np.array([False, True]), np.array([True, False])])
        >>> out.tolist(), tied.tolist()
        ([1.0, 0.5], [False, True])
    """
    check_option("best_of_n_outcomes", "ties", ties, _TIES)
    out = np.empty(len(rewards))
    tied = np.zeros(len(rewards), dtype=bool)
    for p, (r, c) in enumerate(zip(rewards, correct, strict=True)):
        r = np.where(np.isnan(r), -np.inf, np.asarray(r, dtype=np.float64))
        top = r == r.max()
        tied[p] = top.sum() > 1
        picked = np.asarray(c, dtype=bool)[top]
        out[p] = picked.mean() if ties == "half" else float(picked.all())
    return out, tied


def majority_outcomes(answers: Sequence[Sequence[str | None]],
                      correct: Sequence[np.ndarray]) -> np.ndarray:
    """Per problem, the expected correctness of a majority vote over candidates' answers.

    ``answers`` holds each candidate's answer key (``rewardlab.verify.answer_key``), None for
    a candidate without one. The most frequent answer wins; a tie between answers is a random
    pick among them; an answer's correctness is the share of its voters labelled correct. No
    answers at all: a random pick among the candidates.

    Example:
        >>> majority_outcomes([["7", "7", "8", None]], [np.array([1, 1, 0, 0], bool)]).tolist()
        [1.0]
        >>> majority_outcomes([["7", "8"]], [np.array([1, 0], bool)]).tolist()
        [0.5]
    """
    out = np.empty(len(answers))
    for p, (keys, c) in enumerate(zip(answers, correct, strict=True)):
        c = np.asarray(c, dtype=bool)
        votes = Counter(k for k in keys if k is not None)
        if not votes:
            out[p] = c.mean()
            continue
        most = max(votes.values())
        winners = [k for k, n in votes.items() if n == most]
        out[p] = float(np.mean([
            np.mean([c[i] for i, k in enumerate(keys) if k == w]) for w in winners
        ]))
    return out


def _pair_outcomes(rewards: Sequence[np.ndarray], correct: Sequence[np.ndarray],
                   ties: str) -> tuple[np.ndarray, np.ndarray]:
    """Outcomes of every correct-vs-incorrect pair, and the problem each pair belongs to."""
    outcomes, owner = [], []
    for p, (r, c) in enumerate(zip(rewards, correct, strict=True)):
        c = np.asarray(c, dtype=bool)
        good, bad = np.asarray(r)[c], np.asarray(r)[~c]
        if good.size and bad.size:
            chosen, rejected = np.repeat(good, bad.size), np.tile(bad, good.size)
            outcomes.append(pair_outcomes(chosen, rejected, ties=ties))
            owner.append(np.full(chosen.size, p))
    if not outcomes:
        return np.zeros(0), np.zeros(0, dtype=int)
    return np.concatenate(outcomes), np.concatenate(owner)


def _problem_bootstrap_ci(outcomes: np.ndarray, owner: np.ndarray, n_problems: int, *,
                          n_boot: int, seed: int) -> tuple[float, float]:
    """95% percentile interval of a mean over pairs, resampling whole problems."""
    if outcomes.size == 0:
        return (float("nan"), float("nan"))
    sums = np.bincount(owner, weights=outcomes, minlength=n_problems)
    counts = np.bincount(owner, minlength=n_problems).astype(np.float64)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_problems, size=(n_boot, n_problems))
    with np.errstate(invalid="ignore"):
        means = sums[draws].sum(axis=1) / counts[draws].sum(axis=1)
    means = means[~np.isnan(means)]
    lo, hi = np.quantile(means, [0.025, 0.975])
    return (float(lo), float(hi))


# --- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class BestOfNSummary:
    """Best-of-n figures for one group of problems (a ``subset``, or all)."""

    name: str
    n: int
    n_candidates: int
    best_of_n_accuracy: float
    ci95: tuple[float, float]
    oracle: float
    random: float
    majority: float
    majority_ci95: tuple[float, float]
    pairwise_accuracy: float
    pairwise_ci95: tuple[float, float]
    n_pairs: int
    top_ties: float
    mean_reward_correct: float
    mean_reward_incorrect: float

    def to_json(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "n_candidates": self.n_candidates,
            "best_of_n_accuracy": self.best_of_n_accuracy,
            "ci95": list(self.ci95),
            "oracle": self.oracle,
            "random": self.random,
            "majority": self.majority,
            "majority_ci95": list(self.majority_ci95),
            "pairwise_accuracy": self.pairwise_accuracy,
            "pairwise_ci95": list(self.pairwise_ci95),
            "n_pairs": self.n_pairs,
            "top_ties": self.top_ties,
            "mean_reward_correct": self.mean_reward_correct,
            "mean_reward_incorrect": self.mean_reward_incorrect,
        }


@dataclass(frozen=True)
class BestOfNResult:
    """The result of ``evaluate_best_of_n``: overall and per-subset figures, provenance."""

    model: str
    data: str
    overall: BestOfNSummary
    subsets: tuple[BestOfNSummary, ...] = ()
    skipped: tuple[SkippedRow, ...] = ()
    ties: str = "half"
    k: str = ""
    primary_metric: str = field(default="best_of_n/accuracy")
    greater_is_better: bool = True
    #: a ``personal:`` model's users without adaptation data, whose rows were scored with
    #: its population mixture (None for other models)
    population_users: tuple[str, ...] | None = None
    #: a verifier's reasons over every candidate, most common first (None for models that
    #: give none): a 0 from an unreadable reference is not a wrong answer
    reasons: tuple[tuple[str, int], ...] | None = None

    @property
    def metrics(self) -> dict[str, float]:
        """Namespaced figures, e.g. ``best_of_n/accuracy``, ``best_of_n/<subset>/accuracy``."""
        o = self.overall
        out = {
            "best_of_n/accuracy": o.best_of_n_accuracy,
            "best_of_n/ci95_low": o.ci95[0],
            "best_of_n/ci95_high": o.ci95[1],
            "best_of_n/oracle": o.oracle,
            "best_of_n/random": o.random,
            "best_of_n/majority": o.majority,
            "best_of_n/pairwise_accuracy": o.pairwise_accuracy,
            "best_of_n/top_ties": o.top_ties,
        }
        for s in self.subsets:
            out[f"best_of_n/{s.name}/accuracy"] = s.best_of_n_accuracy
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "task": "best-of-n",
            "model": self.model,
            "data": self.data,
            "k": self.k,
            **self.overall.to_json(),
            "subsets": {s.name: s.to_json() for s in self.subsets},
            "skipped": len(self.skipped),
            "ties": self.ties,
            **({"users_scored_with_population": list(self.population_users)}
               if self.population_users is not None else {}),
            **({"reasons": dict(self.reasons)} if self.reasons is not None else {}),
            "primary_metric": self.primary_metric,
            "metrics": self.metrics,
        }


# --- evaluation (scoring is the scoring layer's ``score_best_of_n``) ----------------------


def _answer_keys(records: Sequence[BestOfNRecord]) -> list[list[str | None]]:
    return [[vote_key(text) for text in r.responses] for r in records]


def _summarise(name: str, rewards: list[np.ndarray], correct: list[np.ndarray],
               answers: list[list[str | None]], *, ties: str, n_boot: int, seed: int
               ) -> BestOfNSummary:
    best, tied = best_of_n_outcomes(rewards, correct, ties=ties)
    majority = majority_outcomes(answers, correct)
    pairs, owner = _pair_outcomes(rewards, correct, ties)
    flat_r = np.concatenate(rewards)
    flat_c = np.concatenate(correct)
    with np.errstate(invalid="ignore"):
        mean_good = float(np.nanmean(flat_r[flat_c])) if flat_c.any() else float("nan")
        mean_bad = float(np.nanmean(flat_r[~flat_c])) if (~flat_c).any() else float("nan")
    return BestOfNSummary(
        name=name,
        n=len(rewards),
        n_candidates=int(flat_r.size),
        best_of_n_accuracy=float(best.mean()),
        ci95=bootstrap_ci(best, n_boot=n_boot, seed=seed),
        oracle=float(np.mean([c.any() for c in correct])),
        random=float(np.mean([c.mean() for c in correct])),
        majority=float(majority.mean()),
        majority_ci95=bootstrap_ci(majority, n_boot=n_boot, seed=seed),
        pairwise_accuracy=float(pairs.mean()) if pairs.size else float("nan"),
        pairwise_ci95=_problem_bootstrap_ci(pairs, owner, len(rewards), n_boot=n_boot,
                                            seed=seed),
        n_pairs=int(pairs.size),
        top_ties=float(tied.mean()),
        mean_reward_correct=mean_good,
        mean_reward_incorrect=mean_bad,
    )


def evaluate_best_of_n(
    model: RewardModel,
    data: Dataset[BestOfNRecord],
    *,
    ties: str = "half",
    n_boot: int = 2000,
    seed: int = 0,
    rewards: Sequence[np.ndarray] | None = None,
) -> BestOfNResult:
    """Best-of-n accuracy of ``model`` beside the oracle, random and majority-vote pickers.

    Args:
        model: any ``RewardModel``; a ``ReferenceScorer`` gets each row's ``reference``.
        data: best-of-n rows with ``is_correct`` labels on every candidate.
        ties: ``"half"`` (a tie is a random pick, in expectation) or ``"loss"``; see the
            module docstring.
        n_boot: bootstrap resamples for the intervals.
        seed: seed of the bootstrap.
        rewards: precomputed per-problem rewards, to skip scoring.

    Returns:
        A ``BestOfNResult`` with overall and per-subset figures.

    Raises:
        DataError: the data is not best-of-n, a row has no labels, or (for a verifier) no
            reference.
    """
    require_task(data, ("best-of-n",), purpose="best-of-n evaluation")
    check_option("evaluate_best_of_n", "ties", ties, _TIES)
    check_int("evaluate_best_of_n", "n_boot", n_boot)
    records = data.records
    unlabelled = next((r for r in records if r.is_correct is None), None)
    if unlabelled is not None:
        raise DataError("is missing; best-of-n accuracy needs 'is_correct' on every reply in "
                        "'responses' to know which candidates are correct (rows without labels "
                        "can be scored with `rewardlab score`)",
                        file=data.source, line=unlabelled.line, field="is_correct")
    details = None
    if rewards is not None:
        scored = list(rewards)
    else:
        scored, details = score_best_of_n_details(model, data)
    population = None
    if details and "user_fit" in details[0][0]:  # a personal: model: who fell back, said
        population = tuple(sorted({str(d[0]["user"]) for d in details
                                   if d[0]["user_fit"] == "population"
                                   and d[0]["user"] is not None}))
    reasons = None
    if details and "reason" in details[0][0]:  # a verifier's, per candidate
        reasons = tuple(Counter(d["reason"] for row in details for d in row
                                if isinstance(d.get("reason"), str)).most_common())
    correct = [np.asarray(r.is_correct, dtype=bool) for r in records]
    answers = _answer_keys(records)
    kw = {"ties": ties, "n_boot": n_boot, "seed": seed}
    overall = _summarise("all", scored, correct, answers, **kw)
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(records):
        if r.subset is not None:
            groups.setdefault(r.subset, []).append(i)
    subsets = tuple(
        _summarise(name, [scored[i] for i in idx], [correct[i] for i in idx],
                   [answers[i] for i in idx], **kw)
        for name, idx in sorted(groups.items())
    )
    sizes = sorted({len(r.responses) for r in records})
    k = str(sizes[0]) if len(sizes) == 1 else f"{sizes[0]}-{sizes[-1]}"
    return BestOfNResult(model=describe(model), data=data.source, overall=overall,
                         subsets=subsets, skipped=data.skipped, ties=ties, k=k,
                         population_users=population, reasons=reasons)
