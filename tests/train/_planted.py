"""Worker targets for the distributed tests: module-level, so worker processes can import
them by name (the test directory is on their ``sys.path`` too)."""

from __future__ import annotations

from typing import Any

from rewardlab.errors import TrainingError


def stop_after_checkpoint(world: Any, payload: dict[str, Any]) -> None:
    """The real seq: worker, except that every worker stops once the checkpoint of step
    ``payload["stop_at"]`` is written: a run cut short at a known step."""
    from rewardlab.models.seq import _train_worker
    from rewardlab.train import distributed

    real = distributed.World.on_rank0

    def on_rank0(self, fn, *args):  # fn(directory, net, optimizer, scheduler, step, ...)
        real(self, fn, *args)
        if args[4] == payload["stop_at"]:
            raise TrainingError(f"planted stop after step {args[4]}")

    distributed.World.on_rank0 = on_rank0
    _train_worker(world, payload)
