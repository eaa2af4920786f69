"""What every shaping function shares: array in/out, non-finite checks, and group layouts.

Shaping functions take NumPy arrays (or anything ``np.asarray`` reads) or torch tensors and
return the same kind they were given, so a trainer can call them on its own tensors. Torch is
never imported here unless a tensor comes in.

Groups come in two layouts, and every function accepts both:

* a 2-D array ``(n_groups, group_size)``: equal-size groups, the fast path;
* a flat array plus ``groups``, one group id per reward: ragged groups, any id type.

Statistics are computed with whole-array reductions (``sum(axis=1)`` or ``np.bincount`` over
group codes), never with a Python loop over groups.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from rewardlab.errors import ConfigError

__all__ = [
    "GroupLayout",
    "NanPolicy",
    "as_float_array",
    "as_plain_array",
    "check_nan_policy",
    "fail",
    "finite_mask",
]

#: How a function treats NaN or infinite inputs: ``"raise"`` stops with the index of the
#: first one; ``"omit"`` leaves them out of every statistic (each function says what it
#: returns in their place); ``"propagate"`` (element-wise transforms only) returns NaN there.
NanPolicy = Literal["raise", "omit", "propagate"]


def fail(owner: str, name: str, rule: str, got: str) -> ConfigError:
    """The one message shape of ``rewardlab._validation``, for array arguments."""
    return ConfigError(f"The '{name}' parameter of {owner} must be {rule}. Got {got} instead.")


def check_nan_policy(owner: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        listed = ", ".join(repr(a) for a in allowed)
        raise fail(owner, "nan_policy", f"one of {listed}", repr(value))


def _is_tensor(x: Any) -> bool:
    return type(x).__module__.split(".")[0] == "torch" and hasattr(x, "detach")


def as_float_array(x: Any, name: str, owner: str) -> tuple[np.ndarray, Callable[[np.ndarray], Any]]:
    """``x`` as float64 NumPy, plus a function that turns a result back into ``x``'s kind.

    A torch tensor comes back as a tensor on the same device, with the same floating dtype
    (a float32 tensor in gives float32 out; integer or bool tensors give torch's default
    float dtype). Anything else comes back as float64 NumPy.
    """
    if _is_tensor(x):
        import torch

        device = x.device
        dtype = x.dtype if x.is_floating_point() else torch.get_default_dtype()
        array = x.detach().to("cpu", torch.float64).numpy()

        def restore(result: np.ndarray) -> Any:
            return torch.from_numpy(np.ascontiguousarray(result)).to(device=device, dtype=dtype)

        return array, restore
    try:
        array = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise fail(owner, name, "an array of numbers", f"{type(x).__name__}") from None
    return array, lambda result: result


def as_plain_array(x: Any) -> np.ndarray:
    """Group ids or indices as NumPy, whatever array kind they came as."""
    if _is_tensor(x):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def _where(name: str, index: tuple[int, ...]) -> str:
    return f"{name}[{', '.join(str(int(i)) for i in index)}]"


_ALTERNATIVES = {
    "omit": "pass nan_policy='omit' to leave such entries out",
    "propagate": "pass nan_policy='propagate' to get NaN back there",
}


def finite_mask(x: np.ndarray, name: str, owner: str, nan_policy: str,
                alternative: str | None = "omit") -> np.ndarray | None:
    """``None`` when every value is finite, else the mask of finite values (policy allowing).

    Under ``nan_policy="raise"`` a NaN or infinity stops the call with a message that names
    the first offending index and how many there are, so a bad reward is reported where it
    entered rather than discovered later as a NaN loss. ``alternative`` is the other policy
    the message suggests (``None`` when the function has none).
    """
    finite = np.isfinite(x)
    if finite.all():
        return None
    if nan_policy == "raise":
        bad = np.flatnonzero(~finite.ravel())
        index = np.unravel_index(bad[0], x.shape)
        value = x[index]
        more = f" (and {bad.size - 1} more)" if bad.size > 1 else ""
        hint = f", or {_ALTERNATIVES[alternative]}" if alternative else ""
        raise ConfigError(
            f"The '{name}' parameter of {owner} must hold finite numbers, but "
            f"{_where(name, index)} is {value}{more}. Find out where it came from{hint}."
        )
    return finite


class GroupLayout:
    """Where each reward's group is, and group-wise reductions that need no Python loop.

    Build one with ``GroupLayout.of(values, groups, owner)``. ``values`` are then either 2-D
    ``(n_groups, size)`` (``codes`` is ``None``) or 1-D with ``codes[i]`` the group of
    ``values[i]`` in ``range(n_groups)``; some codes may have no member when integer ids are
    used as they are.
    """

    __slots__ = ("codes", "n_groups", "shape")

    def __init__(self, shape: tuple[int, ...], codes: np.ndarray | None, n_groups: int) -> None:
        self.shape, self.codes, self.n_groups = shape, codes, n_groups

    @classmethod
    def of(cls, values: np.ndarray, groups: Any, owner: str, name: str = "rewards"
           ) -> GroupLayout:
        if groups is None:
            if values.ndim != 2:
                raise fail(owner, name,
                           "2-D (n_groups, group_size), or 1-D together with 'groups' (one "
                           "group id per reward)", f"an array of shape {values.shape}")
            return cls(values.shape, None, values.shape[0])
        if values.ndim != 1:
            raise fail(owner, "groups", "None when rewards are 2-D (each row is a group)",
                       f"group ids for rewards of shape {values.shape}")
        ids = as_plain_array(groups)
        if ids.shape != values.shape:
            raise fail(owner, "groups", f"one group id per reward, shape {values.shape}",
                       f"shape {ids.shape}")
        n = values.shape[0]
        if ids.dtype.kind in "iu" and n and ids.min() >= 0 and ids.max() <= 2 * n:
            # Small non-negative integer ids are codes already: no sort needed.
            return cls(values.shape, ids.astype(np.intp, copy=False), int(ids.max()) + 1)
        if ids.dtype.kind not in "iubUSfO":
            raise fail(owner, "groups", "an array of group ids", f"dtype {ids.dtype}")
        try:
            _, codes = np.unique(ids, return_inverse=True)
        except TypeError:
            raise fail(owner, "groups", "group ids of one comparable type",
                       "a mix of types") from None
        codes = codes.reshape(-1).astype(np.intp, copy=False)
        return cls(values.shape, codes, int(codes.max()) + 1 if n else 0)

    # --- reductions (one value per group) ---------------------------------------------------

    def sum(self, v: np.ndarray) -> np.ndarray:
        if self.codes is None:
            return v.sum(axis=1)
        return np.bincount(self.codes, weights=v, minlength=self.n_groups)

    def sum_squares(self, v: np.ndarray) -> np.ndarray:
        if self.codes is None:
            return np.einsum("ij,ij->i", v, v)
        return np.bincount(self.codes, weights=v * v, minlength=self.n_groups)

    def count(self, mask: np.ndarray | None) -> np.ndarray:
        if mask is None:
            if self.codes is None:
                return np.full(self.n_groups, self.shape[1], dtype=np.float64)
            return np.bincount(self.codes, minlength=self.n_groups).astype(np.float64)
        return self.sum(mask.astype(np.float64))

    def max(self, v: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        return self._extreme(v, mask, np.maximum, -np.inf)

    def min(self, v: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        return self._extreme(v, mask, np.minimum, np.inf)

    def _extreme(self, v: np.ndarray, mask: np.ndarray | None, op: np.ufunc, empty: float
                 ) -> np.ndarray:
        if mask is not None:
            v = np.where(mask, v, empty)
        if self.codes is None:
            return op.reduce(v, axis=1) if self.shape[1] else np.full(self.n_groups, empty)
        out = np.full(self.n_groups, empty)
        op.at(out, self.codes, v)
        return out

    # --- back to one value per reward -------------------------------------------------------

    def expand(self, per_group: np.ndarray) -> np.ndarray:
        """A per-group array laid out like the rewards (broadcastable for 2-D layouts)."""
        if self.codes is None:
            return per_group[:, None]
        return per_group[self.codes]

    def group_of(self, index: tuple[int, ...]) -> int:
        """The group code of the reward at ``index`` (for messages)."""
        return int(index[0]) if self.codes is None else int(self.codes[index[0]])
