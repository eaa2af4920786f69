"""Spec strings and saved directories resolve to models here, and only here.

A spec is ``KIND:ARG?key=value&key=value``: ``embed:minilm``, ``embed:minilm?head=linear``.
A path to a saved model directory is a spec too. Kinds register themselves with
``@register_kind``; every command and API takes the same specs. Installed distributions add
kinds through the ``rewardlab.kinds`` entry-point group, loaded only when a spec or saved
directory names a kind no built-in has.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TypeVar

from rewardlab._spec import config_from_options, split_spec
from rewardlab.errors import ModelFormatError, SpecError, UnknownKindError
from rewardlab.models._saved import MANIFEST, read_manifest
from rewardlab.models.base import RewardModel

__all__ = [
    "ENTRY_POINT_GROUP",
    "config_from_options",
    "known_kinds",
    "load_model",
    "parse_spec",
    "register_kind",
    "resolve",
]

_KINDS: dict[str, type] = {}
#: Modules that define the built-in kinds; imported on first use so ``import rewardlab``
#: stays light and heavy dependencies load only with the kind that needs them.
_BUILTIN_KIND_MODULES = ("rewardlab.models.embedding", "rewardlab.models.seq",
                         "rewardlab.models.prm_seq",
                         "rewardlab.models.ensemble", "rewardlab.models.verify",
                         "rewardlab.models.prm", "rewardlab.models.judge",
                         "rewardlab.models.vote", "rewardlab.models.similarity",
                         "rewardlab.models.rubric", "rewardlab.models.multi",
                         "rewardlab.models.personal", "rewardlab.models.likelihood")
_loaded_builtins = False

K = TypeVar("K", bound=type)


def register_kind(name: str) -> Callable[[K], K]:
    """Class decorator: make ``name:...`` specs and saved dirs of this kind resolve to ``cls``.

    The class must provide ``from_spec(arg, options)`` and ``load(directory, manifest)``
    classmethods; ``SaveLoadMixin`` provides both for a kind declared by a config dataclass
    (``docs/kinds.md``).
    """

    def decorate(cls: K) -> K:
        existing = _KINDS.get(name)
        if existing is not None and existing.__qualname__ != cls.__qualname__:
            raise ValueError(f"model kind '{name}' is already registered by {existing!r}")
        _KINDS[name] = cls
        cls.kind = name  # type: ignore[attr-defined]
        return cls

    return decorate


def _ensure_builtins() -> None:
    global _loaded_builtins
    if not _loaded_builtins:
        for module in _BUILTIN_KIND_MODULES:
            importlib.import_module(module)
        _loaded_builtins = True


def known_kinds() -> list[str]:
    """Registered kinds, with third-party kinds that entry points offer (not yet loaded)."""
    _ensure_builtins()
    return sorted(set(_KINDS) | {ep.name for ep in _kind_entry_points()})


#: Entry-point group through which installed distributions add kinds, e.g. in pyproject.toml
#: ``[project.entry-points."rewardlab.kinds"] mykind = "mykind_pkg:MyKind"``.
ENTRY_POINT_GROUP = "rewardlab.kinds"


def _kind_entry_points() -> list[metadata.EntryPoint]:
    return list(metadata.entry_points(group=ENTRY_POINT_GROUP))


def _kind_class(kind: str) -> type | None:
    """The class registered as ``kind``; a built-in, or a third-party kind loaded now from
    its entry point. None when no one offers it."""
    _ensure_builtins()
    if kind in _KINDS:
        return _KINDS[kind]
    for ep in _kind_entry_points():
        if ep.name != kind:
            continue
        dist = f"{ep.dist.name} {ep.dist.version}" if ep.dist is not None else "an unknown one"
        where = (f"the entry point '{ep.name} = {ep.value}' (group {ENTRY_POINT_GROUP}) of "
                 f"the distribution {dist}")
        try:
            loaded = ep.load()
        except Exception as exc:
            raise UnknownKindError(
                f"model kind '{kind}' comes from {where}, which failed to load: "
                f"{type(exc).__name__}: {exc}. Reinstall or uninstall that distribution"
            ) from exc
        if kind not in _KINDS:
            if not isinstance(loaded, type):
                raise UnknownKindError(
                    f"model kind '{kind}' comes from {where}, which names "
                    f"{type(loaded).__name__} {loaded!r}, not a class; point it at the kind's "
                    "class")
            register_kind(kind)(loaded)
        return _KINDS[kind]
    return None


def parse_spec(spec: str) -> tuple[str, str, dict[str, str]]:
    """Split ``KIND:ARG?k=v&...`` into ``(kind, arg, options)`` (``rewardlab._spec``), naming
    the known kinds when ``spec`` has none.

    Example:
        >>> parse_spec("embed:minilm?head=linear")
        ('embed', 'minilm', {'head': 'linear'})
    """
    return split_spec(spec, known=known_kinds)


def resolve(spec: str | Path | RewardModel) -> RewardModel:
    """The model a spec string or saved directory names (a model passes through unchanged).

    Raises:
        UnknownKindError: the kind is not registered; the message lists the known kinds.
        SpecError: the spec is malformed or its options are wrong.
        ModelFormatError: a directory is missing, corrupt, or not a saved model.

    Example:
        >>> resolve("embd:minilm")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        rewardlab.errors.UnknownKindError: unknown model kind 'embd' in 'embd:minilm'; known: ...
    """
    if isinstance(spec, RewardModel) and not isinstance(spec, str | Path):
        return spec
    text = str(spec)
    path = Path(text)
    if isinstance(spec, Path) or path.is_dir() or (path / MANIFEST).exists():
        return load_model(path)
    base, sep, query = text.partition("?")
    if sep and (Path(base) / MANIFEST).exists():
        return _saved_with_options(Path(base), query, text)
    if ":" not in text and ("/" in text or text.startswith(".")):
        raise ModelFormatError(f"no model directory at {text}")
    kind, arg, options = parse_spec(text)
    cls = _kind_class(kind)
    if cls is None:
        raise UnknownKindError(
            f"unknown model kind '{kind}' in '{text}'; known: {', '.join(known_kinds())}"
        )
    model = cls.from_spec(arg, options)
    model.spec = text
    return model


def _saved_with_options(directory: Path, query: str, text: str) -> RewardModel:
    """``DIR?key=value``: a saved model whose kind takes options at load time (``multi:``'s
    weights, ``personal:``'s user) through its ``with_options``."""
    _, _, options = parse_spec(f"saved:x?{query}")
    model = load_model(directory)
    with_options = getattr(model, "with_options", None)
    if with_options is None:
        raise SpecError(f"'{text}': a saved {getattr(model, 'kind', 'model')}: model takes no "
                        "options; give the directory alone")
    model = with_options(options)
    model.spec = text
    return model


def load_model(directory: str | Path) -> RewardModel:
    """Load a model saved with ``save(dir)``; its manifest names the kind that reads it."""
    manifest = read_manifest(directory)
    kind = manifest["kind"]
    cls = _kind_class(kind)
    if cls is None:
        raise ModelFormatError(
            f"{directory} holds a model of kind '{kind}', which this rewardlab does not know "
            f"(known: {', '.join(known_kinds())})"
        )
    model = cls.load(Path(directory), manifest)
    model.spec = str(directory)
    return model
