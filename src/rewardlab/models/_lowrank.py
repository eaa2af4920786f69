"""Fitting a low-rank Bradley–Terry reward basis with non-negative weights per user, by
alternating minimisation (the ``personal:`` model's default linear basis).

For a linear basis ``B`` ``(d, r)`` over standardised features, the reward difference of a
pair is ``Δx·B w`` for the user's weights ``w``: *linear in B for fixed weights, and in the
weights for fixed B*. The objective

    Σ_u [ Σ_{i∈u} softplus(-Δx_i B w_u) + λ/2 ||w_u - w_0||² ]
      + Σ_i softplus(-Δx_i B w_0) + μ/2 ||B||²,   w_u ≥ 0, w_0 ≥ 0

(``w_0``: the population mixture, a global Bradley–Terry model restricted to the basis; the
prior ``λ`` is the same one a new user is fitted with) is therefore convex in each block, and
block coordinate descent decreases it monotonically: the weights step is every user's small
projected-gradient problem at once, the basis step a ridge logistic regression solved with
L-BFGS. The history records the objective of every round, so convergence can be checked
rather than assumed (``converged``: the relative change fell below ``tol``).

Joint stochastic training of both blocks (the earlier default) stopped far from a stationary
point and from random starts found a poor basis. Here the basis starts from the users'
own directions: each training user's mean feature difference (chosen minus rejected) is a
crude per-user Bradley–Terry solution; the leading right singular vectors of their stack span
the users' common preference subspace. Since weights are non-negative, a direction that a
tenth of the users or more lean on the other way enters with both signs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardlab._threads import one_blas_thread

__all__ = ["LowRankFit", "PairRows", "fit_lowrank", "pca_basis",
           "solve_user_weights"]


@dataclass(frozen=True)
class PairRows:
    """Pairs as indices into distinct feature rows: pair ``i``'s difference is
    ``x[chosen[i]] - x[rejected[i]]``.

    Why: when many users label the same replies (a shared pool of pairs, several raters per
    pair) the distinct rows are far fewer than the pairs, and every product with the basis
    (or a trunk) is computed once per row, then gathered; 2,000 users × 64 pairs over a
    pool of 4,528 pairs cost what 4,528 pairs do. Plain difference arrays are wrapped with
    ``PairRows.of``.

    Example:
        >>> rows = PairRows.of(np.array([[1.0, 0.0], [0.0, 2.0]]))
        >>> rows.times(np.eye(2)).tolist()
        [[1.0, 0.0], [0.0, 2.0]]
    """

    x: np.ndarray
    chosen: np.ndarray
    rejected: np.ndarray

    @classmethod
    def of(cls, diffs: np.ndarray) -> PairRows:
        """Plain differences ``(n, d)``: each its own row, minus a zero row."""
        n, d = diffs.shape
        x = np.concatenate([np.asarray(diffs, dtype=np.float64), np.zeros((1, d))])
        return cls(x, np.arange(n), np.full(n, n))

    def __len__(self) -> int:
        return len(self.chosen)

    def times(self, basis: np.ndarray) -> np.ndarray:
        """Every pair's difference times ``basis``: ``(n, r)``."""
        xb = self.x @ basis
        return xb[self.chosen] - xb[self.rejected]

    def dense(self) -> np.ndarray:
        """The differences themselves ``(n, d)`` (memory: n × d)."""
        return self.x[self.chosen] - self.x[self.rejected]

    def subset(self, keep: np.ndarray) -> PairRows:
        return PairRows(self.x, self.chosen[keep], self.rejected[keep])


@dataclass
class LowRankFit:
    """The fitted basis ``(d, r)``, per-user weights ``(U, r)``, population ``(r,)`` and the
    objective per round."""

    basis: np.ndarray
    weights: np.ndarray
    population: np.ndarray
    history: list[dict[str, Any]] = field(default_factory=list)
    converged: bool = False


def pca_basis(diffs: np.ndarray | PairRows, users: np.ndarray, n_users: int, rank: int, *,
              seed: int = 0) -> np.ndarray:
    """A starting basis ``(d, rank)`` from the users' mean feature differences.

    Their right singular directions, strongest first, each with the sign most users lean
    on, then with the other sign too when at least a tenth of the users lean that way
    (weights are non-negative, so a direction users disagree about needs both). Columns are
    scaled to give pair margins of unit standard deviation; random directions fill a rank
    the users cannot.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> pca_basis(rng.normal(size=(40, 6)), np.repeat(np.arange(4), 10), 4, 3).shape
        (6, 3)
    """
    means = _user_means(diffs, users, n_users)
    _, sv, vt = np.linalg.svd(means, full_matrices=False)
    proj = means @ vt.T
    cols: list[np.ndarray] = []
    for j in range(len(vt)):
        if sv[j] <= 1e-9 * sv[0] or len(cols) >= rank:
            break
        pos = float((proj[:, j] > 0).mean())
        major, minor = (1.0, -1.0) if pos >= 0.5 else (-1.0, 1.0)
        cols.append(major * vt[j])
        if min(pos, 1.0 - pos) >= 0.1 and len(cols) < rank:
            cols.append(minor * vt[j])
    rows = diffs if isinstance(diffs, PairRows) else PairRows.of(diffs)
    dim = rows.x.shape[1]
    rng = np.random.default_rng(seed)
    while len(cols) < rank:
        cols.append(rng.normal(size=dim) / np.sqrt(dim))
    basis = np.stack(cols, axis=1)
    scale = rows.times(basis).std(axis=0) + 1e-12
    return basis / scale


