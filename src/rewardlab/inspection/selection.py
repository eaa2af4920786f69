"""Which unlabelled pairs to label next: rank by what an ensemble does not know.

Each ensemble member m gives a pair the probability ``p_m = σ(r_m(a) − r_m(b))`` that reply
a is preferred (Bradley–Terry). The acquisition scores (Houlsby et al., 2011; Gal et al.,
2017, for BALD):

* ``disagreement``: the variance of ``p_m`` across members (query by committee);
* ``entropy``: the entropy of the mean prediction ``H(mean p_m)`` — uncertain pairs, whether
  the members disagree or all sit at 0.5 (works with one model);
* ``bald``: ``H(mean p_m) − mean H(p_m)``, the information the label carries about the
  members — high when members are each confident but disagree.

``diverse`` spreads the picks: the top ``4 × budget`` candidates are clustered (k-means on
MiniLM embeddings of the last user turn, both replies averaged) into ``budget`` clusters and
the best-scoring pair of each cluster is taken, so a batch is not fifty near copies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardlab.data import Dataset, PairRecord
from rewardlab.errors import ConfigError
from rewardlab.scoring import score_pairs

__all__ = ["STRATEGIES", "Selection", "acquisition", "member_margins", "select_pairs"]

STRATEGIES = ("disagreement", "entropy", "bald")


def _entropy(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -(p * np.log(p) + (1 - p) * np.log(1 - p))


def acquisition(margins: np.ndarray, strategy: str) -> np.ndarray:
    """Acquisition score per pair from member margins ``(members, pairs)``; higher = label
    first.

    Example:
        >>> m = np.array([[3.0, 0.1, 3.0], [3.0, -0.1, -3.0]])  # agree / unsure / disagree
        >>> acquisition(m, "bald").argmax(), acquisition(m, "entropy").argmax() in (1, 2)
        (np.int64(2), True)
    """
    if strategy not in STRATEGIES:
        raise ConfigError(f"The 'strategy' parameter must be one of {', '.join(STRATEGIES)}. "
                          f"Got {strategy!r} instead.")
    m = np.atleast_2d(np.asarray(margins, dtype=np.float64))
    if strategy != "entropy" and m.shape[0] < 2:
        raise ConfigError(f"'{strategy}' compares ensemble members and needs at least 2; the "
                          "model has one (use an ensemble: spec, --members N with --train, or "
                          "--strategy entropy)")
    p = 1.0 / (1.0 + np.exp(-m))
    if strategy == "disagreement":
        return p.var(axis=0)
    mean = p.mean(axis=0)
    if strategy == "entropy":
        return _entropy(mean)
    return _entropy(mean) - _entropy(p).mean(axis=0)


def member_margins(members: Sequence[Any], records: Sequence[PairRecord]) -> np.ndarray:
    """``(members, pairs)`` margins r(first) − r(second), one scoring call per member."""
    rows = []
    for model in members:
        a, b = score_pairs(model, records)
        rows.append(np.asarray(a) - np.asarray(b))
    return np.vstack(rows)


def bootstrap_members(make_model: Callable[[int], Any], labelled: Dataset[PairRecord],
                      n_members: int, *, seed: int = 0) -> list[Any]:
    """``n_members`` models, each trained on a bootstrap resample of ``labelled``."""
    rng = np.random.default_rng(seed)
    n = len(labelled)
    return [make_model(seed * 100 + m).fit(labelled.take(rng.integers(0, n, n).tolist()))
            for m in range(n_members)]


@dataclass(frozen=True)
class Selection:
    """The picked pairs (indices into the pool, best first), their scores and why."""

    indices: np.ndarray
    scores: np.ndarray
    margins: np.ndarray
    strategy: str
    diverse: bool
    clusters: np.ndarray | None

    def reason(self, rank: int) -> str:
        i = self.indices[rank]
        m = self.margins[:, i]
        text = (f"{self.strategy} {self.scores[i]:.4f} (rank {rank + 1}); members' "
                f"P(first preferred) {', '.join(f'{1 / (1 + np.exp(-v)):.2f}' for v in m[:5])}")
        if self.clusters is not None and self.clusters[rank] < 0:
            text += "; filled in: the candidates formed fewer clusters than the budget"
        elif self.clusters is not None:
            text += f"; best of cluster {int(self.clusters[rank])}"
        return text


def _embed_pool(records: Sequence[PairRecord]) -> np.ndarray:
    from rewardlab._store import EmbeddingCache, default_cache_dir
    from rewardlab.data import last_user_turn
    from rewardlab.models._encoder import SentenceEncoder

    enc = SentenceEncoder("minilm", max_length=256,
                          cache=EmbeddingCache(default_cache_dir() / "embeddings.sqlite"))
    turns = [last_user_turn(r.prompt) for r in records]
    a = enc.embed_joined(turns, [r.chosen for r in records])
    b = enc.embed_joined(turns, [r.rejected for r in records])
    return (a + b) / 2


def select_pairs(margins: np.ndarray, budget: int, *, strategy: str = "bald",
                 diverse: bool = False, records: Sequence[PairRecord] | None = None,
                 embeddings: np.ndarray | None = None, seed: int = 0) -> Selection:
    """Pick ``budget`` pairs of the pool by ``strategy``; see the module docstring.

    Raises:
        ConfigError: ``budget`` is not positive or larger than the pool.
    """
    pool = np.atleast_2d(margins).shape[1]
    if budget < 1:
        raise ConfigError(f"the budget must be at least 1; got {budget}")
    if budget > pool:
        raise ConfigError(f"the budget ({budget}) is larger than the pool of {pool} unlabelled "
                          f"pair(s); lower --budget to at most {pool}")
    scores = acquisition(margins, strategy)
    order = np.argsort(-scores, kind="stable")
    clusters = None
    if diverse and budget < pool:
        from sklearn.cluster import KMeans

        top = order[: min(pool, 4 * budget)]
        if embeddings is None:
            if records is None:
                raise ConfigError("diverse selection needs the pairs' texts or embeddings")
            embeddings = _embed_pool([records[i] for i in top])
        else:
            embeddings = embeddings[top]
        import warnings

        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():  # repeated pairs: fewer clusters, filled in below
            warnings.simplefilter("ignore", ConvergenceWarning)
            labels = KMeans(n_clusters=budget, n_init=3, random_state=seed).fit_predict(
                embeddings)
        best: dict[int, int] = {}
        for pos, i in enumerate(top):  # top is best first: the first of a cluster is its best
            best.setdefault(int(labels[pos]), int(i))
        picked = sorted(best.values(), key=lambda i: -scores[i])
        cluster_of = [int(labels[list(top).index(i)]) for i in picked]
        # pairs repeated in the pool can leave fewer distinct clusters than the budget: the
        # budget is still met, with the best pairs not yet picked (cluster -1 says so)
        taken = set(picked)
        for i in order:
            if len(picked) >= budget:
                break
            if int(i) not in taken:
                picked.append(int(i))
                cluster_of.append(-1)
                taken.add(int(i))
        clusters = np.array(cluster_of)
        chosen = np.array(picked)
    else:
        chosen = order[:budget]
    return Selection(indices=chosen, scores=scores, margins=np.atleast_2d(margins),
                     strategy=strategy, diverse=diverse, clusters=clusters)
