"""``prm:`` — a process reward model: p(the solution is still correct) after every step.

A frozen sentence encoder embeds each step with its problem (read as one text, the step kept
whole; ``prefix`` adds every step so far); a small head trained with binary cross-entropy on
step labels (TRL's PRM format) maps that, the step's position and the checks below, to a
probability. Reading the prefix too did not help on error-injected GSM8K (first-error F1
0.73 with it, 0.79 without; 300 training and 150 held-out problems, threshold 0.5, dropout
0.5) and doubles the embedding cost, so it is an option, not the default.
``score`` splits a response into steps and aggregates (``min`` by default), so a PRM ranks
best-of-n candidates like any reward model; ``first_error`` is the first step scored below
``threshold``, which is what ProcessBench-style evaluation asks for.

The threshold is chosen when training, by default: a head that flags a step at p < 0.5 on
every step of a solution raises false alarms on correct solutions as often as it has steps,
so the best cut-off depends on the model and the data. Heads trained on two thirds of the
training problems score the other third (3-fold cross-fitting, grouped by problem), and the
threshold with the best first-error F1 on those out-of-fold scores is kept. Head training
reuses the cached embeddings, so this costs three more small fits.

A frozen encoder does not do arithmetic, so the default also reads three symbolic checks of
each step (``rewardlab.steps``: a calculator annotation that is wrong, a plain-text
equation that is wrong, numbers that appear nowhere before); benchmarks/README.md reports
the model with and without them.

Training labels after the first error are left out by default (``after_error=ignore``):
whether a later step is "wrong" is decided by the earlier error, not by anything in the
step, so with step-local features those labels teach the head that late steps look wrong.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rewardlab._validation import check_int, check_option, check_positive, check_range
from rewardlab.data import Dataset, Prompt, last_user_turn, require_task
from rewardlab.errors import ConfigError, DataError, ModelFormatError, NotFittedError
from rewardlab.models._encoder import SentenceEncoder, open_encoder
from rewardlab.models._head_io import build_head, head_tensors, restore_head
from rewardlab.models._module import SaveLoadMixin
from rewardlab.models.base import StepScorer
from rewardlab.models.registry import config_from_options, register_kind
from rewardlab.steps import (
    AGGREGATIONS,
    CLAIM_CHECKS,
    SPLIT_MODES,
    aggregate_step_scores,
    claim_checks,
    first_error_accuracies,
    first_error_index,
    numeric_checks,
    split_steps,
)

if TYPE_CHECKING:
    import torch

__all__ = ["PRM_FEATURE_BLOCKS", "RECOMMENDED", "PRMConfig", "ProcessRewardModel"]

#: What the head can read per step. ``step``: the step alone; ``question``: the problem
#: (last user turn); ``joint``: problem and step as one text; ``prefix``: problem and every
#: step so far as one text (the current step kept whole, the start cut when too long);
#: ``question*step``: element-wise product; ``position``: where the step is (first, last,
#: index/10 capped at 1); ``checks``: arithmetic and quantity checks
#: (``rewardlab.steps``); ``claims``: free-text arithmetic claims, non-integer counts and the
#: final answer against the question (``rewardlab.steps.claim_checks``).
PRM_FEATURE_BLOCKS = ("step", "question", "joint", "prefix", "question*step", "position",
                      "checks", "claims")
AFTER_ERROR = ("ignore", "false")
#: ``prm:default``: the recommended settings, trained with ``rewardlab train
#: bundled:prm_train --model prm:default --out DIR`` (MR-GSM8K dev, injected errors and 300
#: PRMBench rows of problems ``bench`` does not score): first-error F1 0.30 on human-labelled
#: errors (grouped cross-validation; 0.31 with model-written correct solutions), 0.77 on
#: held-out injected errors, 0.25 on PRMBench (benchmarks/prm_real_errors.py). The free-text
#: ``claims`` were worth +0.05 of the real-error F1.
RECOMMENDED = {"features": "joint,position,checks,claims"}
HEADS = ("linear", "mlp")


@dataclass(frozen=True, kw_only=True, slots=True)
class PRMConfig:
    """Settings of a process reward model; every field is also a spec option.

    Args:
        encoder: ``minilm`` or a sentence-transformers model directory.
        max_length: tokens per embedded text.
        features: blocks from ``PRM_FEATURE_BLOCKS``.
        split: how ``score`` cuts a response into steps: ``newline``, ``sentence`` or
            ``separator`` (``rewardlab.steps.split_steps``).
        separator: the step separator for ``split=separator``.
        agg: how ``score`` turns step scores into one reward: ``min``, ``prod``, ``mean``,
            ``last``.
        threshold: a step with p(correct) below it is an error (``first_error``); ``None``
            chooses it when training, by cross-fitting (see the module docstring).
        tune_folds: folds of that cross-fitting.
        tune_on: an id prefix: choose the threshold on the out-of-fold F1 of only the
            solutions whose id starts with it (``mr_gsm8k:`` in ``bundled:prm_train``: the
            cut-off that suits real errors, not the more numerous injected ones); empty:
            all solutions.
        after_error: training labels of steps after the first error: ``ignore`` or
            ``false`` (train on them as wrong).
        balance: weight the loss so correct and wrong steps count equally (wrong steps are
            the minority, and a head that never flags one would otherwise look good).
        head, hidden, dropout: ``mlp`` (one hidden GELU layer) or ``linear``.
        epochs, batch_size, lr, weight_decay: AdamW training of the head.
        seed: fixes initialisation, batch order and dropout.
    """

    encoder: str = "minilm"
    max_length: int = 256
    features: tuple[str, ...] = ("joint", "position", "checks")
    split: str = "newline"
    separator: str = "\n"
    agg: str = "min"
    threshold: float | None = None
    tune_folds: int = 3
    tune_on: str = ""
    after_error: str = "ignore"
    balance: bool = True
    head: str = "mlp"
    hidden: int = 256
    dropout: float = 0.2
    epochs: int = 40
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.01
    seed: int = 0

    def __post_init__(self) -> None:
        owner = "PRMConfig"
        check_int(owner, "max_length", self.max_length, minimum=8)
        if not self.features:
            raise ConfigError("The 'features' parameter of PRMConfig must name at least one "
                              f"block from {', '.join(PRM_FEATURE_BLOCKS)}. Got none.")
        for block in self.features:
            check_option(owner, "features", block, PRM_FEATURE_BLOCKS)
        check_option(owner, "split", self.split, SPLIT_MODES)
        if not self.separator:
            raise ConfigError("The 'separator' parameter of PRMConfig must be a non-empty "
                              "string. Got '' instead.")
        check_option(owner, "agg", self.agg, AGGREGATIONS)
        if self.threshold is not None:
            check_range(owner, "threshold", self.threshold, 0.0, 1.0)
        check_int(owner, "tune_folds", self.tune_folds, minimum=2)
        check_option(owner, "after_error", self.after_error, AFTER_ERROR)
        check_option(owner, "head", self.head, HEADS)
        check_int(owner, "hidden", self.hidden)
        check_range(owner, "dropout", self.dropout, 0.0, 1.0)
        check_int(owner, "epochs", self.epochs)
        check_int(owner, "batch_size", self.batch_size)
        check_positive(owner, "lr", self.lr)
        check_positive(owner, "weight_decay", self.weight_decay, allow_zero=True)
        check_int(owner, "seed", self.seed, minimum=0)


@register_kind("prm")
class ProcessRewardModel(SaveLoadMixin, StepScorer):
    """Scores every step of a solution; aggregated, a reward; thresholded, a first error.

    Args:
        cache: where embeddings are cached: ``True`` (``$REWARDLAB_CACHE_DIR`` or
            ``~/.cache/rewardlab``), a directory, or ``False``.
        **params: fields of ``PRMConfig``.

    Example:
        >>> model = ProcessRewardModel(agg="prod", threshold=0.3)
        >>> model.config.agg, model.config.threshold
        ('prod', 0.3)
    """

    kind = "prm"
    config_class = PRMConfig
    saves_weights = True
    spec: str | None = None

    def __init__(self, *, cache: bool | str | Path = True, **params: Any) -> None:
        known = {f.name for f in fields(PRMConfig)}
        unknown = sorted(set(params) - known)
        if unknown:
            raise ConfigError(f"ProcessRewardModel has no parameter '{unknown[0]}'; its "
                              f"parameters are {', '.join(sorted(known))}")
        self.config = PRMConfig(**params)
        self.cache = cache

    # --- construction --------------------------------------------------------------------

    @classmethod
    def from_spec(cls, arg: str, options: dict[str, str]) -> Any:
        """``prm:ENCODER?opts``; ``prm:default`` is ``RECOMMENDED`` (options still apply);
        ``prm:seq:PATH`` is a fine-tuned token classifier (``models.prm_seq``)."""
        if arg.startswith("seq:") or arg == "seq":
            from rewardlab.models.prm_seq import SeqProcessRewardModel

            return SeqProcessRewardModel.from_spec(arg[4:], options)
        if arg == "default":
            options = {**RECOMMENDED, **options}
            arg = "minilm"
        config = config_from_options(PRMConfig, options, spec=f"prm:{arg}",
                                     fixed={"encoder": arg or "minilm"})
        return cls(**asdict(config))

    @property
    def encoder(self) -> SentenceEncoder:
        if getattr(self, "_encoder", None) is None:
            self._encoder = open_encoder(self.config.encoder, max_length=self.config.max_length,
                                         cache=self.cache)
        return self._encoder

    # --- features ------------------------------------------------------------------------

    def split(self, response: str) -> list[str]:
        """The steps ``score`` reads in ``response``: at least one (the whole text)."""
        c = self.config
        return split_steps(response, c.split, separator=c.separator) or [response]

    def step_features(self, prompts: Sequence[Prompt], step_lists: Sequence[Sequence[str]]
                      ) -> np.ndarray:
        """The head's input for every step of every solution, in order: float32
        ``(total steps, d)``."""
        if len(prompts) != len(step_lists):
            raise ConfigError(f"got {len(prompts)} prompts but {len(step_lists)} solutions; "
                              "they must pair up one to one")
        needed = {part for block in self.config.features for part in block.split("*")}
        questions, steps, contexts, position, checks, claims = [], [], [], [], [], []
        for prompt, solution in zip(prompts, step_lists, strict=True):
            question = last_user_turn(prompt)
            n = len(solution)
            if "checks" in needed:
                checks.append(numeric_checks(question, solution))
            if "claims" in needed:
                claims.append(claim_checks(question, solution))
            for k, step in enumerate(solution):
                questions.append(question)
                steps.append(step)
                if "prefix" in needed:
                    contexts.append("\n".join([question, *solution[:k]]))
                position.append((min(k, 10) / 10, float(k == 0), float(k == n - 1)))
        enc, blocks = self.encoder, {}
        if "step" in needed:
            blocks["step"] = enc.embed(steps, truncate="right")
        if "question" in needed:
            blocks["question"] = enc.embed(questions, truncate="left")
        if "joint" in needed:
            blocks["joint"] = enc.embed_joined(questions, steps)
        if "prefix" in needed:
            blocks["prefix"] = enc.embed_joined(contexts, steps)
        if "position" in needed:
            blocks["position"] = np.asarray(position, dtype=np.float32).reshape(-1, 3)
        if "checks" in needed:
            blocks["checks"] = (np.vstack(checks) if checks else np.zeros((0, 3))
                                ).astype(np.float32)
        if "claims" in needed:
            blocks["claims"] = (np.vstack(claims) if claims
                                else np.zeros((0, len(CLAIM_CHECKS)))).astype(np.float32)
        parts = []
        for block in self.config.features:
            a, _, b = block.partition("*")
            parts.append(blocks[a] * blocks[b] if b else blocks[a])
        if not steps:
            return np.zeros((0, sum(p.shape[1] for p in parts) if parts else 0), np.float32)
        return np.hstack(parts).astype(np.float32, copy=False)

    # --- training ------------------------------------------------------------------------

    def fit(self, data: Dataset[Any]) -> ProcessRewardModel:
        """Train the step head on step-labelled solutions (``steps`` data: TRL's PRM format,
        PRMBench, or ``rewardlab label inject-errors`` output). Returns ``self``.

        With ``threshold=None`` the first-error threshold is chosen here too (``threshold_``;
        how in ``threshold_report_``).
        """
        require_task(data, ("steps",), purpose="training a process reward model")
        records = data.records
        unlabelled = next((r for r in records if r.labels is None), None)
        if unlabelled is not None:
            raise DataError("has no 'labels'; training a process reward model needs one "
                            "true/false label per step", file=data.source,
                            line=unlabelled.line, field="labels")
        cfg = self.config
        feats = self.step_features([r.prompt for r in records], [r.steps for r in records])
        labels = np.array([ok for r in records for ok in r.labels], dtype=np.float32)
        owner = np.repeat(np.arange(len(records)), [len(r.steps) for r in records])
        used = np.ones(len(labels), dtype=bool)
        if cfg.after_error == "ignore":
            used = np.array([r.first_error is None or k <= r.first_error
                             for r in records for k in range(len(r.steps))])
        if cfg.threshold is None:
            self.threshold_, self.threshold_report_ = self._tune_threshold(
                data, feats, labels, used, owner)
        else:
            self.threshold_, self.threshold_report_ = cfg.threshold, {"method": "given"}
        self.head_, self.feature_mean_, self.feature_scale_, self.history_ = self._fit_head(
            feats, labels, used)
        self.n_train_solutions_ = len(records)
        self.n_train_steps_ = int(used.sum())
        return self

    def _fit_head(self, feats: np.ndarray, labels: np.ndarray, used: np.ndarray, *,
                  description: str = "training step head"
                  ) -> tuple[torch.nn.Module, np.ndarray, np.ndarray, list[dict[str, float]]]:
        """One head trained on the ``used`` steps; returns it with its standardisation."""
        import torch

        from rewardlab.train.step_loop import train_step_head

        cfg = self.config
        weight = used.astype(np.float32)
        n_good = int((labels[used] > 0.5).sum())
        n_bad = int(used.sum()) - n_good
        if cfg.balance and n_good and n_bad:
            weight *= np.where(labels > 0.5, (n_good + n_bad) / (2 * n_good),
                               (n_good + n_bad) / (2 * n_bad)).astype(np.float32)
        mean = feats.mean(axis=0)
        scale = feats.std(axis=0) + 1e-6
        x = torch.from_numpy(((feats - mean) / scale).astype(np.float32))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(cfg.seed)
            head = build_head(cfg, feats.shape[1])
        history = train_step_head(
            head, x, torch.from_numpy(labels), weight=torch.from_numpy(weight),
            epochs=cfg.epochs, batch_size=cfg.batch_size, lr=cfg.lr,
            weight_decay=cfg.weight_decay, seed=cfg.seed, description=description)
        return head, mean.astype(np.float32), scale.astype(np.float32), history

    def _tune_threshold(self, data: Dataset[Any], feats: np.ndarray, labels: np.ndarray,
                        used: np.ndarray, owner: np.ndarray) -> tuple[float, dict[str, Any]]:
        """The threshold with the best first-error F1 on out-of-fold step scores (folds
        grouped by problem); 0.5 when there are too few problems to fold."""
        import torch

        from rewardlab.data import kfold_ids

        k = self.config.tune_folds
        fold_of = np.array(kfold_ids(data, k=k, seed=self.config.seed))
        if len(set(fold_of.tolist())) < k:
            return 0.5, {"method": "default", "reason": f"fewer than {k} problem groups"}
        probs = np.zeros(len(labels))
        for fold in range(k):
            held = fold_of[owner] == fold
            head, mean, scale, _ = self._fit_head(
                feats[~held], labels[~held], used[~held],
                description=f"tuning the threshold ({fold + 1}/{k})")
            with torch.inference_mode():
                x = torch.from_numpy(((feats[held] - mean) / scale).astype(np.float32))
                probs[held] = torch.sigmoid(head(x).squeeze(-1).double()).numpy()
        starts = np.concatenate([[0], np.cumsum(np.bincount(owner))[:-1]])
        sizes = np.bincount(owner)
        chosen = [i for i, r in enumerate(data.records)
                  if str(r.id).startswith(self.config.tune_on)] or list(range(len(data)))
        actual = [data.records[i].first_error for i in chosen]
        best_f1, best_t = -1.0, 0.5
        for t in np.round(np.arange(0.05, 0.951, 0.05), 2):
            predicted = [first_error_index(probs[starts[i]:starts[i] + sizes[i]], float(t))
                         for i in chosen]
            f1 = first_error_accuracies(predicted, actual)["first_error_f1"]
            # ties go to the threshold nearest 0.5, the uncommitted choice
            if f1 > best_f1 + 1e-12 or (abs(f1 - best_f1) <= 1e-12
                                         and abs(t - 0.5) < abs(best_t - 0.5)):
                best_f1, best_t = f1, float(t)
        return best_t, {"method": "cross-fitted", "folds": k, "out_of_fold_f1": best_f1,
                        "tuned_on": len(chosen)}

    # --- scoring -------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if getattr(self, "head_", None) is None:
            name = self.spec or "prm:" + self.config.encoder
            raise NotFittedError(
                f"ProcessRewardModel '{name}' is not trained yet: call fit(data) with "
                f"step-labelled data first, or run `rewardlab train STEPS.jsonl --model "
                f"{name} --out DIR` and use DIR as the model")

    def score_steps(self, prompts: Sequence[Prompt], step_lists: Sequence[Sequence[str]]
                    ) -> list[np.ndarray]:
        """Per solution, every step's p(the solution is still correct), float64."""
        import torch

        self._check_fitted()
        feats = self.step_features(prompts, step_lists)
        if feats.shape[0]:
            feats = (feats - self.feature_mean_) / self.feature_scale_
            with torch.inference_mode():
                logits = self.head_(torch.from_numpy(feats.astype(np.float32))).squeeze(-1)
            flat = torch.sigmoid(logits.double()).numpy()
        else:
            flat = np.zeros(0)
        out, at = [], 0
        for solution in step_lists:
            out.append(flat[at:at + len(solution)])
            at += len(solution)
        return out

    def first_error(self, prompts: Sequence[Prompt], step_lists: Sequence[Sequence[str]], *,
                    threshold: float | None = None) -> list[int | None]:
        """Per solution, the 0-based index of its first step with p(correct) below
        ``threshold`` (default: ``threshold_``, chosen or given at training), or None."""
        self._check_fitted()
        t = self.threshold_ if threshold is None else threshold
        return [first_error_index(s, t) for s in self.score_steps(prompts, step_lists)]

    def score(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """Rewards float64 ``(n,)``: each response split into steps, scored, aggregated."""
        if len(prompts) != len(responses):
            raise ConfigError(f"score() got {len(prompts)} prompts but {len(responses)} "
                              "responses; they must pair up one to one")
        self._check_fitted()
        if not responses:
            return np.zeros(0, dtype=np.float64)
        step_scores = self.score_steps(prompts, [self.split(r) for r in responses])
        return aggregate_step_scores(step_scores, self.config.agg)

    # --- persistence: ``SaveLoadMixin`` writes rewardlab.json + model.safetensors ----------

    def saved_tensors(self) -> dict[str, Any]:
        self._check_fitted()
        return head_tensors(self.head_, self.feature_mean_, self.feature_scale_)

    def saved_state(self) -> dict[str, Any]:
        return {"feature_dim": int(self.feature_mean_.shape[0]),
                "n_train_solutions": self.n_train_solutions_,
                "n_train_steps": self.n_train_steps_,
                "threshold": self.threshold_,
                "threshold_report": getattr(self, "threshold_report_", {}),
                "encoder_identity": self.encoder.identity,
                "final_epoch": self.history_[-1] if getattr(self, "history_", None) else None}

    def restore(self, tensors: dict[str, Any], state: dict[str, Any]) -> None:
        threshold = state.get("threshold", self.config.threshold)
        if not isinstance(threshold, int | float) or not 0.0 <= threshold < 1.0:
            raise ModelFormatError(f"the saved state has no valid 'threshold' (got "
                                   f"{threshold!r})")
        self.head_, self.feature_mean_, self.feature_scale_ = restore_head(self.config, tensors)
        self.n_train_solutions_ = state.get("n_train_solutions", 0)
        self.n_train_steps_ = state.get("n_train_steps", 0)
        self.threshold_ = float(threshold)
        self.threshold_report_ = state.get("threshold_report", {})
        self.history_ = []
