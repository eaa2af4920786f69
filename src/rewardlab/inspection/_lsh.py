"""Near duplicates by embedding among sign-random-projection (SRP) LSH candidates, in numpy.

``inspect --ray`` uses this above ``EXACT_NEAR_LIMIT`` rows, where comparing every pair of
rows (``n^2``) is too slow. Each side's unit embedding gets ``LSH_BANDS x LSH_BITS`` SRP bits
(the signs of its projections on fixed seeded Gaussian directions, computed by the workers);
a row's key in band *k* is its chosen side's *k*-th bit group followed by its rejected
side's. Two rows that share a key in any band, in either orientation, are candidates, and
only candidates are compared, by cosine. The probabilities are in ``_ray``'s docstring.

How the search is vectorised (no Python loop over rows or pairs):

* per band, the rows are sorted by ``key * n + row`` (keys as integers), so the rows sharing
  a key form a run ordered by row: a query row's same-orientation partners are the rows
  before it in its run; for its swapped key, ``searchsorted`` (with the needles sorted, so
  the search stays in cache) gives the run's rows ``j < i``; the runs are expanded into
  pairs with ``repeat``/``arange``;
* a candidate pair is the integer ``i * n + j``; the bands' pairs are de-duplicated by a
  sort (merged every few million pairs, so memory follows the distinct pairs);
* the cosines are computed in small chunks of pairs (row-wise dot products of gathered
  rows), and each row keeps its most similar candidate (the earliest one on a tie), as the
  old loop did.

Precision: the driver keeps the unit embeddings as int16 fixed point (``compact``: each
component ``x`` stored as ``round(x * FIXED_ONE)``, ``FIXED_ONE = 32767``; half of
float32's memory, like float16, but converted back to float32 about 4x faster and more
precise) and computes the cosines in float32. A stored component is off by at most
``0.5 / 32767 = 1.53e-5``, so a dot product of two stored unit vectors is off by at most
``2 * 1.53e-5 * ||v||_1 + 384 * (1.53e-5)^2 <= 2 * 1.53e-5 * sqrt(384) = 6.0e-4``
(``|e.v| <= max|e_k| * ||v||_1`` and ``||v||_1 <= sqrt(384)`` for a unit vector), plus at
most about 5e-5 of float32 arithmetic on the integer-valued products: under
``COSINE_TOLERANCE = 7e-4`` in all. The pair rule (the minimum over both sides, the maximum
over the two orientations) keeps that bound. So a pair whose float32 similarity is outside
``threshold +- COSINE_TOLERANCE`` is classified as with float32; inside the band it may go
either way, and a row's partner may change only between candidates less than
``2 * COSINE_TOLERANCE`` apart. Measured errors are far smaller: at most 6e-5 over the
candidate pairs of ``benchmarks/near_duplicates.py``, against 1.2e-4 for float16 (whose
bound is 1e-3) and 2.5e-3 for normalised int8. The SRP bits are computed from the float32
vectors, so the candidates themselves do not change.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from rewardlab.inspection.duplicates import DefectReport

__all__ = [
    "COSINE_TOLERANCE",
    "FIXED_ONE",
    "LSH_BANDS",
    "LSH_BITS",
    "best_candidates",
    "candidate_pairs",
    "compact",
    "lsh_near_duplicates",
    "srp_bits",
    "srp_directions",
]

#: SRP bands, and bits per side in each band (a band key has 2 x LSH_BITS bits).
LSH_BANDS = 48
LSH_BITS = 12
#: int16 fixed point of a unit vector's component: ``round(x * FIXED_ONE)``.
FIXED_ONE = 32767
#: Largest difference between a cosine of ``compact`` vectors (computed in float32) and the
#: float32 one: 6.0e-4 of rounding plus float32 arithmetic, rounded up (module docstring).
COSINE_TOLERANCE = 7e-4
_DIM = 384
#: distinct candidate pairs gathered before the bands' lists are merged
_MERGE_EVERY = 4_000_000


def srp_directions(seed: int, dim: int = _DIM) -> np.ndarray:
    """The fixed Gaussian directions every worker projects on (the same seed, the same bits)."""
    rng = np.random.default_rng([seed, 0x5EED])
    return rng.standard_normal((dim, LSH_BANDS * LSH_BITS)).astype(np.float32)


def srp_bits(embeddings: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """``(n, LSH_BANDS)`` uint16 codes: band *k* holds the signs of the *k*-th group of
    ``LSH_BITS`` projections (bit *b* is projection ``k * LSH_BITS + b``)."""
    signs = (embeddings.astype(np.float32) @ directions) > 0
    groups = signs.reshape(len(embeddings), LSH_BANDS, LSH_BITS).astype(np.uint16)
    weights = (1 << np.arange(LSH_BITS)).astype(np.uint16)
    return (groups * weights).sum(axis=2, dtype=np.uint16)


def compact(embeddings: np.ndarray) -> np.ndarray:
    """Unit-normalised int16 fixed-point copies (2 bytes a dimension, ``x * FIXED_ONE``
    rounded): what the driver keeps per side.

    Example:
        >>> v = compact(np.array([[3.0, 4.0]]))
        >>> v.dtype.name, v[0].tolist()
        ('int16', [19660, 26214])
    """
    x = np.asarray(embeddings, dtype=np.float32)
    norms = np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    return np.rint(x / norms * FIXED_ONE).astype(np.int16)


def _expand(rows: np.ndarray, lo: np.ndarray, hi: np.ndarray, order: np.ndarray,
            n: int) -> np.ndarray:
    """Pairs ``rows[k] * n + order[p]`` for every ``p`` in ``[lo[k], hi[k])``."""
    counts = hi - lo
    keep = counts > 0
    rows, lo, counts = rows[keep], lo[keep], counts[keep]
    total = int(counts.sum())
    starts = np.cumsum(counts) - counts
    positions = np.arange(total, dtype=np.int64) + np.repeat(lo - starts, counts)
    return np.repeat(rows, counts) * n + order[positions]


def _band_pairs(same: np.ndarray, swap: np.ndarray, queries: np.ndarray,
                is_query: np.ndarray) -> np.ndarray:
    """Pairs ``i * n + j`` (``j < i``, ``i`` a query row) where row *j*'s same-orientation
    key equals row *i*'s same or swapped key, in one band (possibly repeated)."""
    n = len(same)
    positions = np.arange(n, dtype=np.int64)
    composite = same * n + positions
    order = np.argsort(composite)  # the composites are distinct: any sort is stable
    ordered = composite[order]
    # same orientation: a row's partners are the rows before it in its key's run
    keys = same[order]
    boundary = np.ones(n, dtype=bool)
    boundary[1:] = keys[1:] != keys[:-1]
    run_start = np.maximum.accumulate(np.where(boundary, positions, 0))
    asked = is_query[order]
    found = [_expand(order[asked], run_start[asked], positions[asked], order, n)]
    # swapped orientation (one lookup when both agree): binary search with sorted needles
    rows = queries[swap[queries] != same[queries]]
    needles = swap[rows] * n + rows
    by_needle = np.argsort(needles)
    rows, needles = rows[by_needle], needles[by_needle]
    lo = np.searchsorted(ordered, needles - rows, side="left")
    hi = np.searchsorted(ordered, needles, side="left")  # rows j < i with that key
    found.append(_expand(rows, lo, hi, order, n))
    return np.concatenate(found)


