"""``inspect --ray``: the per-row work of an inspection spread over Ray workers, merged once.

The file is cut exactly as ``score --ray`` cuts it (``rewardlab.scale``'s plan: fixed row
ranges found in one streaming pass, each worker reading its own byte or row range). A worker
turns each row of its shard into what the checks need and nothing more: 16-byte digests of
the exact, whitespace-squashed and case/punctuation-normalised pair (both orientations), the
confound features, and, when near duplicates by embedding are asked for, the MiniLM
embeddings of both sides with their sign-random-projection (SRP) bits. The driver merges
the shards in file order, so exact duplicates and contradictions across shards are found by
the same digest pass as without Ray (``find_defects_from_keys``), and the counts and row ids
are the same.

Near duplicates by embedding, across all rows:

* ``exact`` compares every row with every earlier one (blocked matrix products, as without
  Ray): ``n^2`` work, used up to ``EXACT_NEAR_LIMIT`` rows by default;
* ``lsh`` (above it): each side's embedding gets ``LSH_BANDS x LSH_BITS`` SRP bits (signs of
  projections on fixed seeded Gaussian directions); a row's key in band *k* is its chosen
  side's *k*-th bit group followed by its rejected side's. Two rows that share a key in any
  band (either orientation) are candidates, and only candidates are compared, by the exact
  cosine. A pair at cosine *c* agrees on one bit with probability ``1 - arccos(c)/pi``, so a
  pair at 0.97 on both sides shares a band with probability ``1 - (1 - 0.922^24)^48`` ≈
  0.9994; at 0.99 it is certain to 1e-12. Unrelated texts (cosine ≤ 0.5) collide in a band
  with probability ≤ 6e-5. A true near duplicate can thus be missed with a small probability,
  and a row's "of" partner is the most similar *candidate*, not always the most similar row.
  The candidate search and the cosine check are numpy array passes (``_lsh``): 3 s for
  200k rows of synthetic embeddings on two loaded cores, 15x faster than the Python loop
  over bands and rows it replaced, and 2-3x faster when rows have hundreds of thousands of
  candidates (``benchmarks/near_duplicates.py``).

Both searches compare int16 fixed-point copies of the unit vectors (``_lsh.compact``;
cosines computed in float32): each cosine is within ``COSINE_TOLERANCE`` (7e-4) of the
float32 one (the exact pass renormalises them, which near a cosine *c* leaves at most
``2 * 1.53e-5 * sqrt(384) * sqrt(1 - c^2)`` of rounding, so the bound holds there too).
So only a pair whose similarity is that close to the threshold can be classified
differently than with float32 vectors (and without Ray); the SRP bits come from the float32
vectors.

The flip-rate estimate trains models on the texts, so on a large file it runs on a random
sample of ``flip_sample`` rows (seeded; drawn from the raw rows before the workers start,
each worker returns the sampled rows of its shard, and a sampled row that fails to parse
drops out), and the report says so. Up to ``flip_sample`` rows it uses
them all, as without Ray.

The driver keeps, per row, the digests and features (about 300 bytes) and, with embeddings,
the two unit vectors in int16 fixed point (1.5 KB, half of float32's 3 KB) and their SRP codes as
uint16 (192 bytes; int64 codes took 768). The shards' arrays are copied into one
preallocated array each, each shard's copy released as it goes.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rewardlab.data import DEFAULT_MAX_CHARS, RowContext, SkippedRow
from rewardlab.errors import ConfigError, DataError, RewardLabError
from rewardlab.inspection._lsh import (
    COSINE_TOLERANCE,
    LSH_BANDS,
    LSH_BITS,
    compact,
    lsh_near_duplicates,
    srp_bits,
    srp_directions,
)
from rewardlab.inspection._pairs import InspectPair, no_pairs_error, parse_pair
from rewardlab.inspection.confounds import FEATURES, feature_values
from rewardlab.inspection.duplicates import (
    embedding_near_duplicates,
    find_defects_from_keys,
    pair_keys,
)

if TYPE_CHECKING:
    from rewardlab.inspection.report import InspectConfig, InspectReport
    from rewardlab.scale._plan import JobPlan, Shard

__all__ = ["EXACT_NEAR_LIMIT", "LSH_BANDS", "LSH_BITS", "inspect_on_ray", "lsh_near_duplicates"]

#: Rows up to which near duplicates by embedding are searched exactly (all pairs).
EXACT_NEAR_LIMIT = 10_000
_FORWARDED_ENV = ("REWARDLAB_CACHE_DIR", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HOME")


@dataclass
class ShardFeatures:
    """What a worker sends back for one shard: everything per row the driver merges."""

    shard: int
    rows: int
    ids: list[Any]
    indices: list[int]
    subsets: list[str | None]
    labelled: list[bool]
    firsts: list[bool | None]
    keys: list[Any]
    diffs: np.ndarray
    skipped: list[SkippedRow]
    sample: list[tuple[int, InspectPair]]
    chosen: np.ndarray | None = None  # unit vectors, int16 fixed point (``compact``)
    rejected: np.ndarray | None = None
    codes_chosen: np.ndarray | None = None
    codes_rejected: np.ndarray | None = None


def shard_features(plan_path: str, file_type: str, source: str, location: str, shard: Shard,
                   *, encoder: Any | None, directions: np.ndarray | None,
                   sample: frozenset[int], max_chars: int = DEFAULT_MAX_CHARS
                   ) -> ShardFeatures:
    """Read and featurise one shard (the worker's job; runs without Ray too)."""
    from rewardlab.inspection.duplicates import side_texts
    from rewardlab.scale._rows import iter_shard_rows

    out = ShardFeatures(shard=shard.index, rows=0, ids=[], indices=[], subsets=[],
                        labelled=[], firsts=[], keys=[], diffs=np.zeros((0, len(FEATURES))),
                        skipped=[], sample=[])
    pairs: list[InspectPair] = []
    diffs: list[tuple[float, ...]] = []
    seen: set[Any] = set()
    for k, raw in enumerate(iter_shard_rows(Path(plan_path), file_type, shard, source=source)):
        out.rows += 1
        index = shard.first_index + k
        try:
            value = raw.json_object(source, location)
            ctx = RowContext(file=source, line=raw.line, index=index, location=location,
                             max_chars=max_chars, seen=seen,
                             cells_are_text=Path(source).suffix.lower() in (".csv", ".tsv"))
            p = parse_pair(value, ctx)
        except DataError as exc:
            out.skipped.append(raw.skipped(exc))
            continue
        out.ids.append(p.id)
        out.indices.append(index)
        out.subsets.append(p.subset)
        out.labelled.append(p.labelled)
        out.firsts.append(p.chosen_first)
        out.keys.append(pair_keys(p))
        diffs.append(feature_values(p.chosen, p.rejected))
        if index in sample:
            out.sample.append((index, p))
        if encoder is not None:
            pairs.append(p)
    out.diffs = np.array(diffs, dtype=np.float64).reshape(-1, len(FEATURES))
    if encoder is not None and pairs:
        turns, chosen, rejected = side_texts(pairs)
        for side, texts in (("chosen", chosen), ("rejected", rejected)):
            unit = _unit(np.asarray(encoder.embed_joined(turns, texts), dtype=np.float32))
            if directions is not None:  # the bits from float32: compact moves no candidate
                setattr(out, f"codes_{side}", srp_bits(unit, directions))
            setattr(out, side, compact(unit))
    return out


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _stack(parts: list[ShardFeatures], name: str) -> np.ndarray:
    """One array from the shards' ``name`` arrays, filled in place and each shard's copy
    released as it is copied (``np.concatenate`` would hold both at once)."""
    first = next(getattr(p, name) for p in parts if getattr(p, name) is not None)
    rows = sum(len(getattr(p, name)) for p in parts if getattr(p, name) is not None)
    out = np.empty((rows, *first.shape[1:]), dtype=first.dtype)
    del first
    at = 0
    for p in parts:
        a = getattr(p, name)
        if a is not None:
            out[at:at + len(a)] = a
            at += len(a)
            setattr(p, name, None)
            del a
    return out


class ShardInspector:
    """The Ray actor: loads MiniLM once (when embeddings are asked for), then featurises one
    shard per call. A user error comes back as ``(None, summary)`` so the driver stops with
    the same error; anything else is a bug and propagates through Ray."""

    def __init__(self, *, embeddings: bool, seed: int, threads: int) -> None:
        self.encoder = None
        self.directions = srp_directions(seed) if embeddings else None
        if embeddings:
            import torch

            from rewardlab.inspection.report import _encoder

            self.encoder = _encoder()
            torch.set_num_threads(max(1, threads))

    def run(self, plan: dict[str, Any], shard: Any, sample: frozenset[int], max_chars: int
            ) -> tuple[ShardFeatures | None, dict[str, Any] | None]:
        from rewardlab.scale._worker import _error_summary

        try:
            return shard_features(plan["path"], plan["file_type"], plan["source"],
                                  plan["location"], shard, encoder=self.encoder,
                                  directions=self.directions, sample=sample,
                                  max_chars=max_chars), None
        except RewardLabError as exc:
            return None, _error_summary(exc)


def _plan(source: str | Path, shard_rows: int) -> JobPlan:
    from rewardlab.scale._plan import plan_job

    return plan_job(source, shard_rows=shard_rows, format="pairwise")


def _featurise(plan: JobPlan, cfg: InspectConfig, sample: frozenset[int], *,
               address: str | None, workers: int | None, max_chars: int
               ) -> tuple[list[ShardFeatures], int]:
    """Run every shard on a Ray actor pool; results come back in shard order."""
    from rewardlab.scale._cluster import check_reachable, connect

    if address not in (None, "", "local", "auto"):
        check_reachable(address, timeout=10.0)
    local_cpus = None if workers is None else max(os.cpu_count() or 1, workers)
    ray, started = connect(address, num_cpus=local_cpus)
    try:
        from ray.util import ActorPool

        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        n = workers or max(1, int(cpus))
        if n > cpus:
            raise ConfigError(f"The cluster has {cpus:g} CPUs, fewer than --workers {n}, so "
                              "some workers would wait forever; ask for fewer")
        n = min(n, len(plan.shards))
        env = {k: os.environ[k] for k in _FORWARDED_ENV if k in os.environ}
        actor = ray.remote(num_cpus=1, **({"runtime_env": {"env_vars": env}} if env else {})
                           )(ShardInspector)
        pool = ActorPool([actor.remote(embeddings=cfg.embeddings, seed=cfg.seed, threads=1)
                          for _ in range(n)])
        info = {"path": str(plan.path), "file_type": plan.file_type, "source": plan.source,
                "location": plan.location}
        results: list[ShardFeatures] = []
        for got, error in pool.map(
                lambda a, s: a.run.remote(info, s, frozenset(i for i in sample
                                                             if s.first_index <= i
                                                             < s.first_index + s.rows),
                                          max_chars),
                list(plan.shards)):
            if error is not None:
                from rewardlab.scale._worker import error_from_summary

                raise error_from_summary(error)
            results.append(got)
        return results, n
    finally:
        if started:
            ray.shutdown()


def inspect_on_ray(source: str | Path, cfg: InspectConfig, *, limit: int | None = None,
                   max_chars: int = DEFAULT_MAX_CHARS) -> InspectReport:
    """``inspect_pairs`` with the per-row work on Ray (``cfg.ray``); see the module docstring.

    Raises:
        DataError: the file is not JSONL/Parquet, or holds no pair.
        ConfigError: ``limit`` was given (a Ray inspection reads the whole file).
        ClusterError: ``cfg.address`` cannot be reached.
    """
    from rewardlab.data import Dataset
    from rewardlab.inspection.flips import estimate_flip_rate
    from rewardlab.inspection.report import (
        InspectReport,
        _make_model,
        _subset_table,
        _verdicts,
        _worst,
        label_confounds,
        weak_model_note,
    )

    if cfg.near_method not in ("auto", "exact", "lsh"):
        raise ConfigError("The 'near_method' parameter must be 'auto', 'exact' or 'lsh'. "
                          f"Got {cfg.near_method!r}.")
    if cfg.stream:
        raise ConfigError("--stream and --ray are two ways to inspect a large file; give one "
                          "(--ray runs every check, --stream only the digest checks)")
    if cfg.flip_sample < 2 * cfg.folds:
        raise ConfigError(f"--flip-sample must be at least 2 x --folds ({2 * cfg.folds}). "
                          f"Got {cfg.flip_sample}.")
    if limit is not None:
        raise ConfigError("--limit does not apply to --ray (a Ray inspection reads the whole "
                          "file); cut the file instead")
    start = time.perf_counter()
    plan = _plan(source, cfg.shard_rows)
    rng = np.random.default_rng(cfg.seed)
    want_flip = cfg.model is not None
    k = min(cfg.flip_sample, plan.n_rows) if want_flip else 0
    sample = frozenset(int(i) for i in rng.choice(plan.n_rows, size=k, replace=False)) \
        if k < plan.n_rows else frozenset(range(plan.n_rows) if want_flip else ())
    parts, n_workers = _featurise(plan, cfg, sample, address=cfg.address,
                                  workers=cfg.workers, max_chars=max_chars)
    ids = [i for p in parts for i in p.ids]
    skipped = [s for p in parts for s in p.skipped]
    n = len(ids)
    if n == 0:
        raise no_pairs_error(source, skipped)
    subsets = [s for p in parts for s in p.subsets]
    firsts = [f for p in parts for f in p.firsts]
    diffs = np.concatenate([p.diffs for p in parts]).reshape(-1, len(FEATURES))
    lab = np.array([x for p in parts for x in p.labelled], dtype=bool)
    defects, explained = find_defects_from_keys(ids, [key for p in parts for key in p.keys],
                                                labelled=lab.tolist())
    notes = [f"inspected on Ray: {len(plan.shards)} shard(s) of {plan.shard_rows:,} rows, "
             f"{n_workers} worker(s)"]
    if cfg.embeddings and n > 1:
        chosen, rejected = _stack(parts, "chosen"), _stack(parts, "rejected")
        method = cfg.near_method
        if method == "auto":
            method = "exact" if n <= EXACT_NEAR_LIMIT else "lsh"
        if method == "exact":
            embedding_near_duplicates(defects, ids, chosen, rejected, explained,
                                      threshold=cfg.near_threshold)
            defects.embedding_note = (f"MiniLM cosine >= {cfg.near_threshold:g} on both sides "
                                      "(last user turn + reply), every pair of rows compared; "
                                      "cosines of int16 fixed-point vectors, within "
                                      f"{COSINE_TOLERANCE:g} of float32's")
        else:
            codes_c, codes_r = _stack(parts, "codes_chosen"), _stack(parts, "codes_rejected")
            compared = lsh_near_duplicates(defects, ids, chosen, rejected, codes_c, codes_r,
                                           explained, threshold=cfg.near_threshold)
            defects.embedding_note = (
                f"MiniLM cosine >= {cfg.near_threshold:g} on both sides among sign-random-"
                f"projection LSH candidates ({LSH_BANDS} bands of {LSH_BITS}+{LSH_BITS} bits; "
                f"{compared:,} candidate pairs compared): approximate, a near duplicate is "
                "missed with probability below 0.1% at cosine 0.97; cosines of int16 "
                f"fixed-point vectors, within {COSINE_TOLERANCE:g} of float32's")
    else:
        defects.embedding_note = "embedding check off: near duplicates by edits only"
    n_lab = int(lab.sum())
    labelled, diffs, confounds = label_confounds(lab, diffs, firsts, cfg.seed, notes)
    flip = None
    flip_note = ""
    margins: np.ndarray | None = None
    worst: list[dict[str, Any]] = []
    sampled = sorted((i, p) for part in parts for i, p in part.sample if p.labelled)
    pairs = [p for _, p in sampled]
    if not labelled:
        flip_note = ("the flip-rate estimate needs labelled pairs (chosen/rejected, or a "
                     "preference of 1 or 2); this file has unlabelled ones, so the other "
                     "checks ran without it")
        notes.append(flip_note)
    elif cfg.model is None:
        flip_note = "skipped: no model given"
    elif len(pairs) < 2 * cfg.folds:
        flip_note = (f"skipped: {len(pairs)} labelled pair(s); cross-fitting with {cfg.folds} "
                     f"folds needs at least {2 * cfg.folds}")
        notes.append(flip_note)
    else:
        data = Dataset(task="pairwise", records=tuple(p.as_record() for p in pairs),
                       source=str(source), form="inspect")
        flip = estimate_flip_rate(_make_model(cfg.model), data, folds=cfg.folds,
                                  seed=cfg.seed, n_boot=cfg.n_boot, model_name=cfg.model,
                                  learner=cfg.flip_learner)
        if len(pairs) < n_lab:
            notes.append(f"flip rate estimated on a uniform random sample of {len(pairs):,} of "
                         f"{n_lab:,} pairs (seed {cfg.seed}; --flip-sample sets the size): its CI "
                         "is the sample's, and the least-plausible list and per-subset "
                         "agreement cover the sampled pairs only")
        lean = weak_model_note(flip)
        if lean is not None:
            notes.append(lean)
        position = {id(p): j for j, p in enumerate(pairs)}
        margins = np.full(n, np.nan)
        indices = [i for part in parts for i in part.indices]
        where = {raw: pos for pos, raw in enumerate(indices) if raw in sample}
        for (index, p) in sampled:
            margins[where[index]] = flip.margins[position[id(p)]]
        worst = _worst(pairs, flip.margins, flip, cfg.worst)
    subsets_table = _subset_table(subsets, ids, defects, diffs if labelled else None, margins)
    verdicts = _verdicts(n, len(skipped), defects, confounds, flip, cfg)
    if len(set(map(str, ids))) < n:
        notes.append("row ids repeat; defects are listed by id, so a repeated id names "
                     "several rows")
    return InspectReport(source=str(source), rows=n, skipped=skipped, defects=defects,
                         confounds=confounds, flip=flip, flip_note=flip_note,
                         subsets=subsets_table, worst=worst, verdicts=verdicts, notes=notes,
                         seconds=time.perf_counter() - start)
