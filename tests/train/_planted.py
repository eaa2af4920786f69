"""Worker targets for the distributed tests: module-level, so worker processes can import
them by name (the test directory is on their ``sys.path`` too)."""

from __future__ import annotations

from typing import Any

from rewardlab.errors import TrainingError


def stop_after_checkpoint(world: Any, payload: dict[str, Any]) -> None:
    """The real seq: worker, except that every worker stops once the checkpoint of step
    ``payload["stop_at"]`` is written: a run cut short at a known step."""
    from rewardlab.models.seq import _train_worker
    from rewardlab.train import seq_loop

    real = seq_loop._save_checkpoint

    def save_then_stop(directory, net, optimizer, scheduler, step, *rest):
        real(directory, net, optimizer, scheduler, step, *rest)
        if step == payload["stop_at"]:
            raise TrainingError(f"planted stop after step {step}")

    seq_loop._save_checkpoint = save_then_stop
    if world.rank != 0:  # only rank 0 saves: the others stop at the same step by count
        real_on_rank0 = type(world).on_rank0

        def on_rank0(self, fn, *args):
            real_on_rank0(self, fn, *args)
            if args[4] == payload["stop_at"]:
                raise TrainingError("planted stop")

        type(world).on_rank0 = on_rank0
    _train_worker(world, payload)