def candidate_pairs(codes_chosen: np.ndarray, codes_rejected: np.ndarray,
                    queries: np.ndarray) -> np.ndarray:
    """Sorted distinct candidate pairs ``i * n + j`` (``j < i``): rows that share an SRP key
    in some band, in either orientation, for each row *i* in ``queries`` (row indices)."""
    queries = np.asarray(queries, dtype=np.int64)
    is_query = np.zeros(len(codes_chosen), dtype=bool)
    is_query[queries] = True
    shift = np.int64(LSH_BITS)
    merged = np.zeros(0, dtype=np.int64)
    pending: list[np.ndarray] = []
    size = 0
    for band in range(codes_chosen.shape[1]):
        c = codes_chosen[:, band].astype(np.int64)
        r = codes_rejected[:, band].astype(np.int64)
        found = _band_pairs((c << shift) | r, (r << shift) | c, queries, is_query)
        pending.append(found)
        size += len(found)
        if size > _MERGE_EVERY:
            merged = _distinct(np.concatenate([merged, *pending]))
            pending, size = [], 0
    return _distinct(np.concatenate([merged, *pending]))


def _distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (sort and drop repeats: many times faster than ``np.unique``'s
    hash path on millions of int64 in numpy 2.x)."""
    values.sort()
    keep = np.ones(len(values), dtype=bool)
    keep[1:] = values[1:] != values[:-1]
    return values[keep]


def _rowwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("ij,ij->i", a, b)


def best_candidates(chosen: np.ndarray, rejected: np.ndarray, pairs: np.ndarray, *,
                    chunk: int = 1024) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """For each row with candidates, its most similar one (the earliest on a tie).

    ``pairs`` are sorted codes ``i * n + j``; a pair's similarity is the better orientation's
    weaker side: ``max(min(c_i.c_j, r_i.r_j), min(c_i.r_j, r_i.c_j))`` on unit vectors
    (``compact``'s int16, or float32), in float32. Per chunk of pairs (small, so the
    float32 copies stay in cache), each distinct row *i* is converted once and each partner
    row once per pair. Returns
    ``(i, j, similarity, swapped)`` arrays, one entry per distinct ``i``, ordered by ``i``.
    """
    n = len(chosen)
    unit = np.float32(1.0 / FIXED_ONE**2 if chosen.dtype == np.int16 else 1.0)
    rows, partners = pairs // n, pairs % n
    sim = np.empty(len(pairs), dtype=np.float32)
    swapped = np.empty(len(pairs), dtype=bool)
    for start in range(0, len(pairs), chunk):
        i, j = rows[start:start + chunk], partners[start:start + chunk]
        first = np.ones(len(i), dtype=bool)
        first[1:] = i[1:] != i[:-1]  # pairs are sorted by i: its runs are its rows
        back = np.cumsum(first) - 1
        ci = chosen[i[first]].astype(np.float32)[back]
        ri = rejected[i[first]].astype(np.float32)[back]
        cj, rj = chosen[j].astype(np.float32), rejected[j].astype(np.float32)
        same = np.minimum(_rowwise(ci, cj), _rowwise(ri, rj))
        swap = np.minimum(_rowwise(ci, rj), _rowwise(ri, cj))
        sim[start:start + chunk] = np.maximum(same, swap) * unit
        swapped[start:start + chunk] = swap > same
    order = np.lexsort((-sim, rows))  # stable: among equal similarities, the smallest j first
    first = np.ones(len(order), dtype=bool)
    first[1:] = rows[order][1:] != rows[order][:-1]
    best = order[first]
    return rows[best], partners[best], sim[best], swapped[best]


def lsh_near_duplicates(report: DefectReport, ids: Sequence[Any], chosen: np.ndarray,
                        rejected: np.ndarray, codes_chosen: np.ndarray,
                        codes_rejected: np.ndarray, explained: set[int], *,
                        threshold: float) -> int:
    """Near duplicates among SRP-LSH candidates; the rule is the exact pass's: a row not
    already explained is a near duplicate of the most similar earlier candidate whose both
    sides reach ``threshold`` (same or swapped orientation). ``chosen``/``rejected`` are unit
    vectors (int16 from ``compact``, or float32). Returns how many candidate pairs were
    compared."""
    n = len(ids)
    if n < 2:
        return 0
    queries = np.ones(n, dtype=bool)
    if explained:
        queries[np.fromiter(explained, dtype=np.int64, count=len(explained))] = False
    pairs = candidate_pairs(codes_chosen, codes_rejected, np.flatnonzero(queries))
    rows, partners, sim, swapped = best_candidates(chosen, rejected, pairs)
    for k in np.flatnonzero(sim >= threshold).tolist():
        i, j = int(rows[k]), int(partners[k])
        how = "embeddings, LSH candidates" + (" (replies swapped)" if swapped[k] else "")
        report.near_duplicates.append(ids[i])
        report.near_pairs.append((ids[i], ids[j], float(sim[k]), how))
        explained.add(i)
    return len(pairs)
