"""Training on a Ray cluster: the same worker function ``rewardlab.train.workers.run_local``
starts locally, run by Ray Train's ``TorchTrainer`` on CPU or GPU workers.

Ray joins the workers in a ``torch.distributed`` group (gloo on CPU, nccl on GPUs) and, with
``FailureConfig(max_failures)``, restarts the whole worker group when a worker dies; the
target then resumes from the last checkpoint it wrote itself (the ``seq:`` loop does), so a
killed worker costs the steps since that checkpoint and the run ends with the weights an
uninterrupted one would have. The checkpoint directory must be on storage every worker can
reach (a shared or network file system on a multi-node cluster).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rewardlab.errors import ConfigError, MissingDependencyError, RewardLabError, TrainingError
from rewardlab.scale._cluster import connect
from rewardlab.train.distributed import World
from rewardlab.train.workers import WORKER_TIMEOUT

__all__ = ["run_ray"]


def _ray_entry(config: dict[str, Any]) -> None:
    """A Ray Train worker: Ray has joined the process group; run the target in it."""
    import torch

    torch.set_num_threads(config["threads"])
    config["target"](World.current(), config["payload"])


def run_ray(target: Callable[[World, Any], None], payload: Any, *, workers: int,
            address: str | None = None, gpus_per_worker: float = 0.0, threads: int = 1,
            max_failures: int = 2, storage: str | Path | None = None) -> None:
    """Run ``target(world, payload)`` on ``workers`` Ray Train workers (``TorchTrainer``).

    A failed worker group is restarted up to ``max_failures`` times; ``target`` must resume
    from its own checkpoint to make a restart cheap (the seq: loop does).

    Raises:
        ClusterError: ``address`` does not answer (checked before Ray retries for minutes).
        MissingDependencyError: Ray Train is not installed.
        TrainingError: the run failed after its restarts.
    """
    try:
        from ray.train import FailureConfig, RunConfig, ScalingConfig
        from ray.train.torch import TorchConfig, TorchTrainer
    except ImportError as exc:
        raise MissingDependencyError(
            f"--ray training needs Ray Train ({exc.name or exc} is missing): pip install "
            "'ray[train]'") from None
    if gpus_per_worker < 0:
        raise ConfigError(f"--gpus-per-worker must be >= 0. Got {gpus_per_worker}.")
    ray, started = connect(address)
    try:
        with tempfile.TemporaryDirectory(prefix="rewardlab-ray-") as tmp:
            trainer = TorchTrainer(
                _ray_entry,
                train_loop_config={"target": target, "payload": payload, "threads": threads},
                torch_config=TorchConfig(backend="nccl" if gpus_per_worker else "gloo",
                                         timeout_s=int(WORKER_TIMEOUT.total_seconds())),
                scaling_config=ScalingConfig(
                    num_workers=workers, use_gpu=gpus_per_worker > 0,
                    resources_per_worker={"CPU": threads,
                                          **({"GPU": gpus_per_worker} if gpus_per_worker
                                             else {})}),
                run_config=RunConfig(name="rewardlab-train",
                                     storage_path=str(storage or tmp),
                                     failure_config=FailureConfig(max_failures=max_failures)),
            )
            try:
                trainer.fit()
            except Exception as exc:
                cause = _root_cause(exc)
                if isinstance(cause, RewardLabError):
                    raise cause from None
                raise TrainingError(f"the Ray training run failed after {max_failures} "
                                    f"restart(s): {type(cause).__name__}: {cause}") from None
    finally:
        if started:
            ray.shutdown()


def _root_cause(exc: BaseException) -> BaseException:
    seen = exc
    while True:
        nxt = getattr(seen, "cause", None) or seen.__cause__
        if nxt is None or nxt is seen:
            return seen
        seen = nxt
