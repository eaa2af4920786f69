"""Run untrusted programs against tests: a warm pool of harness processes.

Each pool worker owns one harness process (``_harness.py``, started with ``python -I`` in its
own session); the harness forks a fresh runner process per program, before it reads the
program's job, and decides every verdict itself (see ``_harness.py`` and docs/verifiers.md
for the threat model). This module is the parent's side: it starts and restarts harnesses,
hands out jobs, gives each program its own temporary directory, and kills a harness's whole
process group when it overruns its time limit by more than ``GRACE`` seconds.

A program's outcome is a ``SandboxResult``; nothing a program does raises here.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import queue
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rewardlab._validation import check_int, check_positive

__all__ = ["GRACE", "Limits", "SandboxPool", "SandboxResult", "close_pools", "shared_pool"]

_HARNESS = Path(__file__).with_name("_harness.py")
#: Seconds past a program's time limit before its harness's process group is killed.
GRACE = 0.75
_STARTUP_TIMEOUT = 60.0
#: Jobs a harness serves before it is replaced (bounds what test code leaves in it).
_RECYCLE_AFTER = 500


@dataclass(frozen=True, kw_only=True, slots=True)
class Limits:
    """Resource limits of one program.

    Args:
        timeout: wall-clock seconds for loading the program and running all its tests.
        memory_mb: address space of the program's process (``RLIMIT_AS``).
        cpu_seconds: CPU seconds (``RLIMIT_CPU``), a backstop to ``timeout``.
        file_mb: largest file the program may write (``RLIMIT_FSIZE``).
        nproc: process limit (``RLIMIT_NPROC``; not enforced by Linux for root).
        network_namespace: run the program in a fresh user + network namespace where the
            kernel allows it (sockets are refused by the audit hook either way).
    """

    timeout: float = 10.0
    memory_mb: int = 1024
    cpu_seconds: int = 0
    file_mb: int = 16
    nproc: int = 64
    network_namespace: bool = True

    def __post_init__(self) -> None:
        check_positive("Limits", "timeout", self.timeout)
        check_int("Limits", "memory_mb", self.memory_mb, minimum=64)
        check_int("Limits", "cpu_seconds", self.cpu_seconds, minimum=0)
        check_int("Limits", "file_mb", self.file_mb, minimum=1)
        check_int("Limits", "nproc", self.nproc, minimum=1)

    def to_job(self) -> dict[str, Any]:
        cpu = self.cpu_seconds or int(self.timeout) + 1
        return {"memory_mb": self.memory_mb, "cpu_seconds": cpu, "file_mb": self.file_mb,
                "nproc": self.nproc, "network_namespace": self.network_namespace}


@dataclass(frozen=True, slots=True)
class SandboxResult:
    """What the harness reported for one program.

    Attributes:
        passed: tests that passed; ``total``: tests run (a HumanEval ``check`` counts each
            top-level asserting statement).
        reason: None when every test passed, else ``syntax_error``, ``runtime_error``,
            ``wrong_answer``, ``timeout``, ``memory``, ``forbidden``, ``task_error`` (the
            task's own test code failed) or ``harness_error``.
        detail: a short human-readable explanation.
        seconds: wall-clock time of the whole job.
        forbidden: operations the sandbox refused (socket, fork, write outside its dir ...).
        network_namespace: whether the program ran without any network interface.
    """

    passed: int
    total: int
    reason: str | None
    detail: str = ""
    seconds: float = 0.0
    forbidden: tuple[str, ...] = field(default_factory=tuple)
    network_namespace: bool = False

    @property
    def ok(self) -> bool:
        return self.reason is None and self.total > 0 and self.passed == self.total


class _Harness:
    """One harness process and its pipes (used by one thread at a time)."""

    def __init__(self, workdir: str) -> None:
        self.jobs = 0
        self.proc = subprocess.Popen(
            [sys.executable, "-I", str(_HARNESS)], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True,
            close_fds=True, cwd=workdir, env={"PATH": os.environ.get("PATH", "/usr/bin"),
                                              "LANG": "C.UTF-8"})
        self._buffer = b""
        hello = self._read(time.monotonic() + _STARTUP_TIMEOUT)
        if hello is None or "ready" not in hello:
            self.kill()
            raise RuntimeError("the sandbox harness did not start")

    def _read(self, deadline: float) -> dict[str, Any] | None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while True:
            if len(self._buffer) >= 4:
                size = int.from_bytes(self._buffer[:4], "big")
                if len(self._buffer) >= 4 + size:
                    payload, self._buffer = self._buffer[4:4 + size], self._buffer[4 + size:]
                    try:
                        out = json.loads(payload)
                    except ValueError:
                        return None
                    return out if isinstance(out, dict) else None
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self._buffer += chunk

    def run(self, job: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """The harness's report, or None when it died; TimeoutError past the hard limit."""
        assert self.proc.stdin is not None
        payload = json.dumps(job).encode()
        self.jobs += 1
        try:
            self.proc.stdin.write(len(payload).to_bytes(4, "big") + payload)
            self.proc.stdin.flush()
        except OSError:
            return None
        return self._read(time.monotonic() + timeout + GRACE)

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(OSError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            self.proc.kill()
        with contextlib.suppress(Exception):
            self.proc.wait(timeout=5)
        for stream in (self.proc.stdin, self.proc.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()


class SandboxPool:
    """A warm pool of ``workers`` harness processes running programs in parallel.

    Example:
        >>> pool = SandboxPool(workers=1)
        >>> job = {"mode": "func", "kind": "asserts", "program": "def f(x):\\n    return x + 1",
        ...        "tests": ["assert f(1) == 2", "assert f(2) == 4"]}
        >>> result = pool.run([job], Limits(timeout=5))[0]
        >>> (result.passed, result.total, result.reason)
        (1, 2, 'wrong_answer')
        >>> pool.close()
    """

    def __init__(self, workers: int | None = None) -> None:
        self.workers = workers or max(1, min(4, os.cpu_count() or 1))
        check_int("SandboxPool", "workers", self.workers, minimum=1)
        self._idle: queue.SimpleQueue[_Harness] = queue.SimpleQueue()
        self._all: list[_Harness] = []
        self._lock = threading.Lock()
        self._workdir = tempfile.mkdtemp(prefix="rewardlab-sandbox-")
        self._executor: ThreadPoolExecutor | None = None
        self._closed = False

    def _take(self) -> _Harness:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._lock:
            if len(self._all) < self.workers:
                harness = _Harness(self._workdir)
                self._all.append(harness)
                return harness
        return self._idle.get()

    def _give_back(self, harness: _Harness, healthy: bool) -> None:
        if healthy and harness.alive() and harness.jobs < _RECYCLE_AFTER:
            self._idle.put(harness)
            return
        harness.kill()
        with self._lock:
            if harness in self._all:
                self._all.remove(harness)

    def warm(self) -> None:
        """Start every harness now (otherwise they start on first use)."""
        taken = [self._take() for _ in range(self.workers)]
        for h in taken:
            self._give_back(h, True)

    def run_one(self, job: dict[str, Any], limits: Limits) -> SandboxResult:
        """Run one program job (``mode``, ``kind``, ``program``, ``tests``, ... as built by
        ``rewardlab.verify._code_tasks``) under ``limits``."""
        tmpdir = tempfile.mkdtemp(prefix="run-", dir=self._workdir)
        nonce = secrets.token_hex(16)
        full = {**job, "tmpdir": tmpdir, "nonce": nonce, "timeout": limits.timeout,
                "limits": limits.to_job()}
        start = time.monotonic()
        harness = self._take()
        healthy = True
        try:
            try:
                out = harness.run(full, limits.timeout)
            except TimeoutError:
                healthy = False
                return SandboxResult(0, 1, "timeout", f"over the {limits.timeout:g} s limit",
                                     time.monotonic() - start)
            if out is None or out.get("nonce") != nonce:
                healthy = False
                return SandboxResult(0, 1, "runtime_error", "the sandbox harness ended "
                                     "without a report", time.monotonic() - start)
            return SandboxResult(
                passed=int(out["passed"]), total=int(out["total"]), reason=out["reason"],
                detail=str(out.get("detail") or ""), seconds=time.monotonic() - start,
                forbidden=tuple(out.get("forbidden") or ()),
                network_namespace=bool(out.get("network_namespace")))
        finally:
            self._give_back(harness, healthy)
            shutil.rmtree(tmpdir, ignore_errors=True)

    def run(self, jobs: Sequence[dict[str, Any]], limits: Limits) -> list[SandboxResult]:
        """Run every job, ``workers`` at a time; results in the order of ``jobs``."""
        if self._closed:
            raise RuntimeError("the sandbox pool is closed")
        if len(jobs) <= 1 or self.workers == 1:
            return [self.run_one(j, limits) for j in jobs]
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.workers, thread_name_prefix="sandbox")
        return list(self._executor.map(lambda j: self.run_one(j, limits), jobs))

    def close(self) -> None:
        """Stop every harness and remove the pool's directory."""
        self._closed = True
        if self._executor is not None:
            self._executor.shutdown(wait=True)
        with self._lock:
            for h in self._all:
                h.kill()
            self._all.clear()
        shutil.rmtree(self._workdir, ignore_errors=True)


_POOLS: dict[tuple[int, int], SandboxPool] = {}
_POOLS_LOCK = threading.Lock()


def shared_pool(workers: int | None = None) -> SandboxPool:
    """The process's pool of ``workers`` harnesses (one per size), closed at exit. A forked
    child (a Ray or DataLoader worker) gets its own: the parent's harness pipes are not its."""
    key = (os.getpid(), workers or 0)
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None or pool._closed:
            pool = _POOLS[key] = SandboxPool(workers)
        return pool


def close_pools() -> None:
    """Stop every shared pool's harness processes."""
    with _POOLS_LOCK:
        for (pid, _), pool in list(_POOLS.items()):
            if pid == os.getpid():
                pool.close()
        _POOLS.clear()


atexit.register(close_pools)
