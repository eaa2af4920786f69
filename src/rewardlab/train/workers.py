"""Start a training function on N local worker processes.

``run_local(target, payload, workers=N)`` spawns N processes joined in a ``torch.distributed``
process group (gloo on CPU, nccl when each worker has a GPU) and calls
``target(world, payload)`` in each (``rewardlab.scale.run_ray`` does the same on a Ray
cluster). ``target`` must be a module-level function (it is pickled by reference) and
``payload`` plain data.

A worker that raises a ``RewardLabError`` has its message re-raised here, in the caller, as
the same class; a worker that dies any other way stops the others (none is left waiting in a
collective) and is reported with its exit code. Ctrl-C stops them all.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from rewardlab import errors
from rewardlab.errors import RewardLabError, TrainingError
from rewardlab.train.distributed import World

__all__ = ["WORKER_TIMEOUT", "Launcher", "run_local", "worker_device"]

#: How long a collective may wait for a slow or dead worker before it fails.
WORKER_TIMEOUT = timedelta(minutes=30)
_ERROR = "error_rank{}.json"
#: Imported once by the fork server (a missing one is skipped): what every worker would
#: otherwise import itself, ~10 s of a loaded 2-core machine's time.
_PRELOAD = ["torch", "torch.distributed", "safetensors.torch", "transformers",
            "transformers.modeling_utils", "transformers.models.auto.modeling_auto",
            "transformers.models.auto.tokenization_auto", "peft"]

#: Runs ``target(world, payload)`` on every worker of a run and returns when all are done
#: (``run_local`` bound to a worker count, or ``rewardlab.scale.run_ray``'s equivalent).
Launcher = Callable[[Callable[[World, Any], None], Any], None]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def worker_device(device: str, rank: int) -> str:
    """The device a worker of rank ``rank`` uses when the run asked for ``device``: a GPU
    each (``cuda:rank`` modulo the GPUs) when CUDA is asked for or ``auto`` finds it."""
    import torch

    if device in ("auto", "cuda") and torch.cuda.is_available():
        return f"cuda:{rank % torch.cuda.device_count()}"
    return device


def _entry(rank: int, size: int, port: int, backend: str, threads: int,
           target: Callable[[World, Any], None], payload: Any, error_dir: str) -> None:
    """One worker process: join the group, run ``target``, leave a note if it fails."""
    import torch
    import torch.distributed as dist

    torch.set_num_threads(threads)
    code = 0
    try:
        dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                                world_size=size, timeout=WORKER_TIMEOUT)
        try:
            target(World(rank, size), payload)
        finally:
            dist.destroy_process_group()
    except RewardLabError as exc:
        _write_error(error_dir, rank, type(exc).__name__, str(exc))
        code = 3
    except KeyboardInterrupt:
        code = 130
    except BaseException as exc:
        _write_error(error_dir, rank, type(exc).__name__,
                     f"{exc}\n{traceback.format_exc()}")
        code = 4
    sys.stdout.flush()
    os._exit(code)  # skip atexit handlers that may wait on the (now gone) group


def _write_error(error_dir: str, rank: int, kind: str, message: str) -> None:
    Path(error_dir, _ERROR.format(rank)).write_text(json.dumps({"type": kind,
                                                                "message": message}))


def _raise_worker_error(error_dir: str, rank: int, code: int | None) -> None:
    file = Path(error_dir, _ERROR.format(rank))
    if file.is_file():
        note = json.loads(file.read_text())
        cls = getattr(errors, note["type"], None)
        if isinstance(cls, type) and issubclass(cls, RewardLabError) and \
                cls is not errors.DataError:
            raise cls(note["message"])
        raise TrainingError(f"worker {rank} failed: {note['type']}: {note['message']}")
    raise TrainingError(f"worker {rank} of the training run died (exit code {code}); the "
                        "others were stopped")


def run_local(target: Callable[[World, Any], None], payload: Any, *, workers: int,
              threads: int = 1, backend: str = "gloo") -> None:
    """Run ``target(world, payload)`` on ``workers`` local processes and wait for them.

    Raises:
        RewardLabError: the first failing worker's error, re-raised as its class.
    """
    import multiprocessing as mp

    # a fork server imports torch once and forks every worker from that clean process: a
    # plain fork after torch's thread pools start can deadlock, and spawn re-imports torch
    # in every worker (seconds each); the server lives on for later runs of this process
    if "forkserver" in mp.get_all_start_methods():
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload([*_PRELOAD, target.__module__])
    else:  # Windows: no fork server; spawn (slower start, same run)
        ctx = mp.get_context("spawn")
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="rewardlab-workers-") as error_dir:
        procs = [ctx.Process(target=_entry, args=(rank, workers, port, backend, threads,
                                                  target, payload, error_dir), daemon=True)
                 for rank in range(workers)]
        for proc in procs:
            proc.start()
        try:
            while True:
                codes = [p.exitcode for p in procs]
                failed = next((r for r, c in enumerate(codes) if c not in (None, 0)), None)
                if failed is not None:
                    _stop(procs)
                    # the first to fail explains; the others often die of a broken pipe after
                    noted = [r for r in range(workers)
                             if Path(error_dir, _ERROR.format(r)).is_file()]
                    rank = failed if failed in noted or not noted else noted[0]
                    _raise_worker_error(error_dir, rank, procs[rank].exitcode)
                if all(c == 0 for c in codes):
                    return
                time.sleep(0.05)
        finally:
            _stop(procs)


def _stop(procs: list[Any]) -> None:
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(timeout=10)
        if proc.is_alive():
            proc.kill()
            proc.join()
