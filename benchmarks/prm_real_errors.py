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

**Model-written correct solutions** (``model_written`` in every result). The references
above are human-written, so a rule that only knows which solutions are references already
reaches F1 0.26. ProcessBench instead mixes in *model* solutions whose final answer is
right and assumes every step of them is correct (the same assumption is made here). GSM8K's
``example_model_solutions.jsonl`` holds four GPT-3 solutions (6B/175B, fine-tuned /
verifier-picked) to 819 GSM8K test questions, and MR-GSM8K is built from GSM8K test
questions: the dev questions found there (by their text, normalised) get their
final-answer-correct solutions, each line a step and ``A: N`` written as MR-GSM8K's
``#### N``, as correct solutions. They take the fold of their question, are scored out of
fold beside everything else, and every variant is reported both ways: the old protocol
(280 wrong solutions + references) and ``model_written`` (280 wrong solutions + the model
solutions, no references). The ``*_model_correct`` variants also train on the model
solutions of the training folds' questions (never a held-out question). No-model
baselines for both: **style + position** (above) and **outcome + position**, which knows
whether a solution's final answer is right (a PRM does not) and predicts none for those,
the most common step otherwise.

``--prmbench-rows N`` adds N PRMBench rows to every training set (the folds' and the
model trained on everything), chosen as ``tools/bundle_prm_train.py --prmbench-rows=N``
chooses them: seed 0, only problems the bundled sample ``bench`` scores does not hold. The
shipped ``bundled:prm_train`` is ``--prmbench-rows 300``; the default here (0) is the mix
before it.

    nice -n 5 python benchmarks/prm_real_errors.py

A full run is long on a shared machine (each cross-validated variant ~3-20 min there):
``--variants``, ``--curve none``, ``--skip-full`` and ``--skip-injected-only`` run parts.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from _common import emit

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
from bundle_prm_train import model_written_correct, prmbench_rows

from rewardlab import resolve
from rewardlab.data import (
    Dataset,
    StepRecord,
    load_dataset,
    split_by_prompt,
)
from rewardlab.evaluate.process import evaluate_process
from rewardlab.label import Problem, inject_errors, read_problems
from rewardlab.steps import CHECKS, CLAIM_CHECKS, claim_checks, numeric_checks
from rewardlab.steps import first_error_accuracies as accuracies

SHARED = next((p / "shared" / "data" for p in Path(__file__).resolve().parents
               if (p / "shared" / "data").is_dir()), Path("../shared/data"))
DEV = "bundled:mr_gsm8k_dev"  # the copy of ../shared/data/mr_gsm8k/first_errors_dev.jsonl
GSM8K_TRAIN = SHARED / "gsm8k" / "train.jsonl"
DEV_FILE = SHARED / "mr_gsm8k" / "first_errors_dev.jsonl"
SPEC = "prm:minilm?features=joint,position,checks,claims"


def problem_key(record: StepRecord) -> str:
    """The GSM8K problem behind a question: its letters before a reversed question's "If we
    know the answer", numbers and the unknown X left out."""
    text = str(record.prompt).split("If we know the answer")[0]
    return re.sub(r"[^a-z]+", "", re.sub(r"\bX\b", "", text).lower())[:120]


def fold_of_problem(data: Dataset[StepRecord], k: int, seed: int) -> dict[str, int]:
    keys = sorted({problem_key(r) for r in data})
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(keys))
    return {keys[j]: i % k for i, j in enumerate(order)}


def folds_by_problem(data: Dataset[StepRecord], k: int, seed: int) -> np.ndarray:
    fold_of_key = fold_of_problem(data, k, seed)
    return np.array([fold_of_key[problem_key(r)] for r in data])


def prmbench_training_rows(n: int) -> Dataset[StepRecord] | None:
    """The ``n`` PRMBench rows ``tools/bundle_prm_train.py --prmbench-rows=n`` adds."""
    if not n:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "prmbench_train.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in prmbench_rows(SHARED, n)),
                        encoding="utf-8")
        data = load_dataset(path, skip_invalid=True)
    return Dataset(task="steps", records=tuple(replace(r, id=f"prmbench:{r.id}")
                                               for r in data.records),
                   source="prmbench-train", form="mix")


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
                   Dataset[StepRecord] | None, *, n_real: int | None = None, seed: int = 0,
                   trainable: np.ndarray | None = None, only: set[int] | None = None
                   ) -> list[int | None]:
    """Pooled out-of-fold first-error predictions for ``real`` (every solution), trained on
    the other folds' solutions that ``trainable`` marks (all by default); with ``only``,
    just those folds are held out (the rest stay None)."""
    predicted: list[int | None] = [None] * len(real)
    rng = np.random.default_rng(seed)
    allowed = np.ones(len(real), bool) if trainable is None else trainable
    for f in sorted(set(fold.tolist())):
        if only is not None and f not in only:
            continue
        train_idx = np.flatnonzero((fold != f) & allowed)
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


