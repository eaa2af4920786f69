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

__all__ = ["LowRankFit", "fit_lowrank", "pca_basis", "solve_user_weights"]


@dataclass
class LowRankFit:
    """The fitted basis ``(d, r)``, per-user weights ``(U, r)``, population ``(r,)`` and the
    objective per round."""

    basis: np.ndarray
    weights: np.ndarray
    population: np.ndarray
    history: list[dict[str, Any]] = field(default_factory=list)
    converged: bool = False


def pca_basis(diffs: np.ndarray, users: np.ndarray, n_users: int, rank: int, *,
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
    rng = np.random.default_rng(seed)
    while len(cols) < rank:
        cols.append(rng.normal(size=diffs.shape[1]) / np.sqrt(diffs.shape[1]))
    basis = np.stack(cols, axis=1)
    scale = (diffs @ basis).std(axis=0) + 1e-12
    return basis / scale


def _user_means(diffs: np.ndarray, users: np.ndarray, n_users: int) -> np.ndarray:
    counts = np.bincount(users, minlength=n_users).astype(np.float64)
    sums = np.zeros((n_users, diffs.shape[1]))
    np.add.at(sums, users, diffs)
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


def fit_lowrank(diffs: np.ndarray, users: np.ndarray, n_users: int, *, rank: int,
                prior: float = 1.0, l2: float = 1.0, init: np.ndarray | None = None,
                rounds: int = 30, basis_iterations: int = 20, tol: float = 1e-4
                ) -> LowRankFit:
    """Alternating minimisation of the objective in the module docstring.

    Args:
        diffs: standardised feature differences (chosen minus rejected) ``(n, d)``.
        users: each pair's user index ``(n,)`` in ``[0, n_users)``.
        rank: basis size (ignored when ``init`` is given: its columns decide).
        prior: λ, the pull of each user's weights towards the population's.
        l2: μ, the ridge penalty of the basis (per pair: the objective is divided by n).
        init: a starting basis ``(d, r)``; default ``pca_basis``.
        rounds: at most this many (weights, basis) rounds.
        basis_iterations: L-BFGS iterations of each basis step.
        tol: stop when the objective's relative change in a round is below it.
    """
    import torch

    n = len(diffs)
    basis = pca_basis(diffs, users, n_users, rank) if init is None else np.asarray(
        init, dtype=np.float64)
    r = basis.shape[1]
    d_t = torch.from_numpy(np.ascontiguousarray(diffs, dtype=np.float32))
    users_t = torch.from_numpy(users.astype(np.int64))
    w0 = np.full(r, 1.0 / r)
    w = np.tile(w0, (n_users, 1))
    history: list[dict[str, Any]] = []
    previous = None
    converged = False
    for round_ in range(1, rounds + 1):
        m = diffs @ basis
        # weights step: the population (a global BT in the basis, pulled by the users' prior
        # terms) and every user, each convex with the other fixed
        w0 = _population_step(m, w, w0, prior)
        w = solve_user_weights(m, users, n_users, w0, prior, start=w)
        # basis step: a ridge logistic regression in B with every weight fixed
        basis = _basis_step(d_t, users_t, w, w0, basis, l2, n, basis_iterations)
        mb = diffs @ basis
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


def _basis_step(d_t: Any, users_t: Any, w: np.ndarray, w0: np.ndarray, basis: np.ndarray,
                l2: float, n: int, iterations: int) -> np.ndarray:
    import torch
    import torch.nn.functional as F

    wu = torch.from_numpy(w.astype(np.float32))[users_t]
    w0_t = torch.from_numpy(w0.astype(np.float32))
    b = torch.nn.Parameter(torch.from_numpy(basis.astype(np.float32)))
    opt = torch.optim.LBFGS([b], lr=1.0, max_iter=iterations, history_size=10,
                            line_search_fn="strong_wolfe", tolerance_grad=1e-6,
                            tolerance_change=1e-9)

    def closure() -> Any:
        opt.zero_grad()
        m = d_t @ b
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
