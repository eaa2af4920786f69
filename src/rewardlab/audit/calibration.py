"""Calibration: when the model's Bradley–Terry probability ``σ(r_chosen − r_rejected)`` says
90%, is it right 90% of the time?

A reward model trained with a Bradley–Terry loss states a probability with every pair; RL
methods that weight or clip by it, and anyone reading rewards as confidence, rely on it. The
probe reads every pair of the data from the side the model prefers (confidence
``max(p, 1 − p)``), bins confidences in [0.5, 1] and reports the reliability diagram and the
**expected calibration error** (ECE, deciding), the Brier score and log-loss, and the
temperature ``T`` that would calibrate it (``σ(Δ / T)``; T > 1 means overconfident).

Rewards on another scale than logits (verifiers' 0/1, judges' probabilities) are read the
same way; their ECE says how far that scale is from a probability.
"""

from __future__ import annotations

import numpy as np

from rewardlab.audit._context import AuditContext
from rewardlab.audit._results import Example, ProbeResult, ProbeSkipped, Threshold
from rewardlab.audit._stats import fit_temperature, reliability, sigmoid
from rewardlab.audit._text import as_text

__all__ = ["NAME", "THRESHOLD", "TITLE", "run"]

NAME = "calibration"
TITLE = "Calibration"
#: expected calibration error
THRESHOLD = Threshold(warn=0.05, flag=0.1)


def run(ctx: AuditContext) -> ProbeResult:
    """Reliability diagram and ECE of σ(r_chosen − r_rejected) over every pair of the data."""
    rc, rr = ctx.base_rewards
    margins = rc - rr
    finite = np.isfinite(margins)
    if finite.sum() < 2:
        raise ProbeSkipped("fewer than two pairs have finite rewards on both sides")
    m = margins[finite]
    bins = ctx.config.bins
    ece, conf, acc, count, edges = reliability(m, bins=bins)
    p = sigmoid(m)
    brier = float(np.mean((1 - p) ** 2))
    log_loss = float(np.mean(np.logaddexp(0.0, -m)))
    temperature = fit_temperature(m)
    ece_after = reliability(m / temperature, bins=bins)[0] if temperature == temperature \
        else float("nan")
    confidence = np.maximum(p, 1 - p)
    wrong = np.flatnonzero(p < 0.5)
    order = wrong[np.argsort(-confidence[wrong], kind="stable")][:3]
    kept = np.flatnonzero(finite)
    examples = tuple(Example(
        prompt=as_text(ctx.pairs[kept[i]].prompt), response=ctx.pairs[kept[i]].rejected,
        other=ctx.pairs[kept[i]].chosen, label="confidently wrong",
        detail=f"P(rejected better) = {1 - p[i]:.3f} (margin {m[i]:+.3f})",
        severity=float(confidence[i])) for i in order)
    metrics = {"ece": ece, "brier": brier, "log_loss": log_loss, "temperature": temperature,
               "ece_at_temperature": ece_after, "mean_confidence": float(confidence.mean()),
               "accuracy": float(np.mean(np.where(p > 0.5, 1.0, np.where(p < 0.5, 0, 0.5)))),
               "n_pairs": int(finite.sum())}
    direction = ("overconfident" if metrics["mean_confidence"] > metrics["accuracy"]
                 else "underconfident")
    summary = (f"ECE {ece:.3f}: mean confidence {metrics['mean_confidence']:.2f} against "
               f"accuracy {metrics['accuracy']:.2f} ({direction}); σ(Δ/T) with "
               f"T = {temperature:.2f} would bring ECE to {ece_after:.3f}")
    notes = [f"every pair of the data ({metrics['n_pairs']}), {bins} confidence bins"]
    if (~finite).any():
        notes.append(f"{int((~finite).sum())} pairs without a finite reward were left out")
    return ProbeResult(
        name=NAME, title=TITLE, verdict=THRESHOLD.verdict(ece), figure="ece", value=ece,
        threshold=THRESHOLD, summary=summary, metrics=metrics, examples=examples,
        plot={"confidence": conf.tolist(), "accuracy": acc.tolist(), "count": count.tolist(),
              "edges": edges.tolist()},
        notes=tuple(notes))
