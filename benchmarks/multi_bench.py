"""Generality of the five-head ``multi:embed:minilm`` on a real ``bench`` run (issue 22).

The heads are ``multi_heads.py``'s (HH harmless, PandaLM, LLMBar, FineGrained QA, AlpacaEval
length as conciseness; each trained on its 75% prompt split, seed 0). ``bench``'s default suite
scores PandaLM, FineGrained QA and LLMBar whole, so three quarters of those rows are the heads'
training pairs; ``suites/heldout.toml`` is the default suite with those three cut to the same
held-out quarter HH harmless already uses (``holdout = {fraction = 0.25, seed = 0}``). The
script first checks that no bench row of that suite is a training pair (and counts how many of
the default suite's are), then runs ``rewardlab.bench.run_bench`` — what ``rewardlab bench``
calls — on:

* the saved model with equal weights and with each head alone (``DIR?weights=NAME:1``), the
  specs a user would give ``rewardlab bench``;
* what a practitioner tries next, each an in-memory model: ``logsigmoid``; the learned
  (ArmoRM-style) gate trained on the pooled training quarters; every head standardised on one
  common reference set (all five training quarters' responses) instead of its own; every head
  scaled by the spread of its margins on the pooled training pairs; every head with its
  log-length component regressed out on the reference set (length-debiased), standardised
  there;
* steering: the harmlessness weight at 0.25, 0.5, 1, 2, 4 (others 1), and why Chat does not
  move (per-head margins on Chat's pairs).

Preference sections: Chat, Chat Hard, Safety, Bias, Reasoning (GSM8K best-of-4); Process
(first-error F1) is skipped for every ``multi:`` model (no step scores). The length rule per
section is the better of always-longer and always-shorter (bench's baselines, weighted as
bench weights its rows).

Run: ``cd benchmarks && nice -n 5 python multi_bench.py --heads DIR`` (DIR is trained and
saved when missing). Prints one JSON line.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from _common import emit
from multi_heads import load_sets
from rewardlab import resolve
from rewardlab.bench import load_suite, run_bench
from rewardlab.bench._data import load_task_data
from rewardlab.evaluate.metrics import pair_outcomes
from rewardlab.models.multi import MultiRewardModel

SUITE = Path(__file__).parent / "suites" / "heldout.toml"
PREFERENCE = ("Chat", "Chat Hard", "Safety", "Bias", "Reasoning")


def _key(r: Any) -> tuple[str, str, str]:
    return (repr(r.prompt), r.chosen, r.rejected)


def bench_keys(suite_name: str | Path) -> dict[str, set[tuple[str, str, str]]]:
    """The pairs each pairwise task of the suite scores."""
    out = {}
    for task in load_suite(suite_name).tasks:
        if task.task == "pairwise":
            data = load_task_data(task.data, task.task, holdout=task.holdout)
            out[task.name] = {_key(r) for r in data.records}
    return out


def overlap(suite_name: str | Path, train: dict[str, Any]) -> dict[str, int]:
    """Bench rows of the suite's pairwise tasks that are training pairs of some head."""
    seen = {_key(r) for d in train.values() for r in d.records}
    return {name: len(keys & seen) for name, keys in bench_keys(suite_name).items()}


def raw_rewards(model: MultiRewardModel, prompts: list, responses: list[str]) -> np.ndarray:
    """Each head's unstandardised reward ``(n, k)``."""
    z = model._z(prompts, responses)
    mean = np.array([model.scale_[a][0] for a in model.attributes])
    std = np.array([model.scale_[a][1] for a in model.attributes])
    return z * std + mean


def rescaled(model: MultiRewardModel, mean: np.ndarray, std: np.ndarray, name: str
             ) -> MultiRewardModel:
    new = copy.copy(model)
    new.scale_ = {a: (float(mean[j]), float(std[j])) for j, a in enumerate(model.attributes)}
    new.spec = name
    return new


class LengthDebiased(MultiRewardModel):
    """A trained ``multi:`` model whose every head has its linear log-length component
    (fitted on a reference set) removed, what is left standardised on that set."""

    def _z(self, prompts: Any, responses: Any) -> np.ndarray:
        z = super()._z(prompts, responses)
        x = np.log1p(np.array([len(r) for r in responses], dtype=float))
        resid = z - np.outer(x - self.len_mean_, self.len_slope_)
        return (resid - self.resid_mean_) / self.resid_std_


