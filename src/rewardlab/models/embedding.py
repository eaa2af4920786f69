"""``embed:`` — a frozen sentence encoder with a small trainable head (Bradley–Terry).

The CPU-fast reward model: texts are embedded once (and cached on disk), so training is a few
seconds of matrix products and re-scoring seen texts costs nothing.

What to embed was measured on HH harmless (5-fold cross-validation grouped by conversation,
1,812 pairs, 3 head seeds; see ``benchmarks/README.md``). The whole dialogue alone under the
MLP head reaches ~0.58; the reply, its element-wise product with the last user turn and the
two read as one text reach ~0.61. The reply carries most of the signal (refusal vs.
compliance); the product lets the head ask whether the reply addresses what was asked, which a
difference of sums cannot. Adding the whole dialogue as a fourth block reaches ~0.618 but
embeds two more long texts per pair, which would take the demo past two minutes cold on two
cores, so it is an option (``features=reply,turn*reply,joint,dialogue``), not the default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab._validation import check_int, check_option, check_positive, check_range
from rewardlab.data import (
    Dataset,
    Prompt,
    best_of_n_to_pairs,
    last_user_turn,
    render_prompt,
    require_task,
)
from rewardlab.errors import ConfigError, DataError, NotFittedError
from rewardlab.models._encoder import SentenceEncoder, open_encoder
from rewardlab.models._head_io import build_head, head_tensors, restore_head
from rewardlab.models._module import SaveLoadMixin
from rewardlab.models.base import FitOptions, NoiseAware
from rewardlab.models.registry import config_from_options, register_kind
from rewardlab.train.losses import LOSSES

__all__ = ["FEATURE_BLOCKS", "EmbedConfig", "EmbeddingRewardModel"]

#: Embedding blocks a head can read. ``reply``: the response; ``turn``: the last user
#: message; ``context``: the whole prompt (left-truncated); ``joint``: last turn and reply read
#: as one text (the reply kept whole, the turn cut from the left); ``dialogue``: the whole
#: prompt and the reply as one text (reply kept, prompt cut from the left); ``a*b``:
#: element-wise product of two blocks.
FEATURE_BLOCKS = ("reply", "turn", "context", "joint", "dialogue", "turn*reply",
                  "context*reply")
HEADS = ("linear", "mlp")


@dataclass(frozen=True, kw_only=True, slots=True)
class EmbedConfig:
    """Settings of an embedding reward model; every field is also a spec option.

    Args:
        encoder: ``minilm`` (all-MiniLM-L6-v2, shipped on PyPI) or a sentence-transformers
            model directory.
        max_length: tokens per embedded text.
        features: embedding blocks the head reads, from ``FEATURE_BLOCKS``.
        head: ``mlp`` (one hidden layer, GELU, dropout) or ``linear``.
        hidden: width of the MLP's hidden layer.
        dropout: dropout before each MLP layer.
        loss: ``bt``, ``margin`` (needs a ``margin`` column) or ``label-smoothing``.
        label_smoothing: assumed label-flip rate for ``loss=label-smoothing``.
        center_coef: TRL's reward-centring coefficient (0 = off).
        epochs, batch_size, lr, weight_decay: AdamW training of the head. Two epochs by
            default: on HH the head's held-out accuracy peaks at epoch 1-2 and falls
            after (5-fold CV: 0.627 at 1, 0.625 at 2, 0.612 at 5, 0.609 at 30); with
            much less data than ~1,000 pairs, raise it.
        seed: fixes initialisation, batch order and dropout.
        soft_labels: train towards each pair's share of annotator votes (``votes`` /
            ``meta.votes``) instead of a hard 1: the target probability that the chosen
            reply is better (``soft_label_targets``).
    """

    encoder: str = "minilm"
    max_length: int = 256
    features: tuple[str, ...] = ("reply", "turn*reply", "joint")
    head: str = "mlp"
    hidden: int = 256
    dropout: float = 0.3
    loss: str = "bt"
    label_smoothing: float = 0.1
    center_coef: float = 0.0
    epochs: int = 2
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 0.1
    seed: int = 0
    soft_labels: bool = False

    def __post_init__(self) -> None:
        owner = "EmbedConfig"
        check_int(owner, "max_length", self.max_length, minimum=8)
        if not self.features:
            raise ConfigError("The 'features' parameter of EmbedConfig must name at least one "
                              f"block from {', '.join(FEATURE_BLOCKS)}. Got none.")
        for block in self.features:
            check_option(owner, "features", block, FEATURE_BLOCKS)
        check_option(owner, "head", self.head, HEADS)
        check_int(owner, "hidden", self.hidden)
        check_range(owner, "dropout", self.dropout, 0.0, 1.0)
        check_option(owner, "loss", self.loss, LOSSES)
        check_range(owner, "label_smoothing", self.label_smoothing, 0.0, 0.5)
        check_positive(owner, "center_coef", self.center_coef, allow_zero=True)
        check_int(owner, "epochs", self.epochs)
        check_int(owner, "batch_size", self.batch_size)
        check_positive(owner, "lr", self.lr)
        check_positive(owner, "weight_decay", self.weight_decay, allow_zero=True)
        check_int(owner, "seed", self.seed, minimum=0)


@register_kind("embed")
class EmbeddingRewardModel(SaveLoadMixin, NoiseAware):
    """A frozen sentence encoder plus a small head trained with a Bradley–Terry loss.

    Args:
        cache: where embeddings are cached: ``True`` for the default directory
            (``$REWARDLAB_CACHE_DIR`` or ``~/.cache/rewardlab``), a directory, or ``False``.
        **params: fields of ``EmbedConfig``.

    Example:
        >>> model = EmbeddingRewardModel(head="linear", epochs=5)
        >>> model.config.head
        'linear'
    """

    kind = "embed"
    config_class = EmbedConfig
    saves_weights = True
    spec: str | None = None

    def __init__(self, *, cache: bool | str | Path = True, **params: Any) -> None:
        self.config = EmbedConfig(**params)
        self.cache = cache

    # --- construction --------------------------------------------------------------------

    @classmethod
    def from_spec(cls, arg: str, options: dict[str, str]) -> EmbeddingRewardModel:
        config = config_from_options(EmbedConfig, options, spec=f"embed:{arg}",
                                     fixed={"encoder": arg or "minilm"})
        return cls(**asdict(config))

    @property
    def encoder(self) -> SentenceEncoder:
        if getattr(self, "_encoder", None) is None:
            self._encoder = open_encoder(self.config.encoder, max_length=self.config.max_length,
                                         cache=self.cache)
        return self._encoder

    # --- features ------------------------------------------------------------------------

    def _embed_blocks(self, prompts: Sequence[Prompt], responses: Sequence[str]
                      ) -> dict[str, np.ndarray]:
        needed = {part for block in self.config.features for part in block.split("*")}
        enc = self.encoder
        out: dict[str, np.ndarray] = {}
        if "reply" in needed:
            out["reply"] = enc.embed(responses, truncate="right")
        if "turn" in needed or "joint" in needed:
            turns = [last_user_turn(p) for p in prompts]
            if "turn" in needed:
                out["turn"] = enc.embed(turns, truncate="left")
            if "joint" in needed:
                out["joint"] = enc.embed_joined(turns, responses)
        if "context" in needed or "dialogue" in needed:
            contexts = [render_prompt(p) for p in prompts]
            if "context" in needed:
                out["context"] = enc.embed(contexts, truncate="left")
            if "dialogue" in needed:
                out["dialogue"] = enc.embed_joined(contexts, responses)
        return out

    def features(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """The head's input for each (prompt, response): float32 ``(n, d)``."""
        if len(prompts) != len(responses):
            raise ConfigError(f"score() got {len(prompts)} prompts but {len(responses)} "
                              "responses; they must pair up one to one")
        blocks = self._embed_blocks(prompts, responses)
        parts = []
        for block in self.config.features:
            a, _, b = block.partition("*")
            parts.append(blocks[a] * blocks[b] if b else blocks[a])
        return np.hstack(parts).astype(np.float32, copy=False)

    # --- training ------------------------------------------------------------------------

    def fit(self, data: Dataset[Any], *, noise_rate: float = 0.0) -> EmbeddingRewardModel:
        """Train the head on preference pairs; the encoder stays frozen. Returns ``self``.

        Best-of-n data trains an outcome reward model: within each problem, every correct
        candidate is preferred to every incorrect one (``best_of_n_to_pairs``).

        Args:
            noise_rate: expected share of flipped labels, in ``(0, 0.5)`` to train
                noise-robustly: the noise-aware likelihood with the epoch count chosen by
                cross-validation (``train.loop.train_noise_aware_head``); 0 for plain
                training.
        """
        import torch

        require_task(data, ("pairwise", "best-of-n"),
                     purpose="training an embedding reward model")
        data = best_of_n_to_pairs(data)
        records = data.records
        cfg = self.config
        margin = None
        if cfg.loss == "margin":
            missing = next((r for r in records if r.margin is None), None)
            if missing is not None:
                raise DataError("has no 'margin', which --loss margin needs on every row",
                                file=data.source, line=missing.line, field="margin")
            margin = torch.tensor([r.margin for r in records], dtype=torch.float32)
        target = None
        if cfg.soft_labels:
            from rewardlab.train.losses import soft_label_targets

            target = torch.from_numpy(soft_label_targets(records, data.source)).float()
        prompts = [r.prompt for r in records]
        feats = self.features(prompts + prompts,
                              [r.chosen for r in records] + [r.rejected for r in records])
        n = len(records)
        mean = feats.mean(axis=0)
        scale = feats.std(axis=0) + 1e-6
        x = torch.from_numpy((feats - mean) / scale)

        def make_head() -> torch.nn.Module:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(cfg.seed)
                return build_head(cfg, feats.shape[1])

        from rewardlab.train.loop import train_noise_aware_head, train_pairwise_head

        common = {"loss": cfg.loss, "epochs": cfg.epochs, "batch_size": cfg.batch_size,
                  "lr": cfg.lr, "weight_decay": cfg.weight_decay, "seed": cfg.seed,
                  "margin": margin, "label_smoothing": cfg.label_smoothing,
                  "center_coef": cfg.center_coef}
        if target is not None:
            common["target"] = target
        if noise_rate:
            if not 0.0 < noise_rate < 0.5:
                raise ConfigError(f"the expected noise rate must be in (0, 0.5) for "
                                  f"noise-robust training of an embedding head; got "
                                  f"{noise_rate!r}")
            head, self.history_, self.noise_report_ = train_noise_aware_head(
                make_head, x[:n], x[n:], flip_rate=noise_rate, **common)
        else:
            head = make_head()
            self.history_ = train_pairwise_head(head, x[:n], x[n:], **common)
        self.head_ = head
        self.feature_mean_ = mean.astype(np.float32)
        self.feature_scale_ = scale.astype(np.float32)
        self.n_train_pairs_ = n
        return self

    def fit_noise_aware(self, data: Dataset[Any], options: FitOptions
                        ) -> EmbeddingRewardModel:
        """``fit`` assuming a share ``options.noise_rate`` of flipped labels (the
        ``NoiseAware`` capability); ``noise_report_`` says what it did."""
        return self.fit(data, noise_rate=options.noise_rate)

    # --- scoring -------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if getattr(self, "head_", None) is None:
            name = self.spec or "embed:" + self.config.encoder
            raise NotFittedError(
                f"EmbeddingRewardModel '{name}' is not trained yet: call fit(data) first, or "
                f"run `rewardlab train DATA --model {name} --out DIR` and use DIR as the model"
            )

    def score(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """Rewards float64 ``(n,)``; independent of batch composition and order."""
        self._check_fitted()
        if len(responses) == 0:
            return np.zeros(0, dtype=np.float64)
        return self.score_features(self.features(prompts, responses))

    def score_features(self, feats: np.ndarray) -> np.ndarray:
        """Rewards for precomputed ``features``: ensembles of heads share one embedding pass."""
        import torch

        self._check_fitted()
        feats = (feats - self.feature_mean_) / self.feature_scale_
        with torch.inference_mode():
            rewards = self.head_(torch.from_numpy(feats.astype(np.float32))).squeeze(-1)
        return rewards.double().numpy()

    # --- persistence: ``SaveLoadMixin`` writes rewardlab.json + model.safetensors ----------

    def saved_tensors(self) -> dict[str, Any]:
        self._check_fitted()
        return head_tensors(self.head_, self.feature_mean_, self.feature_scale_)

    def saved_state(self) -> dict[str, Any]:
        return {"feature_dim": int(self.feature_mean_.shape[0]),
                "n_train_pairs": self.n_train_pairs_,
                "encoder_identity": self.encoder.identity,
                "final_epoch": self.history_[-1] if getattr(self, "history_", None) else None}

    def restore(self, tensors: dict[str, Any], state: dict[str, Any]) -> None:
        self.head_, self.feature_mean_, self.feature_scale_ = restore_head(self.config, tensors)
        self.n_train_pairs_ = state.get("n_train_pairs", 0)
        self.history_ = []
