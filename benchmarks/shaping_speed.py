"""Shaping speed: GRPO advantages for 1M rewards in groups of 16, against a per-group loop.

The target (issue 8) is 1M rewards normalised in <= 50 ms. The reference is the
straightforward implementation: a Python loop over groups, NumPy inside each group, with the
same maths (group mean, sample std, eps 1e-4). Both run in the same process on the same
rewards; each is timed several times and the median kept, alternating the two so load on this
shared machine hits both alike. The ragged layout (flat rewards plus group ids, shuffled) is
timed too.

    python benchmarks/shaping_speed.py [--n 1000000] [--group-size 16] [--rounds 7]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from _common import emit
from rewardlab.shaping import grpo_advantages


def loop_reference(rewards: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    """GRPO advantages one group at a time: what a first implementation would write."""
    out = np.empty_like(rewards)
    for g in range(rewards.shape[0]):
        row = rewards[g]
        out[g] = (row - row.mean()) / (row.std(ddof=1) + eps)
    return out


def _time(fn, *args) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--group-size", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--reference-rounds", type=int, default=3)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    n_groups = args.n // args.group_size
    rewards = rng.normal(size=(n_groups, args.group_size))
    rewards[::50] = 1.0  # some constant groups, as with all-correct verifier rewards
    ids = np.repeat(np.arange(n_groups), args.group_size)
    order = rng.permutation(rewards.size)
    flat, flat_ids = rewards.ravel()[order], ids[order]

    grpo_advantages(rewards)  # warm up (imports, page faults)
    times: dict[str, list[float]] = {"vectorised": [], "ragged": [], "loop": []}
    for i in range(args.rounds):
        t, ours = _time(grpo_advantages, rewards)
        times["vectorised"].append(t)
        t, ragged = _time(grpo_advantages, flat, flat_ids)
        times["ragged"].append(t)
        if i < args.reference_rounds:
            t, reference = _time(loop_reference, rewards)
            times["loop"].append(t)

    ms = {k: round(1000 * statistics.median(v), 1) for k, v in times.items()}
    emit(
        "shaping_speed",
        rewards=int(rewards.size),
        group_size=args.group_size,
        rounds={k: len(v) for k, v in times.items()},
        ms=ms,
        ms_best={k: round(1000 * min(v), 1) for k, v in times.items()},
        target_ms=50,
        meets_target=ms["vectorised"] <= 50,
        ratio=round(ms["loop"] / ms["vectorised"], 1),
        ratio_ragged=round(ms["loop"] / ms["ragged"], 1),
        max_abs_diff=float(np.abs(ours - reference).max()),
        max_abs_diff_ragged=float(np.abs(ragged - ours.ravel()[order]).max()),
    )


if __name__ == "__main__":
    main()
