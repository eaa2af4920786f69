"""First errors people labelled: ``prm:`` on MR-GSM8K's dev half, grouped cross-validation.

Data: ``bundled:mr_gsm8k_dev`` (../shared/data/mr_gsm8k/first_errors_dev.jsonl: 282 wrong
model solutions with a human-labelled first error step; 2 are refused by the reader for empty
steps and reported),
read by ``rewardlab.data`` with each question's reference solution mixed in as a correct
solution, as ProcessBench mixes correct ones (251). Folds are grouped by *problem*: an
original question, its reversed rewrite and its program-of-thought variant share a fold
(``problem_key``), so no problem is trained on and scored.

Per fold, a model is trained on the other folds' real solutions (in the ``real_plus_*``
variants plus error-injected solutions of ``--injected-problems`` GSM8K training problems,
as ``bundled:prm_train`` holds them) and scores the held fold; predictions of all folds
are pooled and scored once (F1 = ProcessBench's harmonic mean of acc_erroneous and
acc_correct). Reported beside it:

- the issue's starting point: ``prm:minilm`` trained on injected errors only, scored on all
  of the dev half (no fold needed: it never sees a real label);
- two baselines: always-none and always-step-1 (F1 0), and **style + position**: a rule that
  knows which solutions are references (predicts none) and predicts the most common first
  error step of the training folds for every model solution. References are human-written
  and differ in style from model output, so a model can tell them apart without judging a
  single step; acc_erroneous above this baseline is what finding real errors adds;
- per check (``rewardlab.steps``), how often it fires on the real first-error step, on the
  steps before it and on reference steps;
- injected-error F1 (GSM8K test problems held out as in prm_first_error.py) and PRMBench F1
  (the bundled sample ``bench`` scores) with the same model trained on everything;
- a learning curve: F1 against the number of real labelled solutions in training.

    nice -n 5 python benchmarks/prm_real_errors.py

A full run is long on a shared machine (each cross-validated variant ~3-20 min there):
``--variants``, ``--curve none``, ``--skip-full`` and ``--skip-injected-only`` run parts.
"""

from __future__ import annotations

import argparse
import re
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from _common import emit
from rewardlab import resolve
from rewardlab.data import Dataset, StepRecord, load_dataset, split_by_prompt
from rewardlab.evaluate.process import evaluate_process
from rewardlab.label import Problem, inject_errors, read_problems
from rewardlab.steps import CHECKS, CLAIM_CHECKS, claim_checks, numeric_checks
from rewardlab.steps import first_error_accuracies as accuracies

SHARED = next((p / "shared" / "data" for p in Path(__file__).resolve().parents
               if (p / "shared" / "data").is_dir()), Path("../shared/data"))
DEV = "bundled:mr_gsm8k_dev"  # the copy of ../shared/data/mr_gsm8k/first_errors_dev.jsonl
GSM8K_TRAIN = SHARED / "gsm8k" / "train.jsonl"
SPEC = "prm:minilm?features=joint,position,checks,claims"


def problem_key(record: StepRecord) -> str:
    """The GSM8K problem behind a question: its letters before a reversed question's "If we
    know the answer", numbers and the unknown X left out."""
    text = str(record.prompt).split("If we know the answer")[0]
    return re.sub(r"[^a-z]+", "", re.sub(r"\bX\b", "", text).lower())[:120]


def folds_by_problem(data: Dataset[StepRecord], k: int, seed: int) -> np.ndarray:
    keys = sorted({problem_key(r) for r in data})
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(keys))
    fold_of_key = {keys[j]: i % k for i, j in enumerate(order)}
    return np.array([fold_of_key[problem_key(r)] for r in data])


def merged(*parts: Dataset[StepRecord] | tuple[StepRecord, ...], name: str
           ) -> Dataset[StepRecord]:
    records = tuple(r for p in parts for r in (p.records if isinstance(p, Dataset) else p))
    return Dataset(task="steps", records=records, source=name, form="mix")


def figures(predicted: list[int | None], actual: list[int | None]) -> dict[str, float]:
    f = accuracies(predicted, actual)
    return {k: round(float(v), 4) for k, v in f.items()}


