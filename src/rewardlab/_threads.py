"""Run numpy's and scipy's BLAS on one thread for a block of small linear algebra.

The fits that use it (the personal basis's alternating minimisation and residual trunk,
the flip estimate's ridge heads and mixture) are thousands of small products. A BLAS thread
pool adds a barrier to each, and on a busy machine its threads spin waiting for cores:
measured at load ~8 on 2 cores, a 1,000-user personal fit took 117 s with the default
threads and 35 s with one; ``linear_margins`` on HH 30 s of CPU against 2.2 s;
``mixture_flip_rate`` 6.0 s against 0.4 s. threadpoolctl comes with scikit-learn (a
dependency); without it nothing changes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, suppress

__all__ = ["one_blas_thread"]


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """BLAS limited to one thread inside the block, restored after."""
    with suppress(ImportError):  # scipy ships its own BLAS: load it first, so the limit
        import scipy.linalg  # noqa: F401  (reaches it too)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - installed with scikit-learn
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield
