"""``ensemble:`` — several reward models combined, with their disagreement as uncertainty.

Reward-model ensembles are the standard guard against over-optimisation (Coste et al., 2024,
"Reward Model Ensembles Help Mitigate Overoptimization"): ``agg=mean`` averages members,
``agg=min`` is worst-case optimisation (WCO), ``agg=uwo`` is uncertainty-weighted
optimisation, mean − λ·variance. The member standard deviation is reported as the
uncertainty of every reward.

Embedding members that read the same features from the same encoder share one feature
computation: an ensemble of K heads costs one embedding pass plus K small matrix products.

Spec: ``ensemble:SPEC1,SPEC2,...?agg=uwo&lambda=0.5``. Members are specs or saved
directories; a member spec with its own options is written in parentheses, e.g.
``ensemble:(embed:minilm?seed=1),(embed:minilm?seed=2)``. ``rewardlab train --ensemble K``
trains K members of one spec with different seeds and bootstrap samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab._validation import check_option, check_positive
from rewardlab.data import Dataset, Prompt
from rewardlab.errors import ConfigError, ModelFormatError, RewardLabError, SpecError
from rewardlab.models._clone import clone
from rewardlab.models._module import SaveLoadMixin
from rewardlab.models.base import Trainable, UncertainScorer, describe, require_capability
from rewardlab.models.registry import register_kind, resolve

__all__ = ["AGGREGATIONS", "EnsembleRewardModel", "split_members"]

AGGREGATIONS = ("mean", "min", "uwo")


@dataclass(frozen=True, slots=True)
class EnsembleConfig:
    """How members' rewards combine: ``agg`` from ``AGGREGATIONS``; ``lam`` weighs the
    variance penalty of ``uwo``."""

    agg: str = "mean"
    lam: float = 0.5

    def __post_init__(self) -> None:
        check_option("ensemble", "agg", self.agg, AGGREGATIONS)
        check_positive("ensemble", "lambda", self.lam, allow_zero=True)


def split_members(arg: str) -> list[str]:
    """Member specs from ``a,b,(c?x=1&y=2)``: commas inside parentheses do not split."""
    members, depth, current = [], 0, []
    for ch in arg:
        if ch == "(":
            depth += 1
            if depth == 1:
                continue
        elif ch == ")":
            depth -= 1
            if depth < 0:
                raise SpecError(f"unbalanced ')' in ensemble members '{arg}'")
            if depth == 0:
                continue
        if ch == "," and depth == 0:
            members.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    if depth:
        raise SpecError(f"unbalanced '(' in ensemble members '{arg}'")
    members.append("".join(current).strip())
    if any(not m for m in members):
        raise SpecError(f"empty member in ensemble '{arg}'; separate member specs with commas")
    return members


@register_kind("ensemble")
class EnsembleRewardModel(SaveLoadMixin, UncertainScorer):
    """Members scored on the same inputs; ``score`` aggregates, ``score_with_uncertainty``
    also returns the members' standard deviation.

    Example:
        >>> split_members("embed:minilm,(embed:minilm?seed=1&head=linear)")
        ['embed:minilm', 'embed:minilm?seed=1&head=linear']
    """

    kind = "ensemble"
    config_class = EnsembleConfig
    spec: str | None = None

    def __init__(self, members: Sequence[Any], *, agg: str = "mean", lam: float = 0.5) -> None:
        if len(members) < 2:
            raise ConfigError(f"an ensemble needs at least 2 members; got {len(members)}")
        self.members = list(members)
        self.config = EnsembleConfig(agg=agg, lam=lam)

    @classmethod
    def from_spec(cls, arg: str, options: dict[str, str]) -> EnsembleRewardModel:
        for key in options:
            if key not in ("agg", "lambda"):
                raise SpecError(f"unknown option '{key}' for ensemble:; allowed: agg, lambda")
        try:
            lam = float(options.get("lambda", 0.5))
        except ValueError:
            raise SpecError(f"ensemble option lambda must be a number, got "
                            f"{options['lambda']!r}") from None
        members = []
        for text in split_members(arg):
            try:
                members.append(resolve(text))
            except RewardLabError as exc:
                raise type(exc)(f"ensemble member '{text}': {exc}") from None
        return cls(members, agg=options.get("agg", "mean"), lam=lam)

    # --- scoring -------------------------------------------------------------------------

    def member_scores(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """Rewards of every member, ``(n_members, n)``; shared features computed once, and
        heads of one shape evaluated together as one stacked head."""
        out = np.empty((len(self.members), len(responses)), dtype=np.float64)
        groups: dict[Any, list[int]] = {}
        for i, member in enumerate(self.members):
            key = _feature_key(member)
            if key is None:
                out[i] = member.score(prompts, responses)
            else:
                groups.setdefault(key, []).append(i)
        for key, idx in groups.items():
            feats = self.members[idx[0]].features(prompts, responses)
            stacked = self._stacked_heads(key, idx)
            if stacked is not None:
                out[idx] = stacked(feats)
            else:
                for i in idx:
                    out[i] = self.members[i].score_features(feats)
        return out

    def _stacked_heads(self, key: Any, idx: list[int]) -> _StackedHeads | None:
        cache = self.__dict__.setdefault("_stacked", {})
        if key not in cache:
            cache[key] = _StackedHeads.build([self.members[i] for i in idx])
        return cache[key]

    def score_with_uncertainty(self, prompts: Sequence[Prompt], responses: Sequence[str]
                               ) -> tuple[np.ndarray, np.ndarray]:
        """Aggregated rewards and the members' standard deviation, both ``(n,)``."""
        scores = self.member_scores(prompts, responses)
        std = scores.std(axis=0)
        agg = self.config.agg
        if agg == "mean":
            reward = scores.mean(axis=0)
        elif agg == "min":
            reward = scores.min(axis=0)
        else:
            reward = scores.mean(axis=0) - self.config.lam * scores.var(axis=0)
        return reward, std

    def score(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        return self.score_with_uncertainty(prompts, responses)[0]

    # --- training and persistence --------------------------------------------------------

    def fit(self, data: Dataset[Any]) -> EnsembleRewardModel:
        """Fit every member on ``data`` as given (``train_ensemble`` adds bootstrap samples)."""
        for member in self.members:
            require_capability(member, Trainable, "train")
            member.fit(data)
        return self

    # --- composition and persistence (``clone`` and ``SaveLoadMixin``) -------------------

    @property
    def submodels(self) -> list[Any]:
        return self.members

    def rebuild(self, submodels: Sequence[Any], **config: Any) -> EnsembleRewardModel:
        return EnsembleRewardModel(submodels, **config)

    def saved_submodels(self) -> dict[str, Any]:
        """A directory per member: ``member-0``, ``member-1``, ..."""
        return {f"member-{i}": member for i, member in enumerate(self.members)}

    def saved_state(self) -> dict[str, Any]:
        return {"members": list(self.saved_submodels()),
                "member_kinds": [getattr(m, "kind", describe(m)) for m in self.members]}

    @classmethod
    def from_saved(cls, directory: Path, config: dict[str, Any], state: dict[str, Any]
                   ) -> EnsembleRewardModel:
        names = state.get("members")
        if not isinstance(names, list) or len(names) < 2:
            raise ModelFormatError(f"{directory}/rewardlab.json lists no ensemble members")
        members = []
        for name in names:
            if not (directory / str(name)).is_dir():
                raise ModelFormatError(f"{directory} is missing its member folder '{name}'")
            members.append(resolve(directory / str(name)))
        return cls(members, **config)


class _StackedHeads:
    """K trained heads as one: feature standardisation folded into the first layer, first
    layers stacked into one matrix, second layers applied with one einsum.

    Five small heads otherwise cost five rounds of normalisation, matmuls and thread
    start-ups, which on warm-cache scoring outweigh the shared embedding lookup.
    """

    def __init__(self, w1: np.ndarray, b1: np.ndarray, w2: np.ndarray | None,
                 b2: np.ndarray | None) -> None:
        self.w1, self.b1, self.w2, self.b2 = w1, b1, w2, b2

    @classmethod
    def build(cls, members: list[Any]) -> _StackedHeads | None:
        """None unless every member is a fitted linear head, or every one an MLP of one width."""
        from torch import nn

        layers = []
        for m in members:
            head = getattr(m, "head_", None)
            if head is None:
                return None
            linears = [mod for mod in head.modules() if isinstance(mod, nn.Linear)]
            if len(linears) not in (1, 2):
                return None
            first = linears[0]
            w = first.weight.detach().double().numpy() / m.feature_scale_.astype(np.float64)
            b = first.bias.detach().double().numpy() - w @ m.feature_mean_.astype(np.float64)
            second = linears[1] if len(linears) == 2 else None
            layers.append((w, b, second))
        shapes = {(w.shape, s is None) for w, _, s in layers}
        if len(shapes) != 1:
            return None
        w1 = np.concatenate([w for w, _, _ in layers]).astype(np.float32)
        b1 = np.concatenate([b for _, b, _ in layers]).astype(np.float32)
        if layers[0][2] is None:
            return cls(w1, b1, None, None)
        w2 = np.stack([s.weight.detach().numpy()[0] for _, _, s in layers])
        b2 = np.array([s.bias.detach().numpy()[0] for _, _, s in layers], dtype=np.float32)
        return cls(w1, b1, w2, b2)

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        import torch
        import torch.nn.functional as F

        with torch.inference_mode():
            x = torch.from_numpy(np.ascontiguousarray(feats, dtype=np.float32))
            h = torch.addmm(torch.from_numpy(self.b1), x, torch.from_numpy(self.w1).T)
            if self.w2 is None:
                return h.T.double().numpy()
            k, width = self.w2.shape
            h = F.gelu(h).view(len(x), k, width)
            out = torch.einsum("nkh,kh->kn", h, torch.from_numpy(self.w2))
            return (out + torch.from_numpy(self.b2)[:, None]).double().numpy()


def _feature_key(member: Any) -> Any:
    """Members with equal keys read identical features (same encoder, blocks, length)."""
    if not (hasattr(member, "features") and hasattr(member, "score_features")):
        return None
    cfg = member.config
    return (type(member), cfg.encoder, cfg.max_length, tuple(cfg.features))


def train_ensemble(spec: str | Any, data: Dataset[Any], k: int, *, bootstrap: bool = True,
                   agg: str = "mean", lam: float = 0.5,
                   params: dict[str, Any] | None = None) -> EnsembleRewardModel:
    """K members of one trainable spec, each with its own seed and bootstrap sample.

    Embedding members share the encoder and its cache, so the texts are embedded once.
    """
    if k < 2:
        raise ConfigError(f"--ensemble needs at least 2 members; got {k}")
    base = resolve(spec) if isinstance(spec, str | Path) else spec
    require_capability(base, Trainable, "train")
    params = dict(params or {})
    seed0 = int(params.pop("seed", getattr(getattr(base, "config", None), "seed", 0)))
    rng = np.random.default_rng(seed0)
    members: list[Any] = []
    for i in range(k):
        member = clone(base, **params, seed=seed0 + i)
        if members and getattr(members[0], "_encoder", None) is not None:
            member._encoder = members[0]._encoder  # one loaded encoder for all members
        sample = data
        if bootstrap:
            sample = data.take(sorted(rng.integers(0, len(data), len(data)).tolist()))
        members.append(member.fit(sample))
    return EnsembleRewardModel(members, agg=agg, lam=lam)
