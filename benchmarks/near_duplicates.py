"""The LSH near-duplicate search of ``inspect --ray``: the vectorised numpy search
(``rewardlab.inspection._lsh``) against the Python loop over bands and rows it replaced.

The embeddings are synthetic, no MiniLM: random unit vectors in 384 dimensions for both
sides of each row, plus planted near copies (``--planted`` of the rows copy an earlier row's
two sides with Gaussian noise, cosines spread over about 0.92-0.995 so some fall below the
0.97 threshold; half of them with the sides swapped). The SRP codes come from the float32
vectors, as the workers compute them. ``--family F`` builds the many-candidates case
instead (files that repeat texts with edits): every row a noisy copy of one of ``n / F``
base rows, so a row shares band keys with many rows of its family. Per size:

* the old loop (kept here only, as the reference) on float32 vectors and int64 codes, as the
  driver held them; the new search on int16 fixed-point unit vectors (``compact``) and
  uint16 codes;
* wall time of each (after the codes exist) and the peak memory each search allocates on
  top of its inputs (``tracemalloc``, a second run of each), plus the inputs' bytes;
* whether both find the same near-duplicate rows with the same partners (the new search
  on float32 vectors must match exactly; on int16 a row may differ only within the
  tolerance band, which is checked row by row), and the largest difference of the reported
  similarities (int16 against float32);
* the cosine error of int16 fixed point, float16 and normalised int8 over the candidate
  pairs (why int16: as small as float16, and faster to convert).

    nice -n 5 .venv/bin/python benchmarks/near_duplicates.py --sizes 20000 50000 200000
    nice -n 5 .venv/bin/python benchmarks/near_duplicates.py --sizes 20000 50000 --family 100
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit
from rewardlab.inspection._lsh import (
    COSINE_TOLERANCE,
    FIXED_ONE,
    LSH_BITS,
    candidate_pairs,
    compact,
    lsh_near_duplicates,
    srp_bits,
    srp_directions,
)
from rewardlab.inspection.duplicates import DefectReport

DIM = 384


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def old_lsh_near_duplicates(report: DefectReport, ids: list[Any], chosen: np.ndarray,
                            rejected: np.ndarray, codes_chosen: np.ndarray,
                            codes_rejected: np.ndarray, explained: set[int], *,
                            threshold: float, bands: int = 48) -> int:
    """The reference: the search as ``_ray.lsh_near_duplicates`` did it before (dict buckets
    per band, a Python loop over rows and candidate sets), unchanged."""
    n = len(ids)
    shift = np.int64(LSH_BITS)
    candidates: list[set[int]] = [set() for _ in range(n)]
    for band in range(bands):
        same = (codes_chosen[:, band] << shift) | codes_rejected[:, band]
        swap = (codes_rejected[:, band] << shift) | codes_chosen[:, band]
        buckets: dict[int, list[int]] = defaultdict(list)
        for i, key in enumerate(same.tolist()):
            buckets[key].append(i)
        for i in range(n):
            if i in explained:
                continue
            for key in (int(same[i]), int(swap[i])):
                for j in buckets.get(key, ()):
                    if j >= i:
                        break
                    candidates[i].add(j)
    c, r = _unit(chosen.astype(np.float32)), _unit(rejected.astype(np.float32))
    compared = 0
    for i in range(n):
        if not candidates[i] or i in explained:
            continue
        js = np.fromiter(sorted(candidates[i]), dtype=np.int64)
        compared += len(js)
        same = np.minimum(c[js] @ c[i], r[js] @ r[i])
        swap = np.minimum(r[js] @ c[i], c[js] @ r[i])
        sim = np.maximum(same, swap)
        best = int(np.argmax(sim))
        if sim[best] >= threshold:
            j = int(js[best])
            how = "embeddings, LSH candidates" + (" (replies swapped)"
                                                  if swap[best] > same[best] else "")
            report.near_duplicates.append(ids[i])
            report.near_pairs.append((ids[i], ids[j], float(sim[best]), how))
            explained.add(i)
    return compared


def synthetic(n: int, planted: float, seed: int) -> tuple[np.ndarray, np.ndarray, set[int]]:
    """(chosen, rejected) float32 unit vectors with planted near copies, and a few rows
    "already explained" (as exact duplicates would be)."""
    rng = np.random.default_rng(seed)
    chosen = _unit(rng.standard_normal((n, DIM), dtype=np.float32))
    rejected = _unit(rng.standard_normal((n, DIM), dtype=np.float32))
    copies = rng.choice(np.arange(1, n), size=int(planted * n), replace=False)
    for i in copies.tolist():
        j = int(rng.integers(0, i))
        noise = rng.uniform(0.1, 0.42)  # cosine about 1/sqrt(1 + noise^2): 0.92-0.995
        a = chosen[j] + noise * _unit(rng.standard_normal((1, DIM), dtype=np.float32))[0]
        b = rejected[j] + noise * _unit(rng.standard_normal((1, DIM), dtype=np.float32))[0]
        if rng.random() < 0.5:
            a, b = b, a
        chosen[i], rejected[i] = a / np.linalg.norm(a), b / np.linalg.norm(b)
    explained = set(rng.choice(n, size=n // 200, replace=False).tolist())
    return chosen, rejected, explained


def families(n: int, size: int, seed: int) -> tuple[np.ndarray, np.ndarray, set[int]]:
    """The many-candidates case (real files repeat texts with edits): ``n / size`` base rows,
    each row a noisy copy of one (noise 0.05-0.6 of the base's norm: cosine 0.86-0.999 to
    it), so rows of a family share band keys often; ~1% of rows already explained."""
    rng = np.random.default_rng(seed)
    bases = n // size
    which = rng.integers(0, bases, n)
    sides = []
    for _ in range(2):
        base = _unit(rng.standard_normal((bases, DIM), dtype=np.float32))
        noise = _unit(rng.standard_normal((n, DIM), dtype=np.float32))
        sides.append(_unit(base[which] + rng.uniform(0.05, 0.6, (n, 1)).astype(np.float32)
                           * noise))
    explained = set(rng.choice(n, size=n // 100, replace=False).tolist())
    return sides[0], sides[1], explained


def _run(fn: Any, *args: Any, threshold: float, explained: set[int], memory: bool
         ) -> tuple[float, float, DefectReport, int]:
    """(seconds, peak MB allocated during the call or nan, report, pairs compared)."""
    report, mine = DefectReport(), set(explained)
    if memory:
        tracemalloc.start()
        tracemalloc.reset_peak()
    start = time.perf_counter()
    compared = fn(report, *args, mine, threshold=threshold)
    seconds = time.perf_counter() - start
    peak = float("nan")
    if memory:
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    return seconds, peak, report, compared


def _quantisation_errors(c32: np.ndarray, pairs: np.ndarray) -> dict[str, float]:
    """Largest |cosine(stored) - cosine(float32)| over (up to 200k) candidate pairs' chosen
    sides: int16 fixed point (``compact``), float16, per-row-scaled int8 (renormalised)."""
    n = len(c32)
    pairs = pairs[:200_000]
    i, j = pairs // n, pairs % n
    exact = np.einsum("ij,ij->i", c32[i], c32[j])
    i16 = compact(c32).astype(np.float32) / FIXED_ONE
    f16 = c32.astype(np.float16).astype(np.float32)
    scale = np.abs(c32).max(axis=1, keepdims=True) / 127
    q8 = _unit(np.round(c32 / scale).astype(np.int8).astype(np.float32))
    return {name: float(np.abs(np.einsum("ij,ij->i", v[i], v[j]) - exact).max())
            for name, v in (("int16_fixed", i16), ("float16", f16), ("int8", q8))}


def _strip(report: DefectReport) -> list[tuple[Any, Any, str]]:
    return [(a, b, how) for a, b, _, how in report.near_pairs]


def _differences(old: DefectReport, new: DefectReport, threshold: float) -> dict[str, Any]:
    """Rows where int16 (new) and float32 (old) disagree on whether a row is a near
    duplicate, its partner or the orientation, and whether each disagreement is one the
    tolerance allows: a row found by one only has a similarity within the tolerance of the
    threshold, a row with another partner has similarities within the tolerance."""
    a = {i: (j, s, how) for i, j, s, how in old.near_pairs}
    b = {i: (j, s, how) for i, j, s, how in new.near_pairs}
    differ, allowed, worst = 0, True, 0.0
    for i in a.keys() | b.keys():
        if i in a and i in b and a[i][0] == b[i][0] and a[i][2] == b[i][2]:
            worst = max(worst, abs(a[i][1] - b[i][1]))
            continue
        differ += 1
        if i in a and i in b:
            allowed &= abs(a[i][1] - b[i][1]) <= COSINE_TOLERANCE
        else:
            allowed &= abs((a.get(i) or b[i])[1] - threshold) <= COSINE_TOLERANCE
    return {"rows_differing": differ, "differences_within_tolerance": allowed,
            "similarity_diff_max_same_partner": worst}


def one_size(n: int, args: argparse.Namespace) -> dict[str, Any]:
    chosen, rejected, explained = (families(n, args.family, args.seed) if args.family
                                   else synthetic(n, args.planted, args.seed))
    directions = srp_directions(args.seed)
    codes_c16, codes_r16 = srp_bits(chosen, directions), srp_bits(rejected, directions)
    c16, r16 = compact(chosen), compact(rejected)  # int16 fixed point
    ids = [f"r{i}" for i in range(n)]
    new_args = (ids, c16, r16, codes_c16, codes_r16)
    t_new, _, new, compared = _run(lsh_near_duplicates, *new_args, threshold=args.threshold,
                                   explained=explained, memory=False)
    _, m_new, _, _ = _run(lsh_near_duplicates, *new_args, threshold=args.threshold,
                          explained=explained, memory=True)
    queries = np.setdiff1d(np.arange(n), np.fromiter(explained, dtype=np.int64))
    row: dict[str, Any] = {
        "rows": n, "data": f"families of {args.family}" if args.family else
        f"random, {int(args.planted * n)} planted copies", "candidate_pairs": compared,
        "near_duplicates": len(new.near_duplicates), "new_seconds": t_new,
        "new_peak_extra_mb": m_new,
        "new_inputs_mb": (c16.nbytes + r16.nbytes + codes_c16.nbytes + codes_r16.nbytes) / 2**20,
        "cosine_error_max": _quantisation_errors(
            chosen, candidate_pairs(codes_c16, codes_r16, queries))}
    if n <= args.old_max:
        codes_c, codes_r = codes_c16.astype(np.int64), codes_r16.astype(np.int64)
        old_args = (ids, chosen, rejected, codes_c, codes_r)
        t_old, _, old, compared_old = _run(old_lsh_near_duplicates, *old_args,
                                           threshold=args.threshold, explained=explained,
                                           memory=False)
        m_old = float("nan")
        if n <= args.old_memory_max:
            _, m_old, _, _ = _run(old_lsh_near_duplicates, *old_args,
                                  threshold=args.threshold, explained=explained, memory=True)
        _, _, new32, _ = _run(lsh_near_duplicates, ids, chosen, rejected, codes_c16, codes_r16,
                              threshold=args.threshold, explained=explained, memory=False)
        row.update({
            "old_seconds": t_old, "speedup": t_old / t_new, "old_peak_extra_mb": m_old,
            "old_inputs_mb": (chosen.nbytes + rejected.nbytes + codes_c.nbytes
                              + codes_r.nbytes) / 2**20,
            "same_candidate_count": compared_old == compared,
            "new_on_float32_same_as_old": _strip(new32) == _strip(old),
            "same_ids": old.near_duplicates == new.near_duplicates,
            "same_partners_and_how": _strip(old) == _strip(new),
            **_differences(old, new, args.threshold)})
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 50_000, 200_000])
    parser.add_argument("--old-max", type=int, default=200_000,
                        help="run the old loop only up to this many rows")
    parser.add_argument("--old-memory-max", type=int, default=50_000,
                        help="measure the old loop's memory (a second, slower run under "
                             "tracemalloc) only up to this many rows")
    parser.add_argument("--planted", type=float, default=0.02)
    parser.add_argument("--family", type=int, default=0,
                        help="instead of random rows with planted copies, rows in families "
                             "of about this many noisy copies of a base row")
    parser.add_argument("--threshold", type=float, default=0.97)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    runs = [one_size(n, args) for n in args.sizes]
    emit("near_duplicates", threshold=args.threshold, sizes=runs,
         note="one run; time after the SRP codes exist; peak_extra_mb is tracemalloc's peak "
              "during the search, on top of the inputs")


if __name__ == "__main__":
    main()
