"""``--strategy fsdp``: each worker keeps 1/N of the weights, gradients and optimiser state.

PyTorch's own FSDP2 (``torch.distributed.fsdp.fully_shard``): every transformer layer (the
classes a transformers model lists in ``_no_split_modules``: ``BertLayer``,
``LlamaDecoderLayer``, ...) becomes one unit whose parameters are all-gathered just before its
forward and backward and freed after, and the root unit holds the rest (embeddings, the score
head, LoRA's ``modules_to_save``). Parameters become ``DTensor`` shards, so the optimiser built
after ``shard_model`` only ever holds its worker's share of the AdamW moments. Memory per
worker falls from ~16 bytes per parameter (weights, gradient, two moments) to ~16/N, plus one
layer's full weights at a time; the price is an all-gather per layer in forward and backward
and a reduce-scatter of its gradients.

Why the gradients are *summed*, not averaged (FSDP's default divides by N): the loop already
divides each worker's loss by the global batch size (``train/distributed.py``), so the sum is
the one-process gradient, the same as DDP's; one process and N workers then take the same
steps. Gloo (CPU) has no ``AVG`` or ``PREMUL_SUM`` reduction, so the reduction is forced to a
plain ``SUM`` with a divide factor of 1 on every backend.

On a GPU with bf16, parameters are all-gathered in bf16 and gradients reduced in fp32
(``MixedPrecisionPolicy``); the sharded master weights and optimiser state stay fp32, as on
one device. On CPU the weights stay fp32 and autocast does the bf16 matmuls, as in the
one-process loop, so CPU runs match it to float rounding.
"""

from __future__ import annotations

from typing import Any

from rewardlab._device import Precision
from rewardlab.train.distributed import World

__all__ = ["layer_classes", "shard_model"]


def layer_classes(net: Any) -> set[str]:
    """Class names of the modules that become one FSDP unit each: the transformer layers a
    transformers model names in ``_no_split_modules`` (found through a peft wrapper too)."""
    for module in net.modules():
        names = getattr(module, "_no_split_modules", None)
        if names:
            return set(names)
    return set()


def shard_model(net: Any, world: World, device: Any, precision: Precision) -> int:
    """Shard ``net`` in place between the workers of ``world``; returns the number of FSDP
    units (layers plus the root). Call it before building the optimiser: afterwards the
    parameters are this worker's shards.

    Every worker must hold the same full weights when it is called (each keeps its own
    slice of what it holds): broadcast them first.
    """
    import torch
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import FSDPModule, MixedPrecisionPolicy, fully_shard

    if device.type == "cuda":
        torch.cuda.set_device(device)
    mesh = init_device_mesh(device.type, (world.size,))
    policy = (MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32)
              if device.type == "cuda" and precision.dtype == torch.bfloat16
              else MixedPrecisionPolicy())
    layers = layer_classes(net)
    units = 0
    # bottom-up (children before parents): a unit takes the parameters no inner unit took
    for module in reversed(list(net.modules())):
        if type(module).__name__ in layers:
            fully_shard(module, mesh=mesh, mp_policy=policy)
            units += 1
    fully_shard(net, mesh=mesh, mp_policy=policy)
    for module in net.modules():
        if isinstance(module, FSDPModule):
            module.set_gradient_divide_factor(1.0)
            module.set_force_sum_reduction_for_comms(True)
    return units + 1