def length_debiased(model: MultiRewardModel, prompts: list, responses: list[str], name: str
                    ) -> MultiRewardModel:
    z = model._z(prompts, responses)
    x = np.log1p(np.array([len(r) for r in responses], dtype=float))
    xc = x - x.mean()
    slope = (xc @ (z - z.mean(axis=0))) / (xc @ xc)
    resid = z - np.outer(xc, slope)
    new = LengthDebiased.__new__(LengthDebiased)
    new.__dict__.update(model.__dict__)
    new.len_mean_, new.len_slope_ = float(x.mean()), slope
    new.resid_mean_, new.resid_std_ = resid.mean(axis=0), resid.std(axis=0) + 1e-6
    new.spec = name
    new.length_slopes = {a: round(float(slope[j]), 3) for j, a in enumerate(model.attributes)}
    return new


def table(result: Any) -> dict[str, dict[str, float]]:
    """Per model: each section's score, the overall, and the length rule per section."""
    out = {}
    for m in result.models:
        row = {s.name: round(s.score, 4) for s in m.sections}
        row["overall"] = round(m.overall, 4)
        out[m.model] = row
    length: dict[str, float] = {}
    first = result.models[0]
    for section in {r.section for r in first.rows if r.baseline}:
        rows = [r for r in first.rows if r.section == section and r.baseline]
        w = np.array([r.weight for r in rows])
        best = 0.0
        for pick in ("longer", "shorter", "longest", "shortest"):
            vals = [r.baseline.get(pick) for r in rows]
            if all(v is not None for v in vals):
                best = max(best, float(np.dot(w, vals) / w.sum()))
        length[section] = round(best, 4)
    scored = [s for s in length if s in PREFERENCE]
    length["overall_preference"] = round(float(np.mean([length[s] for s in scored])), 4)
    out["length rule"] = length
    return out


