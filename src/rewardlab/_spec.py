"""Spec strings: ``KIND:ARG?key=value&key=value`` split into their parts, and options turned
into a config dataclass with each field's type.

The one parser for every spec (model specs resolved by ``rewardlab.models.registry``, rollout
policy specs in ``rewardlab.label``), kept below the layers that use it so a spec reads the
same everywhere.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl

from rewardlab.errors import SpecError

__all__ = ["config_from_options", "split_spec"]


def split_spec(spec: str, *, known: Callable[[], Sequence[str]] | None = None
               ) -> tuple[str, str, dict[str, str]]:
    """Split ``KIND:ARG?k=v&...`` into ``(kind, arg, options)``.

    ``known`` lists the kinds for the error a spec without one gets (asked only then: the
    model registry imports every built-in kind to answer).

    Example:
        >>> split_spec("embed:minilm?head=linear")
        ('embed', 'minilm', {'head': 'linear'})
    """
    kind, sep, rest = spec.partition(":")
    if not sep or not kind:
        raise SpecError(
            f"'{spec}' is neither a model spec nor a saved model directory. Specs look like "
            f"KIND:ARG, e.g. embed:minilm; known kinds: {', '.join(known() if known else ())}"
        )
    arg, query = _split_query(rest)
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise SpecError(
            f"cannot read the options '{query}' of '{spec}'; write them as ?key=value&key=value"
        ) from None
    options: dict[str, str] = {}
    for key, value in pairs:
        if key in options:
            raise SpecError(f"option '{key}' is given twice in '{spec}'")
        options[key] = value
    return kind, arg, options


def _split_query(rest: str) -> tuple[str, str]:
    """Split ``ARG?QUERY`` at the first ``?`` outside parentheses (ensemble members keep
    their own options inside parentheses)."""
    depth = 0
    for i, ch in enumerate(rest):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "?" and depth == 0:
            return rest[:i], rest[i + 1:]
    return rest, ""


def config_from_options(config_cls: type, options: dict[str, str], *, spec: str,
                        fixed: dict[str, Any] | None = None) -> Any:
    """Build a config dataclass from spec options, converting text to each field's type.

    ``fixed`` holds fields set by the spec's argument (e.g. the encoder), which options may
    not override.
    """
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    hints = typing.get_type_hints(config_cls)
    values: dict[str, Any] = dict(fixed or {})
    for key, text in options.items():
        if key not in fields or key in values:
            allowed = ", ".join(sorted(k for k in fields if k not in (fixed or {})))
            raise SpecError(f"unknown option '{key}' in '{spec}'; options: {allowed}")
        values[key] = _convert(text, hints[key], key, spec)
    return config_cls(**values)


def _convert(text: str, hint: Any, key: str, spec: str) -> Any:
    origin = typing.get_origin(hint)
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if origin in (typing.Union, types.UnionType):
        if text.lower() in ("none", "null", ""):
            return None
        return _convert(text, args[0], key, spec)
    if origin is tuple:
        return tuple(_convert(part, args[0], key, spec) for part in text.split(",") if part)
    try:
        if hint is bool:
            if text.lower() not in ("1", "0", "true", "false", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("1", "true", "yes")
        if hint in (int, float):
            return hint(text)
    except ValueError:
        wanted = "true or false" if hint is bool else "a number"
        if hint is int:
            wanted += " (an integer)"
        raise SpecError(f"option '{key}' in '{spec}' must be {wanted}; got '{text}'") from None
    return text
