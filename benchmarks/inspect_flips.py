"""Flip-rate estimate of ``rewardlab inspect`` against known flips.

Two experiments on the 1,812 HH harmless pairs, cross-fitting ``embed:minilm`` over 5 folds
(``--learner``: ``peers`` = two MLP heads per fold on halves of the other folds, what
``inspect`` uses; ``linear`` = a ridge linear head on its frozen features; every reading of
``inspect`` is recorded):

1. **Known truth**: an ``embed:minilm`` model trained on HH relabels every pair by its own
   preference (so the clean labels are a deterministic function of the features), then
   0/10/20/30/40% of the labels are flipped at random. Target: the estimate within +-5
   points of the injected rate at every rate. ``clean_agreement`` is how often the
   cross-fitted margin sides with the clean label: it bounds what any estimator can read.
2. **Real HH** with 0/10/20/30/40% flips injected on top of the human labels. Target: the
   estimate rises monotonically. Under symmetric noise the observed rate is
   b + r(1 - 2b) for a base rate b, so each injected rate r implies b = (est - r) / (1 - 2r);
   the figure reports their median and the reading at r = 0.

``--pool SET...`` adds other sets' pairs to the known-truth experiment (labelled by the same
model), to see how the estimate's accuracy grows with the number of pairs.

Prints one JSON line. ``--seeds`` sets the flip injection's seeds: one (7, the default) gives
every reading at every rate; several give each seed's readings and a summary over them (the
README's figure uses 7-14, since one seed's flips can land the estimate anywhere in a wide
interval).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.data import Dataset, PairRecord, load_dataset
from rewardlab.inspection.flips import estimate_flip_rate
from rewardlab.label.noise import inject_label_noise
from rewardlab.models._clone import clone
from rewardlab.models.registry import resolve
from rewardlab.scoring import score_pairs

RATES = (0.0, 0.1, 0.2, 0.3, 0.4)


def pool_pairs(name: str) -> tuple[PairRecord, ...]:
    """A ``--pool`` set's pairs. AlpacaEval annotation files (``output_1``/``output_2``, e.g.
    ``../shared/data/alpacaeval_length/annotations.jsonl``) are read as one pair per row;
    which side is "chosen" does not matter here, since the fixed labeller relabels every pair."""
    path = Path(name)
    if path.is_file():
        with path.open(encoding="utf-8") as f:
            first = json.loads(f.readline())
        if "output_1" in first and "output_2" in first:
            rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                    if line.strip()]
            return tuple(PairRecord(prompt=r["prompt"], chosen=r["output_1"],
                                    rejected=r["output_2"], id=r.get("id", i), line=i + 1)
                         for i, r in enumerate(rows))
    return load_dataset(name).records


def _row(make: Any, data: Dataset[PairRecord], rate: float, seed: int, learner: str
         ) -> dict[str, Any]:
    """Inject ``rate`` flips into ``data``, estimate them, and record every reading."""
    noisy, flipped = inject_label_noise(data, rate, seed=seed)
    est = estimate_flip_rate(make, noisy, seed=0, learner=learner)
    m = est.margins
    was_flipped = np.zeros(len(m), dtype=bool)
    was_flipped[flipped] = True
    ok = np.isfinite(m)
    return {"injected": rate, "estimate": round(est.estimate, 4),
            "ci95": [round(v, 4) for v in est.ci95],
            "error": round(est.estimate - rate, 4),
            "learner": est.learner, "agreement": round(est.agreement, 4),
            # sides with the label as it was before the injected flips
            "clean_agreement": round(float(((m[ok] > 0) != was_flipped[ok]).mean()), 4),
            "peer_agreement": None if est.peer_agreement is None
            else round(est.peer_agreement, 4),
            "noise_limited": est.noise_limited["estimate"],
            "noise_limited_ci95": est.noise_limited["ci95"],
            "anchor": est.anchor["estimate"], "anchor_pairs": est.anchor["pairs"],
            "profile": est.profile["estimate"]}


def _max_error(rows: list[dict[str, Any]], key: str) -> float:
    return round(max(abs(row[key] - row["injected"]) for row in rows), 4)


def _monotone(rows: list[dict[str, Any]], key: str) -> bool:
    return all(b[key] > a[key] for a, b in pairwise(rows))


READINGS = ("estimate", "profile", "noise_limited", "anchor")


def run(make: Any, hh: Dataset[PairRecord], relabelled: Dataset[PairRecord], seed: int,
        learner: str) -> dict[str, Any]:
    """Both experiments with one seed of injected flips."""
    known = [_row(make, relabelled, rate, seed, learner) for rate in RATES]
    # real HH labels plus injected flips (clean_agreement: with the human labels)
    real = [_row(make, hh, rate, seed, learner) for rate in RATES]
    for row in real:
        row["implied_base_rate"] = round((row["estimate"] - row["injected"])
                                         / (1 - 2 * row["injected"]), 4)
    return {
        "seed": seed, "known_truth": known,
        "max_abs_error": _max_error(known, "estimate"),
        "within_5_points": _max_error(known, "estimate") <= 0.05,
        "noise_limited_max_abs_error": _max_error(known, "noise_limited"),
        "anchor_max_abs_error": _max_error(known, "anchor"),
        "profile_max_abs_error": _max_error(known, "profile"),
        "real_hh": real,
        "monotone": _monotone(real, "estimate"),
        "noise_limited_monotone": _monotone(real, "noise_limited"),
        "anchor_monotone": _monotone(real, "anchor"),
        "profile_monotone": _monotone(real, "profile"),
        "implied_base_rate_at_0": real[0]["implied_base_rate"],
        "implied_base_rate_median": round(float(np.median(
            [row["implied_base_rate"] for row in real])), 4)}


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per reading, over the seeds: mean and RMS error at each known rate, how many seeds
    are within +-5 points at every rate, and how many are monotone on real HH."""
    out: dict[str, Any] = {}
    truth = np.asarray(RATES)
    for key in READINGS:
        known = np.array([[row[key] for row in r["known_truth"]] for r in runs])
        real = [[row[key] for row in r["real_hh"]] for r in runs]
        err = known - truth
        out[key] = {"known_mean": np.round(known.mean(0), 4).tolist(),
                    "known_rms_error": np.round(np.sqrt((err ** 2).mean(0)), 4).tolist(),
                    "seeds_within_5_points": int((np.abs(err).max(1) <= 0.05).sum()),
                    "real_hh_mean": np.round(np.mean(real, axis=0), 4).tolist(),
                    "real_hh_monotone_seeds": sum(
                        all(b > a for a, b in pairwise(r)) for r in real)}
        if key == "estimate":
            # the headline's error split into bias and spread, and how often its interval
            # holds the truth: with many seeds these say whether a miss is noise or a lean
            ci = np.array([[row["ci95"] for row in r["known_truth"]] for r in runs])
            out[key] |= {
                "known_bias": np.round(err.mean(0), 4).tolist(),
                "known_sd": np.round(err.std(0, ddof=1), 4).tolist() if len(runs) > 1 else None,
                "seeds_within_5_points_by_rate": (np.abs(err) <= 0.05).sum(0).tolist(),
                "ci95_holds_truth_by_rate": ((ci[:, :, 0] <= truth) & (truth <= ci[:, :, 1]))
                .sum(0).tolist()}
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spec", default="embed:minilm")
    ap.add_argument("--learner", default="peers", choices=("auto", "linear", "peers"))
    ap.add_argument("--seeds", type=int, nargs="+", default=[7],
                    help="seeds of the injected flips; with several, per-seed readings and "
                         "a summary over them")
    ap.add_argument("--labeller-data", default="bundled:hh_harmless",
                    help="what the fixed labelling model is trained on (it always labels "
                         "the HH pairs); another set gives a known truth the estimator's "
                         "rules were never tuned on")
    ap.add_argument("--pool", nargs="*", default=[],
                    help="more pairwise sets (e.g. bundled:pandalm bundled:llmbar, or an "
                         "AlpacaEval annotations file) whose pairs "
                         "join the HH pairs in the known-truth experiment, labelled by the "
                         "same fixed model: how the estimate's accuracy grows with the set's "
                         "size (the real-HH experiment stays on HH alone)")
    args = ap.parse_args()
    start = time.perf_counter()
    hh = load_dataset("bundled:hh_harmless")
    pooled = replace(hh, records=hh.records + tuple(
        rec for name in args.pool for rec in pool_pairs(name)))
    base = resolve(args.spec)

    def make(seed: int) -> Any:
        return clone(base, seed=seed)

    # labels from a fixed reward model
    labeller = clone(base, seed=123).fit(load_dataset(args.labeller_data))
    c, r = score_pairs(labeller, pooled.records)
    relabelled = replace(pooled, records=tuple(
        rec if ci >= ri else replace(rec, chosen=rec.rejected, rejected=rec.chosen)
        for rec, ci, ri in zip(pooled.records, c, r, strict=True)))
    runs = [run(make, hh, relabelled, seed, args.learner) for seed in args.seeds]
    head = {"benchmark": "inspect_flips", "pairs": len(hh), "model": args.spec, "folds": 5,
            "learner": args.learner, "labeller_data": args.labeller_data}
    if args.pool:
        head |= {"known_truth_pairs": len(pooled), "pool": ["bundled:hh_harmless", *args.pool]}
    if len(runs) == 1:
        doc = head | runs[0]
    else:
        compact = [{"seed": r["seed"]} | {
            f"{where}_{key}": [row[key] for row in r[where]]
            for where in ("known_truth", "real_hh") for key in READINGS} | {
            "known_truth_ci95": [row["ci95"] for row in r["known_truth"]]} for r in runs]
        doc = head | {"seeds": args.seeds, "runs": compact, "summary": summary(runs)}
    print(json.dumps(doc | {"seconds": round(time.perf_counter() - start, 1)}))


if __name__ == "__main__":
    main()
