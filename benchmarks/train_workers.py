"""`seq:` training on 1 worker vs 2 workers (torch.distributed, gloo), and on Ray Train.

One run, the same HH pairs, global batch and seed everywhere (issue 19):

* speed: 1 worker x 1 thread vs 2 workers x 1 thread, and the machine's own ceiling: two
  independent 1-thread single-process trainings started at once (their combined pairs/s is
  what two workers would reach with zero communication). Timed is the training loop only
  (``train_sequence_pairs``: forward, backward, gradient all-reduce, optimiser), not process
  start or model loading, which a real run pays once.
* correctness: the final weights of 1 and 2 workers (max abs difference), on equal shards
  (an even pair count) and unequal ones (an odd count: the last batch splits 8/7);
* a checkpoint written at step k by 2 workers, resumed by 1, vs the uninterrupted 2-worker
  run;
* with ``--ray``: 2 Ray Train CPU workers vs 1 process; and the same with one Ray worker
  killed (SIGKILL) after the first checkpoint: Ray restarts the group, which resumes from it.
* ``--strategy fsdp``: the 2 workers shard weights, gradients and optimiser state (FSDP2);
  the figures above are then FSDP's, and each worker's memory is reported beside 2 DDP
  workers' on the same data: its peak RSS and how much its RSS grew during the training loop
  (gradients, optimiser state, activations; the model was already loaded).

Run from the repository root:
    nice -n 5 .venv/bin/python benchmarks/train_workers.py --pairs 64 --max-length 64 \
        [--strategy fsdp] [--ray]
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit

_TIMES = "loop_seconds.json"
_MEMORY = "memory_rank{}.json"


def _timed(world: Any, payload: dict[str, Any]) -> None:
    """The seq: worker, with its training loop timed (rank 0 writes the seconds) and its
    memory measured (every rank writes its own)."""
    from rewardlab.models.seq import _train_worker

    _time_loop(payload["result"] if world.rank == 0 else None,
               memory=Path(payload["result"], _MEMORY.format(world.rank)))
    _train_worker(world, payload)


def _stop_at(world: Any, payload: dict[str, Any]) -> None:
    """The seq: worker, stopped right after the checkpoint of step ``stop_at`` (all ranks)."""
    from rewardlab.errors import TrainingError
    from rewardlab.models.seq import _train_worker
    from rewardlab.train import distributed

    real = distributed.World.on_rank0

    def on_rank0(self, fn, *args):
        real(self, fn, *args)
        if args[4] == payload["stop_at"]:
            raise TrainingError(f"planted stop after step {args[4]}")

    distributed.World.on_rank0 = on_rank0
    _train_worker(world, payload)


def _time_loop(result_dir: str | None, memory: Path | None = None) -> None:
    from rewardlab.train import seq_loop

    real = seq_loop.train_sequence_pairs

    def timed(*args, **kwargs):
        import resource

        import psutil

        rss_start = psutil.Process().memory_info().rss
        start = time.perf_counter()
        out = real(*args, **kwargs)
        if result_dir is not None:
            Path(result_dir, _TIMES).write_text(json.dumps(time.perf_counter() - start))
        if memory is not None:  # ru_maxrss is in KiB on Linux
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            memory.write_text(json.dumps({"peak_rss_mb": peak / 2**20,
                                          "loop_growth_mb": (peak - rss_start) / 2**20}))
        return out

    seq_loop.train_sequence_pairs = timed


def _spec(args: argparse.Namespace, **extra: Any) -> str:
    options = {"max_length": args.max_length, "batch_size": 16, "epochs": 1, "seed": 0,
               "precision": args.precision, "threads": 1, **extra}
    return "seq:minilm?" + "&".join(f"{k}={v}" for k, v in options.items())


def _data(n: int):
    from rewardlab.data import load_dataset

    return load_dataset("bundled:hh_harmless").take(range(n))


def _single(args: argparse.Namespace, n: int, **extra: Any) -> tuple[Any, float]:
    """One process, one thread; returns (model, loop seconds)."""
    from rewardlab import resolve

    with tempfile.TemporaryDirectory() as tmp:
        _time_loop(tmp)
        try:
            model = resolve(_spec(args, **extra)).fit(_data(n))
        finally:
            _untime()
        seconds = json.loads(Path(tmp, _TIMES).read_text())
    return model, seconds


_REAL_LOOP: Any = None


def _untime() -> None:
    from rewardlab.train import seq_loop

    if _REAL_LOOP is not None:
        seq_loop.train_sequence_pairs = _REAL_LOOP


def _workers(args: argparse.Namespace, n: int, target=_timed, stop_at: int = 0,
             strategy: str | None = None, memory: list[Any] | None = None,
             **extra: Any) -> tuple[Any, float]:
    """2 local gloo workers x 1 thread; returns (model, rank 0's loop seconds). ``memory``
    receives each rank's memory figures."""
    from rewardlab import resolve
    from rewardlab.train.workers import run_local

    seconds: list[float] = []

    def launch(_real, payload):
        run_local(target, {**payload, "stop_at": stop_at}, workers=2, threads=1)
        file = Path(payload["result"], _TIMES)
        if file.is_file():
            seconds.append(json.loads(file.read_text()))
        if memory is not None:
            memory.extend(json.loads(Path(payload["result"], _MEMORY.format(r)).read_text())
                          for r in range(2))

    checkpoint = extra.pop("checkpoint_dir", None)
    model = resolve(_spec(args, **extra)).fit(_data(n), workers=2, launcher=launch,
                                              checkpoint_dir=checkpoint,
                                              strategy=strategy or args.strategy)
    return model, (seconds[0] if seconds else float("nan"))


def _max_diff(a: Any, b: Any) -> float:
    sa, sb = a.network.state_dict(), b.network.state_dict()
    return max(float((sa[k] - sb[k]).abs().max()) for k in sa)


def _ceiling(args: argparse.Namespace, n: int) -> list[float]:
    """Two single-process 1-thread trainings started at once; their loop seconds."""
    cmd = [sys.executable, __file__, "--child", "--pairs", str(n), "--max-length",
           str(args.max_length), "--precision", args.precision]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env)
             for _ in range(2)]
    return [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]


