"""Label-noise sensitivity: how much held-out accuracy does the model's training recipe lose
when a share of the preference labels is flipped?

Human preference data disagrees with itself 20–40% of the time, so a recipe whose accuracy
collapses at 20% flips is fragile in practice. The data is split by prompt
(``split_by_prompt``); a fresh, untrained copy of the model (same configuration) is trained
on the training part with 0, 10, 20 and 40% of its labels flipped, with the same seeded
injection as ``rewardlab train --inject-noise`` (``label.noise.inject_label_noise`` at the
model's own seed), and evaluated on the clean held-out part. The deciding figure is the
accuracy lost between the clean run and the noisiest one.

It applies to trainable kinds; for ``embed:`` models every training text is already in the
embedding cache after the first run, so each fit costs seconds.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from rewardlab.audit._context import AuditContext
from rewardlab.audit._results import ProbeResult, ProbeSkipped, Threshold
from rewardlab.data import split_by_prompt
from rewardlab.errors import CapabilityError
from rewardlab.evaluate.pairwise import evaluate_pairwise
from rewardlab.label.noise import inject_label_noise
from rewardlab.models import clone
from rewardlab.models.base import RewardModel, Trainable

__all__ = ["MIN_PAIRS", "NAME", "THRESHOLD", "TITLE", "fresh_copy", "run"]

NAME = "label-noise"
TITLE = "Label-noise sensitivity"
#: held-out accuracy lost between the clean and the noisiest training run
THRESHOLD = Threshold(warn=0.05, flag=0.1)
MIN_PAIRS = 20


def fresh_copy(model: RewardModel) -> RewardModel:
    """An untrained model of the same kind and configuration (``rewardlab.models.clone``)."""
    try:
        return clone(model)
    except CapabilityError as exc:
        raise ProbeSkipped(str(exc)) from None


def run(ctx: AuditContext) -> ProbeResult:
    """Held-out accuracy after training on 0/10/20/40% flipped labels."""
    if not isinstance(ctx.model, Trainable):
        raise ProbeSkipped(f"model '{ctx.name}' cannot be trained (it is not Trainable), so "
                           "there is no training recipe to put under label noise")
    ctx.require_pairs()
    train, test = split_by_prompt(ctx.pair_data, test_fraction=ctx.config.test_fraction,
                                  seed=ctx.config.seed)
    if len(train) < MIN_PAIRS or len(test) < MIN_PAIRS // 2:
        raise ProbeSkipped(f"needs at least {MIN_PAIRS} training and {MIN_PAIRS // 2} held-out "
                           f"pairs after the split by prompt; got {len(train)} and {len(test)}")
    rates = sorted(set(ctx.config.noise_rates) | {0.0})
    rows: list[dict[str, Any]] = []
    for rate in rates:
        # head fits run on one torch thread (train.loop.one_torch_thread): four of them on a
        # busy machine took 490 s with two threads, 31 s with one
        start = time.perf_counter()
        model = fresh_copy(ctx.model)
        seed = int(getattr(getattr(model, "config", None), "seed", 0))
        noisy, flipped = inject_label_noise(train, rate, seed=seed) if rate else (train, [])
        model.fit(noisy)  # type: ignore[attr-defined]
        seconds = time.perf_counter() - start
        result = evaluate_pairwise(model, test, seed=ctx.config.seed).overall
        ctx.scored += 2 * len(test)
        rows.append({"noise_rate": rate, "flipped": len(flipped),
                     "held_out_accuracy": result.accuracy, "ci95_low": result.ci95[0],
                     "ci95_high": result.ci95[1], "train_seconds": seconds})
    clean, noisiest = rows[0]["held_out_accuracy"], rows[-1]["held_out_accuracy"]
    drop = clean - noisiest
    metrics: dict[str, float] = {"accuracy_drop": drop, "clean_accuracy": clean,
                                 "n_train": len(train), "n_test": len(test)}
    for r in rows:
        metrics[f"accuracy_at_{round(100 * r['noise_rate'])}pct"] = r["held_out_accuracy"]
    summary = (f"held-out accuracy {clean:.3f} trained on clean labels, {noisiest:.3f} with "
               f"{rows[-1]['noise_rate']:.0%} flipped ({drop * 100:.1f} points lost)")
    width = np.mean([r["ci95_high"] - r["ci95_low"] for r in rows])
    notes = (f"fresh copies of '{ctx.name}' trained on {len(train)} pairs, evaluated on "
             f"{len(test)} held-out pairs (split by prompt, seed {ctx.config.seed}); the "
             f"accuracies' 95% intervals are about ±{width / 2:.3f} wide",)
    return ProbeResult(
        name=NAME, title=TITLE, verdict=THRESHOLD.verdict(drop), figure="accuracy_drop",
        value=drop, threshold=THRESHOLD, summary=summary, metrics=metrics,
        tables={"held-out accuracy per noise rate": rows},
        plot={"rates": [r["noise_rate"] for r in rows],
              "accuracy": [r["held_out_accuracy"] for r in rows],
              "low": [r["ci95_low"] for r in rows], "high": [r["ci95_high"] for r in rows]},
        notes=notes)
