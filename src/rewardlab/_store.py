"""An on-disk cache of text embeddings, keyed by encoder identity and content hash.

Embedding is the slow part of every frozen-encoder workflow (~65 ms of CPU per 256-token text
for MiniLM); training a head, evaluating, auditing and benchmarking all re-read the same texts.
The key covers everything the vector depends on (encoder weights, max length, truncation, the
text), so a hit is always safe to reuse. SQLite gives atomic writes and safe concurrent readers
without a server; a corrupt or unwritable cache degrades to no cache, never to a crash.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["EmbeddingCache", "cache_key", "default_cache_dir"]

_CHUNK = 500


def default_cache_dir() -> Path:
    """``$REWARDLAB_CACHE_DIR``, else ``$XDG_CACHE_HOME/rewardlab``, else ``~/.cache/rewardlab``."""
    if os.environ.get("REWARDLAB_CACHE_DIR"):
        return Path(os.environ["REWARDLAB_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rewardlab"


def cache_key(namespace: str, *parts: str) -> bytes:
    """A 16-byte digest of the encoder namespace and the text(s) embedded."""
    h = hashlib.blake2b(namespace.encode(), digest_size=16)
    for part in parts:
        h.update(b"\x00")
        h.update(part.encode("utf-8", "surrogatepass"))
    return h.digest()


class EmbeddingCache:
    """Float32 vectors stored by key in one SQLite file.

    Args:
        path: the database file; created with its parent directories on first write.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._conn: sqlite3.Connection | None = None
        self._broken = False
        # RL trainers (verl, OpenRLHF, TRL's async path) score from worker threads: one
        # connection shared under a lock, rather than SQLite's same-thread check
        self._lock = threading.RLock()

    def _connect(self) -> sqlite3.Connection | None:
        if self._conn is not None or self._broken:
            return self._conn
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS emb (key BLOB PRIMARY KEY, vec BLOB NOT NULL)"
            )
            self._conn = conn
        except (sqlite3.Error, OSError) as exc:
            self._disable(exc)
        return self._conn

    def _disable(self, exc: Exception) -> None:
        warnings.warn(
            f"embedding cache at {self.path} is unusable ({exc}); continuing without it",
            RuntimeWarning,
            stacklevel=3,
        )
        self._broken, self._conn = True, None

    def get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        """The cached vectors among ``keys``; missing keys are simply absent."""
        with self._lock:
            return self._get_many(keys)

    def _get_many(self, keys: Sequence[bytes]) -> dict[bytes, np.ndarray]:
        conn = self._connect()
        found: dict[bytes, np.ndarray] = {}
        if conn is None:
            return found
        try:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                for key, blob in conn.execute(
                    f"SELECT key, vec FROM emb WHERE key IN ({marks})", chunk
                ):
                    found[key] = np.frombuffer(blob, dtype=np.float32)
        except sqlite3.Error as exc:
            self._disable(exc)
        return found

    def put_many(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        rows = [(k, np.ascontiguousarray(v, dtype=np.float32).tobytes())
                for k, v in zip(keys, vectors, strict=True)]
        with self._lock:
            conn = self._connect()
            if conn is None:
                return
            try:
                with conn:
                    conn.executemany("INSERT OR REPLACE INTO emb (key, vec) VALUES (?, ?)",
                                     rows)
            except sqlite3.Error as exc:
                self._disable(exc)

    def __len__(self) -> int:
        with self._lock:
            conn = self._connect()
            if conn is None:
                return 0
            return int(conn.execute("SELECT COUNT(*) FROM emb").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
