"""``multi:seq:PATH`` — one fine-tuned transformer backbone with one scalar head per attribute.

Where ``multi:embed:`` trains small heads over frozen sentence embeddings, this kind fine-tunes
the backbone itself, shared by every attribute: the network is a transformers sequence
classifier with one logit per attribute (``num_labels = k``). Training draws its batches from
every attribute's pairs at once, and each pair's Bradley–Terry loss reads its own attribute's
logit only, so each head learns from its own set while the backbone learns from all of them
(the multi-task reward models of Fine-Grained RLHF and ArmoRM's regression stage). The loop is
``seq:``'s (``train/seq_loop.py``, with ``heads=``); the combinations, caps, gate and per-call
weights are ``multi:``'s (``models/multi.py``), read off standardised logits.

Saved as a plain transformers checkpoint (LoRA merged first) whose labels are the attributes,
with the scale of every head and the learned gate in ``rewardlab.json`` / ``gate.safetensors``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.data import Dataset, Prompt, best_of_n_to_pairs, last_user_turn, require_task
from rewardlab.errors import ConfigError, DataError, ModelFormatError, NotFittedError, SpecError
from rewardlab.models._saved import MANIFEST, atomic_directory, write_manifest
from rewardlab.models.base import FitOptions
from rewardlab.models.multi import MultiRewardModel, check_combination
from rewardlab.models.registry import config_from_options
from rewardlab.models.seq import (
    SeqConfig,
    SequenceRewardModel,
    check_worker_run,
    checkpoint_path,
)
from rewardlab.train.workers import Launcher

__all__ = ["MultiSeqConfig", "MultiSeqRewardModel"]

#: Pairs per head scored after training to set the head's scale (and report its accuracy).
SCALE_PAIRS = 256
#: ``seq:`` settings a trained model takes at load time: how it scores, not what it learned.
SCORING_OPTIONS = ("device", "score_precision", "score_tokens", "share_prompt")
GATE_FILE = "gate.safetensors"


@dataclass(frozen=True, kw_only=True, slots=True)
class MultiSeqConfig(SeqConfig):
    """Settings of a ``multi:seq:`` model: ``seq:``'s (``SeqConfig``: backbone ``path``,
    ``lora``, ``lr``, ``epochs``, ...) plus ``multi:``'s combination (``MultiConfig``:
    ``heads``, ``combine``, ``weights``, ``caps``, ``gate``, ``gate_epochs``).

    Args:
        balance: weight each pair by ``n / (k · n_attribute)``, so every head's loss counts
            the same whatever the size of its set (off: every pair counts the same, and the
            largest set dominates the shared backbone).
    """

    heads: tuple[str, ...] = ()
    combine: str = "sum"
    weights: str = ""
    caps: str = ""
    gate: str = ""
    gate_epochs: int = 20
    balance: bool = True

    def __post_init__(self) -> None:
        SeqConfig.__post_init__(self)
        check_combination("MultiSeqConfig", self)


class MultiSeqRewardModel(MultiRewardModel):
    """A fine-tuned backbone with one logit per attribute, combined as ``multi:`` combines
    its heads; an ``AttributeScorer`` and ``Resumable`` (checkpoints, ``--resume``,
    ``--workers``, ``--ray``: ``seq:``'s loop and workers). Resolves from
    ``multi:seq:PATH`` and saved directories of kind ``multi`` whose state names the ``seq``
    backbone.

    Example:
        >>> model = MultiSeqRewardModel(path="minilm", heads=("harmless", "helpful"))
        >>> model.attributes
        ('harmless', 'helpful')
    """

    config_class = MultiSeqConfig
    saves_weights = False
    scoring_options = SCORING_OPTIONS

    def __init__(self, *, cache: bool | str | Path = False, **params: Any) -> None:
        self.config = MultiSeqConfig(**params)
        self.cache = cache  # unused: nothing is embedded apart from the backbone's forward
        self.heads_: dict[str, int] = {}
        self._seq: SequenceRewardModel | None = None

    @classmethod
    def from_spec(cls, arg: str, options: dict[str, str]) -> MultiSeqRewardModel:
        config = config_from_options(MultiSeqConfig, options, spec=f"multi:seq:{arg}",
                                     fixed={"path": arg or "minilm"})
        checkpoint_path(config.path)  # a missing checkpoint fails now, not after reading data
        return cls(**asdict(config))

    def with_options(self, options: Mapping[str, str]) -> MultiSeqRewardModel:
        """This trained model with ``multi:``'s combination settings and ``seq:``'s scoring
        settings (``SCORING_OPTIONS``) replaced: ``DIR?weights=...&score_tokens=2048``,
        ``serve DIR --device cuda``. The trained network is shared (moved to a copy for
        another device)."""
        allowed = ("combine", "weights", "caps", "gate", *SCORING_OPTIONS)
        bad = [k for k in options if k not in allowed]
        if bad:
            raise SpecError(f"a saved multi:seq: model takes only {', '.join(allowed)} as "
                            f"options; got {', '.join(bad)}")
        new = super().with_options({k: v for k, v in options.items()
                                    if k not in SCORING_OPTIONS})
        scoring = {k: str(v) for k, v in options.items() if k in SCORING_OPTIONS}
        if scoring:
            self._check_fitted()
            assert self._seq is not None
            kept = {f.name: getattr(new.config, f.name) for f in fields(new.config)
                    if f.name not in scoring}
            new.config = config_from_options(MultiSeqConfig, scoring, fixed=kept,
                                             spec=self.spec or f"multi:seq:{self.config.path}")
            new._seq = self._scoring_backbone(new.config)
        return new

    def _scoring_backbone(self, config: MultiSeqConfig) -> SequenceRewardModel:
        """The trained backbone with ``config``'s scoring settings: the same network, or a
        copy of it on another device."""
        import copy

        from rewardlab._device import resolve_device
        from rewardlab.train.shared_prompt import prompt_sharing

        assert self._seq is not None
        seq = copy.copy(self._seq)
        seq.config = SeqConfig(**{f.name: getattr(config, f.name) for f in fields(SeqConfig)})
        device = resolve_device(config.device)
        if device != self._seq.device_:
            seq._net = copy.deepcopy(self._seq.network).to(device)
            seq.device_ = device
        seq._int8 = None
        seq._sharing = prompt_sharing(config.share_prompt, seq._net,
                                      name=f"multi:seq:{config.path}")
        return seq

    @property
    def encoder(self) -> None:
        """No sentence encoder: the backbone reads the texts (``train`` reports none)."""
        return None

    def _backbone(self, k: int, directory: Path | None = None) -> SequenceRewardModel:
        seq = SequenceRewardModel(**{f.name: getattr(self.config, f.name)
                                     for f in fields(SeqConfig)})
        seq._load_network(directory, num_labels=k)
        return seq

    # --- training ------------------------------------------------------------------------

    def fit(self, data: Mapping[str, Dataset[Any]] | Dataset[Any], *,
            checkpoint_dir: str | Path | None = None, resume: bool = False, workers: int = 1,
            launcher: Launcher | None = None, strategy: str = "ddp") -> MultiSeqRewardModel:
        """Fine-tune the backbone and every head on ``{"attribute": pairs, ...}`` (or one
        set's ``subset`` column); with ``combine=learned`` the set ``gate`` trains the gate.
        Returns ``self``.

        The run's machinery is ``seq:``'s (``SequenceRewardModel.fit``), on the pairs of
        every attribute at once:

        Args:
            checkpoint_dir: where checkpoints go (every ``checkpoint_every`` steps and at each
                epoch end): whole weights and optimiser state keyed by parameter name, so a
                run resumes under any worker count or strategy.
            resume: continue from the checkpoint in ``checkpoint_dir``; a checkpoint of other
                settings, data, attribute order or balance is refused.
            workers, launcher, strategy: train on ``workers`` processes that ``launcher``
                starts. Each step's global batch (pairs of every attribute, mixed) is split
                between them, each pair still training its own attribute's logit, and the
                gradients summed: the weights of one process, to float rounding. ``ddp``
                or ``fsdp`` as for ``seq:``.
        """
        from rewardlab.train.seq_loop import train_sequence_pairs

        sets, gate_data = self._training_sets(data)
        names = list(sets)
        prompts: list[Prompt] = []
        chosen: list[str] = []
        rejected: list[str] = []
        heads: list[int] = []
        margin: list[float] | None = [] if self.config.loss == "margin" else None
        target: list[float] | None = [] if self.config.soft_labels else None
        pairs = {}
        for j, name in enumerate(names):
            require_task(sets[name], ("pairwise", "best-of-n"),
                         purpose=f"training the '{name}' head")
            train = best_of_n_to_pairs(sets[name])
            pairs[name] = train
            if target is not None:  # each set's own vote shares (seq:'s soft_labels)
                from rewardlab.train.losses import soft_label_targets

                target.extend(soft_label_targets(train.records, train.source).tolist())
            for r in train.records:
                prompts.append(r.prompt)
                chosen.append(r.chosen)
                rejected.append(r.rejected)
                heads.append(j)
                if margin is not None:
                    if r.margin is None:
                        raise DataError("has no 'margin', which loss=margin needs on every "
                                        "row", file=train.source, line=r.line, field="margin")
                    margin.append(float(r.margin))
        n, k = len(heads), len(names)
        check_worker_run(self.config, workers, strategy, n,
                         what="training pairs of all attributes together")
        counts = np.bincount(heads, minlength=k)
        weights = (n / (k * counts[heads])).tolist() if self.config.balance else None
        seq = self._backbone(k)
        if self.config.lora:
            seq._wrap_lora()
        encoded_chosen = seq.encode(prompts, chosen)
        encoded_rejected = seq.encode(prompts, rejected)
        ckpt = None if checkpoint_dir is None else Path(checkpoint_dir)
        if launcher is None:
            self.loop_history_ = train_sequence_pairs(
                seq.network, encoded_chosen, encoded_rejected, config=seq.config,
                pad_id=seq.tokenizer.pad_token_id, margin=margin, weights=weights,
                heads=heads, checkpoint_dir=ckpt, resume=resume,
                target=target)
        else:  # seq:'s workers, told the number of logits and each pair's attribute
            seq._fit_on_workers(launcher, {
                "config": seq.get_config(), "source": str(seq.source_),
                "chosen": encoded_chosen, "rejected": encoded_rejected, "margin": margin,
                "weights": weights, "eval": None, "eval_digest": None,
                "checkpoint_dir": ckpt, "resume": resume, "strategy": strategy,
                "num_labels": k, "heads": heads, "target": target})
            self.loop_history_ = seq.history_
        seq.trained_ = True
        self._seq = seq
        self.heads_ = {name: j for j, name in enumerate(names)}
        self.scale_ = {}
        self.history_ = []
        for name, train in pairs.items():
            self.scale_[name], fit = self._head_scale(name, train)
            self.history_.append({"attribute": name, **fit})
        self.n_train_pairs_ = {name: len(d) for name, d in pairs.items()}
        self.gate_ = None
        if gate_data is not None:
            self.gate_ = self._fit_gate(gate_data)
        return self

    def fit_resumable(self, data: Mapping[str, Dataset[Any]] | Dataset[Any],
                      options: FitOptions) -> MultiSeqRewardModel:
        """``fit`` with ``rewardlab train``'s options: checkpoints, resume, workers (the
        ``Resumable`` capability). ``options.eval_data`` is not scored per epoch (a head's
        scale is set after training); ``api.train`` scores it once at the end."""
        return self.fit(data, checkpoint_dir=options.checkpoint_dir, resume=options.resume,
                        workers=options.workers, launcher=options.launcher,
                        strategy=options.strategy)

    def _head_scale(self, name: str, train: Dataset[Any]
                    ) -> tuple[tuple[float, float], dict[str, float]]:
        """A head's mean and spread on (a sample of up to ``SCALE_PAIRS``) of its training
        pairs, both sides — so one unit means the same on every attribute — and its
        accuracy and Bradley–Terry loss there."""
        assert self._seq is not None
        records = train.records
        if len(records) > SCALE_PAIRS:
            pick = np.random.default_rng(self.config.seed).choice(len(records), SCALE_PAIRS,
                                                                  replace=False)
            records = tuple(records[i] for i in sorted(pick))
        p = [r.prompt for r in records]
        raw = self._seq.logits(p + p, [r.chosen for r in records]
                               + [r.rejected for r in records])[:, self.heads_[name]]
        diff = raw[:len(records)] - raw[len(records):]
        fit = {"accuracy": float(np.mean((diff > 0) + 0.5 * (diff == 0))),
               "loss": float(np.mean(np.logaddexp(0.0, -diff))),
               "margin": float(np.mean(diff)), "pairs": len(train)}
        return (float(raw.mean()), float(raw.std() + 1e-6)), fit

    def _prompt_features(self, prompts: Sequence[Prompt]) -> np.ndarray:
        """What the learned gate reads: the backbone's mean-pooled last hidden state of each
        prompt's last user turn."""
        import torch

        from rewardlab.train.seq_loop import length_batches

        assert self._seq is not None
        seq = self._seq
        net = seq.network
        texts = [last_user_turn(p) for p in prompts]
        if not texts:
            return np.zeros((0, 1))
        tokens = seq.tokenizer(texts, truncation=True, max_length=self.config.max_length)
        out: list[Any] = [None] * len(texts)
        with torch.inference_mode():  # sorted by length, under scoring's token budget
            for rows in length_batches([len(ids) for ids in tokens["input_ids"]],
                                       seq.scoring_tokens):
                batch = seq.tokenizer.pad([{k: v[i] for k, v in tokens.items()} for i in rows],
                                          return_tensors="pt")
                batch = {k: v.to(seq.device_) for k, v in batch.items()}
                hidden = net(**batch, output_hidden_states=True).hidden_states[-1].float()
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = ((hidden * mask).sum(1) / mask.sum(1).clamp_min(1)).double()
                for i, row in zip(rows, pooled.cpu().numpy(), strict=True):
                    out[i] = row
        return np.stack(out)

    # --- scoring -------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not self.heads_ or self._seq is None:
            name = self.spec or "multi:seq:" + self.config.path
            raise NotFittedError(
                f"MultiSeqRewardModel '{name}' is not trained yet: run `rewardlab train "
                f"--model {name} --data ATTRIBUTE=FILE ... --out DIR` and use DIR as the model")

    def _z(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """Standardised rewards ``(n, k)`` of every head, from one forward pass."""
        self._check_fitted()
        assert self._seq is not None
        raw = self._seq.logits(prompts, responses)
        mean = np.array([self.scale_[a][0] for a in self.heads_])
        std = np.array([self.scale_[a][1] for a in self.heads_])
        return (raw - mean) / std

    # --- persistence ---------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """A transformers checkpoint whose labels are the attributes (LoRA merged), the
        gate in ``gate.safetensors``, and the manifest, atomically."""
        self._check_fitted()
        assert self._seq is not None
        with atomic_directory(path) as tmp:
            self._seq.write_checkpoint(tmp, tuple(self.heads_))
            if self.gate_ is not None:
                from safetensors.torch import save_file

                save_file({k: v.contiguous() for k, v in self.gate_.state_dict().items()},
                          str(tmp / GATE_FILE))
            write_manifest(tmp, kind=self.kind,
                           config={**self.get_config(), "lora": 0, "load_in_4bit": False,
                                   "device": "auto"},
                           state={"backbone": "seq", "attributes": list(self.heads_),
                                  "scale": self.scale_, "n_train_pairs": self.n_train_pairs_,
                                  "gate": self.gate_ is not None, "base": self.config.path})
        return Path(path)

    @classmethod
    def load_checkpoint(cls, directory: Path, manifest: dict[str, Any]
                        ) -> MultiSeqRewardModel:
        """The model ``save`` wrote to ``directory`` (``manifest`` is its ``rewardlab.json``)."""
        import torch

        state = manifest.get("state") or {}
        config = {k: tuple(v) if isinstance(v, list) else v
                  for k, v in (manifest.get("config") or {}).items()}
        try:
            model = cls(**{**config, "path": str(directory)})
            attributes = [str(a) for a in state["attributes"]]
            scale = {a: (float(state["scale"][a][0]), float(state["scale"][a][1]))
                     for a in attributes}
        except (TypeError, ConfigError, KeyError, IndexError, ValueError) as exc:
            raise ModelFormatError(f"{directory}/{MANIFEST} has a bad config or state: "
                                   f"{exc}") from None
        seq = model._backbone(len(attributes), directory)
        if not seq.trained_:
            raise ModelFormatError(f"{directory} holds no trained attribute heads")
        model._seq = seq
        model.heads_ = {a: j for j, a in enumerate(attributes)}
        model.scale_ = scale
        model.n_train_pairs_ = state.get("n_train_pairs", {})
        model.history_ = []
        model.gate_ = None
        if state.get("gate"):
            from safetensors import SafetensorError
            from safetensors.torch import load_file

            try:
                tensors = load_file(str(directory / GATE_FILE))
                gate = torch.nn.Linear(tensors["weight"].shape[1], len(attributes)).double()
                gate.load_state_dict({k: v.double() for k, v in tensors.items()})
            except (OSError, SafetensorError, KeyError, RuntimeError) as exc:
                raise ModelFormatError(f"{directory / GATE_FILE} is missing or corrupt: "
                                       f"{exc}") from None
            gate.eval()
            model.gate_ = gate
        return model

