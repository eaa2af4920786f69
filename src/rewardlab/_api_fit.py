"""What ``api.train`` and ``api.train_attributes`` share about a training run's machinery:
where its checkpoints go, the checks of ``--workers`` / ``--strategy`` / ``--address`` made
before any data is read, and the launcher that starts the workers. One place, so a
``seq:`` model and a ``multi:seq:`` model are refused and launched by the same rules.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rewardlab.errors import CapabilityError, ConfigError
from rewardlab.models._saved import check_model_target
from rewardlab.models.base import Resumable, RewardModel, describe
from rewardlab.train.checkpoint import check_start

__all__ = ["check_resumable", "check_train_outputs", "check_workers", "checkpoint_dir_for",
           "launcher_for"]


def checkpoint_dir_for(out: str | Path) -> Path:
    """Where a run saving to ``out`` keeps its checkpoints: ``OUT.checkpoints`` beside it."""
    out = Path(out)
    return out.with_name(out.name + ".checkpoints")


def check_workers(workers: int, strategy: str, address: str | None) -> None:
    """Refuse bad ``--workers``/``--strategy``/``--address`` before any data is read."""
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1. Got {workers}.")
    if strategy not in ("ddp", "fsdp"):
        raise ConfigError(f"--strategy must be 'ddp' or 'fsdp'. Got {strategy!r}.")
    if address not in (None, "", "local", "auto"):
        from rewardlab.scale import check_reachable

        check_reachable(address, timeout=5.0)


def launcher_for(rm: RewardModel, workers: int, *, ray: bool, address: str | None,
                 gpus_per_worker: float, ensemble: int = 0) -> Any:
    """What starts the workers of a distributed fit (``None``: train in this process).

    Raises:
        CapabilityError: the model (or an ensemble) cannot train on several workers.
    """
    import functools
    import os

    if workers == 1 and not ray:
        return None
    flag = "--ray" if ray else f"--workers {workers}"
    if ensemble or not isinstance(rm, Resumable):
        what = "an --ensemble" if ensemble else f"'{describe(rm)}'"
        raise CapabilityError(f"{what} cannot train on {flag}: only seq: models (and multi:seq:) "
                              "train on several workers (embed: heads train in seconds on one "
                              "process)")
    config = getattr(rm, "config", None)
    threads = int(getattr(config, "threads", 0)) or max(1, (os.cpu_count() or 1) // workers)
    if ray:
        from rewardlab.scale import run_ray

        return functools.partial(run_ray, workers=workers, address=address,
                                 gpus_per_worker=gpus_per_worker, threads=threads)
    from rewardlab._device import resolve_device
    from rewardlab.train.workers import run_local

    device = resolve_device(str(getattr(config, "device", "cpu")))
    return functools.partial(run_local, workers=workers, threads=threads,
                             backend="nccl" if device.type == "cuda" else "gloo")


def check_resumable(rm: RewardModel, resume: bool) -> None:
    """Refuse ``--resume`` for a kind that keeps no checkpoints."""
    if resume and not isinstance(rm, Resumable):
        raise CapabilityError(f"model '{describe(rm)}' cannot --resume: only seq: models (and "
                              "multi:seq:) train from checkpoints")


def check_train_outputs(rm: RewardModel, out: Path, *, resume: bool) -> None:
    """Refuse an unusable ``--out`` or checkpoint directory before training, not after it:
    ``out`` must be new, empty or a saved model (the rule the final save applies), and an
    earlier run's checkpoint in ``OUT.checkpoints`` is resumed or deleted, never overwritten
    (nor deleted with this run's when it succeeds)."""
    check_model_target(out)
    if not resume or isinstance(rm, Resumable):
        check_start(checkpoint_dir_for(out), resume=resume)
