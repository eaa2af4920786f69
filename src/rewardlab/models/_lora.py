"""LoRA adapters on a transformers classifier, as `seq:`, `multi:seq:` and `prm:seq:` add
them: the head trained and saved with the adapters, the adapters' initialisation seeded, and
targets that match nothing refused by name instead of peft's own error."""

from __future__ import annotations

from typing import Any

from rewardlab.errors import ConfigError, MissingDependencyError

__all__ = ["wrap_with_lora"]


def wrap_with_lora(net: Any, cfg: Any, task: str, heads: list[str]) -> Any:
    """``net`` with LoRA adapters of ``cfg.lora`` rank (``lora_alpha``, ``lora_dropout``,
    ``lora_targets``, initialised from ``cfg.seed``); ``heads`` (the classifier's top-level
    modules) are trained in full and saved (``modules_to_save``): a head left at its random
    init would score noise. ``task``: peft's ``TaskType`` name (``SEQ_CLS``, ``TOKEN_CLS``).

    Raises:
        MissingDependencyError: peft is not installed.
        ConfigError: no module of ``net`` matches ``cfg.lora_targets``.
    """
    import torch

    try:
        from peft import LoraConfig, TaskType, get_peft_model
    except ImportError:
        raise MissingDependencyError("LoRA needs peft: pip install peft") from None
    targets: str | list[str] = ("all-linear" if cfg.lora_targets == "all-linear"
                                else cfg.lora_targets.split(","))
    lora = LoraConfig(task_type=getattr(TaskType, task), r=cfg.lora, lora_alpha=cfg.lora_alpha,
                      lora_dropout=cfg.lora_dropout, target_modules=targets,
                      modules_to_save=heads)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        try:
            return get_peft_model(net, lora)
        except ValueError as exc:
            raise ConfigError(
                f"lora={cfg.lora} cannot wrap {cfg.path}: no module matches the LoRA "
                f"targets {cfg.lora_targets!r} ({exc}); set lora_targets to names of its "
                "linear layers (e.g. q_proj,v_proj) or train without lora") from None
