"""Simulated users built from real data (PersonalLLM's recipe), for personalised reward models.

Real preference sets rarely say who judged each pair, and never give one person hundreds of
pairs. A ``multi:`` model's attribute heads, each trained on a real preference set, are taken
as K *preference directions*; each simulated user is a random Dirichlet mixture over them and
labels real response pairs by its own mixture: the reply with the higher weighted
(standardised) reward is its chosen one. Small ``alpha`` makes users lean on one or two
attributes (strong disagreement); large ``alpha`` makes everyone near the average.

Everything that decides the output is in the recipe written beside it (heads, pool, seed,
alpha, each user's mixture), so a benchmark built on it can be rebuilt, and anyone can swap in
their own heads.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rewardlab.data import Dataset, PairRecord, require_task
from rewardlab.errors import CapabilityError, ConfigError
from rewardlab.models.base import AttributeScorer, describe
from rewardlab.scoring import score_batch

__all__ = ["SimulatedUsers", "simulate_users"]


@dataclass(frozen=True)
class SimulatedUsers:
    """The labelled rows (one ``user`` column, real prompts and responses) and the recipe."""

    rows: list[dict[str, Any]]
    recipe: dict[str, Any]


def _prompt_json(prompt: Any) -> Any:
    if isinstance(prompt, str):
        return prompt
    return [{"role": m.role, "content": m.content} for m in prompt]


def simulate_users(model: Any, pool: Dataset[PairRecord], *, users: int, pairs_per_user: int,
                   seed: int = 0, alpha: float = 0.3, user_prefix: str = "sim",
                   first_user: int = 0) -> SimulatedUsers:
    """Label pairs of ``pool`` by ``users`` simulated users, ``pairs_per_user`` each.

    Args:
        model: a trained ``multi:`` model (an ``AttributeScorer``): its heads are the
            preference directions.
        pool: real pairs; their own labels are ignored, each user orders the two replies.
        alpha: the Dirichlet concentration of every user's mixture.
        first_user: number of the first user (``sim-<first_user>``), so two calls with
            different seeds can make disjoint groups (basis users and held-out users).

    Raises:
        CapabilityError: ``model`` has no attribute heads.
        ConfigError: the pool has fewer pairs than one user needs, or a count is not positive.
    """
    if not isinstance(model, AttributeScorer):
        raise CapabilityError(f"model '{describe(model)}' has no attribute heads to build "
                              "users from; give a trained multi: model")
    require_task(pool, ("pairwise",), purpose="simulating users")
    if users < 1 or pairs_per_user < 1 or alpha <= 0:
        raise ConfigError(f"--users and --pairs-per-user must be at least 1 and --alpha above "
                          f"0; got {users}, {pairs_per_user}, {alpha}")
    records = pool.records
    if len(records) < pairs_per_user:
        raise ConfigError(f"the pool {pool.source} has {len(records)} pairs; each user needs "
                          f"{pairs_per_user} distinct ones")
    n = len(records)
    prompts = [r.prompt for r in records]
    batch = score_batch(model, prompts + prompts,
                        [r.chosen for r in records] + [r.rejected for r in records])
    attributes = list(model.attributes)
    assert batch.details is not None  # an AttributeScorer's route always gives them
    z = np.array([[d["rewards_by_attribute"][a] for a in attributes] for d in batch.details])
    diff = z[:n] - z[n:]  # per pair: first side minus second, per attribute
    rng = np.random.default_rng(seed)
    mixtures = rng.dirichlet(np.full(len(attributes), alpha), size=users)
    rows: list[dict[str, Any]] = []
    for u in range(users):
        name = f"{user_prefix}-{first_user + u}"
        picked = rng.choice(n, size=pairs_per_user, replace=False)
        for j in picked:
            r = records[j]
            first_wins = float(diff[j] @ mixtures[u]) >= 0
            chosen, rejected = (r.chosen, r.rejected) if first_wins else (r.rejected, r.chosen)
            rows.append({"id": f"{name}/{r.id}", "user": name, "prompt": _prompt_json(r.prompt),
                         "chosen": chosen, "rejected": rejected,
                         **({"subset": r.subset} if r.subset is not None else {})})
    recipe = {
        "recipe": "simulated users (PersonalLLM): each user a Dirichlet mixture over the "
                  "attribute heads, labelling real pairs by its mixture of standardised "
                  "rewards",
        "heads": describe(model), "attributes": attributes, "pool": pool.source,
        "pool_pairs": n, "users": users, "pairs_per_user": pairs_per_user, "seed": seed,
        "alpha": alpha, "first_user": first_user,
        "mixtures": {f"{user_prefix}-{first_user + u}": mixtures[u].round(6).tolist()
                     for u in range(users)},
    }
    return SimulatedUsers(rows, recipe)


def pool_from(datasets: Sequence[Dataset[PairRecord]]) -> Dataset[PairRecord]:
    """Several pair sets as one pool (sources joined with ``+``).

    When an id occurs in more than one set (two files numbered from 0), every id is
    qualified by its set's place, ``"2:17"``, so the simulated rows' ids stay unique; a
    single set, or sets with disjoint ids, keep their ids.
    """
    from dataclasses import replace

    first = datasets[0]
    owner: dict[str, int] = {}
    clash = False
    for k, d in enumerate(datasets):
        for r in d.records:
            clash = clash or owner.setdefault(str(r.id), k) != k
    records = tuple(replace(r, id=f"{k + 1}:{r.id}") if clash else r
                    for k, d in enumerate(datasets) for r in d.records)
    return replace(first, records=records, source="+".join(d.source for d in datasets))
