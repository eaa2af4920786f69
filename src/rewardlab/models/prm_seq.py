"""``prm:seq:PATH`` — a transformer process reward model in TRL's PRM format.

TRL's ``PRMTrainer`` fine-tunes a *token classifier* (two labels) on stepwise supervision:
the input is the prompt followed by every step and the step separator (``"\\n"`` by
default), and only the last token of each step+separator carries that step's label
(1 = the solution is still correct, 0 = wrong); every other token is ignored. This kind
writes and reads exactly that:

- ``prm:seq:minilm`` (or any local encoder / decoder checkpoint) is a base: ``fit`` on
  step-labelled data fine-tunes it with a fresh two-label head (``train.token_loop``);
- ``prm:seq:DIR`` where ``DIR`` holds a token classifier with two labels (a PRM trained by
  TRL, or saved by this kind) scores at once: p(correct) of a step is the softmax of label
  1 at its last token.

Step scores aggregate (``agg``, ``min`` by default) into one reward per response, and
``first_error`` is the first step below ``threshold``, as for ``prm:minilm``. Saved models
are plain transformers checkpoints plus ``rewardlab.json``, so TRL and ``transformers`` read
them too.

A decoder PRM (``prm:seq:Qwen/Qwen2.5-0.5B?device=cuda&lora=16``) trains on a GPU with the
``seq:`` kind's options, read through ``rewardlab._device``: ``device``, ``precision``
(bf16/fp16 autocast, fp32 weights), ``lora`` (peft adapters, the two-label head trained in
full; merged on save), ``gradient_checkpointing`` and ``attn_implementation``. Scores come
back float64 on the host whatever the device.
"""

from __future__ import annotations

from collections.abc import Sequence
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
from rewardlab.data import Dataset, Prompt, render_prompt, require_task
from rewardlab.errors import ConfigError, DataError, ModelFormatError, NotFittedError
from rewardlab.models._encoder import quiet_transformers
from rewardlab.models._lora import wrap_with_lora
from rewardlab.models._saved import MANIFEST, atomic_directory, write_manifest
from rewardlab.models.base import StepScorer
from rewardlab.models.registry import config_from_options, register_kind
from rewardlab.models.seq import _from_pretrained, _is_head_key, checkpoint_path
from rewardlab.steps import AGGREGATIONS, aggregate_step_scores, first_error_index, split_steps

__all__ = ["SeqPRMConfig", "SeqProcessRewardModel", "encode_steps"]

IGNORE = -100


@dataclass(frozen=True, kw_only=True, slots=True)
class SeqPRMConfig:
    """Settings of a token-classification PRM; every field is also a spec option.

    Args:
        path: a base checkpoint (``minilm`` or a directory) or a trained two-label token
            classifier.
        separator: the text after every step (TRL's ``step_separator``).
        max_length: tokens per solution; the prompt is cut from its start first.
        threshold: a step with p(correct) below it is an error.
        agg: how ``score`` turns step scores into one reward.
        epochs, batch_size, lr, weight_decay: AdamW fine-tuning.
        balance: weight the two classes equally in the loss.
        seed: fixes the head's (and LoRA's) initialisation and the batch order.
        device: ``auto`` (a CUDA GPU when present, else MPS, else CPU), ``cpu``, ``cuda``,
            ``cuda:N`` or ``mps``.
        precision: training (and accelerator scoring) in ``bf16`` or ``fp16`` autocast, or
            ``fp32``; ``auto`` as for ``seq:`` (``rewardlab._device.pick_precision``). CPU
            scoring stays fp32.
        lora: LoRA rank (0 = full fine-tuning); ``lora_alpha``, ``lora_dropout``,
            ``lora_targets`` (``all-linear`` or comma-separated module names) as in peft.
        gradient_checkpointing: recompute activations in backward (less memory on a GPU).
        attn_implementation: ``sdpa`` (falls back to ``eager`` where a model lacks it),
            ``eager`` or ``flash_attention_2``.
    """

    path: str = "minilm"
    separator: str = "\n"
    max_length: int = 512
    threshold: float = 0.5
    agg: str = "min"
    epochs: int = 3
    batch_size: int = 8
    lr: float = 5e-5
    weight_decay: float = 0.0
    balance: bool = True
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    lora: int = 0
    lora_alpha: int = 16
    lora_dropout: float = 0.0
    lora_targets: str = "all-linear"
    gradient_checkpointing: bool = False
    attn_implementation: str = "sdpa"

    def __post_init__(self) -> None:
        owner = "SeqPRMConfig"
        if not self.separator:
            raise ConfigError("The 'separator' parameter of SeqPRMConfig must be a non-empty "
                              "string. Got '' instead.")
        check_int(owner, "max_length", self.max_length, minimum=16)
        check_range(owner, "threshold", self.threshold, 0.0, 1.0)
        check_option(owner, "agg", self.agg, AGGREGATIONS)
        check_int(owner, "epochs", self.epochs)
        check_int(owner, "batch_size", self.batch_size)
        check_positive(owner, "lr", self.lr)
        check_positive(owner, "weight_decay", self.weight_decay, allow_zero=True)
        check_int(owner, "seed", self.seed, minimum=0)
        check_device(owner, "device", self.device)
        check_option(owner, "precision", self.precision, ("auto", "bf16", "fp16", "fp32"))
        check_int(owner, "lora", self.lora, minimum=0)
        check_int(owner, "lora_alpha", self.lora_alpha)
        check_range(owner, "lora_dropout", self.lora_dropout, 0.0, 1.0)
        check_option(owner, "attn_implementation", self.attn_implementation, ATTN_CHOICES)


def encode_steps(tokenizer: Any, prompt: str, steps: Sequence[str], separator: str, *,
                 labels: Sequence[bool] | None = None, max_length: int = 512
                 ) -> tuple[list[int], list[int], list[int]]:
    """TRL's PRM encoding: ``(input_ids, labels, positions)``.

    ``positions`` are the indices of each step's last token (after its separator);
    ``labels`` hold 0/1 there and -100 elsewhere (all -100 without ``labels``). A model with
    a CLS/BOS token gets it first. Steps that do not fit in ``max_length`` even with the
    prompt cut away are dropped from the end (their positions are missing).
    """
    start = [tokenizer.cls_token_id] if tokenizer.cls_token_id is not None else (
        [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None else [])
    prompt_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    step_ids = [tokenizer(s + separator, add_special_tokens=False)["input_ids"] or
                [tokenizer.unk_token_id or 0] for s in steps]
    room = max_length - len(start) - sum(len(s) for s in step_ids)
    prompt_ids = prompt_ids[max(len(prompt_ids) - max(room, 0), 0):] if room < len(
        prompt_ids) else prompt_ids
    ids = start + prompt_ids
    out_labels = [IGNORE] * len(ids)
    positions = []
    for k, piece in enumerate(step_ids):
        if len(ids) + len(piece) > max_length:
            break
        ids += piece
        out_labels += [IGNORE] * (len(piece) - 1)
        out_labels.append(IGNORE if labels is None else int(bool(labels[k])))
        positions.append(len(ids) - 1)
    return ids, out_labels, positions


@register_kind("prm_seq")
class SeqProcessRewardModel(StepScorer):
    """A token classifier that scores every step (TRL's PRM format); see the module
    docstring.

    Example:
        >>> model = SeqProcessRewardModel(path="minilm", epochs=1)
        >>> model.config.separator
        '\\n'
    """

    kind = "prm_seq"
    spec: str | None = None

    def __init__(self, **params: Any) -> None:
        known = {f.name for f in fields(SeqPRMConfig)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ConfigError(f"SeqProcessRewardModel has no parameter '{unknown[0]}'; its "
                              f"parameters are {', '.join(sorted(known))}")
        self.config = SeqPRMConfig(**params)
        self._net: Any = None
        self._tokenizer: Any = None
        self.trained_ = False

    @classmethod
    def from_spec(cls, arg: str, options: dict[str, str]) -> SeqProcessRewardModel:
        """``prm:seq:PATH?opts``; a directory this kind saved keeps its settings (its
        ``rewardlab.json``) unless an option overrides one."""
        import json

        config = config_from_options(SeqPRMConfig, options, spec=f"prm:seq:{arg}",
                                     fixed={"path": arg or "minilm"})
        manifest = Path(arg).expanduser() / MANIFEST if arg else None
        params = asdict(config)
        if manifest is not None and manifest.is_file():
            saved = json.loads(manifest.read_text("utf-8"))
            if saved.get("kind") == cls.kind:
                params = {**params, **{k: v for k, v in saved.get("config", {}).items()
                                       if k not in options and k != "path"}}
        model = cls(**params)
        model._open()
        return model

    def get_config(self) -> dict[str, Any]:
        return asdict(self.config)

    # --- the network ---------------------------------------------------------------------

    def _open(self) -> None:
        """Load the tokenizer and the network: a trained two-label token classifier as it is
        (ready to score), any other checkpoint with a fresh head (to be fine-tuned)."""
        import torch
        import transformers

        cfg = self.config
        path = checkpoint_path(cfg.path)
        device = resolve_device(cfg.device)
        with quiet_transformers():
            hf_config = transformers.AutoConfig.from_pretrained(path)
            trained = (hf_config.num_labels == 2 and any(
                a.endswith("ForTokenClassification") for a in hf_config.architectures or ()))
            self._tokenizer = transformers.AutoTokenizer.from_pretrained(path)
            if self._tokenizer.pad_token_id is None:
                if self._tokenizer.eos_token is None:
                    raise ModelFormatError(
                        f"the tokenizer in {path} has neither a pad nor an eos token; add a "
                        "pad token to its tokenizer_config.json (pad_token)")
                self._tokenizer.pad_token = self._tokenizer.eos_token
            hf_config.num_labels = 2
            hf_config.pad_token_id = self._tokenizer.pad_token_id
            kwargs = {"dtype": torch.float32,
                      "attn_implementation": attn_implementation(cfg.attn_implementation)}
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(cfg.seed)
                self._net, _ = _from_pretrained(transformers.AutoModelForTokenClassification,
                                                path, hf_config, kwargs)
        self._net.to(device)
        if cfg.gradient_checkpointing:
            if hasattr(self._net, "activation_checkpointing_enable"):  # transformers >= 5.x
                self._net.activation_checkpointing_enable({"use_reentrant": False})
            else:
                self._net.gradient_checkpointing_enable(
                    gradient_checkpointing_kwargs={"use_reentrant": False})
        self._net.eval()
        self.device_ = device
        self.trained_ = trained
        # never feed more positions than the model has
        self._max_length = min(self.config.max_length,
                               getattr(hf_config, "max_position_embeddings", None) or 10**9)

    @property
    def network(self) -> Any:
        if self._net is None:
            self._open()
        return self._net

    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            self._open()
        return self._tokenizer

    # --- training ------------------------------------------------------------------------

    def fit(self, data: Dataset[Any]) -> SeqProcessRewardModel:
        """Fine-tune on step-labelled solutions (TRL's PRM format, PRMBench, MR-GSM8K,
        ``rewardlab label inject-errors`` output). Returns ``self``."""
        from rewardlab.train.token_loop import train_token_classifier

        require_task(data, ("steps",), purpose="training a process reward model")
        unlabelled = next((r for r in data.records if r.labels is None), None)
        if unlabelled is not None:
            raise DataError("has no 'labels'; training a process reward model needs one "
                            "true/false label per step", file=data.source,
                            line=unlabelled.line, field="labels")
        c, tok = self.config, self.tokenizer
        rows = []
        for r in data.records:
            ids, labels, _ = encode_steps(tok, render_prompt(r.prompt), r.steps, c.separator,
                                          labels=r.labels, max_length=self._max_length)
            rows.append((ids, labels))
        if c.lora:
            self._wrap_lora()
        self.history_ = train_token_classifier(
            self.network, rows, pad_id=tok.pad_token_id, epochs=c.epochs,
            batch_size=c.batch_size, lr=c.lr, weight_decay=c.weight_decay, seed=c.seed,
            balance=c.balance, precision=pick_precision(c.precision, self.device_))
        self.trained_ = True
        self.n_train_solutions_ = len(data.records)
        return self

    def _wrap_lora(self) -> None:
        """peft adapters on the linear layers, the two-label head trained and saved in full
        (``modules_to_save``: a head left at its random init would score noise), initialised
        from ``seed``."""
        if hasattr(self.network, "peft_config"):
            return
        net = self.network
        heads = sorted({name.split(".")[0] for name, _ in net.named_parameters()
                        if _is_head_key(name)})
        self._net = wrap_with_lora(net, self.config, "TOKEN_CLS", heads)

    # --- scoring -------------------------------------------------------------------------

    @property
    def threshold_(self) -> float:
        """The first-error threshold: the config's (not tuned on data, unlike prm:'s)."""
        return self.config.threshold

    def _check_fitted(self) -> None:
        if not self.trained_:
            name = self.spec or f"prm:seq:{self.config.path}"
            raise NotFittedError(
                f"SeqProcessRewardModel '{name}' has an untrained step head: call "
                f"fit(data) with step-labelled data first, or run `rewardlab train "
                f"STEPS.jsonl --model {name} --out DIR` and use DIR as the model")

    def score_steps(self, prompts: Sequence[Prompt], step_lists: Sequence[Sequence[str]]
                    ) -> list[np.ndarray]:
        """Per solution, every step's p(correct): softmax of label 1 at the step's last
        token. A step cut off by ``max_length`` gets the score of the last step that fit."""
        import torch

        from rewardlab.train.token_loop import pad_batch

        self._check_fitted()
        if len(prompts) != len(step_lists):
            raise ConfigError(f"got {len(prompts)} prompts but {len(step_lists)} solutions; "
                              "they must pair up one to one")
        c, tok, net = self.config, self.tokenizer, self.network
        device = self.device_
        # an accelerator scores in its training autocast; the CPU in fp32
        fast = pick_precision(c.precision if device.type != "cpu" else "fp32", device)
        out: list[np.ndarray] = []
        for start in range(0, len(step_lists), c.batch_size):
            chunk = range(start, min(start + c.batch_size, len(step_lists)))
            encoded = [encode_steps(tok, render_prompt(prompts[i]), step_lists[i],
                                    c.separator, max_length=self._max_length) for i in chunk]
            ids, mask, _ = pad_batch([(e[0], e[1]) for e in encoded], tok.pad_token_id)
            with torch.inference_mode(), fast.autocast():
                logits = net(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
                probs = torch.softmax(logits.double(), dim=-1)[..., 1].cpu()
            for row, (i, (_, _, positions)) in enumerate(zip(chunk, encoded, strict=True)):
                n = len(step_lists[i])
                scores = probs[row, positions].numpy() if positions else np.full(1, 0.5)
                if len(scores) < n:  # steps beyond max_length
                    scores = np.concatenate([scores, np.full(n - len(scores), scores[-1])])
                out.append(np.asarray(scores[:n], dtype=np.float64))
        return out

    def first_error(self, prompts: Sequence[Prompt], step_lists: Sequence[Sequence[str]], *,
                    threshold: float | None = None) -> list[int | None]:
        """Per solution, the first step with p(correct) below ``threshold`` (default: the
        config's), or None."""
        t = self.config.threshold if threshold is None else threshold
        return [first_error_index(s, t) for s in self.score_steps(prompts, step_lists)]

    def score(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """Rewards float64 ``(n,)``: each response split at the separator (lines for the
        default ``"\\n"``), scored, aggregated with ``agg``."""
        if len(prompts) != len(responses):
            raise ConfigError(f"score() got {len(prompts)} prompts but {len(responses)} "
                              "responses; they must pair up one to one")
        if not responses:
            return np.zeros(0, dtype=np.float64)
        sep = self.config.separator
        steps = [(split_steps(r) if sep == "\n" else split_steps(r, "separator", separator=sep))
                 or [r] for r in responses]
        return aggregate_step_scores(self.score_steps(prompts, steps), self.config.agg)

    # --- persistence ---------------------------------------------------------------------

    def save(self, path: str | Path) -> Path:
        """A transformers token-classification checkpoint (TRL reads it) plus
        ``rewardlab.json``, written atomically."""
        self._check_fitted()
        net = self.network
        if hasattr(net, "merge_and_unload"):  # LoRA: a plain checkpoint, adapters merged
            net = net.merge_and_unload()
            self._net = net
        with atomic_directory(path) as tmp, quiet_transformers():
            net.config.id2label, net.config.label2id = ({0: "wrong", 1: "correct"},
                                                        {"wrong": 0, "correct": 1})
            net.save_pretrained(tmp, safe_serialization=True)
            self.tokenizer.save_pretrained(tmp)
            write_manifest(tmp, kind=self.kind,
                           config={**self.get_config(), "lora": 0, "device": "auto"},
                           state={"base": self.config.path,
                                  "n_train_solutions": getattr(self, "n_train_solutions_", 0)})
        return Path(path)

    @classmethod
    def load(cls, directory: Path, manifest: dict[str, Any]) -> SeqProcessRewardModel:
        config = {**manifest.get("config", {}), "path": str(directory)}
        try:
            model = cls(**config)
        except (TypeError, ConfigError) as exc:
            raise ModelFormatError(f"{directory}/{MANIFEST} has a bad config: {exc}") from None
        model._open()
        if not model.trained_:
            raise ModelFormatError(f"{directory} holds no two-label token classifier")
        return model
