"""``score_distributed``: plan, check, run the shards on Ray, verify, report.

The driver reads the input once to plan shards (constant memory), checks the model on the
first rows before any worker starts, and then only sees one small marker per shard: the
workers read their rows straight from the input and write their parts straight to ``OUT``.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import json
import math
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rewardlab._progress import progress
from rewardlab._version import __version__
from rewardlab.data import DEFAULT_MAX_CHARS, Dataset, SkippedRow, Task
from rewardlab.errors import ConfigError, DataError, OutputError
from rewardlab.models.base import RewardModel
from rewardlab.models.registry import resolve
from rewardlab.scale._cluster import check_reachable, connect
from rewardlab.scale._manifest import (
    JOB_MANIFEST,
    LOCK_FILE,
    SHARDS_DIR,
    check_output_dir,
    part_path,
    read_marker,
    refuse_file,
    skipped_part_path,
    write_json_atomic,
)
from rewardlab.scale._plan import DEFAULT_SHARD_ROWS, JobPlan, plan_job
from rewardlab.scale._rows import iter_record_chunks, iter_shard_rows
from rewardlab.scale._shard import OUTPUT_FORMATS, ShardJob, ids_digest
from rewardlab.scale._worker import ShardScorer, error_from_summary, model_payload
from rewardlab.scoring import iter_scored_rows

__all__ = ["DistributedScoreResult", "score_distributed"]

#: Environment a worker needs to see what the driver sees (offline hub, embedding cache).
_FORWARDED_ENV = ("REWARDLAB_CACHE_DIR", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_HOME")
_SKIPPED_FILE = "_skipped.jsonl"
_SAMPLE = 20


@dataclass(frozen=True)
class DistributedScoreResult:
    """What a Ray scoring job wrote, and how much of it this run did.

    ``n_input_rows`` raw rows were read; each either gave output rows (``n_rows``; a
    PRMBench row gives two) or was skipped (``n_skipped``, written to ``skipped_file``;
    ``skipped`` holds the first few). ``shards_resumed`` were already done by an earlier
    run of the same job and not redone.
    """

    out: Path
    task: str
    output_format: str
    n_input_rows: int
    n_rows: int
    n_skipped: int
    n_shards: int
    shards_resumed: int
    shards_scored: int
    workers: int
    address: str
    seconds: float
    skipped_file: Path | None = None
    skipped: tuple[SkippedRow, ...] = ()
    forms: dict[str, int] = field(default_factory=dict)
    #: responses per reason a verifier or judge gave, over every shard, most common first
    reasons: tuple[tuple[str, int], ...] = ()


def score_distributed(
    model: str | Path | RewardModel,
    data: str | Path,
    *,
    out: str | Path,
    address: str | None = None,
    workers: int | None = None,
    cpus_per_worker: float = 1.0,
    gpus_per_worker: float = 0.0,
    shard_rows: int = DEFAULT_SHARD_ROWS,
    output_format: str = "jsonl",
    format: Task | None = None,
    skip_invalid: bool = False,
    max_chars: int = DEFAULT_MAX_CHARS,
    connect_timeout: float = 10.0,
    chunk_rows: int = 1024,
) -> DistributedScoreResult:
    """Score a JSONL or Parquet file of any size on Ray into a directory of shards.

    Every input row ends up exactly once in ``OUT/part-*.{jsonl,parquet}`` (in input order
    across parts, the same columns as ``rewardlab.api.score``) or in ``OUT/_skipped.jsonl``;
    counts and ids are read back and checked before this returns. Rerun with the same
    arguments after an interruption and only unfinished shards are scored.

    Args:
        model: a spec string, a saved model directory, or a ``Saveable`` model.
        data: a ``.jsonl`` or ``.parquet`` path (or ``bundled:NAME``), on storage every
            node can read at the same path.
        out: the output directory, on storage every node can write at the same path.
        address: a Ray cluster (``HOST:6379``, ``ray://HOST:10001``, ``auto``); default
            ``$RAY_ADDRESS``, else a local Ray instance is started.
        workers: scoring actors, each loading the model once (default: cluster CPUs /
            ``cpus_per_worker``, at most one per shard).
        cpus_per_worker: CPUs reserved per actor; also its torch thread count.
        gpus_per_worker: GPUs reserved per actor (fractions share a GPU: 0.5 puts two
            actors on each). With a GPU, a model whose ``device`` is ``auto`` loads on the
            one Ray assigned and ``seq:`` batches by its token budget there; 0 keeps every
            actor on its CPUs. Asking for GPUs on a cluster without them is a
            ``ConfigError`` before any shard is submitted (Ray would wait forever).
        shard_rows: input rows per shard: the unit of output, retry and resume.
        output_format: ``jsonl`` or ``parquet`` parts.
        connect_timeout: seconds to wait for ``address`` to answer.
        chunk_rows: rows a worker scores at a time (its memory bound).

    Raises:
        DataError: the input is unreadable or (without ``skip_invalid``) has a bad row.
        SpecError, ModelFormatError, CapabilityError, NotFittedError: the model cannot
            score this data; raised before any worker starts.
        OutputError: ``out`` holds another job's shards, or cannot be written.
        ClusterError: ``address`` cannot be reached or joined.
    """
    start = time.perf_counter()
    _check_options(workers, cpus_per_worker, output_format, chunk_rows, connect_timeout)
    if not gpus_per_worker >= 0:
        raise ConfigError("The 'gpus_per_worker' parameter must be at least 0. "
                          f"Got {gpus_per_worker}.")
    address = address or os.environ.get("RAY_ADDRESS") or None  # as `ray.init` reads it
    if address not in (None, "", "local", "auto"):  # fail in seconds, before reading the input
        check_reachable(address, timeout=connect_timeout)
    plan = plan_job(data, shard_rows=shard_rows, format=format, skip_invalid=skip_invalid)
    spec, files, digest = model_payload(model)
    columns = _preflight(model, plan, skip_invalid=skip_invalid, max_chars=max_chars)
    out = Path(out).resolve()
    manifest = _manifest(plan, spec, digest, output_format, skip_invalid, max_chars)
    with _locked(out):
        check_output_dir(out, manifest)
        _remove_stale_temporaries(out)
        todo = [s for s in plan.shards if not _done(out, s, output_format)]
        resumed = len(plan.shards) - len(todo)
        job = ShardJob(run=uuid.uuid4().hex, path=str(plan.path), file_type=plan.file_type,
                       source=plan.source, location=plan.location, task=plan.task, out=str(out),
                       output_format=output_format, columns=columns,
                       skip_invalid=skip_invalid, max_chars=max_chars, chunk_rows=chunk_rows)
        n_workers, where = 0, address or "local"
        if todo:
            n_workers, where = _run(todo, plan, job, spec, files, digest, address=address,
                                    workers=workers, cpus_per_worker=cpus_per_worker,
                                    gpus_per_worker=gpus_per_worker,
                                    connect_timeout=connect_timeout)
        _remove_stale_temporaries(out)  # a killed worker's half-written part
        totals = _verify(out, plan, output_format)
        skipped_file, sample = _gather_skipped(out, plan)
        seconds = time.perf_counter() - start
        write_json_atomic(out / JOB_MANIFEST, {
            **json.loads((out / JOB_MANIFEST).read_text(encoding="utf-8")),
            "complete": {**totals, "last_run_seconds": round(seconds, 3),
                         "last_run_shards": len(todo)}})
    if totals["records"] == 0:
        first = f"; {sample[0].as_first_problem(plan.location)}" if sample else ""
        raise DataError(f"none of its {totals['skipped']} rows is valid{first}",
                        file=plan.source)
    return DistributedScoreResult(
        out=out, task=plan.task, output_format=output_format, n_input_rows=totals["rows"],
        n_rows=totals["records"], n_skipped=totals["skipped"], n_shards=len(plan.shards),
        shards_resumed=resumed, shards_scored=len(todo), workers=n_workers, address=where,
        seconds=seconds, skipped_file=skipped_file, skipped=sample, forms=totals["forms"],
        reasons=tuple(sorted(totals["reasons"].items(), key=lambda kv: (-kv[1], kv[0]))))


def _check_options(workers: int | None, cpus_per_worker: float, output_format: str,
                   chunk_rows: int, connect_timeout: float) -> None:
    if workers is not None and workers < 1:
        raise ConfigError(f"The 'workers' parameter must be at least 1. Got {workers}.")
    if not cpus_per_worker > 0:
        raise ConfigError("The 'cpus_per_worker' parameter must be greater than 0. "
                          f"Got {cpus_per_worker}.")
    if output_format not in OUTPUT_FORMATS:
        raise ConfigError(f"The 'output_format' parameter must be one of "
                          f"{', '.join(OUTPUT_FORMATS)}. Got {output_format!r}.")
    if chunk_rows < 1:
        raise ConfigError(f"The 'chunk_rows' parameter must be at least 1. Got {chunk_rows}.")
    if not connect_timeout > 0:
        raise ConfigError("The 'connect_timeout' parameter must be greater than 0. "
                          f"Got {connect_timeout}.")


def _preflight(model: str | Path | RewardModel, plan: JobPlan, *, skip_invalid: bool,
               max_chars: int) -> tuple[str, ...]:
    """Check the model and the first shard here, before any worker starts: a spec that
    cannot load, an untrained model, a model that cannot score this data and (without
    ``skip_invalid``) a bad row in the first shard all fail in seconds. Scores the first
    valid row; returns the output columns."""
    sample = None
    for shard in plan.shards:  # all of the first shard; then up to the first valid row
        rows = iter_shard_rows(plan.path, plan.file_type, shard, source=plan.source)
        for chunk in iter_record_chunks(rows, shard, task=plan.task, source=plan.source,
                                        location=plan.location,
                                        chunk_rows=shard.rows if shard.index == 0 else 64,
                                        skip_invalid=skip_invalid, max_chars=max_chars):
            sample = sample or chunk.records[:1] or None
            if sample is not None:
                break
        if sample is not None:
            break
    rm = resolve(model)
    try:
        if sample is None:  # no valid row in the first shard: the workers report them all
            return ("id",)
        data = Dataset(task=plan.task, records=tuple(sample), source=plan.source, form="")
        return tuple(next(iter_scored_rows(rm, data)))
    finally:
        del rm
        gc.collect()


def _manifest(plan: JobPlan, spec: str, digest: str, output_format: str, skip_invalid: bool,
              max_chars: int) -> dict[str, Any]:
    return {
        "kind": "rewardlab-score-shards",
        "source": plan.source,  # where the input was read this time; not part of its identity
        "input": {"bytes": plan.size, "blake2b": plan.digest, "type": plan.file_type,
                  "rows": plan.n_rows},
        "model_spec": spec,
        "model": {"digest": digest},
        "options": {"shard_rows": plan.shard_rows, "output_format": output_format,
                    "skip_invalid": skip_invalid, "max_chars": max_chars},
        "task": plan.task,
        "n_shards": len(plan.shards),
        "rewardlab": __version__,
    }


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """One job at a time per output directory (an advisory lock; local file systems)."""
    refuse_file(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
        fh = (out / LOCK_FILE).open("a")
    except OSError as exc:
        raise OutputError(f"cannot write to {out}: {exc.strerror or exc}") from None
    with fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise OutputError(f"another scoring job is writing to {out}; wait for it or use "
                              "another --out") from None
        yield


def _remove_stale_temporaries(out: Path) -> None:
    """Parts, markers and manifests half-written by a killed run: hidden temporary names
    beside their targets (``.part-00003.jsonl.x1y2``), never read by anyone."""
    stale = [p for p in out.glob(".*") if p.name.startswith((".part-", "._job.json.",
                                                             "._skipped.jsonl."))]
    stale += list((out / SHARDS_DIR).glob(".*"))
    for p in stale:
        if p.is_file():
            p.unlink(missing_ok=True)


def _done(out: Path, shard: Any, output_format: str) -> bool:
    marker = read_marker(out, shard.name, output_format)
    return marker is not None and marker.get("rows") == shard.rows


def _run(todo: list[Any], plan: JobPlan, job: ShardJob, spec: str, files: Any, digest: str,
         *, address: str | None, workers: int | None, cpus_per_worker: float,
         gpus_per_worker: float = 0.0, connect_timeout: float) -> tuple[int, str]:
    """Score the unfinished shards with a Ray Data actor pool; stop at the first user error."""
    local_cpus = None if workers is None else max(os.cpu_count() or 1,
                                                  math.ceil(workers * cpus_per_worker))
    ray, started = connect(address, timeout=connect_timeout, num_cpus=local_cpus)
    try:
        import ray.data

        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        n = _worker_count(ray.cluster_resources(), workers, cpus_per_worker, gpus_per_worker,
                          address or "local")
        n = min(n, len(todo))
        env = {k: os.environ[k] for k in _FORWARDED_ENV if k in os.environ}
        payload = ray.put(files) if files is not None else None
        items = [asdict(s) for s in todo]
        ds = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
            ShardScorer,
            fn_constructor_kwargs={"spec": spec, "files": payload, "digest": digest,
                                   "job": job, "threads": max(1, int(cpus_per_worker)),
                                   "device": "auto" if gpus_per_worker else "cpu"},
            batch_size=1, batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=n), num_cpus=cpus_per_worker,
            **({"num_gpus": gpus_per_worker} if gpus_per_worker else {}),
            runtime_env={"env_vars": env} if env else None)
        rows = iter(ds.iter_rows())
        try:
            with progress("scoring rows", total=sum(s.rows for s in todo)) as advance:
                for row in rows:
                    if row["error"]:
                        raise error_from_summary(json.loads(row["error"]))
                    advance(json.loads(row["marker"])["rows"])
        finally:  # stop the executor now, not when the iterator is collected
            close = getattr(rows, "close", None)
            if close is not None:
                close()
        return n, address or "local"
    finally:
        if started:
            ray.shutdown()


def _worker_count(resources: dict[str, Any], workers: int | None, cpus_per_worker: float,
                  gpus_per_worker: float, where: str) -> int:
    """How many actors the cluster can hold at once, checked before anything is submitted:
    an actor asking for more than the cluster has is never placed, and Ray waits for it
    forever instead of failing."""
    cpus = float(resources.get("CPU", 1.0))
    gpus = float(resources.get("GPU", 0.0))
    if gpus_per_worker and not gpus:
        raise ConfigError(
            f"--gpus-per-worker {gpus_per_worker:g}: the Ray cluster at {where} has no GPUs "
            f"(ray.cluster_resources() lists {cpus:g} CPUs and no GPU), so no worker could "
            "ever start; leave out --gpus-per-worker to score on CPUs, or start the Ray nodes "
            "on GPU machines (`ray start` detects NVIDIA GPUs, or pass --num-gpus)")
    n = workers or max(1, int(cpus // cpus_per_worker))
    if gpus_per_worker and workers is None:
        n = max(1, min(n, int(gpus // gpus_per_worker)))
    if n * cpus_per_worker > cpus:
        raise ConfigError(
            f"The cluster has {cpus:g} CPUs, fewer than --workers {n} x --cpus-per-worker "
            f"{cpus_per_worker:g}, so some workers would wait forever; ask for fewer")
    if n * gpus_per_worker > gpus + 1e-9:
        raise ConfigError(
            f"The cluster has {gpus:g} GPUs, fewer than --workers {n} x --gpus-per-worker "
            f"{gpus_per_worker:g}, so some workers would wait forever; ask for fewer workers "
            "or a fraction of a GPU each (e.g. --gpus-per-worker 0.5)")
    return n


def _verify(out: Path, plan: JobPlan, output_format: str) -> dict[str, Any]:
    """Read every part back: each planned shard is committed, holds as many rows as the plan
    says it read, and its ids (count and order) are the ones its worker wrote."""
    totals: dict[str, Any] = {"rows": 0, "records": 0, "skipped": 0, "forms": {},
                              "reasons": {}}
    for shard in plan.shards:
        marker = read_marker(out, shard.name, output_format)
        if marker is None or marker.get("rows") != shard.rows:
            raise OutputError(f"shard {shard.index} ({part_path(out, shard.name, output_format)})"
                              " is missing or incomplete after the run; rerun to finish it")
        ids = list(_read_ids(part_path(out, shard.name, output_format), output_format))
        if len(ids) != marker["records"] or ids_digest(ids) != marker["ids_digest"]:
            raise OutputError(
                f"{part_path(out, shard.name, output_format)} holds {len(ids)} rows whose ids "
                f"do not match its marker ({marker['records']} rows); it was changed after it "
                "was written. Delete it and its marker in _shards/ and rerun to redo it")
        if marker["rows"] != marker["records"] + marker["skipped"] and plan.task != "steps":
            raise OutputError(f"shard {shard.index}: {marker['rows']} rows read but "
                              f"{marker['records']} written and {marker['skipped']} skipped")
        totals["rows"] += marker["rows"]
        totals["records"] += marker["records"]
        totals["skipped"] += marker["skipped"]
        for key in ("forms", "reasons"):  # an older run's marker may have no reasons
            for name, k in marker.get(key, {}).items():
                totals[key][name] = totals[key].get(name, 0) + k
    if totals["rows"] != plan.n_rows:
        raise OutputError(f"the parts cover {totals['rows']} rows but the input has "
                          f"{plan.n_rows}")
    return totals


def _read_ids(part: Path, output_format: str) -> Iterator[Any]:
    if output_format == "parquet":
        import pyarrow.parquet as pq

        for batch in pq.ParquetFile(part).iter_batches(columns=["id"], batch_size=8192):
            yield from batch.column(0).to_pylist()
        return
    with part.open("rb") as fh:
        for line in fh:
            yield json.loads(line)["id"]


def _gather_skipped(out: Path, plan: JobPlan) -> tuple[Path | None, tuple[SkippedRow, ...]]:
    """Concatenate the shards' skipped rows, in input order, into ``OUT/_skipped.jsonl``."""
    target = out / _SKIPPED_FILE
    sources = [p for s in plan.shards if (p := skipped_part_path(out, s.name)).exists()]
    if not sources:
        target.unlink(missing_ok=True)
        return None, ()
    sample: list[SkippedRow] = []
    tmp = target.with_name(f".{target.name}.tmp")
    with tmp.open("wb") as dst:
        for src in sources:
            with src.open("rb") as fh:
                for line in fh:
                    dst.write(line)
                    if len(sample) < _SAMPLE:
                        row = json.loads(line)
                        sample.append(SkippedRow(row["file"], row["line"], row["field"],
                                                 row["reason"], row["row"]))
    os.replace(tmp, target)
    return target, tuple(sample)
