"""A score cache keyed by model fingerprint and row content, so a re-run costs only new rows.

``embed:`` models already cache embeddings; this cache sits above every kind (sequence
classifiers, judges, verifiers, PRMs), so a warm bench does not even run the model. A score
may only be reused when nothing it depends on changed:

- the model: ``model_fingerprint`` hashes a saved model directory's files (manifest and
  weights), the content of any local file or directory a spec names (a GGUF file, a
  checkpoint, ensemble members), the spec text itself, and the rewardlab version. Files
  above 256 MiB are identified by name, size and modification time instead of their bytes,
  so a multi-GB GGUF is not re-read on every run. A remote judge (``judge:openai:URL``) is
  identified by its spec only: if the server's model changes, run with ``--no-cache``.
- the row: the prompt (its messages, role by role), the response, and for verifiers the
  reference answer; first-error predictions key the steps and the threshold.

Scores are float64 and are stored bit for bit (as two float32 words in the embedding cache's
SQLite store), so a cached run reproduces ties exactly.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab._store import EmbeddingCache, cache_key, default_cache_dir
from rewardlab._version import __version__
from rewardlab.data import Prompt

__all__ = ["ScoreCache", "model_fingerprint", "prompt_key"]

_BIG_FILE = 256 << 20
_SPEC_SPLIT = re.compile(r"[,()?&#=]")


def _file_digest(path: Path, h: Any) -> None:
    stat = path.stat()
    if stat.st_size > _BIG_FILE:
        h.update(f"{path.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
        return
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 22), b""):
            h.update(block)


def _path_digest(path: Path, h: Any) -> None:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        h.update(b"\x00" + str(file.relative_to(path) if path.is_dir() else file.name).encode())
        _file_digest(file, h)


def model_fingerprint(spec: str) -> str:
    """What the scores of the model ``spec`` names depend on, as a hex digest (see the module
    docstring).

    Only a spec gets a fingerprint: a model object trained in Python keeps the spec it was
    built from, but not its weights, so the runner never caches such an object's scores.
    """
    h = hashlib.blake2b(f"rewardlab {__version__}\x00{spec}".encode(), digest_size=16)
    for token in {spec, *_SPEC_SPLIT.split(spec)}:
        candidate = token
        while True:  # "judge:gguf:/m.gguf" names /m.gguf after its kind prefixes
            path = Path(candidate)
            if candidate and path.exists():
                _path_digest(path, h)
                break
            head, sep, rest = candidate.partition(":")
            if not sep or not head or "/" in head:
                break
            candidate = rest
    return h.hexdigest()


def prompt_key(prompt: Prompt) -> str:
    """Text that identifies a prompt: a string, or its messages role by role."""
    if isinstance(prompt, str):
        return "s" + prompt
    return "m" + json.dumps([[m.role, m.content] for m in prompt], ensure_ascii=False)


class ScoreCache:
    """float64 scores by (model fingerprint, what was scored), in one SQLite file.

    Args:
        fingerprint: ``model_fingerprint(model)``; empty disables the cache.
        path: the database; default ``<cache dir>/bench-scores.sqlite`` (``$REWARDLAB_CACHE_DIR``
            or ``~/.cache/rewardlab``).
    """

    def __init__(self, fingerprint: str, path: str | Path | None = None) -> None:
        self.fingerprint = fingerprint
        self.path = Path(path) if path is not None else default_cache_dir() / "bench-scores.sqlite"
        self._store = EmbeddingCache(self.path) if fingerprint else None
        self.hits = 0
        self.misses = 0

    def key(self, *parts: str) -> bytes:
        return cache_key(self.fingerprint, *parts)

    def values(self, keys: Sequence[bytes], compute: Callable[[list[int]], np.ndarray],
               *, chunk: int = 256, advance: Callable[[int], None] | None = None) -> np.ndarray:
        """float64 values for ``keys``: cached ones read, the rest computed (``compute(idx)``
        gets the positions of missing keys, at most ``chunk`` at a time) and stored."""
        out = np.empty(len(keys), dtype=np.float64)
        found = self._store.get_many(list(dict.fromkeys(keys))) if self._store else {}
        missing = []
        for i, key in enumerate(keys):
            if key in found:
                out[i] = found[key].view(np.float64)[0]
            else:
                missing.append(i)
        self.hits += len(keys) - len(missing)
        self.misses += len(missing)
        if advance is not None and len(keys) > len(missing):
            advance(len(keys) - len(missing))
        for start in range(0, len(missing), chunk):
            idx = missing[start:start + chunk]
            values = np.asarray(compute(idx), dtype=np.float64).reshape(-1)
            if values.shape != (len(idx),):
                raise ValueError(f"scoring returned {values.shape[0]} values for {len(idx)} "
                                 "inputs")
            out[idx] = values
            if self._store is not None:
                self._store.put_many([keys[i] for i in idx], values.view(np.float32).reshape(
                    len(idx), 2))
            if advance is not None:
                advance(len(idx))
        return out

    def close(self) -> None:
        if self._store is not None:
            self._store.close()

