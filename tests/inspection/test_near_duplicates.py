"""The vectorised LSH near-duplicate search of ``inspect --ray`` (``inspection/_lsh.py``):
the same rows, partners and candidate counts as the Python loop it replaced (kept in
benchmarks/near_duplicates.py as the reference), the candidate rule checked pair by pair,
agreement with the exact all-pairs search, and the int16 fixed-point precision band."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

from _benchmarks import load_benchmark
from rewardlab.inspection._lsh import (
    COSINE_TOLERANCE,
    LSH_BANDS,
    best_candidates,
    candidate_pairs,
    compact,
    lsh_near_duplicates,
    srp_bits,
    srp_directions,
)
from rewardlab.inspection.duplicates import DefectReport, embedding_near_duplicates

THRESHOLD = 0.97


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_benchmark("near_duplicates")


@pytest.fixture(scope="module")
def planted(bench: ModuleType) -> tuple[np.ndarray, np.ndarray, set[int], np.ndarray,
                                        np.ndarray]:
    """3,000 rows of random unit vectors, 5% of them near copies of an earlier row (cosine
    0.92-0.995, half swapped), 15 rows already explained; SRP codes from the float32 vectors."""
    chosen, rejected, explained = bench.synthetic(3000, 0.05, seed=3)
    directions = srp_directions(3)
    return (chosen, rejected, explained, srp_bits(chosen, directions),
            srp_bits(rejected, directions))


def _search(fn, ids, chosen, rejected, cc, cr, explained) -> tuple[DefectReport, int, set]:
    report, mine = DefectReport(), set(explained)
    compared = fn(report, ids, chosen, rejected, cc, cr, mine, threshold=THRESHOLD)
    return report, compared, mine


def test_same_rows_partners_and_candidates_as_the_old_loop(bench, planted) -> None:
    chosen, rejected, explained, cc, cr = planted
    assert cc.dtype == np.uint16 and cc.shape == (3000, LSH_BANDS)
    ids = [f"r{i}" for i in range(len(chosen))]
    old, old_compared, old_explained = _search(
        bench.old_lsh_near_duplicates, ids, chosen, rejected, cc.astype(np.int64),
        cr.astype(np.int64), explained)
    assert 50 < len(old.near_duplicates) < 150  # the copies above the threshold, not all
    assert any("swapped" in how for *_, how in old.near_pairs)
    for vectors in ((chosen, rejected), (compact(chosen), compact(rejected))):
        new, compared, new_explained = _search(lsh_near_duplicates, ids, *vectors, cc, cr,
                                               explained)
        assert compared == old_compared
        assert new.near_duplicates == old.near_duplicates
        assert [p[:2] + p[3:] for p in new.near_pairs] == [p[:2] + p[3:]
                                                           for p in old.near_pairs]
        tol = 1e-5 if vectors[0].dtype == np.float32 else COSINE_TOLERANCE
        assert np.allclose([p[2] for p in new.near_pairs], [p[2] for p in old.near_pairs],
                           atol=tol, rtol=0)
        assert new_explained == old_explained


def test_candidates_are_exactly_the_rows_sharing_a_band_key() -> None:
    """Few distinct codes, so keys collide often: runs of many rows, both orientations,
    rows whose two orientations agree, and explained rows (partners, never queries)."""
    rng = np.random.default_rng(0)
    n, bands = 120, 5
    cc = rng.integers(0, 3, (n, bands)).astype(np.uint16)
    cr = rng.integers(0, 3, (n, bands)).astype(np.uint16)
    queries = np.flatnonzero(rng.random(n) < 0.8)
    got = candidate_pairs(cc, cr, queries)
    assert np.all(np.diff(got) > 0)  # sorted and distinct
    want = set()
    for i in queries.tolist():
        for j in range(i):
            if np.any((cc[j] == cc[i]) & (cr[j] == cr[i])) or np.any(
                    (cc[j] == cr[i]) & (cr[j] == cc[i])):
                want.add(i * n + j)
    assert set(got.tolist()) == want and len(want) > 500


def test_lsh_finds_what_the_exact_search_finds_on_clear_copies(bench) -> None:
    """Near copies at cosine >= 0.99 collide in some band with near certainty (see _ray's
    docstring), so on them the LSH search equals the all-pairs search."""
    rng = np.random.default_rng(5)
    chosen, rejected, _ = bench.synthetic(800, 0.0, seed=5)
    for i in rng.choice(np.arange(1, 800), size=60, replace=False).tolist():
        j = int(rng.integers(0, i))
        for side in (chosen, rejected):
            v = side[j] + 0.08 * bench._unit(rng.standard_normal((1, 384)))[0]
            side[i] = v / np.linalg.norm(v)
    ids = list(range(800))
    directions = srp_directions(0)
    exact = DefectReport()
    embedding_near_duplicates(exact, ids, chosen, rejected, set(), threshold=THRESHOLD)
    lsh = DefectReport()
    lsh_near_duplicates(lsh, ids, compact(chosen), compact(rejected),
                        srp_bits(chosen, directions), srp_bits(rejected, directions), set(),
                        threshold=THRESHOLD)
    assert len(exact.near_duplicates) >= 50
    assert lsh.near_duplicates == exact.near_duplicates
    assert [p[1] for p in lsh.near_pairs] == [p[1] for p in exact.near_pairs]


def _at_cosine(u: np.ndarray, cos: float, rng: np.random.Generator) -> np.ndarray:
    w = rng.standard_normal(len(u)).astype(np.float32)
    w -= (w @ u) * u
    return cos * u + np.sqrt(1 - cos**2) * w / np.linalg.norm(w)


@pytest.mark.parametrize("kind", ["gaussian", "spiky"])
def test_fixed_point_cosines_stay_within_the_documented_band(kind) -> None:
    """Pairs at cosines just outside threshold +- tolerance are classified as with float32;
    the rounding error never exceeds the bound, for vectors spread over every dimension (the
    worst case for fixed point) and with a few large components."""
    rng = np.random.default_rng(1)
    offsets = [-0.05, -0.002, -0.0012, 0.0011, 0.002, 0.01, 0.029]
    base = rng.standard_normal((len(offsets) * 40, 384)).astype(np.float32)
    if kind == "spiky":
        base[:, :4] *= 40
    base /= np.linalg.norm(base, axis=1, keepdims=True)
    cos = np.repeat(THRESHOLD + np.array(offsets), 40)
    other = np.stack([_at_cosine(u, c, rng) for u, c in zip(base, cos, strict=True)])
    n = len(base)
    # rows 0..n-1 are the originals, n..2n-1 their copies (both sides at the same cosine)
    chosen = np.concatenate([base, other]).astype(np.float32)
    rejected = chosen[::-1].copy()
    rejected[n:] = np.stack([_at_cosine(u, c, rng) for u, c in
                             zip(rejected[:n], cos, strict=True)])
    pairs = (np.arange(n, 2 * n) * (2 * n) + np.arange(n)).astype(np.int64)
    _, _, sim32, _ = best_candidates(chosen, rejected, pairs)
    _, _, sim16, _ = best_candidates(compact(chosen), compact(rejected), pairs)
    assert 0 < np.abs(sim16 - sim32).max() <= COSINE_TOLERANCE
    assert np.array_equal(sim16 >= THRESHOLD, sim32 >= THRESHOLD)
    # the exact pass renormalises the stored vectors: within the bound as well
    exact = DefectReport()
    embedding_near_duplicates(exact, list(range(2 * n)), compact(chosen), compact(rejected),
                              set(range(n)), threshold=THRESHOLD)
    assert sorted(i - n for i in exact.near_duplicates) == np.flatnonzero(
        cos >= THRESHOLD).tolist()
    assert np.array_equal(sim32 >= THRESHOLD, cos >= THRESHOLD)


def test_no_candidates_and_tiny_inputs() -> None:
    codes = np.arange(8, dtype=np.uint16).reshape(4, 2)  # every key distinct
    vectors = compact(np.eye(4, 384, dtype=np.float32))
    report = DefectReport()
    assert lsh_near_duplicates(report, list("abcd"), vectors, vectors, codes, codes + 100,
                               set(), threshold=THRESHOLD) == 0
    assert report.near_duplicates == []
    assert lsh_near_duplicates(report, ["a"], vectors[:1], vectors[:1], codes[:1],
                               codes[:1], set(), threshold=THRESHOLD) == 0


def test_shards_are_stacked_in_order_and_released() -> None:
    from rewardlab.inspection._ray import ShardFeatures, _stack

    parts = [ShardFeatures(shard=k, rows=0, ids=[], indices=[], subsets=[], labelled=[],
                           firsts=[], keys=[], diffs=np.zeros((0, 1)), skipped=[], sample=[],
                           chosen=None if k == 1 else np.full((k + 1, 3), k, np.int16))
             for k in range(3)]
    got = _stack(parts, "chosen")
    assert got.dtype == np.int16 and got[:, 0].tolist() == [0, 2, 2, 2]
    assert all(p.chosen is None for p in parts)
