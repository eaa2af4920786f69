"""Fine-tuning loop for sequence-classifier reward models, built for CPU throughput.

Where TRL's ``RewardTrainer`` spends CPU time that this loop does not (measured in
``benchmarks/train_vs_trl.py``):

* **length-grouped batches**: pairs are shuffled, then sorted by length inside windows of 64
  batches, and the batches are shuffled again; each batch is padded only to its own longest
  input, so little compute goes to padding. TRL pads random batches to their longest member.
* **no gradient checkpointing**: TRL turns it on by default, which re-runs every forward
  pass during backward (~1/3 more compute) to save memory a small model does not need.
* **one forward per batch**: chosen and rejected inputs go through the network together.
* everything is tokenised once, up front, and truncated instead of dropped (TRL filters out
  pairs longer than ``max_length``; rewardlab keeps the response and cuts the prompt).
* both use bf16 autocast on CPUs with native bf16 (``precision=auto``); scoring stays fp32.
  Under it, rewardlab runs the attention kernel itself in fp32, whose CPU backward is
  ~2.4x faster than bf16's (``train/fp32_attention.py``).

Resumable: a checkpoint holds the weights, optimiser and scheduler state, the step and the
history; batch order is a pure function of (seed, epoch), so a resumed run replays exactly
the batches an uninterrupted one would have seen. It also records the run (the settings that
shape the trajectory and digests of the token ids), and a resume under another run is refused
(``train/checkpoint.py``, which also makes the swap of checkpoints crash-safe).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rewardlab._device import pick_precision
from rewardlab._progress import progress
from rewardlab.errors import ModelFormatError, TrainingError
from rewardlab.train.checkpoint import (
    STATE_FILE,
    check_same_run,
    check_start,
    find_checkpoint,
    read_state,
    write_checkpoint,
)
from rewardlab.train.distributed import World
from rewardlab.train.fp32_attention import fp32_attention
from rewardlab.train.losses import pairwise_loss
from rewardlab.train.shared_prompt import plan_rows, prompt_sharing, shared_rewards

if TYPE_CHECKING:
    import torch

    from rewardlab.models._hf_inputs import EncodedPair
    from rewardlab.models.seq import SeqConfig

__all__ = ["collate", "grouped_batches", "length_batches", "pairs_digest", "train_sequence_pairs",
           "use_bf16"]

_WINDOW_BATCHES = 64
_WEIGHTS = "weights.safetensors"
_OPTIMIZER = "optimizer.pt"
#: Config fields that do not change what a run computes, so a resume may change them.
_FREE_FIELDS = ("checkpoint_every", "threads", "device", "gradient_checkpointing",
                "attn_implementation", "score_precision", "share_prompt")


def grouped_batches(lengths: Sequence[int], batch_size: int, *, seed: int) -> list[np.ndarray]:
    """Shuffled batches of similar length (HF's length-grouped sampling idea).

    Deterministic in ``seed``: the same seed gives the same batches, which resume relies on.
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(lengths))
    lengths = np.asarray(lengths)
    window = batch_size * _WINDOW_BATCHES
    batches = []
    for start in range(0, len(order), window):
        chunk = order[start:start + window]
        chunk = chunk[np.argsort(-lengths[chunk], kind="stable")]
        batches.extend(chunk[i:i + batch_size] for i in range(0, len(chunk), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def length_batches(lengths: Sequence[int], token_budget: int) -> list[np.ndarray]:
    """Batches for inference: sorted by length, cut so padded tokens stay under the budget."""
    order = np.argsort(-np.asarray(lengths), kind="stable")
    batches, current, longest = [], [], 0
    for i in order:
        longest_if = max(longest, lengths[i])
        if current and longest_if * (len(current) + 1) > token_budget:
            batches.append(np.array(current))
            current, longest_if = [], lengths[i]
        current.append(i)
        longest = longest_if
    if current:
        batches.append(np.array(current))
    return batches


def collate(items: Sequence[EncodedPair], pad_id: int | None, *, width: int = 0
            ) -> dict[str, torch.Tensor]:
    """Right-padded tensors for a batch (decoder heads read the last non-pad token), at
    least ``width`` wide."""
    import torch

    width = max(width, *(len(e.input_ids) for e in items))
    pad = 0 if pad_id is None else pad_id
    ids = torch.full((len(items), width), pad, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    types = torch.zeros((len(items), width), dtype=torch.long) if items[0].token_type_ids else None
    for row, e in enumerate(items):
        n = len(e.input_ids)
        ids[row, :n] = torch.tensor(e.input_ids)
        mask[row, :n] = 1
        if types is not None:
            types[row, :n] = torch.tensor(e.token_type_ids)
    out = {"input_ids": ids, "attention_mask": mask}
    if types is not None:
        out["token_type_ids"] = types
    return out


def use_bf16(precision: str) -> bool:
    """Whether CPU training autocasts to bf16: asked for, or ``auto`` on a CPU with native
    bf16 (``rewardlab._device.pick_precision`` decides, for every device)."""
    import torch

    return pick_precision(precision, torch.device("cpu")).dtype == torch.bfloat16


def pairs_digest(chosen: Sequence[EncodedPair], rejected: Sequence[EncodedPair],
                 *extra: Sequence[float] | None) -> str:
    """``"N pairs, sha256 HEX"`` of the token ids (and any per-pair ``extra`` column, such as
    margins or loss weights): what a resumed run must train on to be the same run. Token ids,
    not text, so the tokenizer and ``max_length`` count too and the file format does not."""
    digest = hashlib.sha256()
    for item in (*chosen, *rejected):
        ids = np.asarray(item.input_ids, dtype=np.int64)
        digest.update(np.int64(len(ids)).tobytes() + ids.tobytes())
        if item.token_type_ids:
            digest.update(np.asarray(item.token_type_ids, dtype=np.int8).tobytes())
    for column in extra:
        digest.update(b"-" if column is None else np.asarray(column, np.float64).tobytes())
    return f"{len(chosen)} pairs, sha256 {digest.hexdigest()[:16]}"


def _disable_dropout(net: Any) -> None:
    from torch import nn

    for module in net.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0


def train_sequence_pairs(
    net: Any,
    chosen: Sequence[EncodedPair],
    rejected: Sequence[EncodedPair],
    *,
    config: SeqConfig,
    pad_id: int | None,
    margin: Sequence[float] | None = None,
    weights: Sequence[float] | None = None,
    evaluate: Callable[[], float] | None = None,
    eval_digest: str | None = None,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    mark_trained: Callable[[], None] | None = None,
    world: World | None = None,
    heads: Sequence[int] | None = None,
    target: Sequence[float] | None = None,
) -> list[dict[str, float]]:
    """Fine-tune ``net`` (one logit per input) so chosen inputs outscore rejected ones.

    Args:
        eval_digest: identifies the data ``evaluate`` scores (``pairs_digest``); a resumed
            run must evaluate the same data, or its history would mix two eval sets.
        checkpoint_dir: where checkpoints go; one of an earlier run must be resumed or
            deleted, never silently overwritten.
        world: this process's place among several workers (``train/workers.py``); each
            step's global batch is split between them and their gradients summed, so N
            workers take the steps one process would (the loss of a step is the sum over the
            global batch over its size, whatever the shards).
        heads: for a network with one logit per attribute (``multi:seq:``), the logit each
            pair trains: every head gets the loss of its own attribute's pairs only, and the
            backbone the sum. None: the network's one logit.
        target: soft labels, per pair the probability that chosen is better (a vote share,
            ``SeqConfig.soft_labels``); None: hard labels.

    Returns:
        One dict per epoch: loss, train accuracy and margin over the epoch's batches, and
        ``eval_accuracy`` when ``evaluate`` is given.

    Raises:
        TrainingError: the loss became NaN/inf (the last good checkpoint is kept),
            ``resume`` was asked with no checkpoint, or the checkpoint belongs to a run with
            other settings or data.
        OutputError: ``checkpoint_dir`` holds an earlier run's checkpoint and ``resume`` is
            off.
        ModelFormatError: the checkpoint to resume is corrupt (names the file).
    """
    import torch

    world = world or World()
    n = len(chosen)
    cfg = config
    if n < cfg.batch_size:
        raise TrainingError(
            f"the data has {n} pairs, fewer than one batch ({cfg.batch_size}); lower "
            "--batch-size or add data")
    found = None if checkpoint_dir is None else check_start(checkpoint_dir, resume=resume)
    if resume and found is None:
        raise TrainingError("--resume needs a checkpoint directory to resume from")
    run = {**{f.name: getattr(cfg, f.name) for f in fields(cfg) if f.name not in _FREE_FIELDS},
           "data": pairs_digest(chosen, rejected, margin, weights,
                                *(() if heads is None else (heads,)),
                                *(() if target is None else (target,))),
           "eval_data": eval_digest}
    if not cfg.dropout:
        _disable_dropout(net)
    # a pair's two responses in one packed row over their prompt (train/shared_prompt.py)
    sharing = prompt_sharing(cfg.share_prompt, net)
    params = _trainable(net, cfg, heads)
    device = params[0].device
    precision = pick_precision(cfg.precision, device)
    if world.sharded:
        from rewardlab.train.fsdp import shard_model

        world.broadcast(params)  # every worker shards the same full weights
        shard_model(net, world, device, precision)
        params = _trainable(net, cfg, heads)  # now this worker's shards
    # fused: one kernel for all parameters, ~10x faster per step on MiniLM's 22.7M parameters
    # than the per-tensor loop (17 vs 173 ms on one core) — TRL's default optimiser, too
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.weight_decay,
                                  fused=device.type in ("cpu", "cuda"))
    lengths = [max(len(c.input_ids), len(r.input_ids)) for c, r in zip(chosen, rejected,
                                                                       strict=True)]
    lengths_np = np.asarray(lengths)
    steps_per_epoch = math.ceil(math.ceil(n / cfg.batch_size) / cfg.grad_accum)
    total_steps = steps_per_epoch * cfg.epochs
    warmup = int(cfg.warmup_ratio * total_steps)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / max(warmup, 1), 1.0) if s < warmup
        else max(0.0, (total_steps - s) / max(total_steps - warmup, 1)))
    margin_t = None if margin is None else torch.tensor(margin, dtype=torch.float32,
                                                        device=device)
    scaler = precision.grad_scaler()
    weight_t = None if weights is None else torch.tensor(weights, dtype=torch.float32,
                                                         device=device)
    heads_t = None if heads is None else torch.tensor(heads, dtype=torch.long, device=device)
    target_t = None if target is None else torch.tensor(target, dtype=torch.float32,
                                                        device=device)

    history: list[dict[str, float]] = []
    step = 0
    if found is not None:
        step, history = _load_checkpoint(found, net, optimizer, scheduler, run)
        if mark_trained is not None:
            mark_trained()
    if not world.sharded:
        world.broadcast(params)

    net.train()
    # CPU bf16: attention in fp32, its backward is ~2.4x faster there (train/fp32_attention.py)
    fast_attention = device.type == "cpu" and precision.dtype == torch.bfloat16
    with progress("fine-tuning", total=total_steps) if world.rank == 0 else \
            _no_progress() as advance, fp32_attention(net, fast_attention):
        advance(step)
        for epoch in range(step // steps_per_epoch, cfg.epochs):
            batches = grouped_batches(lengths, cfg.batch_size, seed=cfg.seed * 1000 + epoch)
            groups = [batches[i:i + cfg.grad_accum]
                      for i in range(0, len(batches), cfg.grad_accum)]
            done_in_epoch = step - epoch * steps_per_epoch
            sums = history.pop()["_sums"] if done_in_epoch and history and \
                "_sums" in history[-1] else {"loss": 0.0, "correct": 0.0, "margin": 0.0, "n": 0}
            for group in groups[done_in_epoch:]:
                optimizer.zero_grad(set_to_none=True)
                pairs_in_step = sum(len(b) for b in group)
                step_weight = None if weight_t is None else weight_t[np.concatenate(group)].sum()
                local = torch.zeros(4, dtype=torch.float64)  # loss, correct, margin, n
                for global_batch in group:
                    batch = world.shard(global_batch)
                    idle = not len(batch)
                    if idle and not world.sharded:
                        continue
                    if idle:  # FSDP: every worker joins each layer's collectives; it
                        batch = global_batch[:1]  # runs one pair that counts zero
                    items = [chosen[i] for i in batch] + [rejected[i] for i in batch]
                    # each pair's own attribute column (multi:seq:), column 0 otherwise
                    columns = None if heads_t is None else heads_t[batch].repeat(2)
                    if sharing:
                        with precision.autocast():
                            rewards = shared_rewards(net, items, pad_id, width=_packed_width(
                                chosen, rejected, global_batch, world), heads=columns).float()
                    else:
                        # padded as the whole global batch would be: the same shapes, so the
                        # same rounding as one process
                        inputs = collate(items, pad_id, width=lengths_np[global_batch].max())
                        inputs = {k: v.to(device) for k, v in inputs.items()}
                        with precision.autocast():
                            logits = net(**inputs).logits
                            rewards = (logits[:, 0] if columns is None else logits.gather(
                                1, columns.to(logits.device).unsqueeze(1))[:, 0]).float()
                    r_c, r_r = rewards[: len(batch)], rewards[len(batch):]
                    w = None if weight_t is None else weight_t[batch]
                    value = pairwise_loss(
                        cfg.loss, r_c, r_r,
                        margin=None if margin_t is None else margin_t[batch],
                        label_smoothing=cfg.label_smoothing,
                        center_coef=cfg.center_coef if w is None else 0.0,
                        weight=w,
                        flip_rate=cfg.flip_rate,
                        target=None if target_t is None else target_t[batch],
                    )
                    if w is not None and not idle:  # weighted mean over the step, not the shard
                        value = value * (w.sum() / step_weight) * (pairs_in_step / len(batch))
                        if cfg.center_coef:
                            value = value + cfg.center_coef * ((r_c + r_r) ** 2).mean()
                    scaled = value * (0.0 if idle else len(batch) / pairs_in_step)
                    (scaler.scale(scaled) if scaler is not None else scaled).backward()
                    if idle:
                        continue
                    diff = (r_c - r_r).detach()
                    local += torch.tensor([value.item() * len(batch),
                                           float((diff > 0).sum() + 0.5 * (diff == 0).sum()),
                                           float(diff.sum()), len(batch)], dtype=torch.float64)
                if not world.sharded:  # FSDP summed them during backward
                    world.sum_gradients(params)
                local = world.sum_tensor(local)
                if not math.isfinite(float(local[0])):
                    last = checkpoint_dir and find_checkpoint(checkpoint_dir)
                    where = (f"; the last good checkpoint is in {last} (--resume "
                             "continues only this run: delete it to start over with "
                             "other settings)" if last else "")
                    raise TrainingError(
                        f"the training loss became {float(local[0])} at step {step + 1} "
                        f"(epoch {epoch + 1}); lower --lr or check the data{where}")
                for key, value_sum in zip(("loss", "correct", "margin", "n"), local.tolist(),
                                          strict=True):
                    sums[key] += value_sum
                if scaler is not None:
                    scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                if scaler is not None:
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    optimizer.step()
                scheduler.step()
                step += 1
                advance(1)
                if mark_trained is not None:
                    mark_trained()
                end_of_epoch = step % steps_per_epoch == 0
                if checkpoint_dir is not None and not end_of_epoch and cfg.checkpoint_every \
                        and step % cfg.checkpoint_every == 0:
                    _checkpoint(world, checkpoint_dir, net, optimizer, scheduler, step,
                                [*history, {"_sums": dict(sums)}], run)
            record = {"epoch": epoch + 1, "loss": sums["loss"] / sums["n"],
                      "accuracy": sums["correct"] / sums["n"], "margin": sums["margin"] / sums["n"]}
            if evaluate is not None:
                net.eval()
                record["eval_accuracy"] = evaluate()
                net.train()
            history.append(record)
            if checkpoint_dir is not None:
                _checkpoint(world, checkpoint_dir, net, optimizer, scheduler, step, history,
                            run)
    net.eval()
    return history


def _trainable(net: Any, cfg: SeqConfig, heads: Sequence[int] | None = None) -> list[Any]:
    """The parameters the optimiser trains. The scalar head's bias cancels in r_c - r_r: a
    pairwise loss gives it no gradient, and AdamW would turn the rounding noise in its zero
    into +-lr steps (a random walk of every reward, different on every worker count);
    centring gives it a real one. A ``multi:seq:`` head has one bias per attribute."""
    outputs = 1 if heads is None else int(max(heads)) + 1
    return [p for name, p in net.named_parameters() if p.requires_grad
            and (cfg.center_coef or not _is_head_bias(name, p, outputs))]


def _packed_width(chosen: Sequence[EncodedPair], rejected: Sequence[EncodedPair],
                  global_batch: np.ndarray, world: World) -> int:
    """The widest packed row of the whole global batch, so every worker pads its shard's
    rows as one process would (0 in one process: the shard is the global batch)."""
    if world.size == 1:
        return 0
    items = [chosen[i] for i in global_batch] + [rejected[i] for i in global_batch]
    return max(row.length for row in plan_rows(items))


def _is_head_bias(name: str, param: Any, outputs: int = 1) -> bool:
    return name.endswith("bias") and param.numel() == outputs


@contextmanager
def _no_progress() -> Iterator[Callable[[int], None]]:
    yield lambda n=1: None


def _checkpoint(world: World, directory: Path, net: Any, optimizer: Any, scheduler: Any,
                step: int, history: list[dict[str, Any]], run: dict[str, Any]) -> None:
    """Gather the full state on rank 0 (a collective under FSDP) and write it there once."""
    from rewardlab.train.full_state import gather_state

    weights, optimizer_state = gather_state(net, optimizer)
    world.on_rank0(_save_checkpoint, directory, weights, optimizer_state, scheduler, step,
                   history, run)


def _save_checkpoint(directory: Path, weights: dict[str, Any], optimizer_state: dict[str, Any],
                     scheduler: Any, step: int, history: list[dict[str, Any]],
                     run: dict[str, Any]) -> None:
    """Write the checkpoint beside ``directory`` and swap it in: never half a checkpoint.
    Weights and optimiser state are whole and keyed by parameter name
    (``train/full_state.py``), so any worker count and strategy can resume them."""
    import torch
    from safetensors.torch import save_file

    def write(tmp: Path) -> None:
        state = {k: v.detach().contiguous().clone() for k, v in weights.items()}
        save_file(state, str(tmp / _WEIGHTS))
        torch.save({"optimizer": optimizer_state, "scheduler": scheduler.state_dict()},
                   tmp / _OPTIMIZER)
        # last: a directory with the state file is complete
        (tmp / STATE_FILE).write_text(json.dumps({"step": step, "history": history,
                                                  "run": run}))

    write_checkpoint(directory, write)


def _load_checkpoint(directory: Path, net: Any, optimizer: Any, scheduler: Any,
                     run: dict[str, Any]) -> tuple[int, list[dict[str, Any]]]:
    """Restore a checkpoint of this ``run``; a corrupt file is a ``ModelFormatError`` naming
    it, a checkpoint of another run a ``TrainingError`` naming what differs."""
    import pickle
    import zipfile

    import torch
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from rewardlab.train.full_state import load_state

    state = read_state(directory)
    check_same_run(directory, state.get("run"), run)
    file = directory / STATE_FILE
    try:
        step, history = int(state["step"]), list(state["history"])
        file = directory / _WEIGHTS
        weights = load_file(str(file))
        file = directory / _OPTIMIZER
        opt = torch.load(file, weights_only=True)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError, EOFError, SafetensorError,
            pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise ModelFormatError(f"the checkpoint file {file} is unreadable or corrupt ({exc}); "
                               f"delete {directory} and start without --resume") from None
    file = directory / _WEIGHTS
    try:
        _check_weights(net, weights)
        file = directory / _OPTIMIZER
        load_state(net, optimizer, weights, opt["optimizer"])
        scheduler.load_state_dict(opt["scheduler"])
    except (ValueError, KeyError, TypeError, RuntimeError, IndexError) as exc:
        raise ModelFormatError(
            f"the checkpoint file {file} does not fit this model ({_first_line(exc)}): it was "
            f"written for another model or other trainable parameters; delete {directory} "
            "and start without --resume") from None
    return step, history


def _check_weights(net: Any, weights: dict[str, Any]) -> None:
    """Same names and shapes as ``net``'s full weights (torch's own message is one line per
    tensor, and a sharded model would check only its shards)."""
    expected = {name: tuple(value.shape) for name, value in net.state_dict().items()}
    saved = {name: tuple(value.shape) for name, value in weights.items()}
    if expected.keys() != saved.keys():
        missing, extra = sorted(expected.keys() - saved.keys()), sorted(saved.keys() - expected)
        raise ValueError(f"{len(missing)} tensors missing, e.g. {missing[:2]}; {len(extra)} "
                         f"unknown, e.g. {extra[:2]}")
    wrong = next((n for n in expected if expected[n] != saved[n]), None)
    if wrong is not None:
        raise ValueError(f"{wrong} has shape {list(saved[wrong])}, the model's is "
                         f"{list(expected[wrong])}")


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
