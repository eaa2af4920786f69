"""``personal:`` — a low-rank basis of reward heads shared by everyone, and per user a
non-negative mixture over it, fitted from that user's own few pairs (LoRe; "Capturing
Individual Human Preferences with Reward Features").

People disagree about which reply is better, and one reward model averages the disagreement
away. Here ``rank`` basis rewards ``b(x) ∈ R^r`` are learned from many users' pairs (the
``user`` column) over cached sentence embeddings, jointly with each training user's weights
``w_u ≥ 0`` and a population mixture ``w_0`` fitted to every pair at once (so with no
knowledge of a user the model is a global Bradley–Terry model restricted to the basis). A
new user's weights are then a small convex problem over their ``k`` pairs with the basis
frozen — ``Σ log σ(w·Δb) - λ/2 ||w - w_0||²`` with ``w ≥ 0`` — solved in milliseconds
(``fit_user_weights``); ``k = 0`` gives back ``w_0``. A user the model has no pairs from is
scored with ``w_0``, and the scoring details say so (``user_fit: "population"``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab._validation import check_int, check_option, check_positive
from rewardlab.data import Dataset, Prompt, require_task, user_key
from rewardlab.errors import CapabilityError, ConfigError, DataError, NotFittedError, SpecError
from rewardlab.models._lowrank import PairRows
from rewardlab.models._module import SaveLoadMixin
from rewardlab.models.embedding import EmbeddingRewardModel
from rewardlab.models.registry import config_from_options, register_kind

__all__ = ["PersonalConfig", "PersonalRewardModel", "fit_user_weights"]


@dataclass(frozen=True, kw_only=True, slots=True)
class PersonalConfig:
    """Settings of a ``personal:`` model; every field is also a spec option.

    Args:
        encoder: the sentence encoder (``minilm`` or a directory).
        rank: how many basis reward heads.
        head: ``linear`` (``rank`` linear heads), ``mlp`` (a shared hidden layer, then
            ``rank`` outputs, joint AdamW from a random start) or ``residual`` (the linear
            alternating fit plus a one-hidden-layer ReLU trunk of ``hidden`` units added to
            its ``rank`` outputs, trained from there jointly with the users' weights and
            stopped early on the training users' own held-back pairs;
            ``models._residual_basis``).
        init: where the basis starts. ``auto``: ``pca`` for a linear or residual basis,
            ``random`` for an MLP. ``pca``: the leading directions of the training users' own mean
            preference directions (``models._lowrank.pca_basis``), then alternating
            minimisation to convergence (``fit_lowrank``). A ``multi:`` model (a directory
            or spec): its attribute heads, distilled into linear directions, start the basis
            (the rest from ``pca``). ``random``: joint AdamW training from a random start
            (the only way for ``mlp``). See benchmarks/README.md for what each reaches.
        basis_l2: μ, the ridge penalty of the linear basis (alternating fit; the
            objective is per pair). 1000 was chosen on 200 simulated basis users' own
            held-back pairs (``benchmarks/personal.py``), where λ = 0.1 fitted new users
            best (``DIR?prior=0.1``).
        rounds: at most this many weights/basis rounds of the alternating fit; it stops
            earlier when the objective changes by less than 1e-4 (relative) in a round.
        hidden, dropout: the MLP's width and dropout.
        trunk_steps, trunk_lr: ``head=residual``: at most this many full-batch AdamW steps
            of the trunk (validation every 10; the best step is kept, 0 included), and
            their learning rate (``weight_decay`` is the trunk's decay). 200 steps: with
            1,000-2,000 simulated basis users the validation still rose at step 100 (it
            peaks within ~50 steps with 200 users; stopping keeps that step either way).
            Which head to use: with 1,000 basis users ``head=residual`` beat ``linear`` on
            held-out users by 1.0 point at k = 16 (paired CI +0.2…+1.8), with 200 by 0.4
            (inside the noise); see benchmarks/README.md.
        val_fraction: ``head=residual``: the share of each training user's pairs (their
            last ones) held back from both stages to choose the step.
        prior: λ, how strongly a user's weights are pulled towards the population's, in
            training and when a new user is fitted (a user with few pairs stays near it;
            with many, their own pairs decide).
        epochs, batch_size, lr, weight_decay, seed: AdamW training of basis and weights
            (``init=random``).
        weights_lr: the learning rate of the users' and the population's weights (AdamW).
        user: the user whose reward ``score`` gives when a call names none (empty: the
            population mixture).
    """

    encoder: str = "minilm"
    rank: int = 8
    max_length: int = 256
    features: tuple[str, ...] = ("reply", "turn*reply", "joint")
    head: str = "linear"
    init: str = "auto"
    basis_l2: float = 1000.0
    rounds: int = 30
    hidden: int = 256
    trunk_steps: int = 200
    trunk_lr: float = 1e-4
    val_fraction: float = 0.2
    dropout: float = 0.1
    prior: float = 1.0
    epochs: int = 30
    batch_size: int = 256
    lr: float = 2e-3
    weights_lr: float = 5e-2
    weight_decay: float = 0.01
    seed: int = 0
    user: str = ""

    def __post_init__(self) -> None:
        owner = "PersonalConfig"
        check_int(owner, "rank", self.rank)
        check_option(owner, "head", self.head, ("linear", "mlp", "residual"))
        check_int(owner, "hidden", self.hidden)
        check_positive(owner, "prior", self.prior)
        check_positive(owner, "basis_l2", self.basis_l2, allow_zero=True)
        check_int(owner, "rounds", self.rounds)
        check_int(owner, "trunk_steps", self.trunk_steps, minimum=0)
        check_positive(owner, "trunk_lr", self.trunk_lr)
        if not 0.0 < self.val_fraction < 1.0:
            raise ConfigError(f"{owner}: val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.head == "residual" and self.init == "random":
            raise ConfigError("head=residual starts from the linear alternating fit; "
                              "init=random is for head=mlp")
        if self.head == "mlp" and self.init not in ("auto", "random"):
            raise ConfigError(f"init={self.init} starts a linear basis; an mlp basis trains "
                              "from a random start (init=random or auto)")
        check_int(owner, "epochs", self.epochs)
        check_int(owner, "batch_size", self.batch_size)
        check_positive(owner, "lr", self.lr)
        check_int(owner, "seed", self.seed, minimum=0)


def fit_user_weights(diffs: np.ndarray, prior: np.ndarray, strength: float, *,
                     iterations: int = 500) -> np.ndarray:
    """Non-negative weights ``w`` over the basis maximising ``Σ log σ(w·Δ_i) - λ/2 ||w -
    w_0||²`` for a user's pairs, ``diffs`` = ``Δ`` ``(k, r)`` (basis rewards of chosen minus
    rejected). Concave with a box constraint: projected gradient ascent with the step
    ``1 / L`` from its Lipschitz bound converges, and costs microseconds at these sizes.

    Example:
        >>> w = fit_user_weights(np.array([[1.0, -1.0]] * 8), np.array([0.5, 0.5]), 1.0)
        >>> bool(w[0] > 0.5 > w[1] >= 0)
        True
    """
    w = prior.astype(np.float64).copy()
    if len(diffs) == 0:
        return w
    lipschitz = 0.25 * float(np.linalg.norm(diffs, 2) ** 2) + strength
    step = 1.0 / lipschitz
    for _ in range(iterations):
        margin = diffs @ w
        grad = diffs.T @ (1.0 / (1.0 + np.exp(margin))) - strength * (w - prior)
        new = np.maximum(w + step * grad, 0.0)
        if np.abs(new - w).max() < 1e-7:
            w = new
            break
        w = new
    return w


def _records_by_user(data: Dataset[Any], purpose: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for r in data.records:
        user = user_key(r.user)
        if user is None:
            raise DataError(f"has no 'user', which {purpose} needs on every pair",
                            file=data.source, line=r.line, field="user")
        out.setdefault(user, []).append(r)
    return out


@register_kind("personal")
class PersonalRewardModel(SaveLoadMixin):
    """A low-rank basis of rewards with a weight vector per user; a ``UserScorer``.

    Args:
        cache: the embedding cache, as for ``EmbeddingRewardModel``.
        **params: fields of ``PersonalConfig``.

    Example:
        >>> PersonalRewardModel(rank=4).config.rank
        4
    """

    kind = "personal"
    config_class = PersonalConfig
    saves_weights = True
    spec: str | None = None

    def __init__(self, *, cache: bool | str | Path = True, **params: Any) -> None:
        self.config = PersonalConfig(**params)
        self.cache = cache

    @classmethod
    def from_spec(cls, arg: str, options: dict[str, str]) -> PersonalRewardModel:
        kind, _, encoder = (arg or "embed:minilm").partition(":")
        if kind != "embed":
            raise SpecError(f"'personal:{arg}' learns its basis over shared embeddings: write "
                            "personal:embed:minilm?rank=8")
        config = config_from_options(PersonalConfig, options, spec=f"personal:{arg}",
                                     fixed={"encoder": encoder or "minilm"})
        return cls(**asdict(config))

    def with_options(self, options: Mapping[str, str]) -> PersonalRewardModel:
        """This trained model scoring for another default user (``DIR?user=alice``)."""
        if set(options) - {"user", "prior"}:
            raise SpecError("a saved personal: model takes only 'user' and 'prior' as options; "
                            f"got {', '.join(options)}")
        new = PersonalRewardModel(cache=self.cache, **{
            **asdict(self.config), **{k: (float(v) if k == "prior" else v)
                                      for k, v in options.items()}})
        new.__dict__.update({k: v for k, v in self.__dict__.items() if k.endswith("_")})
        if hasattr(self, "user_weights_"):
            new.user_weights_ = dict(self.user_weights_)  # adapting the copy leaves this be
        new._embed = getattr(self, "_embed", None)
        return new

    # --- features ------------------------------------------------------------------------

    @property
    def embedder(self) -> EmbeddingRewardModel:
        """Computes the features (an unfitted ``embed:`` model: its encoder and blocks)."""
        if getattr(self, "_embed", None) is None:
            cfg = self.config
            self._embed = EmbeddingRewardModel(cache=self.cache, encoder=cfg.encoder,
                                               max_length=cfg.max_length,
                                               features=cfg.features)
        return self._embed

    @property
    def encoder(self) -> Any:
        return self.embedder.encoder

    def basis_rewards(self, prompts: Sequence[Prompt], responses: Sequence[str]
                      ) -> np.ndarray:
        """Every basis head's reward, ``(n, rank)``."""
        import torch

        self._check_fitted()
        feats = self.embedder.features(prompts, responses)
        x = torch.from_numpy(((feats - self.feature_mean_) / self.feature_scale_)
                             .astype(np.float32))
        with torch.inference_mode():
            return self.basis_(x).double().numpy()

    def _build_basis(self, dim: int) -> Any:
        import torch

        from rewardlab.models._head_io import build_head

        cfg = self.config
        if cfg.head == "residual":
            from rewardlab.models._residual_basis import ResidualBasis

            return ResidualBasis(dim, cfg.rank, cfg.hidden, cfg.dropout)
        head = build_head(cfg, dim)

        last = head if isinstance(head, torch.nn.Linear) else head[-1]
        new_last = torch.nn.Linear(last.in_features, cfg.rank)
        if isinstance(head, torch.nn.Linear):
            return new_last
        head[-1] = new_last
        return head

    # --- training ------------------------------------------------------------------------

    def fit(self, data: Dataset[Any]) -> PersonalRewardModel:
        """Learn the basis, each training user's weights and the population mixture from
        pairs with a ``user`` column. Returns ``self``."""
        require_task(data, ("pairwise",), purpose="training a personal: model")
        by_user = _records_by_user(data, "training a personal: model")
        users = sorted(by_user)
        records = [r for u in users for r in by_user[u]]
        index = np.array([i for i, u in enumerate(users) for _ in by_user[u]])
        # every distinct (prompt, reply) is embedded and standardised once: many users label
        # the same replies, and the fits work on rows + indices (``PairRows``)
        distinct: dict[tuple[Any, str], int] = {}
        chosen = np.array([distinct.setdefault((r.prompt, r.chosen), len(distinct))
                           for r in records])
        rejected = np.array([distinct.setdefault((r.prompt, r.rejected), len(distinct))
                             for r in records])
        feats = self.embedder.features([p for p, _ in distinct], [t for _, t in distinct])
        n = len(records)
        # moments over the 2n replies as the pairs count them (duplicates included)
        counts = np.bincount(np.concatenate([chosen, rejected]), minlength=len(feats))
        mean = (counts @ feats.astype(np.float64)) / counts.sum()
        scale = np.sqrt(counts @ (feats - mean) ** 2 / counts.sum()) + 1e-6
        rows = PairRows(((feats - mean) / scale).astype(np.float32), chosen, rejected)
        cfg = self.config
        init = cfg.init if cfg.init != "auto" else ("random" if cfg.head == "mlp" else "pca")
        if init == "random":
            basis, population, fitted = self._fit_joint(rows, index, len(users))
        else:
            start = None
            if init != "pca":
                start = self._basis_from_heads(init, records, rows, index, len(users))
            if cfg.head == "residual":
                basis, population, fitted = self._fit_residual(rows, index, len(users), start)
            else:
                basis, population, fitted = self._fit_alternating(rows, index, len(users),
                                                                  start)
        self.basis_ = basis
        self.feature_mean_ = mean.astype(np.float32)
        self.feature_scale_ = scale.astype(np.float32)
        self.population_ = population
        self.user_weights_ = {u: fitted[i] for i, u in enumerate(users)}
        self.n_train_pairs_ = n
        self.n_train_users_ = len(users)
        return self

    def _fit_alternating(self, rows: PairRows, index: np.ndarray, n_users: int,
                         start: np.ndarray | None) -> tuple[Any, np.ndarray, np.ndarray]:
        """The linear basis by alternating minimisation (``fit_lowrank``)."""
        import torch

        from rewardlab.models._lowrank import fit_lowrank
        from rewardlab.train.loop import one_torch_thread

        cfg = self.config
        with one_torch_thread():
            fit = fit_lowrank(rows, index, n_users,
                              rank=cfg.rank, prior=cfg.prior, l2=cfg.basis_l2, init=start,
                              rounds=cfg.rounds)
        self.history_ = fit.history
        self.converged_ = fit.converged
        basis = self._build_basis(rows.x.shape[1])
        with torch.no_grad():
            basis.weight.copy_(torch.from_numpy(fit.basis.T.astype(np.float32)))
            basis.bias.zero_()
        basis.eval()
        return basis, fit.population, fit.weights

    def _fit_residual(self, rows: PairRows, index: np.ndarray, n_users: int,
                      start: np.ndarray | None) -> tuple[Any, np.ndarray, np.ndarray]:
        """``head=residual``: the linear alternating fit on each user's first pairs, then
        the trunk (``fit_residual``), its step chosen on their last ``val_fraction``."""
        import torch

        from rewardlab.models._lowrank import fit_lowrank
        from rewardlab.models._residual_basis import fit_residual
        from rewardlab.train.loop import one_torch_thread

        cfg = self.config
        n = len(rows)
        counts = np.bincount(index, minlength=n_users)
        position = np.zeros(n, dtype=np.int64)
        seen = np.zeros(n_users, dtype=np.int64)
        for i, u in enumerate(index):
            position[i] = seen[u]
            seen[u] += 1
        held = np.where(counts >= 2, np.maximum(1, np.round(cfg.val_fraction * counts)), 0)
        val = position >= counts[index] - held[index]
        train = ~val
        with one_torch_thread():
            fit = fit_lowrank(rows.subset(train), index[train], n_users, rank=cfg.rank,
                              prior=cfg.prior, l2=cfg.basis_l2, init=start, rounds=cfg.rounds)
            basis = self._build_basis(rows.x.shape[1])
            with torch.no_grad():
                basis.linear.weight.copy_(torch.from_numpy(fit.basis.T.astype(np.float32)))
                basis.linear.bias.zero_()
            trunk = fit_residual(basis, rows, index, val, n_users, fit.weights,
                                 fit.population, prior=cfg.prior, lr=cfg.trunk_lr,
                                 weight_decay=cfg.weight_decay, steps=cfg.trunk_steps,
                                 seed=cfg.seed)
        self.history_ = fit.history
        self.converged_ = fit.converged
        self.trunk_validation_ = trunk.validation
        self.trunk_best_step_ = trunk.best_step
        assert trunk.weights is not None and trunk.population is not None
        return basis, trunk.population, trunk.weights

    def _basis_from_heads(self, spec: str, records: Sequence[Any], rows: PairRows,
                          index: np.ndarray, n_users: int) -> np.ndarray:
        """A starting basis from a ``multi:`` model's attribute heads: each head's
        standardised reward difference regressed (ridge) on the feature difference, so the
        basis starts at the known attributes; further columns come from ``pca_basis``."""
        from rewardlab.models._lowrank import pca_basis
        from rewardlab.models.base import AttributeScorer, describe
        from rewardlab.models.registry import resolve

        heads = resolve(spec)
        if not isinstance(heads, AttributeScorer):
            raise CapabilityError(f"init={spec} starts the basis from attribute heads, but "
                                  f"'{describe(heads)}' has none; give a trained multi: model "
                                  "or init=pca")
        k = len(heads.attributes)
        if self.config.rank < k:
            raise ConfigError(f"rank={self.config.rank} is smaller than the {k} attribute "
                              f"heads of {spec} that start the basis; use rank >= {k}")
        prompts = [r.prompt for r in records]
        _, z = heads.score_attributes(prompts + prompts, [r.chosen for r in records]
                                      + [r.rejected for r in records])
        n = len(records)
        dz = np.stack([z[a][:n] - z[a][n:] for a in heads.attributes], axis=1)
        dx = rows.dense().astype(np.float64)
        gram = dx.T @ dx + n * np.eye(dx.shape[1])  # ridge 1 per pair, on standardised x
        directions = np.linalg.solve(gram, dx.T @ dz)
        directions /= (dx @ directions).std(axis=0) + 1e-12
        if self.config.rank == k:
            return directions
        rest = pca_basis(rows, index, n_users, self.config.rank - k)
        return np.concatenate([directions, rest], axis=1)

    def _fit_joint(self, rows: PairRows, index_np: np.ndarray, n_users: int
                   ) -> tuple[Any, np.ndarray, np.ndarray]:
        """Basis and weights by joint AdamW from a random start (``init=random``)."""
        import torch
        import torch.nn.functional as F

        from rewardlab.train.loop import one_torch_thread

        x_rows = torch.from_numpy(rows.x)
        x = torch.cat([x_rows[torch.from_numpy(rows.chosen)],
                       x_rows[torch.from_numpy(rows.rejected)]])
        index = torch.from_numpy(index_np.astype(np.int64))
        n = len(rows)
        cfg = self.config
        gen = torch.Generator().manual_seed(cfg.seed)
        with torch.random.fork_rng(devices=[]), one_torch_thread():
            torch.manual_seed(cfg.seed)
            basis = self._build_basis(x.shape[1])
            # small random starts break the symmetry between users; weights learn faster than
            # the basis (each user's see only their own pairs) and are not decayed
            raw_users = torch.nn.Parameter(0.1 * torch.randn(n_users, cfg.rank,
                                                             generator=gen))
            raw_pop = torch.nn.Parameter(torch.zeros(cfg.rank))
            opt = torch.optim.AdamW([
                {"params": list(basis.parameters())},
                {"params": [raw_users, raw_pop], "lr": cfg.weights_lr, "weight_decay": 0.0},
            ], lr=cfg.lr, weight_decay=cfg.weight_decay)
            self.history_ = []
            for epoch in range(1, cfg.epochs + 1):
                basis.train()
                total = 0.0
                for batch in torch.randperm(n, generator=gen).split(cfg.batch_size):
                    b = basis(torch.cat([x[batch], x[n + batch]]))
                    diff = b[: len(batch)] - b[len(batch):]
                    w_user = F.softplus(raw_users[index[batch]])
                    w_pop = F.softplus(raw_pop)
                    loss = (-F.logsigmoid((diff * w_user).sum(1)).mean()
                            - F.logsigmoid(diff @ w_pop).mean())
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += loss.item() * len(batch)
                with torch.no_grad():  # what `train` reports, as for every kind
                    basis.eval()
                    b = basis(x)
                    margin = ((b[:n] - b[n:]) * F.softplus(raw_users[index])).sum(1)
                    hits = (margin > 0).float() + 0.5 * (margin == 0).float()
                self.history_.append({"epoch": epoch, "loss": total / n,
                                      "accuracy": hits.mean().item(),
                                      "margin": margin.mean().item()})
            basis.eval()
        with torch.no_grad():
            return (basis, F.softplus(raw_pop).double().numpy(),
                    F.softplus(raw_users).double().numpy())

    def adapt(self, data: Dataset[Any]) -> dict[str, int]:
        """Fit the weights of each user in ``data`` (pairs with a ``user`` column) from their
        own pairs, the basis untouched; returns pairs used per user."""
        self._check_fitted()
        require_task(data, ("pairwise",), purpose="adapting a personal: model to users")
        by_user = _records_by_user(data, "adapting a personal: model")
        used = {}
        for user, records in by_user.items():
            self.user_weights_[user] = self.fit_user(records)
            used[user] = len(records)
        return used

    def fit_user(self, records: Sequence[Any]) -> np.ndarray:
        """One user's weights from their pairs (``fit_user_weights``)."""
        prompts = [r.prompt for r in records]
        b = self.basis_rewards(prompts + prompts, [r.chosen for r in records]
                               + [r.rejected for r in records])
        k = len(records)
        return fit_user_weights(b[:k] - b[k:], self.population_, self.config.prior)

    # --- scoring -------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if getattr(self, "basis_", None) is None:
            name = self.spec or "personal:embed:" + self.config.encoder
            raise NotFittedError(
                f"PersonalRewardModel '{name}' is not trained yet: run `rewardlab train DATA "
                f"--model {name} --out DIR` on pairs with a 'user' column")

    def score_users(self, prompts: Sequence[Prompt], responses: Sequence[str],
                    users: Sequence[str | None]) -> tuple[np.ndarray, list[str]]:
        """Rewards with each item's user's weights (the population's for a user without
        adaptation data) and which it was."""
        self._check_fitted()
        if len(responses) == 0:
            return np.zeros(0), []
        b = self.basis_rewards(prompts, responses)
        default = user_key(self.config.user)
        w = np.empty_like(b)
        fits = []
        for i, user in enumerate(users):
            user = user_key(user) or default  # a server request's "alice " is alice
            found = self.user_weights_.get(user) if user is not None else None
            w[i] = self.population_ if found is None else found
            fits.append("population" if found is None else "adapted")
        return (b * w).sum(axis=1), fits

    def score(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """Rewards for the configured ``user`` (the population mixture when none)."""
        return self.score_users(prompts, responses, [None] * len(responses))[0]

    # --- persistence ---------------------------------------------------------------------

    def saved_tensors(self) -> dict[str, Any]:
        self._check_fitted()
        users = sorted(self.user_weights_)
        tensors: dict[str, Any] = {f"basis.{k}": v for k, v in self.basis_.state_dict().items()}
        tensors["feature_mean"] = self.feature_mean_
        tensors["feature_scale"] = self.feature_scale_
        tensors["population"] = self.population_
        tensors["user_weights"] = (np.stack([self.user_weights_[u] for u in users])
                                   if users else np.zeros((0, self.config.rank)))
        return tensors

    def saved_state(self) -> dict[str, Any]:
        self._check_fitted()
        return {"users": sorted(self.user_weights_), "n_train_pairs": self.n_train_pairs_,
                "n_train_users": self.n_train_users_}

    def restore(self, tensors: dict[str, Any], state: dict[str, Any]) -> None:
        self.feature_mean_ = tensors["feature_mean"].numpy()
        self.feature_scale_ = tensors["feature_scale"].numpy()
        basis = self._build_basis(self.feature_mean_.shape[0])
        basis.load_state_dict({k.removeprefix("basis."): v for k, v in tensors.items()
                               if k.startswith("basis.")})
        basis.eval()
        self.basis_ = basis
        self.population_ = tensors["population"].double().numpy()
        weights = tensors["user_weights"].double().numpy()
        users = state.get("users", [])
        if len(users) != len(weights):
            # a KeyError here is reported by load as a ModelFormatError naming the file
            raise KeyError(f"{len(users)} users but {len(weights)} weight rows")
        self.user_weights_ = {u: weights[i] for i, u in enumerate(users)}
        self.n_train_pairs_ = state.get("n_train_pairs", 0)
        self.n_train_users_ = state.get("n_train_users", 0)
        self.history_ = []

