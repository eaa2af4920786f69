"""Does an induced rubric beat a fixed one? Rubric induction (``rewardlab label
induce-rubric``) against the fixed helpfulness rubric, with the same judge, on held-out pairs.

The pairs (default: the first 70 PandaLM pairs) are split by a seeded shuffle: ``--induce``
of them (default 40) go to induction (which itself splits them into proposal and validation
pairs), the rest are held out. On the held-out pairs two rewards are compared, each reading
one response at a time:

- ``induced``: ``rubric:?file=INDUCED&judge=SPEC`` (mean of the kept criteria's P(yes));
- ``fixed``: ``SPEC?mode=yesno&rubric=helpfulness`` (P(yes) to the built-in helpfulness
  rubric).

A pair counts 1 when the chosen response gets the higher reward, 0.5 on a tie or a missing
verdict, else 0. The JSON line holds both accuracies with 95% bootstrap intervals and the
paired bootstrap p-value of the difference (``rewardlab.bench``'s test).

Run it against a capable served model; the shipped SmolLM2-135M cannot judge quality, so no
figure from it is claimed:

    python benchmarks/rubric_induction.py \\
        --judge "judge:openai:http://127.0.0.1:8000/v1#Qwen2.5-7B-Instruct"
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit
from rewardlab import resolve
from rewardlab.bench import paired_p_value, replicate_scores
from rewardlab.data import Dataset, load_dataset
from rewardlab.evaluate.metrics import bootstrap_ci
from rewardlab.label.rubrics import induce_rubric


def pair_outcomes(chosen: np.ndarray, rejected: np.ndarray) -> np.ndarray:
    """1 when chosen > rejected, 0.5 on a tie or a NaN on either side, else 0."""
    missing = np.isnan(chosen) | np.isnan(rejected)
    return np.where(missing, 0.5, np.where(chosen > rejected, 1.0,
                                           np.where(chosen == rejected, 0.5, 0.0)))


def report(induced: np.ndarray, fixed: np.ndarray, *, n_boot: int = 2000, seed: int = 0
           ) -> dict[str, Any]:
    """The figures of one comparison from per-pair outcomes (same pairs, same order)."""
    induced, fixed = np.asarray(induced, float), np.asarray(fixed, float)
    if induced.shape != fixed.shape or induced.ndim != 1 or not induced.size:
        raise ValueError("give one outcome per held-out pair for each rubric, same order")
    reps = replicate_scores("mean", [np.column_stack([induced, fixed])], n_boot=n_boot,
                            rng=np.random.default_rng(seed))
    diff = float(induced.mean() - fixed.mean())
    out: dict[str, Any] = {"heldout_pairs": int(induced.size)}
    for name, o in (("induced", induced), ("fixed_helpfulness", fixed)):
        lo, hi = bootstrap_ci(o, n_boot=n_boot, seed=seed)
        out[name] = {"accuracy": round(float(o.mean()), 4), "ci95": [round(lo, 4), round(hi, 4)]}
    out["difference"] = round(diff, 4)
    out["paired_p_value"] = round(paired_p_value(diff, reps[:, 0] - reps[:, 1]), 4)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--judge", required=True, help="a judge: spec (a served model)")
    parser.add_argument("--pairs", default="bundled:pandalm")
    parser.add_argument("--n", type=int, default=70, help="pairs used in all")
    parser.add_argument("--induce", type=int, default=40, help="of them, pairs for induction")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-candidates", type=int, default=12)
    args = parser.parse_args()

    data = load_dataset(args.pairs, limit=args.n)
    records = list(data.records)
    order = list(range(len(records)))
    random.Random(args.seed).shuffle(order)
    induce_part = [records[i] for i in order[:args.induce]]
    held = [records[i] for i in order[args.induce:]]
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "induced.json"
        induced = induce_rubric(Dataset(task="pairwise", records=tuple(induce_part),
                                        source=f"{args.pairs} (induction part)",
                                        form=data.form),
                                judge=args.judge, out=path, seed=args.seed,
                                max_candidates=args.max_candidates)
        rubric_model = resolve(f"rubric:?file={path}&judge=({args.judge})")
        sep = "&" if "?" in args.judge else "?"
        fixed_model = resolve(f"{args.judge}{sep}mode=yesno&rubric=helpfulness")
        prompts = [r.prompt for r in held]
        scores = {}
        for name, model in (("induced", rubric_model), ("fixed", fixed_model)):
            c = np.asarray(model.score(prompts, [r.chosen for r in held]), float)
            r = np.asarray(model.score(prompts, [r.rejected for r in held]), float)
            scores[name] = pair_outcomes(c, r)
        figures = report(scores["induced"], scores["fixed"], seed=args.seed)
    emit("rubric_induction", judge=args.judge, pairs=args.pairs, seed=args.seed,
         induction={"pairs": len(induce_part), "candidates": induced.n_candidates,
                    "kept": induced.n_kept, "validation_accuracy": round(induced.accuracy, 4),
                    "criteria": [c["text"] for c in induced.rubric["criteria"]]},
         **figures, seconds=round(time.perf_counter() - start, 1))


if __name__ == "__main__":
    main()
