"""``multi:`` — one reward head per attribute over shared frozen embeddings, combined by weights
that every call may change.

One scalar reward hides which quality it measures. Here each attribute (harmlessness,
instruction following, factuality, conciseness, ...) gets its own Bradley–Terry head, trained
on its own preference set, all reading the same cached MiniLM embeddings (one encoder pass
serves every head). Each head's reward is standardised by its training rewards, so a weight
of 1 means the same on every attribute, then combined (Fine-Grained RLHF; ArmoRM's gate;
"Transforming and Combining Rewards"):

* ``sum``: ``Σ w_a · min(z_a, cap_a)`` — the weighted sum, with an optional cap per term;
* ``logsigmoid``: ``Σ w_a · log σ(min(z_a, cap_a))`` — a soft conjunction: one attribute far
  below its average costs more than another far above it gains;
* ``gate``: lexicographic — a response whose gate attribute is below the threshold gets
  ``z_gate - threshold - 100``, below every response that passes; those are ranked by ``sum``;
* ``learned``: ArmoRM-style — a small network maps the prompt's embedding to weights over the
  attributes (softmax), trained on a preference set named ``gate`` at fit time.

Weights given per call (a ``weights`` column, ``score --weights``, a server request field, an
RL adapter's argument) replace the model's own; an attribute left out weighs 0.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab._validation import check_option
from rewardlab.data import Dataset, Prompt, last_user_turn, parse_weights
from rewardlab.errors import ConfigError, DataError, ModelFormatError, NotFittedError, SpecError
from rewardlab.models._module import SaveLoadMixin
from rewardlab.models._saved import read_manifest
from rewardlab.models.embedding import EmbeddingRewardModel
from rewardlab.models.registry import config_from_options, register_kind

__all__ = ["COMBINES", "GATE_SET", "MultiConfig", "MultiRewardModel", "combine_rewards"]

COMBINES = ("sum", "logsigmoid", "gate", "learned")
#: The name of the training set that trains the learned gate (``combine=learned``).
GATE_SET = "gate"
#: How far below every passing response a response failing the lexicographic gate lands.
GATE_DROP = 100.0
#: Fields of ``EmbedConfig`` that a ``multi:`` model passes to each of its heads.
HEAD_FIELDS = ("max_length", "features", "head", "hidden", "dropout", "epochs", "batch_size",
               "lr", "weight_decay", "seed", "soft_labels")


@dataclass(frozen=True, kw_only=True, slots=True)
class MultiConfig:
    """Settings of a ``multi:`` model; every field is also a spec option.

    Args:
        encoder: the sentence encoder every head reads (``minilm`` or a directory).
        heads: the attribute names; empty takes them from the training sets' names.
        combine: ``sum``, ``logsigmoid``, ``gate`` or ``learned`` (module docstring).
        weights: the model's own weights, ``harmless:1,helpful:0.5`` (empty: all equal).
        caps: per-attribute caps on a term, ``concise:1`` (standardised reward units).
        gate: ``ATTRIBUTE:THRESHOLD`` for ``combine=gate``.
        gate_epochs: training epochs of the learned gate.
        Others: each head's ``EmbedConfig`` settings.
    """

    encoder: str = "minilm"
    heads: tuple[str, ...] = ()
    combine: str = "sum"
    weights: str = ""
    caps: str = ""
    gate: str = ""
    gate_epochs: int = 20
    max_length: int = 256
    features: tuple[str, ...] = ("reply", "turn*reply", "joint")
    head: str = "mlp"
    hidden: int = 256
    dropout: float = 0.3
    epochs: int = 2
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.1
    seed: int = 0
    soft_labels: bool = False

    def __post_init__(self) -> None:
        check_combination("MultiConfig", self)


def check_combination(owner: str, config: Any) -> None:
    """Check the combination fields (``heads``, ``combine``, ``weights``, ``caps``, ``gate``)
    that every ``multi:`` config shares; ``owner`` names the config in the message."""
    check_option(owner, "combine", config.combine, COMBINES)
    if len(set(config.heads)) != len(config.heads):
        raise ConfigError(f"The 'heads' parameter of {owner} names an attribute twice: "
                          f"{', '.join(config.heads)}")
    for what in ("weights", "caps", "gate"):
        text = getattr(config, what)
        if text:
            try:
                parse_weights(text, f"'{what}'")
            except ValueError as exc:
                raise ConfigError(f"The '{what}' parameter of {owner}: {exc}") from None
    if config.combine == "gate" and len(parse_weights(config.gate or "x:0")) != 1:
        raise ConfigError(f"The 'gate' parameter of {owner} names one attribute and its "
                          "threshold, e.g. gate=harmless:0")


def _as_mapping(weights: Any) -> dict[str, float]:
    """Weights given as a mapping, text or (name, weight) pairs, checked like a row's (a
    number each, finite, no name twice): ``ConfigError`` otherwise."""
    if not isinstance(weights, Mapping | str):
        try:
            weights = [(name, w) for name, w in weights]
        except (TypeError, ValueError):
            raise ConfigError(f"weights must map attributes to numbers (harmless=1,helpful=0.5 "
                              f"or an object), got {type(weights).__name__}") from None
        if len({name for name, _ in weights}) < len(weights):
            raise ConfigError("the weights give an attribute twice; give each attribute once")
        weights = dict(weights)
    try:
        return dict(parse_weights(weights))
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def combine_rewards(z: np.ndarray, attributes: Sequence[str], weights: np.ndarray, *,
                    combine: str = "sum", caps: Mapping[str, float] | None = None,
                    gate: tuple[str, float] | None = None) -> np.ndarray:
    """Combine standardised per-attribute rewards ``z`` ``(n, k)`` with per-item weights
    ``(n, k)`` (rows sum to 1). ``combine``: ``sum`` (also what ``learned`` uses once its
    gate has chosen the weights), ``logsigmoid`` or ``gate``.

    Example:
        >>> z = np.array([[2.0, -1.0], [-1.0, 2.0]])
        >>> combine_rewards(z, ["a", "b"], np.array([[1.0, 0.0]] * 2)).tolist()
        [2.0, -1.0]
        >>> combine_rewards(z, ["a", "b"], np.full((2, 2), 0.5), combine="gate",
        ...                 gate=("a", 0.0)).tolist()
        [0.5, -101.0]
    """
    terms = z.copy()
    for name, cap in (caps or {}).items():
        terms[:, list(attributes).index(name)] = np.minimum(
            terms[:, list(attributes).index(name)], cap)
    if combine == "logsigmoid":
        terms = -np.logaddexp(0.0, -terms)
    out = (terms * weights).sum(axis=1)
    if combine == "gate" and gate is not None:
        g = z[:, list(attributes).index(gate[0])]
        out = np.where(g >= gate[1], out, g - gate[1] - GATE_DROP)
    return out


@register_kind("multi")
class MultiRewardModel(SaveLoadMixin):
    """One embedding head per attribute, combined by (per-call) weights; an
    ``AttributeScorer``.

    Args:
        cache: the embedding cache, as for ``EmbeddingRewardModel``.
        **params: fields of ``MultiConfig``.

    Example:
        >>> model = MultiRewardModel(heads=("harmless", "concise"), weights="harmless:2")
        >>> model.attributes
        ('harmless', 'concise')
    """

    kind = "multi"
    config_class = MultiConfig
    saves_weights = True
    spec: str | None = None

    def __init__(self, *, cache: bool | str | Path = True, **params: Any) -> None:
        self.config = MultiConfig(**params)
        self.cache = cache
        self.heads_: dict[str, EmbeddingRewardModel] = {}

    @classmethod
    def from_spec(cls, arg: str, options: dict[str, str]) -> MultiRewardModel:
        kind, _, encoder = (arg or "embed:minilm").partition(":")
        if kind == "seq":  # one fine-tuned backbone with a head per attribute
            from rewardlab.models.multi_seq import MultiSeqRewardModel

            return MultiSeqRewardModel.from_spec(encoder, options)
        if kind != "embed":
            raise SpecError(f"'multi:{arg}' needs heads over shared features: write "
                            "multi:embed:minilm (or multi:embed:DIR), or multi:seq:PATH")
        config = config_from_options(MultiConfig, options, spec=f"multi:{arg}",
                                     fixed={"encoder": encoder or "minilm"})
        return cls(**asdict(config))

    def with_options(self, options: Mapping[str, str]) -> MultiRewardModel:
        """This trained model with combination settings replaced (``DIR?weights=...``)."""
        allowed = ("combine", "weights", "caps", "gate")
        bad = [k for k in options if k not in allowed]
        if bad:
            raise SpecError(f"a saved multi: model takes only {', '.join(allowed)} as options; "
                            f"got {', '.join(bad)}")
        new = copy.copy(self)  # the trained heads are shared, the settings replaced
        new.config = replace(self.config, **options)
        if new.config.combine == "learned" and getattr(self, "gate_", None) is None:
            # else the weights would silently stay the defaults for every prompt
            raise ConfigError("combine=learned picks weights with the gate trained beside the "
                              "heads; this model has none (train it with combine=learned and "
                              f"--data {GATE_SET}=FILE, or choose another combine)")
        new.check_weights(new._default_weights())
        return new

    # --- attributes and weights ----------------------------------------------------------

    @property
    def attributes(self) -> tuple[str, ...]:
        return tuple(self.heads_) if self.heads_ else self.config.heads

    def check_weights(self, weights: Any) -> dict[str, float]:
        """``weights`` as a full mapping over the attributes (left-out ones weigh 0).

        Raises:
            ConfigError: an unknown attribute, a negative weight, or weights summing to 0.
        """
        given = _as_mapping(weights)
        known = self.attributes
        for name, value in given.items():
            if name not in known:
                raise ConfigError(f"unknown attribute '{name}' in the weights; model "
                                  f"'{self.spec or 'multi:'}' has {', '.join(known)}")
            if value < 0:
                raise ConfigError(f"the weight of '{name}' is {value:g}; attribute weights "
                                  "must be zero or more")
        if sum(given.values()) <= 0:
            raise ConfigError("the attribute weights sum to 0; give at least one a positive "
                              "weight")
        return {a: given.get(a, 0.0) for a in known}

    def _check_attribute(self, name: str, option: str) -> None:
        if name not in self.attributes:
            raise ConfigError(f"unknown attribute '{name}' in the '{option}' option; model "
                              f"'{self.spec or 'multi:'}' has {', '.join(self.attributes)}")

    def _default_weights(self) -> dict[str, float]:
        if self.config.weights:
            return dict(parse_weights(self.config.weights))
        return dict.fromkeys(self.attributes, 1.0)

    def _weight_matrix(self, n: int, weights: Sequence[Any] | None,
                       prompts: Sequence[Prompt]) -> np.ndarray:
        known = self.attributes
        default = self.check_weights(self._default_weights())
        out = np.empty((n, len(known)))
        gated = self.config.combine == "learned" and getattr(self, "gate_", None) is not None
        if gated:
            out[:] = self._gate_weights(prompts)
        else:
            out[:] = [default[a] for a in known]
        for i, w in enumerate(weights or ()):
            if w is not None:
                full = self.check_weights(w)
                out[i] = [full[a] for a in known]
        # scaled by each row's largest weight first: huge weights (1e308) must not overflow
        out = out / out.max(axis=1, keepdims=True)
        return out / out.sum(axis=1, keepdims=True)

    # --- features, training --------------------------------------------------------------

    def _head_params(self) -> dict[str, Any]:
        return {f: getattr(self.config, f) for f in HEAD_FIELDS} | {
            "encoder": self.config.encoder}

    def _new_head(self) -> EmbeddingRewardModel:
        head = EmbeddingRewardModel(cache=self.cache, **self._head_params())
        first = next(iter(self.heads_.values()), None)
        if first is not None and getattr(first, "_encoder", None) is not None:
            head._encoder = first._encoder  # one loaded encoder and cache for every head
        elif getattr(self, "_shared", None) is not None:
            head._encoder = self._shared.encoder
        return head

    @property
    def encoder(self) -> Any:
        """The one sentence encoder every head reads (its ``encoded_texts`` counts misses)."""
        if getattr(self, "_shared", None) is None:
            self._shared = EmbeddingRewardModel(cache=self.cache, **self._head_params())
        return self._shared.encoder

    def fit(self, data: Mapping[str, Dataset[Any]] | Dataset[Any]) -> MultiRewardModel:
        """Train one head per named training set (``{"harmless": data, ...}``); with
        ``combine=learned`` the set named ``gate`` trains the gate instead. A single data
        set trains one head per ``subset``. Returns ``self``."""
        sets, gate_data = self._training_sets(data)
        self.encoder  # noqa: B018 - load the shared encoder once, before the heads
        self.heads_ = {}
        self.scale_ = {}
        for name, train in sets.items():
            head = self._new_head()
            head._encoder = self._shared.encoder
            head.fit(train)
            rewards = _train_rewards(head, train)
            self.scale_[name] = (float(rewards.mean()), float(rewards.std() + 1e-6))
            self.heads_[name] = head
        self.history_ = [h.history_[-1] | {"attribute": a} for a, h in self.heads_.items()
                         if h.history_]
        self.n_train_pairs_ = {a: h.n_train_pairs_ for a, h in self.heads_.items()}
        self.gate_ = None
        if gate_data is not None:
            self.gate_ = self._fit_gate(gate_data)
        return self

    def _training_sets(self, data: Mapping[str, Dataset[Any]] | Dataset[Any]
                       ) -> tuple[dict[str, Dataset[Any]], Dataset[Any] | None]:
        """Each head's training set in head order, and the learned gate's set (or None).

        Raises:
            ConfigError: a head has no data, a set names no head, or the gate has no set.
        """
        sets = dict(data) if isinstance(data, Mapping) else _by_subset(data)
        gate_data = sets.pop(GATE_SET, None) if self.config.combine == "learned" else None
        if self.config.combine == "learned" and gate_data is None:
            raise ConfigError("combine=learned trains its gate on a preference set named "
                              f"'{GATE_SET}': add --data {GATE_SET}=FILE")
        wanted = self.config.heads or tuple(sets)
        for name in sets:
            # weights are written NAME=W,NAME:W and spec options joined by & after a ?: a
            # name holding one of these could never be steered
            bad = [c for c in ",:=&?" if c in name]
            if not name.strip() or name != name.strip() or bad:
                why = f"it holds {bad[0]!r}" if bad else "spaces at its ends"
                raise ConfigError(f"the attribute name {name!r} cannot be used in weights "
                                  f"({why}); name each set without , : = & ? or surrounding "
                                  "spaces (e.g. --data harmless=FILE)")
        missing = [a for a in wanted if a not in sets or len(sets[a]) == 0]
        if missing:
            raise ConfigError(f"attribute head(s) {', '.join(missing)} have no training data; "
                              f"give --data {missing[0]}=FILE (sets given: "
                              f"{', '.join(sets) or 'none'})")
        extra = [a for a in sets if a not in wanted]
        if extra:
            raise ConfigError(f"training set(s) {', '.join(extra)} name no head of this model "
                              f"(heads: {', '.join(wanted)})")
        return {name: sets[name] for name in wanted}, gate_data

    def _fit_gate(self, data: Dataset[Any]) -> Any:
        """ArmoRM-style: a linear map from the last user turn's embedding to a softmax over
        the attributes, trained with Bradley–Terry on the combined reward."""
        import torch

        from rewardlab.train.loop import one_torch_thread

        records = data.records
        prompts = [r.prompt for r in records]
        zc = torch.from_numpy(self._z(prompts, [r.chosen for r in records]))
        zr = torch.from_numpy(self._z(prompts, [r.rejected for r in records]))
        turns = torch.from_numpy(self._prompt_features(prompts)).double()
        gen = torch.Generator().manual_seed(self.config.seed)
        with torch.random.fork_rng(devices=[]), one_torch_thread():
            torch.manual_seed(self.config.seed)
            gate = torch.nn.Linear(turns.shape[1], zc.shape[1]).double()
            torch.nn.init.zeros_(gate.weight)
            torch.nn.init.zeros_(gate.bias)
            opt = torch.optim.AdamW(gate.parameters(), lr=1e-2, weight_decay=0.01)
            for _ in range(self.config.gate_epochs):
                for batch in torch.randperm(len(records), generator=gen).split(64):
                    w = torch.softmax(gate(turns[batch]), dim=1)
                    diff = (w * (zc[batch] - zr[batch])).sum(dim=1)
                    loss = -torch.nn.functional.logsigmoid(diff).mean()
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
        gate.eval()
        return gate

    def _prompt_features(self, prompts: Sequence[Prompt]) -> np.ndarray:
        """What the learned gate reads: the embedding of each prompt's last user turn."""
        return self.encoder.embed([last_user_turn(p) for p in prompts], truncate="left")

    def _gate_weights(self, prompts: Sequence[Prompt]) -> np.ndarray:
        import torch

        turns = self._prompt_features(prompts)
        with torch.inference_mode():
            return torch.softmax(self.gate_(torch.from_numpy(turns).double()), dim=1).numpy()

    # --- scoring -------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not self.heads_:
            name = self.spec or "multi:embed:" + self.config.encoder
            raise NotFittedError(
                f"MultiRewardModel '{name}' is not trained yet: run `rewardlab train --model "
                f"{name} --data ATTRIBUTE=FILE ... --out DIR` and use DIR as the model")

    def _z(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """Standardised rewards ``(n, k)`` of every head, from one embedding pass."""
        self._check_fitted()
        heads = list(self.heads_.values())
        feats = heads[0].features(prompts, responses)
        cols = []
        for name, head in self.heads_.items():
            mean, std = self.scale_[name]
            cols.append((head.score_features(feats) - mean) / std)
        return np.stack(cols, axis=1)

    def score_attributes(self, prompts: Sequence[Prompt], responses: Sequence[str],
                         weights: Sequence[Any] | None = None
                         ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """Combined rewards and each attribute's standardised reward, ``(n,)`` each."""
        self._check_fitted()
        n = len(responses)
        if n == 0:
            return np.zeros(0), {a: np.zeros(0) for a in self.attributes}
        z = self._z(prompts, responses)
        w = self._weight_matrix(n, weights, prompts)
        cfg = self.config
        caps = dict(parse_weights(cfg.caps)) if cfg.caps else None
        for name in caps or ():
            self._check_attribute(name, "caps")
        gate = None
        if cfg.combine == "gate":
            if not cfg.gate:
                raise ConfigError("combine=gate needs gate=ATTRIBUTE:THRESHOLD")
            gate = parse_weights(cfg.gate)[0]
            self._check_attribute(gate[0], "gate")
        how = "sum" if cfg.combine == "learned" else cfg.combine
        combined = combine_rewards(z, self.attributes, w, combine=how, caps=caps, gate=gate)
        return combined, {a: z[:, j] for j, a in enumerate(self.attributes)}

    def score(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """The combined reward with the model's own weights."""
        return self.score_attributes(prompts, responses)[0]

    # --- persistence ---------------------------------------------------------------------

    @classmethod
    def load(cls, directory: str | Path, manifest: dict[str, Any] | None = None) -> Any:
        """The model saved in ``directory``; a ``multi:seq:`` one is a transformers checkpoint
        with one logit per attribute (``models/multi_seq.py``)."""
        if manifest is None:
            manifest = read_manifest(directory)
            if manifest["kind"] != cls.kind:
                raise ModelFormatError(f"{directory} holds a model of kind "
                                       f"'{manifest['kind']}', not {cls.kind}:")
        if (manifest.get("state") or {}).get("backbone") == "seq":
            from rewardlab.models.multi_seq import MultiSeqRewardModel

            return MultiSeqRewardModel.load_checkpoint(Path(directory), manifest)
        return super().load(directory, manifest)

    def saved_tensors(self) -> dict[str, Any]:
        self._check_fitted()
        out: dict[str, Any] = {}
        for name, head in self.heads_.items():
            out.update({f"{name}/{k}": v for k, v in head.saved_tensors().items()})
        if getattr(self, "gate_", None) is not None:
            out.update({f"{GATE_SET}.{k}": v for k, v in self.gate_.state_dict().items()})
        return out

    def saved_state(self) -> dict[str, Any]:
        self._check_fitted()
        return {"attributes": list(self.heads_), "scale": self.scale_,
                "n_train_pairs": self.n_train_pairs_,
                "gate": getattr(self, "gate_", None) is not None}

    def restore(self, tensors: dict[str, Any], state: dict[str, Any]) -> None:
        import torch

        self.heads_ = {}
        for name in state["attributes"]:
            head = self._new_head()
            prefix = f"{name}/"
            head.restore({k[len(prefix):]: v for k, v in tensors.items()
                          if k.startswith(prefix)}, {})
            self.heads_[name] = head
        self.scale_ = {k: tuple(v) for k, v in state["scale"].items()}
        self.n_train_pairs_ = state.get("n_train_pairs", {})
        self.gate_ = None
        if state.get("gate"):
            w = tensors[f"{GATE_SET}.weight"]
            gate = torch.nn.Linear(w.shape[1], w.shape[0]).double()
            gate.load_state_dict({"weight": w.double(),
                                  "bias": tensors[f"{GATE_SET}.bias"].double()})
            gate.eval()
            self.gate_ = gate
        self.history_ = []


def _by_subset(data: Dataset[Any]) -> dict[str, Dataset[Any]]:
    """One training set per ``subset`` of a single file (rows without one are refused)."""
    out: dict[str, list[Any]] = {}
    for r in data.records:
        if r.subset is None:
            raise DataError("has no 'subset', which names its attribute when one file trains "
                            "a multi: model; or give each set with --data NAME=FILE",
                            file=data.source, line=r.line, field="subset")
        out.setdefault(r.subset, []).append(r)
    return {k: replace(data, records=tuple(v)) for k, v in out.items()}


def _train_rewards(head: EmbeddingRewardModel, data: Dataset[Any]) -> np.ndarray:
    """A head's rewards on both sides of its training pairs (cached embeddings): the scale
    that makes one unit of reward mean the same on every attribute."""
    from rewardlab.data import best_of_n_to_pairs

    records = best_of_n_to_pairs(data).records
    prompts = [r.prompt for r in records]
    return head.score(prompts + prompts, [r.chosen for r in records]
                      + [r.rejected for r in records])