def style_position_baseline(real: Dataset[StepRecord], fold: np.ndarray,
                            says_none: np.ndarray | None = None) -> list[int | None]:
    """None for the references (or where ``says_none``), else the most common first error
    step of the other folds."""
    predicted: list[int | None] = []
    for i, r in enumerate(real):
        if (str(r.id).endswith(":reference") if says_none is None else says_none[i]):
            predicted.append(None)
            continue
        train = [x.first_error for j, x in enumerate(real)
                 if fold[j] != fold[i] and x.first_error is not None]
        predicted.append(Counter(train).most_common(1)[0][0])
    return predicted


def length_position_baseline(pool: Dataset[StepRecord], fold: np.ndarray, scored: np.ndarray
                             ) -> list[int | None]:
    """None for a solution of at most T steps, else the most common first error step; T is
    chosen on the other folds' ``scored`` solutions (best F1). Short correct solutions and
    long wrong ones would let a PRM that sees positions score without judging a step."""
    n_steps = np.array([len(r.steps) for r in pool])
    actual = [r.first_error for r in pool]
    predicted: list[int | None] = [None] * len(pool)
    for f in sorted(set(fold.tolist())):
        train = np.flatnonzero((fold != f) & scored)
        step = Counter(actual[i] for i in train if actual[i] is not None).most_common(1)[0][0]
        best_t, best_f1 = 0, -1.0
        for t in range(0, int(n_steps.max()) + 1):
            guess = [None if n_steps[i] <= t else step for i in train]
            f1 = accuracies(guess, [actual[i] for i in train])["first_error_f1"]
            if f1 > best_f1:
                best_t, best_f1 = t, f1
        for i in np.flatnonzero(fold == f):
            predicted[i] = None if n_steps[i] <= best_t else step
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
    parser.add_argument("--prmbench-rows", type=int, default=0,
                        help="PRMBench rows (problems bench does not score) added to every "
                        "training set, as tools/bundle_prm_train.py --prmbench-rows=N")
    parser.add_argument("--held-out-limit", type=int, default=None,
                        help="held-out GSM8K test problems whose injected errors are scored")
    parser.add_argument("--prmbench-every", type=int, default=1,
                        help="score every Nth solution of the bundled PRMBench sample (its "
                        "rows are sorted by error type, so every type stays in)")
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
    parser.add_argument("--score-folds", default=None,
                        help="hold out only these folds (e.g. 0,1), still 5-fold splits: a "
                        "budget for slow models; every figure is then on those folds")
    parser.add_argument("--tag", default="", help="a label copied into the JSON line")
    parser.add_argument("--n-real", type=int, default=None,
                        help="train every fold on this many of its real solutions (one seeded "
                        "subsample, the same for every spec): a budget for slow models")
    parser.add_argument("--full-n-real", type=int, default=None,
                        help="the model trained on everything sees this many dev solutions "
                        "(seeded subsample)")
    args = parser.parse_args()
    start = time.perf_counter()

    real = load_dataset(DEV, skip_invalid=True)
    fold_of_key = fold_of_problem(real, args.folds, seed=0)
    written = model_written_correct(SHARED, real)
    pool = merged(real, written, name="dev + model-written")
    fold = np.array([fold_of_key[problem_key(r)] for r in pool])
    kind = np.array(["model" if ":model:" in str(r.id) else "reference"
                     if str(r.id).endswith(":reference") else "error" for r in pool])
    only = None if args.score_folds is None else {int(x) for x in args.score_folds.split(",")}
    in_scope = np.ones(len(pool), bool) if only is None else np.isin(fold, sorted(only))
    old_idx = np.flatnonzero((kind != "model") & in_scope)
    new_idx = np.flatnonzero((kind != "reference") & in_scope)
    not_written = kind != "model"
    actual = [r.first_error for r in pool]
    injected, injected_held = injected_sets(args.injected_problems, args.held_out_limit)
    prmbench_train = prmbench_training_rows(args.prmbench_rows)
    extra = injected if prmbench_train is None else merged(injected, prmbench_train,
                                                           name="injected + prmbench")
    prmbench = load_dataset("bundled:prmbench")
    prmbench = prmbench.take(range(0, len(prmbench), args.prmbench_every))
    answer_right = {}
    with DEV_FILE.open(encoding="utf-8") as handle:
        for line in handle:
            row = json.loads(line)
            answer_right[str(row["uuid"])] = row.get("model_output_answer_correctness") == \
                "correct"
    says_right = np.array([k != "error" or answer_right.get(str(r.id), False)
                           for k, r in zip(kind, pool, strict=True)])
    results: dict[str, Any] = {}
    timings: dict[str, float] = {}
    old = pool.take(old_idx.tolist())

    def record(name: str, predicted: list[int | None], t0: float) -> None:
        on_old = [predicted[i] for i in old_idx]
        on_new = [predicted[i] for i in new_idx]
        results[name] = {**figures(on_old, [actual[i] for i in old_idx]),
                         "by_error_type": by_type(old, on_old, "subset"),
                         "by_question_type": by_type(old, on_old, "question_type"),
                         "model_written": figures(on_new, [actual[i] for i in new_idx])}
        timings[name] = round(time.perf_counter() - t0, 1)
        r, w = results[name], results[name]["model_written"]
        print(f"{name}: F1 {r['first_error_f1']:.3f} (erroneous {r['acc_erroneous']:.3f}, "
              f"correct {r['acc_correct']:.3f}); model-written correct: F1 "
              f"{w['first_error_f1']:.3f} (correct {w['acc_correct']:.3f}) {timings[name]}s",
              flush=True)

    t0 = time.perf_counter()
    record("baseline_style_position", style_position_baseline(pool, fold), t0)
    record("baseline_outcome_position", style_position_baseline(pool, fold, says_right), t0)
    # chosen for each protocol: read the old figures of the first, model_written of the second
    record("baseline_length_position_for_old",
           length_position_baseline(pool, fold, kind != "model"), t0)
    record("baseline_length_position_for_model_written",
           length_position_baseline(pool, fold, kind != "reference"), t0)
    if not args.skip_injected_only:
        t0 = time.perf_counter()
        injected_only = resolve("prm:minilm").fit(injected)
        record("injected_only_prm_minilm", injected_only.first_error(
            [r.prompt for r in pool], [r.steps for r in pool]), t0)
    # name: (spec, extra training data, trains on the model-written solutions too)
    variants = {
        "real_plus_injected": (args.spec, extra, False),
        "real_plus_injected_model_correct": (args.spec, extra, True),
        "real_only": (args.spec, prmbench_train, False),
        "real_only_no_claims": (args.spec.replace(",claims", ""), prmbench_train, False),
        "real_plus_injected_tuned_on_real": (args.spec + "&tune_on=mr_gsm8k:", extra, False),
        "real_checks_only": ("prm:minilm?features=position,checks,claims", None, False),
    }
    for name in args.variants.split(","):
        spec, more, with_written = variants[name]
        t0 = time.perf_counter()
        record(name, cross_validate(spec, pool, fold, more, n_real=args.n_real, only=only,
                                    trainable=None if with_written else not_written), t0)

    best = args.curve_variant
    curve = {}
    n_train = int(np.mean([np.sum((fold != f) & not_written) for f in range(args.folds)]))
    points = [] if args.curve == "none" else [int(x) for x in args.curve.split(",")]
    if points and not args.skip_full:
        points.append(n_train)
    for n in points:
        if not 0 < n <= n_train:
            continue
        t0 = time.perf_counter()
        spec, more, with_written = variants[best]
        predicted = cross_validate(spec, pool, fold, more, n_real=n, trainable=not_written)
        curve[n] = figures([predicted[i] for i in old_idx], [actual[i] for i in old_idx])
        print(f"curve {n}: F1 {curve[n]['first_error_f1']:.3f}", flush=True)

    data_facts = {
        "dev_solutions": len(real), "dev_erroneous": int(np.sum(kind == "error")),
        "dev_references": int(np.sum(kind == "reference")), "dev_skipped": len(real.skipped),
        "model_written_correct": len(written),
        "model_written_questions": len({problem_key(r) for r in written}),
        "problems": len(fold_of_key), "folds": args.folds,
        "injected_train_solutions": len(injected),
        "prmbench_train_rows": args.prmbench_rows,
        "prmbench_train_solutions": 0 if prmbench_train is None else len(prmbench_train),
        "injected_held_out_solutions": len(injected_held), "prmbench_solutions": len(prmbench)}
    if args.skip_full:
        emit("prm_real_errors", partial=True, tag=args.tag, data=data_facts, spec=args.spec,
             results=results, curve_variant=best, learning_curve=curve,
             checks=check_contributions(real),
             seconds=round(time.perf_counter() - start, 1), timings=timings)
        return
    # the same model on everything: injected-error and PRMBench figures beside the real one
    t0 = time.perf_counter()
    full_spec, more, with_written = variants[args.full_variant]
    train_all = tuple(replace(r, id=f"mr_gsm8k:{r.id}") for r, k in zip(pool, kind, strict=True)
                      if with_written or k != "model")
    if args.full_n_real is not None:
        keep = np.random.default_rng(0).permutation(len(train_all))[:args.full_n_real]
        train_all = tuple(train_all[i] for i in sorted(keep.tolist()))
    full = resolve(full_spec).fit(merged(train_all, *([more] if more is not None else []),
                                         name="all"))
    on_injected = evaluate_process(full, injected_held).overall
    on_prmbench = evaluate_process(full, prmbench).overall
    timings["full_model"] = round(time.perf_counter() - t0, 1)
    print(f"same model: injected F1 {on_injected.first_error_f1:.3f}, PRMBench F1 "
          f"{on_prmbench.first_error_f1:.3f}", flush=True)
    emit(
        "prm_real_errors",
        tag=args.tag,
        data=data_facts,
        spec=args.spec,
        results=results,
        curve_variant=best,
        learning_curve=curve,
        same_model={"spec": full_spec, "variant": args.full_variant,
                    "trained_on": "dev half + its training extras",
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
