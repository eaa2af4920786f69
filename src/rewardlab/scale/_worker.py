"""The Ray side: how the model reaches the workers, and the actor that scores shards.

A saved model directory is packed into Ray's object store once, and each node unpacks it
into a content-addressed temporary directory, so workers on other machines need no shared
copy of it. Spec strings (``verify:math``, ``embed:minilm``) travel as text: their weights
come from installed packages, which every node must have.
"""

from __future__ import annotations

import hashlib
import os
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.errors import ConfigError, DataError, ModelFormatError, RewardLabError
from rewardlab.models.base import RewardModel, Saveable, describe
from rewardlab.models.registry import resolve
from rewardlab.scale._plan import Shard
from rewardlab.scale._shard import ShardJob, score_shard

__all__ = ["ModelPayload", "ShardScorer", "error_from_summary", "model_payload", "place"]

ModelPayload = dict[str, bytes]
#: Times one run may start a shard. Ray restarts a dead worker and retries its task without
#: limit; a shard that kills every worker it meets (out of memory on a huge row) must stop
#: the job instead, with the finished shards kept.
MAX_ATTEMPTS = 4
_SHARD_FIELDS = ("index", "start", "end", "first_line", "first_index", "rows")


def model_payload(model: str | Path | RewardModel) -> tuple[str, ModelPayload | None, str]:
    """``(spec, files, digest)``: a saved directory (or a ``Saveable`` model, saved to a
    temporary one) becomes its files by relative path; a spec string stays text.

    The digest covers the files' names and bytes, so the job manifest notices a model that
    was retrained into the same directory.
    """
    if isinstance(model, RewardModel) and not isinstance(model, str | Path):
        if not isinstance(model, Saveable):
            raise ModelFormatError(
                f"model '{describe(model)}' cannot be sent to Ray workers: it is not Saveable; "
                "pass its spec string instead")
        with tempfile.TemporaryDirectory(prefix="rewardlab-ship-") as tmp:
            model.save(Path(tmp) / "model")
            _, files, digest = model_payload(Path(tmp) / "model")
        return f"{describe(model)}", files, digest
    path = Path(str(model))
    if not path.is_dir():
        return str(model), None, hashlib.blake2b(str(model).encode(), digest_size=16).hexdigest()
    files: ModelPayload = {}
    h = hashlib.blake2b(digest_size=16)
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        rel = file.relative_to(path).as_posix()
        data = file.read_bytes()
        files[rel] = data
        h.update(rel.encode() + b"\0" + len(data).to_bytes(8, "little") + data)
    return str(model), files, h.hexdigest()


def _unpack(files: ModelPayload, digest: str) -> Path:
    """Write the model's files once per node, under a name given by their digest."""
    root = Path(tempfile.gettempdir()) / "rewardlab-models"
    target = root / digest
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{digest}.", dir=root))
    for rel, data in files.items():
        dest = tmp / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(data)
    try:
        os.replace(tmp, target)
    except OSError:  # another worker on this node got there first
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
    return target


class ShardScorer:
    """Ray Data callable class: loads the model once per worker, then scores one shard per
    call and returns the shard's commit marker (or the user error that stopped it).

    A ``RewardLabError`` (a bad row without ``skip_invalid``, an unwritable output) comes
    back as a summary instead of an exception, so the driver can stop the job with the
    original message; anything else is a bug and propagates through Ray.
    """

    def __init__(self, *, spec: str, files: Any, digest: str, job: ShardJob,
                 threads: int, device: str = "cpu") -> None:
        if files is not None:
            import ray

            payload = ray.get(files) if isinstance(files, ray.ObjectRef) else files
            spec = str(_unpack(payload, digest))
        self.job = job
        self.model: RewardModel | None = None
        self.failure: dict[str, Any] | None = None
        try:  # a failure here comes back with the first shard, as the user's error
            self.model = place(resolve(spec), device)
        except RewardLabError as exc:
            self.failure = _error_summary(exc)
        if "torch" in sys.modules:  # else torch reads OMP_NUM_THREADS, which Ray sets
            sys.modules["torch"].set_num_threads(max(1, threads))

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, list[Any]]:
        markers, errors = [], []
        for i in range(len(batch["index"])):
            shard = Shard(**{k: int(batch[k][i]) for k in _SHARD_FIELDS})
            if self.failure is not None:
                markers.append({"shard": shard.index})
                errors.append(self.failure)
                continue
            assert self.model is not None
            try:
                _count_attempt(self.job, shard)
                markers.append(score_shard(self.model, self.job, shard))
                errors.append(None)
            except RewardLabError as exc:
                markers.append({"shard": shard.index})
                errors.append(_error_summary(exc))
        import json

        return {"shard": [m["shard"] for m in markers],
                "marker": [json.dumps(m) for m in markers],
                "error": [json.dumps(e) if e else "" for e in errors]}


