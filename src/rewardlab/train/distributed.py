"""Many workers, one training loop: what a loop needs from ``torch.distributed``.

A training loop takes a ``World`` and asks it four things: which part of a global batch is
mine (``shard``), sum the gradients (``sum_gradients``), sum these numbers (``sum_tensor``)
and run this on rank 0 only (``on_rank0``, for checkpoints). The default ``World()`` is one
process and does nothing, so the loop is the same code with one worker or many.

Why sums, not DDP's mean of shard means: a step's loss is the sum of per-pair losses over the
global batch divided by its size. Each worker backpropagates its shard's sum over that global
count and the gradients are summed, which is exactly the one-process gradient however the
batch was split (an odd batch gives one worker a pair more; a batch smaller than the world
leaves a worker with nothing, and it still joins the sum with zeros). A mean of shard means
weights pairs unequally on unequal shards and drifts from the one-process run.

Gradients travel as one flat buffer per step (one all-reduce, not one per tensor). Initial
weights are broadcast from rank 0, so workers agree even if their initialisation did not.

``strategy`` says how the model is held: ``ddp`` (every worker holds all of it, and the loop
sums gradients with ``sum_gradients``) or ``fsdp`` (each holds a shard of the weights,
gradients and optimiser state, and FSDP sums the gradients itself during backward:
``train/fsdp.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["World"]


@dataclass(frozen=True, slots=True)
class World:
    """This process's place among ``size`` workers (``rank`` 0 writes checkpoints).

    ``World()`` is a single process: every method is a no-op or the identity.
    """

    rank: int = 0
    size: int = 1
    strategy: str = "ddp"

    @property
    def sharded(self) -> bool:
        """Whether the model is sharded between the workers (FSDP), not replicated."""
        return self.strategy == "fsdp" and self.size > 1

    @classmethod
    def current(cls) -> World:
        """The world of the initialised ``torch.distributed`` process group (or one)."""
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return cls(dist.get_rank(), dist.get_world_size())
        return cls()

    def shard(self, batch: np.ndarray) -> np.ndarray:
        """This worker's part of a global batch: every ``size``-th pair from ``rank``."""
        return batch if self.size == 1 else batch[self.rank::self.size]

    def sum_gradients(self, params: Sequence[Any]) -> None:
        """Sum every parameter's gradient over the workers (a missing gradient is zero)."""
        if self.size == 1:
            return
        import torch
        import torch.distributed as dist

        grads = []
        for p in params:
            if p.grad is None:
                p.grad = torch.zeros_like(p)
            grads.append(p.grad)
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        offset = 0
        for g in grads:
            g.copy_(flat[offset:offset + g.numel()].view_as(g))
            offset += g.numel()

    def sum_tensor(self, values: Any) -> Any:
        """``values`` summed over the workers."""
        if self.size == 1:
            return values
        import torch.distributed as dist

        dist.all_reduce(values)
        return values

    def broadcast(self, params: Sequence[Any]) -> None:
        """Every worker takes rank 0's values of ``params``."""
        if self.size == 1:
            return
        import torch
        import torch.distributed as dist

        with torch.no_grad():
            for p in params:
                dist.broadcast(p.data, src=0)

    def on_rank0(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on rank 0 while the others wait (so nobody reads half a
        checkpoint, and only one process writes it)."""
        if self.rank == 0:
            fn(*args)
        self.barrier()

    def barrier(self) -> None:
        if self.size == 1:
            return
        import torch.distributed as dist

        dist.barrier()