def _ray(args: argparse.Namespace, n: int, *, kill: bool, checkpoint_dir: Path | None = None
         ) -> tuple[Any, int]:
    """2 Ray Train CPU workers; with ``kill``, one worker is SIGKILLed after the first
    checkpoint. Returns (model, workers killed)."""
    import psutil

    from rewardlab import resolve
    from rewardlab.scale import run_ray

    killed = []
    done = threading.Event()

    def killer() -> None:
        state = checkpoint_dir / "trainer_state.json"  # type: ignore[operator]
        while not done.is_set() and not killed:
            if state.is_file():
                for proc in psutil.process_iter(["cmdline"]):
                    if "RayTrainWorker" in " ".join(proc.info["cmdline"] or []):
                        proc.kill()
                        killed.append(proc.pid)
                        break
            time.sleep(0.05)

    extra = {"checkpoint_every": 1} if kill else {}
    watcher = threading.Thread(target=killer, daemon=True)
    if kill:
        watcher.start()
    try:
        model = resolve(_spec(args, **extra)).fit(
            _data(n), workers=2, checkpoint_dir=checkpoint_dir,
            launcher=functools.partial(run_ray, workers=2, threads=1, max_failures=2))
    finally:
        done.set()
    return model, len(killed)


def main() -> None:
    global _REAL_LOOP
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=64, help="even; pairs-1 is the odd run")
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--strategy", choices=("ddp", "fsdp"), default="ddp")
    parser.add_argument("--ray", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    import torch

    from rewardlab.train import seq_loop

    _REAL_LOOP = seq_loop.train_sequence_pairs
    torch.set_num_threads(1)
    if args.child:
        print(json.dumps(_single(args, args.pairs)[1]))
        return
    n, odd = args.pairs, args.pairs - 1
    one, t_one = _single(args, n)
    memory: list[Any] = []
    two, t_two = _workers(args, n, memory=memory)
    ceiling = _ceiling(args, n)
    one_odd, _ = _single(args, odd)
    two_odd, _ = _workers(args, odd)

    # resume: 2 workers stopped after the checkpoint of step 2, then 1 process resumes
    from rewardlab import resolve
    from rewardlab.errors import TrainingError

    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / "ckpt"
        with contextlib.suppress(TrainingError):
            _workers(args, n, target=_stop_at, stop_at=max(1, -(-n // 16) // 2),
                     checkpoint_every=1, checkpoint_dir=ckpt)
        stopped_at = json.loads((ckpt / "trainer_state.json").read_text())["step"]
        uninterrupted, _ = _workers(args, n, checkpoint_every=1)
        resumed = resolve(_spec(args, checkpoint_every=1)).fit(_data(n), checkpoint_dir=ckpt,
                                                                resume=True)
    per_pair = n  # one epoch
    result: dict[str, Any] = {
        "config": {"model": "seq:minilm", "pairs": n, "odd_pairs": odd, "global_batch": 16,
                   "max_length": args.max_length, "epochs": 1, "precision": args.precision,
                   "threads_per_worker": 1, "backend": "gloo", "strategy": args.strategy},
        "pairs_per_s": {"one_worker": per_pair / t_one, "two_workers": per_pair / t_two,
                        "ceiling_two_independent": sum(per_pair / t for t in ceiling)},
        "max_weight_diff": {"equal_shards": _max_diff(one, two),
                            "unequal_shards": _max_diff(one_odd, two_odd),
                            "resume_2_to_1_workers": _max_diff(uninterrupted, resumed)},
        "resume_from_step": stopped_at,
        "strategy": args.strategy,
        "memory_per_worker": {args.strategy: memory},
    }
    if args.strategy == "fsdp":  # the same run held whole on each worker, for its memory
        ddp_memory: list[Any] = []
        _, t_ddp = _workers(args, n, strategy="ddp", memory=ddp_memory)
        result["memory_per_worker"]["ddp"] = ddp_memory
        result["pairs_per_s"]["two_workers_ddp"] = per_pair / t_ddp
    speed = result["pairs_per_s"]
    result["two_workers_vs_ceiling"] = speed["two_workers"] / speed["ceiling_two_independent"]
    result["ceiling_vs_one_worker"] = speed["ceiling_two_independent"] / speed["one_worker"]
    result["two_workers_vs_one"] = speed["two_workers"] / speed["one_worker"]
    if args.ray:
        on_ray, _ = _ray(args, odd, kill=False)
        with tempfile.TemporaryDirectory() as tmp:
            killed_run, killed = _ray(args, odd, kill=True, checkpoint_dir=Path(tmp) / "c")
        one_odd_ckpt, _ = _single(args, odd, checkpoint_every=1)
        result["ray"] = {"max_weight_diff_vs_one_process": _max_diff(one_odd, on_ray),
                         "workers_killed": killed,
                         "killed_run_max_weight_diff": _max_diff(one_odd_ckpt, killed_run)}
    emit("train_workers", **result,
         targets={"two_workers_vs_ceiling": 0.85, "max_weight_diff": 1e-5})


if __name__ == "__main__":
    main()
