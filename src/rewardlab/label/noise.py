"""Noisy preference labels: inject them for experiments, and train despite them.

Human preference data disagrees with itself 20–40% of the time, and a reward model that can
memorise (an MLP head, a fine-tuned transformer) learns the flipped pairs too.

``co_filter`` is peer filtering in the spirit of collaborative reward modelling (CRM, Zhang
et al., 2025: two reward models review each other's data and keep what the peer finds
small-loss) combined with cross-fitting (each peer is trained on one half and reviews the
other half, so it has never memorised the pairs it judges — the failure of small-loss
selection once a model fits its own noise). Pairs the peer finds most implausible are
dropped before the final model is trained on the rest. It works for any trainable kind.
Heads over cached features use a cross-validated noise-aware fit instead
(``train.loop.train_noise_aware_head``), which measured better on HH
(``benchmarks/noise_robust.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from rewardlab._validation import check_range
from rewardlab.data import Dataset, PairRecord
from rewardlab.scoring import score_pairs

__all__ = ["FilterReport", "co_filter", "inject_label_noise"]


def inject_label_noise(data: Dataset[PairRecord], rate: float, *, seed: int = 0
                       ) -> tuple[Dataset[PairRecord], np.ndarray]:
    """Swap chosen and rejected in ``round(rate * n)`` pairs drawn with ``seed``.

    Returns the noisy dataset and the sorted indices of the flipped pairs.

    Example:
        >>> from rewardlab import load_dataset
        >>> data = load_dataset("bundled:hh_harmless", limit=10)
        >>> noisy, flipped = inject_label_noise(data, 0.3, seed=0)
        >>> len(flipped), noisy.records[flipped[0]].chosen == data.records[flipped[0]].rejected
        (3, True)
    """
    check_range("inject_label_noise", "rate", rate, 0.0, 1.0)
    n = len(data)
    flipped = np.sort(np.random.default_rng(seed).choice(n, round(rate * n),
                                                         replace=False))
    chosen = set(flipped.tolist())
    records = tuple(replace(r, chosen=r.rejected, rejected=r.chosen) if i in chosen else r
                    for i, r in enumerate(data.records))
    return replace(data, records=records), flipped


@dataclass(frozen=True)
class FilterReport:
    """What ``co_filter`` did: which pairs it dropped and how confident the peers were."""

    n_pairs: int
    dropped: np.ndarray
    peer_margin: np.ndarray
    drop_rate: float

    @property
    def n_dropped(self) -> int:
        return len(self.dropped)

    def to_json(self) -> dict[str, Any]:
        return {"n_pairs": self.n_pairs, "n_dropped": self.n_dropped,
                "drop_rate": self.drop_rate}


def co_filter(make_model: Callable[[int], Any], data: Dataset[PairRecord], *,
              drop_rate: float = 0.2, seed: int = 0) -> tuple[Dataset[PairRecord], FilterReport]:
    """Drop the ``drop_rate`` share of pairs that a peer trained on the other half finds
    least plausible (lowest reward margin chosen − rejected).

    Args:
        make_model: builds an untrained peer for a seed (``fit`` + ``score``).
        drop_rate: share of pairs to drop; the expected noise rate is a good value.

    Returns:
        The kept pairs and a report of what was dropped.
    """
    check_range("co_filter", "drop_rate", drop_rate, 0.0, 0.9)
    n = len(data)
    order = np.random.default_rng(seed).permutation(n)
    halves = (np.sort(order[: n // 2]), np.sort(order[n // 2:]))
    margin = np.zeros(n)
    for side in (0, 1):
        train_idx, review_idx = halves[side], halves[1 - side]
        peer = make_model(seed * 7919 + side + 1).fit(data.take(train_idx.tolist()))
        chosen, rejected = score_pairs(peer, data.take(review_idx.tolist()).records)
        margin[review_idx] = np.asarray(chosen) - np.asarray(rejected)
    n_drop = round(drop_rate * n)
    dropped = np.sort(np.argsort(margin, kind="stable")[:n_drop])
    keep = np.setdiff1d(np.arange(n), dropped)
    return data.take(keep.tolist()), FilterReport(n_pairs=n, dropped=dropped,
                                                  peer_margin=margin, drop_rate=drop_rate)
