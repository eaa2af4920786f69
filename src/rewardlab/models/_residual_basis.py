"""A nonlinear ``personal:`` basis (``head=residual``): the linear basis of the alternating
fit plus a one-hidden-layer MLP trunk whose ``rank`` outputs are added to it,
``b(x) = B x + W_2 relu(W_1 x)``, trained jointly with every training user's non-negative
weights.

Why: the users a personal model meets may prefer things a linear function of the sentence
embedding cannot express (the simulated users of ``benchmarks/personal.py`` are mixtures of
MLP heads; the linear basis tops out well below the heads themselves). Why this shape: the
output layer ``W_2`` starts at zero, so training starts *exactly* at the linear alternating
fit (``models._lowrank.fit_lowrank``) and the trunk only adds to it. Early stopping on the
training users' own held-back pairs (each user's weights refitted from their training pairs
with the basis frozen, as a new user is) keeps the step with the best validation accuracy,
step 0 included — so on that validation the result is never worse than the linear start.
The linear part stays frozen (it is already the convex-block optimum; moving it only adds
variance).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardlab._threads import one_blas_thread
from rewardlab.models._lowrank import PairRows, solve_user_weights

__all__ = ["ResidualBasis", "ResidualFit", "fit_residual"]


def _module_class() -> Any:
    import torch
    from torch import nn

    class ResidualBasis(nn.Module):
        """``linear(x) + out(dropout(relu(hidden(x))))``, ``rank`` outputs."""

        def __init__(self, dim: int, rank: int, hidden: int, dropout: float) -> None:
            super().__init__()
            self.linear = nn.Linear(dim, rank)
            self.hidden = nn.Linear(dim, hidden)
            self.drop = nn.Dropout(dropout)
            self.out = nn.Linear(hidden, rank, bias=False)
            nn.init.zeros_(self.out.weight)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(x) + self.out(self.drop(torch.relu(self.hidden(x))))

    return ResidualBasis


def ResidualBasis(dim: int, rank: int, hidden: int, dropout: float) -> Any:
    """The module (built lazily so importing this file does not import torch).

    Example:
        >>> import torch
        >>> m = ResidualBasis(6, 3, 4, 0.0)
        >>> tuple(m(torch.zeros(2, 6)).shape)
        (2, 3)
    """
    return _module_class()(dim, rank, hidden, dropout)


@dataclass
class ResidualFit:
    """The chosen step, the validation accuracy per checked step, and the training rows."""

    best_step: int
    validation: list[tuple[int, float]] = field(default_factory=list)
    weights: np.ndarray | None = None
    population: np.ndarray | None = None


def _validation_accuracy(margins_train: np.ndarray, users_train: np.ndarray,
                         margins_val: np.ndarray, users_val: np.ndarray, n_users: int,
                         population: np.ndarray, prior: float, adapt_pairs: int) -> float:
    """Mean over users of accuracy on their held-back pairs, each user's weights refitted
    (basis frozen) from their first ``adapt_pairs`` training pairs — what a new user gets."""
    keep = np.zeros(len(users_train), dtype=bool)
    seen: dict[int, int] = {}
    for i, u in enumerate(users_train):
        if seen.get(u, 0) < adapt_pairs:
            keep[i] = True
            seen[u] = seen.get(u, 0) + 1
    w = solve_user_weights(margins_train[keep], users_train[keep], n_users, population, prior)
    s = np.einsum("ij,ij->i", margins_val, w[users_val])
    hit = (s > 0) + 0.5 * (s == 0)
    per_user = np.bincount(users_val, weights=hit, minlength=n_users)
    counts = np.bincount(users_val, minlength=n_users)
    return float((per_user[counts > 0] / counts[counts > 0]).mean())


def fit_residual(module: Any, rows: PairRows, users: np.ndarray, val: np.ndarray,
                 n_users: int, weights: np.ndarray, population: np.ndarray, *, prior: float,
                 lr: float, weight_decay: float, steps: int, seed: int = 0,
                 check_every: int = 10, adapt_pairs: int = 16) -> ResidualFit:
    """Train ``module``'s trunk (its ``linear`` part already holds the linear basis and stays
    frozen) jointly with the users' weights ``w_u ≥ 0`` and the population ``w_0 ≥ 0`` by
    full-batch AdamW (weights projected onto ``≥ 0`` after each step), on the pairs where
    ``val`` is False; every ``check_every`` steps score the ``val`` pairs
    (``_validation_accuracy``) and keep the best state. ``module`` ends in that state.

    ``rows`` holds the distinct feature rows and each pair's chosen and rejected row; the
    module runs once per row per step, however many pairs share it."""
    import copy

    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    train = ~val
    x = torch.from_numpy(np.ascontiguousarray(rows.x, dtype=np.float32))
    tc = torch.from_numpy(rows.chosen[train].astype(np.int64))
    tr = torch.from_numpy(rows.rejected[train].astype(np.int64))
    vc = torch.from_numpy(rows.chosen[val].astype(np.int64))
    vr = torch.from_numpy(rows.rejected[val].astype(np.int64))
    u_train, u_val = users[train], users[val]
    index = torch.from_numpy(u_train.astype(np.int64))
    n = len(u_train)
    w = torch.nn.Parameter(torch.from_numpy(weights.astype(np.float32)))
    w0 = torch.nn.Parameter(torch.from_numpy(population.astype(np.float32)))
    module.linear.requires_grad_(False)
    trunk = [p for name, p in module.named_parameters() if not name.startswith("linear.")]
    opt = torch.optim.AdamW([{"params": trunk, "weight_decay": weight_decay},
                             {"params": [w, w0], "weight_decay": 0.0}], lr=lr)

    def check() -> float:
        if not len(u_val):
            return 0.0
        module.eval()
        with torch.no_grad():
            out = module(x)
            mt = (out[tc] - out[tr]).double().numpy()
            mv = (out[vc] - out[vr]).double().numpy()
        with one_blas_thread():
                return _validation_accuracy(mt, u_train, mv, u_val, n_users,
                                        w0.detach().double().numpy(), prior, adapt_pairs)

    result = ResidualFit(best_step=0)
    best = (check(), copy.deepcopy(module.state_dict()), w.detach().clone(), w0.detach().clone())
    result.validation.append((0, round(best[0], 4)))
    for step in range(1, steps + 1):
        module.train()
        out = module(x)
        d = out[tc] - out[tr]
        loss = (F.softplus(-(d * w[index]).sum(1)).sum() + F.softplus(-(d @ w0)).sum()
                + 0.5 * prior * ((w - w0) ** 2).sum()) / n
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            w.clamp_(min=0.0)
            w0.clamp_(min=0.0)
        if step % check_every == 0 or step == steps:
            value = check()
            result.validation.append((step, round(value, 4)))
            if value > best[0]:
                best = (value, copy.deepcopy(module.state_dict()), w.detach().clone(),
                        w0.detach().clone())
                result.best_step = step
    module.load_state_dict(best[1])
    module.linear.requires_grad_(True)
    module.eval()
    result.weights = best[2].double().numpy()
    result.population = best[3].double().numpy()
    return result
