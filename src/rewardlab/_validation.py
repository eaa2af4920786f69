"""Parameter checks with one message shape, so every config error reads the same way.

The shape follows scikit-learn's parameter validation: *The 'lr' parameter of EmbedConfig
must be > 0. Got -1 instead.*
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

from rewardlab.errors import ConfigError


def _fail(owner: str, name: str, rule: str, value: Any) -> ConfigError:
    return ConfigError(f"The '{name}' parameter of {owner} must be {rule}. Got {value!r} instead.")


def check_positive(owner: str, name: str, value: float, *, allow_zero: bool = False) -> None:
    """Raise ConfigError unless ``value`` is a finite number > 0 (or >= 0)."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    ok = ok and (value >= 0 if allow_zero else value > 0)
    if not ok:
        raise _fail(owner, name, ">= 0" if allow_zero else "> 0", value)


def check_int(owner: str, name: str, value: int, *, minimum: int = 1) -> None:
    """Raise ConfigError unless ``value`` is an int >= ``minimum``."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise _fail(owner, name, f"an integer >= {minimum}", value)


def check_range(owner: str, name: str, value: float, low: float, high: float) -> None:
    """Raise ConfigError unless ``low <= value < high``."""
    ok = isinstance(value, int | float) and not isinstance(value, bool) and low <= value < high
    if not ok:
        raise _fail(owner, name, f"in [{low}, {high})", value)


def check_option(owner: str, name: str, value: Any, options: Collection[Any]) -> None:
    """Raise ConfigError unless ``value`` is one of ``options``."""
    if value not in options:
        listed = ", ".join(repr(o) for o in options)
        raise _fail(owner, name, f"one of {listed}", value)
