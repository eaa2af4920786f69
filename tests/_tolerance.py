"""The precision a float comparison in this suite promises, stated once.

The suite must pass on any x86-64 Linux machine with 1 to 16 threads, so every comparison
says which promise it checks:

* **Bitwise** (``np.testing.assert_array_equal``, ``==``): the same call twice in one
  process, the same computation on the same inputs (heads stacked the same way, an ORM
  called on the same batch), a value read back from a cache, exact results of pure python
  (vote shares, verifier rewards, counts). A difference is a bug: hidden state, a cache
  returning something else.
* **fp32 round-off** (``assert_fp32_close``, ``fp32_approx``, ``fp32_tol``, ``FP32``): a
  float32 model's output computed another way: another batch composition, padding or row
  order, another thread count, the same weights saved and loaded, heads stacked into one
  matrix, another CPU. A matrix product adds its terms in the order the CPU's kernels pick
  (AVX2 or AVX-512/AMX), in blocks sized for the batch's shape and split over the threads,
  so the last bits differ: float32 keeps 24 bits (unit round-off 6e-8) and a network loses a
  few more. The bound is relative 1e-5 of each value and of the largest magnitude compared
  (a reward near zero is a sum of terms as large as the others, so it carries their
  round-off), never below 1e-6. The largest difference measured is 1e-6 of the magnitude (a
  reward recomputed from freshly embedded texts; AVX-512 at 1 and 2 threads, torch's AVX2
  and default kernels), so the bound holds with a tenfold margin and still catches a real
  defect: a wrong row, a lost feature or a stale weight moves a reward by 1e-3 or more.
* **float64 round-off** (numpy's default ``rtol=1e-7``, ``pytest.approx``'s 1e-6): a pure
  numpy/python result against an independent formula for it.
* **Looser bounds are physics**, each with a comment at its line: round-off accumulated
  through a deep network (the 30-layer judge), a reused KV cache, quantised kernels,
  top-k log-probabilities, a bootstrap's or Monte Carlo's sampling error, a grid's
  resolution, a LoRA merge (another float32 sum).

An order, argmax or accuracy computed from fp32 rewards inherits their round-off: two
rewards within round-off of each other (``fp32_near_ties``) may come out in either order on
another CPU, so a test that counts wins lets those pairs go either way.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

RTOL = 1e-5
"""Relative precision of a float32 model's output computed another way: of each value, and
of the largest magnitude among the values compared (a value near zero is a sum of terms as
large as the others, so its round-off is that of the largest)."""
ATOL = 1e-6
"""The absolute floor, for values much smaller than 1 (a head's output before training)."""
FP32 = {"rtol": RTOL, "atol": RTOL}
"""``assert_allclose`` keywords for values of magnitude up to 1 (probabilities, small
rewards); ``fp32_tol`` scales them to larger values."""


def fp32_slack(*values: Any) -> float:
    """The absolute round-off allowed around float32 values of these magnitudes."""
    scale = max((float(np.nanmax(np.abs(np.asarray(v, dtype=np.float64))))
                 for v in values if np.size(v)), default=0.0)
    return max(ATOL, RTOL * scale) if np.isfinite(scale) else ATOL


def fp32_tol(expected: Any) -> dict[str, float]:
    """``assert_allclose`` keywords for float32 round-off of values like ``expected``."""
    return {"rtol": RTOL, "atol": fp32_slack(expected)}


def assert_fp32_close(actual: Any, expected: Any, err_msg: str = "") -> None:
    """``actual`` equals ``expected`` to float32 round-off (``fp32_tol``)."""
    np.testing.assert_allclose(actual, expected, err_msg=err_msg, **fp32_tol(expected))


def fp32_approx(expected: Any) -> Any:
    """``pytest.approx`` at float32 round-off (a scalar or a sequence)."""
    return pytest.approx(expected, rel=RTOL, abs=fp32_slack(expected))


def fp32_near_ties(a: Any, b: Any) -> np.ndarray:
    """Where ``a`` and ``b`` are within the round-off of both: their order is not defined."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return np.abs(a - b) <= 2 * fp32_slack(a, b)