def check_contributions(data: Dataset[StepRecord]) -> dict[str, dict[str, float]]:
    names = CHECKS + CLAIM_CHECKS
    at, before, ref = Counter(), Counter(), Counter()
    n_at = n_before = n_ref = 0
    for r in data:
        fired = np.hstack([numeric_checks(str(r.prompt), r.steps) > 0,
                           claim_checks(str(r.prompt), r.steps) > 0])
        if r.first_error is None:
            n_ref += len(r.steps)
            ref.update({n: int(fired[:, j].sum()) for j, n in enumerate(names)})
        else:
            k = r.first_error
            n_at += 1
            n_before += k
            at.update({n: int(fired[k, j]) for j, n in enumerate(names)})
            before.update({n: int(fired[:k, j].sum()) for j, n in enumerate(names)})
    return {n: {"first_error_steps_flagged": at[n] / n_at,
                "steps_before_flagged": before[n] / max(n_before, 1),
                "reference_steps_flagged": ref[n] / max(n_ref, 1),
                "n_first_errors_flagged": at[n]} for n in names}


def cross_validate(spec: str, real: Dataset[StepRecord], fold: np.ndarray, extra:
                   Dataset[StepRecord] | None, *, n_real: int | None = None, seed: int = 0
                   ) -> list[int | None]:
    """Pooled out-of-fold first-error predictions for ``real``."""
    predicted: list[int | None] = [None] * len(real)
    rng = np.random.default_rng(seed)
    for f in sorted(set(fold.tolist())):
        train_idx = np.flatnonzero(fold != f)
        if n_real is not None:
            train_idx = rng.permutation(train_idx)[:n_real]
        parts = [tuple(replace(real[i], id=f"mr_gsm8k:{real[i].id}")
                       for i in sorted(train_idx.tolist()))]
        if extra is not None:
            parts.append(extra)
        model = resolve(spec).fit(merged(*parts, name=f"fold {f}"))
        held = np.flatnonzero(fold == f)
        out = model.first_error([real[i].prompt for i in held], [real[i].steps for i in held])
        for i, p in zip(held, out, strict=True):
            predicted[i] = p
    return predicted


def style_position_baseline(real: Dataset[StepRecord], fold: np.ndarray) -> list[int | None]:
    predicted: list[int | None] = []
    for i, r in enumerate(real):
        if str(r.id).endswith(":reference"):
            predicted.append(None)
            continue
        train = [x.first_error for j, x in enumerate(real)
                 if fold[j] != fold[i] and x.first_error is not None]
        predicted.append(Counter(train).most_common(1)[0][0])
    return predicted


def injected_sets(n_problems: int, held_limit: int | None
                  ) -> tuple[Dataset[StepRecord], Dataset[StepRecord]]:
    problems, _ = read_problems(GSM8K_TRAIN, limit=n_problems)
    train = inject_errors(problems, seed=0).dataset("gsm8k-train-injected")
    examples = load_dataset("bundled:gsm8k_examples")
    _, test = split_by_prompt(examples, test_fraction=0.25, seed=0)
    if held_limit is not None:
        test = test.take(range(min(held_limit, len(test))))
    held = [Problem(id=r.id, question=r.prompt, solution=r.reference or "", line=r.line)
            for r in test]  # type: ignore[arg-type]
    return train, inject_errors(held, seed=0).dataset("gsm8k-test-injected")


