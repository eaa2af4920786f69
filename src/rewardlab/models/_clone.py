"""``clone``: a fresh, unfitted model with another model's config (scikit-learn's ``clone``).

A kind declares its settings as a frozen dataclass in ``config`` and rebuilds from
``type(model)(**model.get_config())``; that is all ``clone`` needs, so copying a model is
written once here instead of by every caller that wants a retrained copy (``train`` with
``--epochs``, co-filtering peers, ensemble members, the label-noise audit).

Kinds that hold other models (``ensemble:``, ``vote:``) are ``Composite``: their members are
cloned too, and an override that is not one of the composite's own options is passed to
every member (``vote:embed:minilm`` with ``epochs=3`` trains its ORM for three epochs).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar, runtime_checkable

from rewardlab.errors import CapabilityError, ConfigError
from rewardlab.models.base import describe

__all__ = ["Composite", "clone"]

M = TypeVar("M")


@runtime_checkable
class Composite(Protocol):
    """A kind built around other models (an ensemble's members, a vote's ORM)."""

    @property
    def submodels(self) -> Sequence[Any]:
        """The models this one holds, in the order ``rebuild`` takes them."""
        ...

    def rebuild(self, submodels: Sequence[Any], **config: Any) -> Any:
        """A new model of this kind around ``submodels`` with ``config`` (``get_config()``
        keys)."""
        ...


def clone(model: M, **overrides: Any) -> M:
    """A fresh, unfitted model of the same kind and config, with ``overrides`` applied.

    The config is copied with ``dataclasses.replace``, so overrides are validated exactly as
    the constructor validates them. What is not config is kept where it is a setting (the
    embedding ``cache``, the ``spec`` that messages name the model by) and dropped where it
    was learned (everything ``fit`` set).

    Args:
        model: a model whose ``config`` is a dataclass and whose constructor takes
            ``**model.get_config()``.
        **overrides: config fields to change, e.g. ``seed=1``.

    Raises:
        ConfigError: an override is not an option of the model (the message lists them), or
            its value is invalid.
        CapabilityError: the model declares no config.

    Example:
        >>> from rewardlab.models import EmbeddingRewardModel
        >>> copy = clone(EmbeddingRewardModel(epochs=5), seed=3)
        >>> copy.config.epochs, copy.config.seed
        (5, 3)
        >>> clone(copy, epoch=1)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        rewardlab.errors.ConfigError: clone() got the option 'epoch', which model ... epochs, ...
    """
    config = getattr(model, "config", None)
    get_config = getattr(type(model), "get_config", None)
    if not dataclasses.is_dataclass(config) or isinstance(config, type) or get_config is None:
        raise CapabilityError(
            f"model '{describe(model)}' cannot be cloned: it declares no config (a dataclass "
            "in its 'config' attribute and get_config() returning its constructor's keyword "
            "arguments)")
    names = [f.name for f in dataclasses.fields(config)]
    own = {k: v for k, v in overrides.items() if k in names}
    rest = {k: v for k, v in overrides.items() if k not in names}
    composite = isinstance(model, Composite)
    if rest and not (composite and model.submodels):
        unknown = sorted(rest)[0]
        raise ConfigError(
            f"clone() got the option '{unknown}', which model '{describe(model)}' does not "
            f"have; its options: {', '.join(sorted(names)) or 'none'}")
    changed = dataclasses.replace(config, **own)  # validates, as the constructor would
    kwargs = {**model.get_config(), **{k: getattr(changed, k) for k in own}}  # type: ignore[attr-defined]
    if composite:
        copy = model.rebuild([clone(m, **rest) for m in model.submodels], **kwargs)
    else:
        copy = type(model)(**kwargs)
    for setting in ("cache", "spec"):
        if setting in vars(model):
            setattr(copy, setting, vars(model)[setting])
    return copy  # type: ignore[no-any-return]