def place(model: RewardModel, device: str) -> RewardModel:
    """``model`` on the device its Ray worker reserved: ``auto`` on a GPU worker (Ray shows
    the actor only the GPU it assigned, so ``auto`` resolves to it; ``_device.resolve_device``
    is asked, and a worker whose torch sees no CUDA is a ``ConfigError`` naming
    ``--gpus-per-worker``), ``cpu`` on a CPU worker, so a worker that reserved no GPU never
    takes one that another worker was given. A model with an explicit ``device`` option, or
    no device at all (rules, verifiers), stays as it is."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "device", None) != "auto":
        return model
    from rewardlab._device import resolve_device

    wanted = resolve_device("auto" if device == "auto" else "cpu")
    if device == "auto" and wanted.type != "cuda":
        raise ConfigError(
            "--gpus-per-worker: Ray gave this worker a GPU but its torch sees no CUDA device "
            f"(torch.cuda.is_available() is False on {socket.gethostname()}); install a CUDA "
            "build of torch on the GPU nodes, or leave out --gpus-per-worker")
    have = getattr(model, "device_", None)
    if have is not None and have.type == wanted.type:
        return model
    from rewardlab.models._clone import clone

    return clone(model, device=wanted.type)


def _count_attempt(job: ShardJob, shard: Shard) -> None:
    """Record one more start of ``shard`` in this run; refuse a start past ``MAX_ATTEMPTS``."""
    from rewardlab.scale._cluster import ClusterError
    from rewardlab.scale._manifest import SHARDS_DIR, write_json_atomic

    path = Path(job.out) / SHARDS_DIR / f"{shard.name}.attempts"
    try:
        import json

        seen = json.loads(path.read_text(encoding="utf-8"))
        n = seen["n"] + 1 if seen.get("run") == job.run else 1
    except (OSError, ValueError, KeyError, TypeError):
        n = 1
    if n > MAX_ATTEMPTS:
        raise ClusterError(
            f"shard {shard.index} (input {job.location}s from {shard.first_line}) was started "
            f"{MAX_ATTEMPTS} times and its worker died every time (out of memory, or a row "
            "the model cannot handle?); the finished shards are kept, rerun to retry it")
    write_json_atomic(path, {"run": job.run, "n": n})


def _error_summary(exc: RewardLabError) -> dict[str, Any]:
    summary: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, DataError):
        summary.update(reason=exc.reason, file=exc.file, line=exc.line, field=exc.field)
    return summary


def error_from_summary(summary: dict[str, Any]) -> RewardLabError:
    """Rebuild the worker's error in the driver, same class and message."""
    from rewardlab import errors
    from rewardlab.scale._cluster import ClusterError

    if summary["type"] == "DataError":
        location = "line" if f":{summary['line']}:" in summary["message"] else "row"
        return DataError(summary["reason"], file=summary["file"], line=summary["line"],
                         field=summary["field"], location=location)
    cls = getattr(errors, summary["type"], None) or (
        ClusterError if summary["type"] == "ClusterError" else errors.RewardLabError)
    if not (isinstance(cls, type) and issubclass(cls, RewardLabError)):
        cls = errors.RewardLabError
    return cls(summary["message"])