def by_type(real: Dataset[StepRecord], predicted: list[int | None], field: str
            ) -> dict[str, Any]:
    """Figures per value of ``field``: ``subset`` (the error type; ``correct`` for the
    references) or ``question_type``."""
    out = {}
    for t in sorted({getattr(r, field) or "" for r in real}):
        idx = [i for i, r in enumerate(real) if (getattr(r, field) or "") == t]
        out[t] = figures([predicted[i] for i in idx], [real[i].first_error for i in idx])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--injected-problems", type=int, default=200,
                        help="GSM8K problems whose injected errors join training (200: as in "
                        "bundled:prm_train)")
    parser.add_argument("--held-out-limit", type=int, default=None)
    parser.add_argument("--curve", default="50,100,200",
                        help="numbers of real solutions for the learning curve, or none")
    parser.add_argument("--spec", default=SPEC)
    parser.add_argument("--variants", default="real_plus_injected,real_only,"
                        "real_only_no_claims,real_checks_only")
    parser.add_argument("--curve-variant", default="real_only",
                        help="the variant whose learning curve is drawn")
    parser.add_argument("--full-variant", default="real_plus_injected",
                        help="the variant whose settings train the model on everything")
    parser.add_argument("--skip-full", action="store_true",
                        help="leave out the model trained on everything (and the curve's "
                        "last point)")
    parser.add_argument("--skip-injected-only", action="store_true",
                        help="leave out the issue's starting point (injected errors only)")
    args = parser.parse_args()
    start = time.perf_counter()

    real = load_dataset(DEV, skip_invalid=True)
    fold = folds_by_problem(real, args.folds, seed=0)
    actual = [r.first_error for r in real]
    injected, injected_held = injected_sets(args.injected_problems, args.held_out_limit)
    prmbench = load_dataset("bundled:prmbench")
    results: dict[str, Any] = {}
    timings: dict[str, float] = {}

    def record(name: str, predicted: list[int | None], t0: float) -> None:
        results[name] = {**figures(predicted, actual),
                         "by_error_type": by_type(real, predicted, "subset"),
                         "by_question_type": by_type(real, predicted, "question_type")}
        timings[name] = round(time.perf_counter() - t0, 1)
        r = results[name]
        print(f"{name}: F1 {r['first_error_f1']:.3f} (erroneous {r['acc_erroneous']:.3f}, "
              f"correct {r['acc_correct']:.3f}) {timings[name]}s", flush=True)

    t0 = time.perf_counter()
    record("baseline_style_position", style_position_baseline(real, fold), t0)
    if not args.skip_injected_only:
        t0 = time.perf_counter()
        injected_only = resolve("prm:minilm").fit(injected)
        record("injected_only_prm_minilm", injected_only.first_error(
            [r.prompt for r in real], [r.steps for r in real]), t0)
    variants = {
        "real_plus_injected": (args.spec, injected),
        "real_only": (args.spec, None),
        "real_only_no_claims": (args.spec.replace(",claims", ""), None),
        "real_plus_injected_tuned_on_real": (args.spec + "&tune_on=mr_gsm8k:", injected),
        "real_checks_only": ("prm:minilm?features=position,checks,claims", None),
    }
    for name in args.variants.split(","):
        spec, extra = variants[name]
        t0 = time.perf_counter()
        record(name, cross_validate(spec, real, fold, extra), t0)

    best = args.curve_variant
    curve = {}
    n_train = int(np.mean([np.sum(fold != f) for f in range(args.folds)]))
    points = [] if args.curve == "none" else [int(x) for x in args.curve.split(",")]
    if points and not args.skip_full:
        points.append(n_train)
    for n in points:
        if not 0 < n <= n_train:
            continue
        t0 = time.perf_counter()
        predicted = cross_validate(variants[best][0], real, fold, variants[best][1],
                                   n_real=n)
        curve[n] = figures(predicted, actual)
        print(f"curve {n}: F1 {curve[n]['first_error_f1']:.3f}", flush=True)

    if args.skip_full:
        emit("prm_real_errors", partial=True, spec=args.spec, results=results,
             curve_variant=best, learning_curve=curve, checks=check_contributions(real),
             seconds=round(time.perf_counter() - start, 1), timings=timings)
        return
    # the same model on everything: injected-error and PRMBench figures beside the real one
    t0 = time.perf_counter()
    full_spec = variants[args.full_variant][0]
    real_ids = tuple(replace(r, id=f"mr_gsm8k:{r.id}") for r in real)
    full = resolve(full_spec).fit(merged(real_ids, injected, name="all"))
    on_injected = evaluate_process(full, injected_held).overall
    on_prmbench = evaluate_process(full, prmbench).overall
    timings["full_model"] = round(time.perf_counter() - t0, 1)
    emit(
        "prm_real_errors",
        data={"dev_solutions": len(real), "dev_erroneous": sum(a is not None for a in actual),
              "dev_references": sum(a is None for a in actual), "dev_skipped": len(real.skipped),
              "problems": len({problem_key(r) for r in real}), "folds": args.folds,
              "injected_train_solutions": len(injected),
              "injected_held_out_solutions": len(injected_held),
              "prmbench_solutions": len(prmbench)},
        spec=args.spec,
        results=results,
        curve_variant=best,
        learning_curve=curve,
        same_model={"spec": full_spec, "trained_on": "dev half + injected",
                    "injected_held_out_f1": on_injected.first_error_f1,
                    "injected_acc": [on_injected.acc_erroneous, on_injected.acc_correct],
                    "prmbench_f1": on_prmbench.first_error_f1,
                    "prmbench_acc": [on_prmbench.acc_erroneous, on_prmbench.acc_correct]},
        checks=check_contributions(real),
        seconds=round(time.perf_counter() - start, 1),
        timings=timings,
    )


if __name__ == "__main__":
    main()
