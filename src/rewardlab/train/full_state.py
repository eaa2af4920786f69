"""Whole-model state for checkpoints and results, however the model is held.

One format for every strategy: the full (unsharded) weights keyed by their names, and the
full optimiser state keyed by *parameter name*, not by position
(``torch.distributed.checkpoint.state_dict`` with ``full_state_dict=True``). So a checkpoint
that 2 FSDP workers wrote resumes on 1 process or on DDP workers, and the other way round:
each loader slices what it holds out of the full tensors. Under FSDP gathering is a
collective (every worker must call it); the full tensors land on rank 0's CPU only
(``cpu_offload``), so rank 0 needs host memory for one full copy, never a GPU.
"""

from __future__ import annotations

from typing import Any

__all__ = ["gather_model", "gather_state", "load_state"]


def _options(*, gather: bool) -> Any:
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, cpu_offload=gather)


def gather_model(net: Any) -> dict[str, Any]:
    """The full weights on rank 0's CPU (an empty dict on the other ranks under FSDP)."""
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    return get_model_state_dict(net, options=_options(gather=True))


def gather_state(net: Any, optimizer: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Full weights and full optimiser state (keyed by parameter name) on rank 0's CPU."""
    from torch.distributed.checkpoint.state_dict import get_state_dict

    return get_state_dict(net, optimizer, options=_options(gather=True))


def load_state(net: Any, optimizer: Any, model_state: dict[str, Any],
               optimizer_state: dict[str, Any]) -> None:
    """Load full weights and full optimiser state; each worker keeps its own shard.

    Raises:
        KeyError, ValueError, RuntimeError: the state belongs to another model, or the
            optimiser state to other trainable parameters (the caller names the file).
    """
    from torch.distributed.checkpoint.state_dict import (
        set_model_state_dict,
        set_optimizer_state_dict,
    )

    set_model_state_dict(net, model_state, options=_options(gather=False))
    if _by_position(optimizer_state):  # written by rewardlab before FSDP: one process's
        from torch.distributed.tensor import DTensor

        if any(isinstance(p, DTensor) for g in optimizer.param_groups for p in g["params"]):
            raise ValueError("an older rewardlab wrote this optimiser state, keyed by "
                             "position; resume it with --strategy ddp")
        optimizer.load_state_dict(optimizer_state)
        return
    _check_names(optimizer, net, optimizer_state)
    set_optimizer_state_dict(net, optimizer, optimizer_state, options=_options(gather=False))


def _by_position(optimizer_state: dict[str, Any]) -> bool:
    groups = optimizer_state.get("param_groups") or [{}]
    return any(isinstance(p, int) for g in groups for p in g.get("params", []))


def _check_names(optimizer: Any, net: Any, optimizer_state: dict[str, Any]) -> None:
    """The saved state must cover exactly the parameters this optimiser trains: torch would
    otherwise drop the extra ones and start the missing ones from zero, silently."""
    names = {id(p): n for n, p in net.named_parameters()}
    wanted = {names.get(id(p), "?") for g in optimizer.param_groups for p in g["params"]}
    saved = {n for g in optimizer_state.get("param_groups", []) for n in g.get("params", [])}
    if saved != wanted:
        missing, extra = sorted(wanted - saved), sorted(saved - wanted)
        raise ValueError(
            f"the optimiser state is for other parameters ({len(missing)} of this model's "
            f"trainable parameters missing, e.g. {missing[:2]}; {len(extra)} unknown, e.g. "
            f"{extra[:2]})")
