"""Where a model runs and in what precision: the one place that reads a ``device`` option.

Every kind that runs a torch network (``seq:``, ``prm:seq:``, ``embed:``, ``prm:``, ``judge:hf``,
``policy:``) and every front door that loads one (``serve --device``, ``score --ray``) asks
here, so ``auto`` means the same thing everywhere: the first CUDA GPU when one is present,
else Apple's MPS, else the CPU. Asking for an accelerator that is not there is a
``ConfigError`` naming the option and what the machine has, not a torch traceback.

Precision follows the device: bf16 autocast where the hardware computes in bf16 (Ampere+
GPUs, CPUs with AVX512-BF16/AMX); on older GPUs fp16 autocast with a ``GradScaler`` (fp16
overflows without loss scaling). Weights and optimiser state stay fp32, and scores are
returned as float64 on the host whatever the device. Importing this module does not import
torch.
"""

from __future__ import annotations

import re
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

from rewardlab.errors import ConfigError, MissingDependencyError

__all__ = [
    "ATTN_CHOICES",
    "DEVICE_CHOICES",
    "Precision",
    "attn_implementation",
    "check_device",
    "pick_precision",
    "resolve_device",
]

#: What a ``device`` option may say (``cuda:N`` for any N).
DEVICE_CHOICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
#: What an ``attn_implementation`` option may say.
ATTN_CHOICES = ("sdpa", "eager", "flash_attention_2")
_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def check_device(owner: str, name: str, value: str) -> None:
    """Validate a ``device`` option's spelling (not whether the hardware is there)."""
    if not isinstance(value, str) or not _PATTERN.match(value):
        raise ConfigError(f"The '{name}' parameter of {owner} must be one of "
                          f"{', '.join(repr(c) for c in DEVICE_CHOICES)}. Got {value!r}.")


def resolve_device(value: str = "auto", *, flag: str = "device") -> Any:
    """The ``torch.device`` a ``device`` option names, checked against this machine.

    Raises:
        ConfigError: the device is not available here (names ``flag`` and what exists).
    """
    import torch

    check_device("rewardlab", flag, value)
    if value == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if value == "cpu":
        return torch.device("cpu")
    if value == "mps":
        if not _mps_available():
            raise ConfigError(f"--{flag.replace('_', '-')} mps: this machine has no Apple MPS "
                              "device (torch.backends.mps.is_available() is False); use "
                              "--device cpu or auto")
        return torch.device("mps")
    if not torch.cuda.is_available():
        build = "a CPU-only torch build" if torch.version.cuda is None else "no visible GPU"
        raise ConfigError(f"--{flag.replace('_', '-')} {value}: CUDA is not available here "
                          f"({build}); use --device cpu or auto, or install a CUDA build of "
                          "torch on a machine with an NVIDIA GPU")
    index = int(value.partition(":")[2] or 0)
    count = torch.cuda.device_count()
    if index >= count:
        raise ConfigError(f"--{flag.replace('_', '-')} {value}: this machine has {count} CUDA "
                          f"device(s) (cuda:0 to cuda:{count - 1})")
    return torch.device("cuda", index)


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


@dataclass(frozen=True, slots=True)
class Precision:
    """How a training or scoring step computes on a device.

    Attributes:
        dtype: the autocast dtype (``None``: plain fp32).
        scaler: a ``torch.amp.GradScaler`` is needed (fp16: gradients underflow without it).
        device_type: ``"cpu"``, ``"cuda"`` or ``"mps"``, as ``torch.autocast`` wants it.
    """

    dtype: Any
    scaler: bool
    device_type: str

    def autocast(self) -> AbstractContextManager[Any]:
        """The autocast context of this precision (a no-op for fp32)."""
        if self.dtype is None:
            return nullcontext()
        import torch

        return torch.autocast(self.device_type, dtype=self.dtype)

    def grad_scaler(self) -> Any:
        """A ``GradScaler`` for fp16, else ``None``."""
        if not self.scaler:
            return None
        import torch

        return torch.amp.GradScaler(self.device_type)


def pick_precision(precision: str, device: Any) -> Precision:
    """The precision ``precision`` (``auto``, ``bf16``, ``fp16`` or ``fp32``) means on
    ``device``. ``auto``: bf16 where the hardware has it (CUDA compute capability 8+, CPUs
    with native bf16), fp16 with a grad scaler on older GPUs, fp32 on other CPUs and MPS."""
    import torch

    kind = device.type
    if precision == "fp32":
        return Precision(None, False, kind)
    if precision == "bf16":
        return Precision(torch.bfloat16, False, kind)
    if precision == "fp16":
        return Precision(torch.float16, True, kind)
    if kind == "cuda":
        if torch.cuda.is_bf16_supported():
            return Precision(torch.bfloat16, False, kind)
        return Precision(torch.float16, True, kind)
    if kind == "cpu" and _cpu_has_bf16():
        return Precision(torch.bfloat16, False, kind)
    return Precision(None, False, kind)


def _cpu_has_bf16() -> bool:
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def attn_implementation(value: str, *, flag: str = "attn_implementation") -> str:
    """The ``attn_implementation`` transformers should load with: ``sdpa`` (the default),
    ``eager``, or ``flash_attention_2`` when the ``flash_attn`` package is installed."""
    if value not in ATTN_CHOICES:
        raise ConfigError(f"The '{flag}' parameter must be one of "
                          f"{', '.join(repr(c) for c in ATTN_CHOICES)}. Got {value!r}.")
    if value == "flash_attention_2":
        import importlib.util

        if importlib.util.find_spec("flash_attn") is None:
            raise MissingDependencyError(
                f"{flag}=flash_attention_2 needs the flash-attn package and a CUDA GPU: pip "
                "install flash-attn (or use the default, sdpa)")
    return value