def chat_margins(model: MultiRewardModel, test: dict[str, Any]) -> dict[str, Any]:
    """Why the harmless weight does not move Chat: each head's accuracy and margin spread on
    Chat's pairs (PandaLM + FineGrained QA held-out quarters), beside Safety's, and how the
    harmless head's margins line up with the other heads' sum."""
    out: dict[str, Any] = {}
    attrs = list(model.attributes)
    for section, names in (("Chat", ("helpful", "factual")), ("Safety", ("harmless",))):
        records = [r for n in names for r in test[n].records]
        prompts = [r.prompt for r in records]
        z = model._z(prompts + prompts, [r.chosen for r in records]
                     + [r.rejected for r in records])
        n = len(records)
        d = z[:n] - z[n:]
        h = attrs.index("harmless")
        others = d[:, [j for j in range(len(attrs)) if j != h]].sum(axis=1)
        flips = {}
        for wh in (0.25, 4.0):
            w = np.ones(len(attrs))
            w[h] = wh
            flips[wh] = (d @ (w / w.sum())) > 0
        lc = np.array([len(r.chosen) for r in records], dtype=float)
        lr = np.array([len(r.rejected) for r in records], dtype=float)
        out[section] = {
            "pairs": n,
            "head_accuracy": {a: round(float(pair_outcomes(d[:, j], 0 * d[:, j]).mean()), 4)
                              for j, a in enumerate(attrs)},
            "head_margin_sd": {a: round(float(d[:, j].std()), 3) for j, a in enumerate(attrs)},
            "harmless_vs_others_corr": round(float(np.corrcoef(d[:, h], others)[0, 1]), 3),
            "harmless_vs_length_corr": round(float(np.corrcoef(
                d[:, h], np.log1p(lc) - np.log1p(lr))[0, 1]), 3),
            "chosen_longer_share": round(float(np.mean(lc > lr)), 4),
            "pairs_flipped_w0.25_to_w4": int((flips[0.25] != flips[4.0]).sum()),
            "flipped_to_correct": int((~flips[0.25] & flips[4.0]).sum()),
            "flipped_to_wrong": int((flips[0.25] & ~flips[4.0]).sum()),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--heads", required=True, help="the five-head model (trained here "
                        "and saved when the directory does not exist)")
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--steer-against", help="only steer: harmless at 0.25..4 against "
                        "this one head at weight 1 (e.g. helpful), on the same suite")
    args = parser.parse_args()
    if args.steer_against:
        specs = [f"{args.heads}?weights=harmless:{wh},{args.steer_against}:1"
                 for wh in (0.25, 0.5, 1.0, 2.0, 4.0)]
        steer = table(run_bench(specs, SUITE, n_boot=args.n_boot))
        rows = [{"harmless_weight": wh, "Safety": steer[s]["Safety"], "Chat": steer[s]["Chat"]}
                for wh, s in zip((0.25, 0.5, 1.0, 2.0, 4.0), specs, strict=True)]
        emit("multi_bench_steer", against=args.steer_against, steering=rows,
             safety_rises=all(b["Safety"] >= a["Safety"] for a, b in itertools.pairwise(rows)),
             chat_falls=all(b["Chat"] <= a["Chat"] for a, b in itertools.pairwise(rows)))
        return
    t0 = time.perf_counter()
    sets = load_sets()
    train = {k: v[0] for k, v in sets.items()}
    test = {k: v[1] for k, v in sets.items()}
    contamination = {"default_suite": overlap("default", train),
                     "heldout_suite_before": overlap(SUITE, train)}
    # EvalBiasBench reuses LLMBar pairs: those in a head's training quarter leave it
    scored = set().union(*bench_keys(SUITE).values())
    removed = {k: sum(_key(r) in scored for r in d.records) for k, d in train.items()}
    train = {k: replace(d, records=tuple(r for r in d.records if _key(r) not in scored))
             for k, d in train.items()}
    contamination["removed_from_training"] = removed
    contamination["heldout_suite"] = overlap(SUITE, train)
    heads_dir = Path(args.heads)
    if not heads_dir.exists():
        MultiRewardModel().fit(train).save(heads_dir)
    model = resolve(str(heads_dir))
    assert isinstance(model, MultiRewardModel)
    attrs = list(model.attributes)
    assert model.n_train_pairs_ == {k: len(d) for k, d in train.items()}, "stale --heads"
    assert not any(contamination["heldout_suite"].values()), contamination

    # the common reference set: every training quarter's responses, both sides
    ref = [r for d in train.values() for r in d.records]
    ref_p = [r.prompt for r in ref]
    raw = raw_rewards(model, ref_p + ref_p, [r.chosen for r in ref] + [r.rejected for r in ref])
    common = rescaled(model, raw.mean(axis=0), raw.std(axis=0) + 1e-6, "common-reference scale")
    margins = raw[:len(ref)] - raw[len(ref):]
    by_margin = rescaled(model, raw.mean(axis=0), margins.std(axis=0) + 1e-6,
                         "pairwise-margin scale")
    debiased = length_debiased(common, ref_p + ref_p,
                               [r.chosen for r in ref] + [r.rejected for r in ref],
                               "length-debiased (common reference)")
    logsig = model.with_options({"combine": "logsigmoid"})
    logsig.spec = "logsigmoid"
    gated = MultiRewardModel(combine="learned")
    pooled = replace(train["harmless"], records=tuple(ref), source="pooled")
    gated.fit({**train, "gate": pooled})
    gated.spec = "learned gate"

    specs: list[Any] = [str(heads_dir)] + [f"{heads_dir}?weights={a}:1" for a in attrs]
    main_run = run_bench([*specs, logsig, gated, common, by_margin, debiased], SUITE,
                         n_boot=args.n_boot)
    scores = table(main_run)
    length = scores["length rule"]
    singles = {a: scores[f"{heads_dir}?weights={a}:1"] for a in attrs}

    def verdict(row: dict[str, float]) -> dict[str, Any]:
        beats = [s for s in PREFERENCE if s in row and row[s] > length.get(s, 1.0)]
        return {"overall_ge_every_single": all(row["overall"] >= s["overall"]
                                               for s in singles.values()),
                "beats_length_in": beats}

    variants = {name: verdict(row) for name, row in scores.items() if name != "length rule"}

    steer_models = []
    for wh in (0.25, 0.5, 1.0, 2.0, 4.0):
        w = ",".join(f"{a}:{wh if a == 'harmless' else 1}" for a in attrs)
        steer_models.append(f"{heads_dir}?weights={w}")
    steer = table(run_bench(steer_models, SUITE, n_boot=args.n_boot))
    steering = [{"harmless_weight": wh, "Safety": steer[s]["Safety"], "Chat": steer[s]["Chat"]}
                for wh, s in zip((0.25, 0.5, 1.0, 2.0, 4.0), steer_models, strict=True)]
    safety = [x["Safety"] for x in steering]
    chat = [x["Chat"] for x in steering]

    emit("multi_bench",
         suite=str(SUITE.name),
         contamination=contamination,
         sections=scores,
         verdicts=variants,
         length_slopes=debiased.length_slopes,
         steering=steering,
         safety_rises=all(b >= a for a, b in itertools.pairwise(safety)),
         chat_falls=all(b <= a for a, b in itertools.pairwise(chat)),
         chat_analysis=chat_margins(model, test),
         seconds=round(time.perf_counter() - t0, 1))


if __name__ == "__main__":
    main()