def _user_means(diffs: np.ndarray | PairRows, users: np.ndarray, n_users: int) -> np.ndarray:
    rows = diffs if isinstance(diffs, PairRows) else PairRows.of(diffs)
    counts = np.bincount(users, minlength=n_users).astype(np.float64)
    # each user's sum of differences = (signed counts of each row per user) @ x, done as two
    # sparse tallies so memory stays n_users × rows, never pairs × d
    from scipy import sparse

    n = len(rows)
    tally = sparse.coo_matrix((np.concatenate([np.ones(n), -np.ones(n)]),
                               (np.concatenate([users, users]),
                                np.concatenate([rows.chosen, rows.rejected]))),
                              shape=(n_users, len(rows.x))).tocsr()
    sums = np.asarray(tally @ rows.x)
    return sums / np.maximum(counts, 1.0)[:, None]


def solve_user_weights(margins: np.ndarray, users: np.ndarray, n_users: int, prior: np.ndarray,
                       strength: float, *, start: np.ndarray | None = None,
                       iterations: int = 300, tol: float = 1e-6) -> np.ndarray:
    """Every user's non-negative weights at once, basis fixed: ``margins`` ``(n, r)`` are the
    basis reward differences of each pair, ``users`` ``(n,)`` the user of each pair. Maximises
    ``Σ_{i∈u} log σ(w_u·m_i) - λ/2 ||w_u - prior||²`` per user by accelerated projected
    gradient with per-user steps ``1/L_u`` (``L_u = ||M_u||²/4 + λ``; concave, so it
    converges). A user without pairs gets ``prior``.

    Example:
        >>> m = np.array([[1.0, -1.0]] * 4 + [[-1.0, 1.0]] * 4)
        >>> w = solve_user_weights(m, np.repeat([0, 1], 4), 2, np.array([0.5, 0.5]), 1.0)
        >>> bool(w[0, 0] > w[0, 1] and w[1, 1] > w[1, 0])
        True
    """
    w = np.tile(prior, (n_users, 1)) if start is None else start.copy()
    # pairs grouped by user once, so each gradient is one segment sum (np.add.at is slow)
    order = np.argsort(users, kind="stable")
    margins, users = margins[order], users[order]
    present = np.unique(users)
    starts = np.searchsorted(users, present)
    lip = np.full(n_users, strength, dtype=np.float64)
    sq = np.add.reduceat(margins[:, :, None] * margins[:, None, :], starts, axis=0)
    lip[present] += 0.25 * np.linalg.eigvalsh(sq)[:, -1]
    step = (1.0 / lip)[:, None]
    y, t = w.copy(), 1.0
    for _ in range(iterations):
        s = np.einsum("ij,ij->i", margins, y[users])
        coef = 1.0 / (1.0 + np.exp(np.clip(s, -50, 50)))  # σ(-s)
        grad = -strength * (y - prior)
        grad[present] += np.add.reduceat(margins * coef[:, None], starts, axis=0)
        new = np.maximum(y + step * grad, 0.0)
        t_new = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
        y = new + ((t - 1.0) / t_new) * (new - w)
        done = np.abs(new - w).max() < tol
        w, t = new, t_new
        if done:
            break
    return w


def _objective(diffs_b: np.ndarray, users: np.ndarray, w: np.ndarray, w0: np.ndarray,
               basis: np.ndarray, prior: float, l2: float, n: int) -> float:
    own = np.logaddexp(0.0, -np.einsum("ij,ij->i", diffs_b, w[users])).sum()
    pop = np.logaddexp(0.0, -(diffs_b @ w0)).sum()
    reg = 0.5 * prior * ((w - w0) ** 2).sum() + 0.5 * l2 * (basis ** 2).sum()
    return float((own + pop + reg) / n)


def fit_lowrank(diffs: np.ndarray | PairRows, users: np.ndarray, n_users: int, *, rank: int,
                prior: float = 1.0, l2: float = 1.0, init: np.ndarray | None = None,
                rounds: int = 30, basis_iterations: int = 20, tol: float = 1e-4
                ) -> LowRankFit:
    """Alternating minimisation of the objective in the module docstring.

    Args:
        diffs: standardised feature differences (chosen minus rejected) ``(n, d)``, or
            the same as ``PairRows`` (distinct rows and each pair's two indices).
        users: each pair's user index ``(n,)`` in ``[0, n_users)``.
        rank: basis size (ignored when ``init`` is given: its columns decide).
        prior: λ, the pull of each user's weights towards the population's.
        l2: μ, the ridge penalty of the basis (per pair: the objective is divided by n).
        init: a starting basis ``(d, r)``; default ``pca_basis``.
        rounds: at most this many (weights, basis) rounds.
        basis_iterations: L-BFGS iterations of each basis step.
        tol: stop when the objective's relative change in a round is below it.
    """
    with one_blas_thread():
        return _fit_lowrank(diffs, users, n_users, rank=rank, prior=prior, l2=l2, init=init,
                            rounds=rounds, basis_iterations=basis_iterations, tol=tol)


