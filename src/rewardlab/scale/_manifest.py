"""The output directory's bookkeeping: the job manifest and one commit marker per shard.

Layout of ``OUT``::

    _job.json                 what job these shards belong to (input digest, model, options)
    part-00000.jsonl          scored rows of shard 0 (or .parquet), in input order
    _shards/00000.json        shard 0's commit marker: counts, id digest, part size
    _shards/00000.skipped.jsonl   rows of shard 0 left out with --skip-invalid, with reasons
    _skipped.jsonl            all skipped rows, gathered when the job completes

Names starting with ``_`` are ignored by Parquet dataset readers (pyarrow, pandas, Ray), so
``OUT`` reads as one table. A shard counts as done only when its marker exists and its part
has the size the marker records: the part is renamed into place first and the marker last,
each atomically, so a kill at any moment leaves either a done shard or one to redo.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rewardlab._io import current_umask
from rewardlab.errors import OutputError

__all__ = [
    "JOB_FORMAT",
    "JOB_MANIFEST",
    "check_output_dir",
    "job_key_differences",
    "part_path",
    "read_marker",
    "refuse_file",
    "skipped_part_path",
    "write_json_atomic",
]

JOB_MANIFEST = "_job.json"
JOB_FORMAT = 1
SHARDS_DIR = "_shards"
LOCK_FILE = "_job.lock"
#: The manifest fields that identify a job: shards written under another value of any of
#: them are not this job's output. The input and a saved model count by content (digests),
#: not by the path they were given as.
_KEY_FIELDS = ("input", "model", "options", "task", "n_shards")


def part_path(out: Path, shard_name: str, output_format: str) -> Path:
    return out / f"part-{shard_name}.{output_format}"


def marker_path(out: Path, shard_name: str) -> Path:
    return out / SHARDS_DIR / f"{shard_name}.json"


def skipped_part_path(out: Path, shard_name: str) -> Path:
    return out / SHARDS_DIR / f"{shard_name}.skipped.jsonl"


#: ``mkstemp`` creates files readable by their owner only; outputs get the usual mode.
FILE_MODE = 0o666 & ~current_umask()


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as JSON to a temporary sibling, flush it to disk and rename it."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        os.fchmod(fd, FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=1, sort_keys=True)
            fh.write("\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None


def read_marker(out: Path, shard_name: str, output_format: str) -> dict[str, Any] | None:
    """The commit marker of a finished shard, or None when the shard must be (re)done."""
    try:
        marker = json.loads(marker_path(out, shard_name).read_text(encoding="utf-8"))
        part = part_path(out, shard_name, output_format)
        if part.stat().st_size != marker["bytes"]:
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return marker


def job_key_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The identifying fields on which two manifests differ, described for a message."""
    differences = []
    for key in _KEY_FIELDS:
        a, b = old.get(key), new.get(key)
        if a == b:
            continue
        if key == "model":  # a digest says little: name the specs
            differences.append(f"model: {old.get('model_spec')!r} there, "
                               f"{new.get('model_spec')!r} now (other files or spec)")
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            for sub in sorted(set(a) | set(b)):
                if a.get(sub) != b.get(sub):
                    differences.append(f"{key}.{sub}: {a.get(sub)!r} there, {b.get(sub)!r} now")
        else:
            differences.append(f"{key}: {a!r} there, {b!r} now")
    return differences


def check_output_dir(out: Path, manifest: dict[str, Any]) -> None:
    """Make ``out`` this job's directory, or refuse it if it holds anything else.

    An empty or missing directory becomes this job's; one with this job's manifest is
    resumed; one whose manifest names another job, or that holds files but no manifest, is
    refused (nothing in it is touched) unless it has no finished shard yet.

    Raises:
        OutputError: ``out`` is a file, or holds another job's shards or foreign files.
    """
    refuse_file(out)
    existing = out / JOB_MANIFEST
    if existing.exists():
        try:
            old = json.loads(existing.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise OutputError(f"{existing} is unreadable ({exc}); it is not a rewardlab job "
                              "manifest any more. Remove the directory or use a new --out"
                              ) from None
        differences = job_key_differences(old, manifest)
        if differences and _has_finished_shards(out):
            raise OutputError(
                f"{out} holds the shards of a different scoring job, so they cannot be "
                f"resumed or mixed with this one ({'; '.join(differences)}). Use a new --out, "
                "or remove that directory to start over")
    elif out.exists() and any(p.name not in (SHARDS_DIR, LOCK_FILE) for p in out.iterdir()):
        raise OutputError(
            f"{out} is not empty and has no {JOB_MANIFEST}, so it is not a rewardlab shard "
            "directory; give a new or empty directory to --out")
    write_json_atomic(existing, {**manifest, "format": JOB_FORMAT,
                                 "created": datetime.now(UTC).isoformat(timespec="seconds")})


def refuse_file(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise OutputError(f"cannot write shards to {out}: it is a file; with --ray, --out "
                          "names a directory")


def _has_finished_shards(out: Path) -> bool:
    shards = out / SHARDS_DIR
    return (shards.is_dir() and any(p.suffix == ".json" for p in shards.iterdir())) or any(
        p.name.startswith("part-") for p in out.iterdir())
