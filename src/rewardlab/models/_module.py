"""``SaveLoadMixin``: a kind that is a config plus (optionally) tensors saves and loads itself.

Modelled on sentence-transformers' ``Module``: the config is the constructor's keyword
arguments, ``save(dir)`` writes it to the manifest (``rewardlab.json``: ``format``, ``kind``,
``config``, ``state``, library ``versions``) beside ``model.safetensors``, and the classmethod
``load`` rebuilds with ``cls(**config)`` and then restores the learned tensors. Written once
here, so a kind states only *what* it saves (``saved_tensors``, ``saved_state``,
``saved_submodels``) and how it takes it back (``restore``), never how directories are
written atomically, manifests checked, or corrupt files reported.

A kind declares its config dataclass in ``config_class``; the mixin's ``__init__``,
``from_spec`` and ``get_config`` use it, and ``clone`` works on it unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any, ClassVar

from rewardlab.errors import ConfigError, ModelFormatError, SpecError
from rewardlab.models._saved import MANIFEST, atomic_directory, read_manifest, write_manifest
from rewardlab.models.base import Saveable, require_capability

__all__ = ["WEIGHTS_FILE", "SaveLoadMixin"]

WEIGHTS_FILE = "model.safetensors"


class SaveLoadMixin:
    """Save and load for kinds whose saved form is their config plus optional tensors.

    Override what applies:

    - ``saves_weights = True`` and ``saved_tensors()`` / ``restore(tensors, state)`` for
      learned weights (``model.safetensors``, torch tensors or numpy arrays);
    - ``saved_state()`` for what else the manifest records (training counts, a threshold);
    - ``saved_submodels()`` / ``from_saved`` for kinds that hold other models, each saved
      in its own sub-directory.

    Example:
        >>> import tempfile
        >>> from dataclasses import dataclass
        >>> import numpy as np
        >>> @dataclass(frozen=True, kw_only=True)
        ... class ShoutConfig:
        ...     bonus: float = 1.0
        >>> class Shout(SaveLoadMixin):
        ...     kind, config_class = "shout", ShoutConfig
        ...     def score(self, prompts, responses):
        ...         return np.array([self.config.bonus * r.isupper() for r in responses])
        >>> saved = Shout(bonus=2.0).save(Path(tempfile.mkdtemp()) / "shout")
        >>> Shout.load(saved).config
        ShoutConfig(bonus=2.0)
    """

    kind: ClassVar[str]
    #: The kind's settings: a frozen dataclass whose fields are the constructor's arguments.
    config_class: ClassVar[type]
    #: Whether ``save`` writes ``model.safetensors`` (from ``saved_tensors``).
    saves_weights: ClassVar[bool] = False
    spec: str | None = None
    config: Any

    def __init__(self, **params: Any) -> None:
        self.config = self.config_class(**params)

    @classmethod
    def from_spec(cls, arg: str, options: dict[str, str]) -> Any:
        """``KIND:?key=value``: every option is a field of ``config_class``; no argument."""
        from rewardlab.models.registry import config_from_options

        if arg:
            raise SpecError(f"'{cls.kind}:{arg}' has an argument, which {cls.kind}: does not "
                            f"take; write {cls.kind}: or {cls.kind}:?key=value")
        config = config_from_options(cls.config_class, options, spec=f"{cls.kind}:{arg}")
        return cls(**{f.name: getattr(config, f.name) for f in fields(config)})

    def get_config(self) -> dict[str, Any]:
        """The constructor's keyword arguments: what the manifest stores and ``clone`` copies."""
        return {f.name: getattr(self.config, f.name) for f in fields(self.config)}

    # --- what a saved directory holds (override) -----------------------------------------

    def saved_state(self) -> dict[str, Any]:
        """What the manifest's ``state`` records beside the config (JSON values)."""
        return {}

    def saved_tensors(self) -> Mapping[str, Any]:
        """The learned weights for ``model.safetensors`` (with ``saves_weights``); raise
        ``NotFittedError`` here when there are none yet."""
        return {}

    def saved_submodels(self) -> Mapping[str, Any]:
        """Models saved in sub-directories of this one, by directory name."""
        return {}

    def restore(self, tensors: dict[str, Any], state: dict[str, Any]) -> None:
        """Take back the learned state ``save`` wrote (torch tensors, the manifest's state).
        A ``KeyError`` or ``RuntimeError`` here means the weights do not match the config."""

    @classmethod
    def from_saved(cls, directory: Path, config: dict[str, Any], state: dict[str, Any]
                   ) -> Any:
        """The unfitted model a saved directory describes: ``cls(**config)``."""
        return cls(**config)

    # --- the two operations --------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """Write the manifest, the weights and any sub-models to ``path``, atomically."""
        tensors = dict(self.saved_tensors()) if self.saves_weights else None
        submodels = dict(self.saved_submodels())
        for sub in submodels.values():
            require_capability(sub, Saveable, f"be saved inside {self.kind}:")
        state = self.saved_state()
        with atomic_directory(path) as tmp:
            for name, sub in submodels.items():
                sub.save(tmp / name)
            if tensors is not None:
                _write_tensors(tensors, tmp / WEIGHTS_FILE)
            write_manifest(tmp, kind=self.kind, config=self.get_config(), state=state)
        return Path(path)

    @classmethod
    def load(cls, directory: str | Path, manifest: dict[str, Any] | None = None) -> Any:
        """The model saved in ``directory`` (its manifest is read when not given)."""
        directory = Path(directory)
        if manifest is None:
            manifest = read_manifest(directory)
            if manifest["kind"] != cls.kind:
                raise ModelFormatError(f"{directory} holds a model of kind "
                                       f"'{manifest['kind']}', not {cls.kind}:")
        # JSON has no tuples; configs are frozen, so their sequences are tuples
        config = {k: tuple(v) if isinstance(v, list) else v
                  for k, v in manifest["config"].items()}
        state = manifest.get("state") or {}
        try:
            model = cls.from_saved(directory, config, state)
        except (TypeError, ConfigError) as exc:
            raise ModelFormatError(f"{directory}/{MANIFEST} has a bad config: {exc}") from None
        tensors: dict[str, Any] = {}
        weights = directory / WEIGHTS_FILE
        if cls.saves_weights:
            tensors = _read_tensors(weights)
        try:
            model.restore(tensors, state)
        except (KeyError, RuntimeError) as exc:
            raise ModelFormatError(f"{weights} does not match its config: {exc}") from None
        except ModelFormatError as exc:
            raise ModelFormatError(f"{directory}/{MANIFEST}: {exc}") from None
        return model


def _write_tensors(tensors: dict[str, Any], file: Path) -> None:
    import numpy as np
    import torch
    from safetensors.torch import save_file

    save_file({k: (torch.from_numpy(v) if isinstance(v, np.ndarray) else v).detach()
               .contiguous() for k, v in tensors.items()}, str(file))


def _read_tensors(file: Path) -> dict[str, Any]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not file.is_file():
        raise ModelFormatError(f"{file.parent} is missing {WEIGHTS_FILE}")
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelFormatError(f"{file} is corrupt: {exc}") from None