def _fit_lowrank(diffs: np.ndarray | PairRows, users: np.ndarray, n_users: int, *, rank: int,
                 prior: float, l2: float, init: np.ndarray | None, rounds: int,
                 basis_iterations: int, tol: float) -> LowRankFit:
    import torch

    rows = diffs if isinstance(diffs, PairRows) else PairRows.of(diffs)
    n = len(rows)
    basis = pca_basis(rows, users, n_users, rank) if init is None else np.asarray(
        init, dtype=np.float64)
    r = basis.shape[1]
    d_t = (torch.from_numpy(np.ascontiguousarray(rows.x, dtype=np.float32)),
           torch.from_numpy(rows.chosen.astype(np.int64)),
           torch.from_numpy(rows.rejected.astype(np.int64)))
    users_t = torch.from_numpy(users.astype(np.int64))
    w0 = np.full(r, 1.0 / r)
    w = np.tile(w0, (n_users, 1))
    history: list[dict[str, Any]] = []
    previous = None
    converged = False
    for round_ in range(1, rounds + 1):
        m = rows.times(basis)
        # weights step: the population (a global BT in the basis, pulled by the users' prior
        # terms) and every user, each convex with the other fixed
        w0 = _population_step(m, w, w0, prior)
        w = solve_user_weights(m, users, n_users, w0, prior, start=w)
        # basis step: a ridge logistic regression in B with every weight fixed
        basis = _basis_step(d_t, users_t, w, w0, basis, l2, n, basis_iterations)
        mb = rows.times(basis)
        value = _objective(mb, users, w, w0, basis, prior, l2, n)
        own = np.einsum("ij,ij->i", mb, w[users])
        # the keys every kind's training history has (``train`` prints the last round)
        history.append({"epoch": round_, "loss": value, "objective": value,
                        "accuracy": float(((own > 0) + 0.5 * (own == 0)).mean()),
                        "margin": float(own.mean())})
        if previous is not None and abs(previous - value) <= tol * abs(previous):
            converged = True
            break
        previous = value
    return LowRankFit(basis=basis, weights=w, population=w0, history=history,
                      converged=converged)


def _population_step(m: np.ndarray, w: np.ndarray, w0: np.ndarray, prior: float,
                     iterations: int = 300) -> np.ndarray:
    """``w_0 ≥ 0`` maximising ``Σ_i log σ(w_0·m_i) - λ/2 Σ_u ||w_u - w_0||²``."""
    n_users = len(w)
    lip = 0.25 * float(np.linalg.norm(m, 2) ** 2) + prior * n_users
    step = 1.0 / lip
    x = y = w0.copy()
    t = 1.0
    for _ in range(iterations):
        s = m @ y
        grad = m.T @ (1.0 / (1.0 + np.exp(np.clip(s, -50, 50)))) + prior * (w - y).sum(0)
        new = np.maximum(y + step * grad, 0.0)
        t_new = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
        y = new + ((t - 1.0) / t_new) * (new - x)
        done = np.abs(new - x).max() < 1e-8
        x, t = new, t_new
        if done:
            break
    return x


def _basis_step(d_t: tuple[Any, Any, Any], users_t: Any, w: np.ndarray, w0: np.ndarray,
                basis: np.ndarray, l2: float, n: int, iterations: int) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    wu = torch.from_numpy(w.astype(np.float32))[users_t]
    w0_t = torch.from_numpy(w0.astype(np.float32))
    b = torch.nn.Parameter(torch.from_numpy(basis.astype(np.float32)))
    opt = torch.optim.LBFGS([b], lr=1.0, max_iter=iterations, history_size=10,
                            line_search_fn="strong_wolfe", tolerance_grad=1e-6,
                            tolerance_change=1e-9)

    x_t, chosen_t, rejected_t = d_t

    def closure() -> Any:
        opt.zero_grad()
        xb = x_t @ b
        m = xb[chosen_t] - xb[rejected_t]
        loss = (F.softplus(-(m * wu).sum(1)).sum() + F.softplus(-(m @ w0_t)).sum()
                + 0.5 * l2 * (b * b).sum()) / n
        loss.backward()
        return loss

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # small products: a thread pool only adds barriers (see
    try:                      # train.loop.one_torch_thread, which models cannot import)
        opt.step(closure)
    finally:
        torch.set_num_threads(threads)
    return b.detach().double().numpy()
