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


def record_shards(world: Any, payload: dict[str, Any]) -> None:
    """The real seq: worker, writing how many elements of the trained parameters and of
    AdamW's moments this worker held (``shards_rank{rank}.json`` in the result directory):
    what FSDP is for."""
    import json
    from pathlib import Path

    import torch

    from rewardlab.models.seq import _train_worker

    made = []
    real = torch.optim.AdamW

    class Recording(real):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    def local(tensor: Any) -> Any:
        return tensor.to_local() if hasattr(tensor, "to_local") else tensor

    torch.optim.AdamW = Recording  # type: ignore[misc]
    try:
        _train_worker(world, payload)
    finally:
        torch.optim.AdamW = real  # type: ignore[misc]
    (optimizer,) = made
    params = [p for g in optimizer.param_groups for p in g["params"]]
    moments = [v for s in optimizer.state.values() for k, v in s.items()
               if k in ("exp_avg", "exp_avg_sq")]
    Path(payload["result"], f"shards_rank{world.rank}.json").write_text(json.dumps({
        "params": sum(local(p).numel() for p in params),
        "grads": sum(local(p.grad).numel() for p in params if p.grad is not None),
        "moments": sum(local(m).numel() for m in moments)}))
