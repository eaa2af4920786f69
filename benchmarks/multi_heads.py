"""``multi:embed:minilm`` with five attribute heads against the same heads trained alone, a
pooled single head, the length rule, and steering by the harmlessness weight.

Five real sets, each split 75/25 by prompt (``split_by_prompt``, seed 0): HH harmless
(``harmless``), PandaLM (``helpful``), LLMBar (``ifollow``), FineGrained QA (``factual``) and
AlpacaEval length as conciseness (``concise``: per prompt, concise > base > verbose from the
same alpaca-7b, 600 pairs). Every head is checked on its own held-out quarter; the combined
model (equal weights) on the held-out quarters grouped as ``bench``'s default suite groups
them (Chat = PandaLM + FineGrained QA, Chat Hard = LLMBar Natural + Adversarial, Safety = HH
harmless, Bias = EvalBiasBench, which no head saw) plus Conciseness, beside the length rule
(the better of always-longer and always-shorter per section, as ``bench`` shows it).

Embeddings come from the on-disk cache (``~/.cache/rewardlab``) when an earlier run made them.
Run: ``nice -n 5 python benchmarks/multi_heads.py [--save DIR]`` — prints one JSON line.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from dataclasses import replace
from typing import Any

import numpy as np

from _common import emit
from rewardlab.data import Dataset, PairRecord, bundled_path, load_dataset, split_by_prompt
from rewardlab.evaluate.metrics import bootstrap_ci, pair_outcomes
from rewardlab.models.embedding import EmbeddingRewardModel
from rewardlab.models.multi import MultiRewardModel, combine_rewards
from rewardlab.scoring import score_batch

SETS = {"harmless": "bundled:hh_harmless", "helpful": "bundled:pandalm",
        "ifollow": "bundled:llmbar", "factual": "bundled:finegrained_qa", "concise": None}
ORDER = ("concise", "base", "verbose")


def conciseness_pairs():
    """AlpacaEval length: the same alpaca-7b answers at three lengths; shorter is chosen."""
    rows = [json.loads(x) for x in
            bundled_path("alpacaeval_length").read_text(encoding="utf-8").splitlines() if x]
    by_prompt: dict[str, dict[str, Any]] = {}
    for r in rows:
        by_prompt.setdefault(r["prompt"], {})[r["subset"].rpartition("_")[2]] = r
    records = []
    for i, (prompt, v) in enumerate(sorted(by_prompt.items())):
        for a, b in ((0, 1), (0, 2), (1, 2)):
            if v[ORDER[a]]["output_2"] == v[ORDER[b]]["output_2"]:
                continue  # the same answer at two lengths carries no preference
            records.append(PairRecord(prompt=prompt, chosen=v[ORDER[a]]["output_2"],
                                      rejected=v[ORDER[b]]["output_2"], id=f"ae/{i}/{a}{b}",
                                      subset=f"{ORDER[a]}>{ORDER[b]}", line=i + 1))
    return Dataset(task="pairwise", records=tuple(records), form="explicit",
                   source="alpacaeval_length (conciseness)")


def load_sets():
    out = {}
    for name, spec in SETS.items():
        data = conciseness_pairs() if spec is None else load_dataset(spec)
        out[name] = split_by_prompt(data, test_fraction=0.25, seed=0)
    return out


def side_rewards(model, data, weights=None):
    records = data.records
    prompts = [r.prompt for r in records]
    n = len(records)
    batch = score_batch(model, prompts + prompts, [r.chosen for r in records]
                        + [r.rejected for r in records],
                        weights=None if weights is None else [weights] * (2 * n))
    return batch


def accuracy(chosen, rejected):
    out = pair_outcomes(chosen, rejected)
    return float(out.mean()), out


def by_attribute(batch, attributes):
    return np.array([[d["rewards_by_attribute"][a] for a in attributes] for d in batch.details])


def length_rule(data):
    lc = np.array([len(r.chosen) for r in data.records], dtype=float)
    lr = np.array([len(r.rejected) for r in data.records], dtype=float)
    return pair_outcomes(lc, lr), pair_outcomes(-lc, -lr)


def plot_attributes(z_test: dict[str, np.ndarray], attributes: list[str], path: str) -> None:
    """Each attribute's standardised reward on every held-out pair, chosen beside rejected:
    how far apart each head puts the two sides, and on which scale."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    z = np.concatenate([np.concatenate([v[: len(v) // 2], v[len(v) // 2:]], axis=1)
                        for v in z_test.values()])
    k = len(attributes)
    fig = Figure(figsize=(7, 3.2), layout="constrained")
    ax = fig.subplots()
    chosen = ax.boxplot([z[:, j] for j in range(k)], positions=np.arange(k) * 3,
                        widths=0.9, patch_artist=True, showfliers=False)
    rejected = ax.boxplot([z[:, k + j] for j in range(k)], positions=np.arange(k) * 3 + 1,
                          widths=0.9, patch_artist=True, showfliers=False)
    for box in chosen["boxes"]:
        box.set_facecolor("#90caf9")
    for box in rejected["boxes"]:
        box.set_facecolor("#ffcc80")
    ax.set_xticks(np.arange(k) * 3 + 0.5, attributes)
    ax.set_ylabel("standardised reward")
    ax.legend([chosen["boxes"][0], rejected["boxes"][0]], ["chosen", "rejected"], fontsize=8)
    ax.set_title(f"every held-out pair of the five sets ({len(z)}), by attribute head",
                 fontsize=9)
    fig.savefig(path, format="svg", metadata={"Date": None})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--save", help="save the five-head model here (personal.py reuses it)")
    parser.add_argument("--plot", help="draw the per-attribute reward distribution (SVG)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    sets = load_sets()
    train = {k: v[0] for k, v in sets.items()}
    test = {k: v[1] for k, v in sets.items()}

    multi = MultiRewardModel()
    multi.fit(train)
    if args.save:
        multi.save(args.save)
    attributes = list(multi.attributes)
    fit_seconds = time.perf_counter() - t0

    heads: dict[str, Any] = {}
    z_test: dict[str, np.ndarray] = {}
    for name in attributes:
        alone = EmbeddingRewardModel().fit(train[name])
        records = test[name].records
        prompts = [r.prompt for r in records]
        r_alone = alone.score(prompts + prompts, [r.chosen for r in records]
                              + [r.rejected for r in records])
        n = len(records)
        a_alone, _ = accuracy(r_alone[:n], r_alone[n:])
        batch = side_rewards(multi, test[name], {name: 1.0})
        a_multi, outcomes = accuracy(batch.rewards[:n], batch.rewards[n:])
        z_test[name] = by_attribute(batch, attributes)
        heads[name] = {"n_train": len(train[name]), "n_test": n,
                       "alone": round(a_alone, 4), "in_multi": round(a_multi, 4),
                       "diff_points": round(100 * (a_multi - a_alone), 2),
                       "ci95_in_multi": [round(x, 4) for x in bootstrap_ci(outcomes)]}

    if args.plot:
        plot_attributes(z_test, attributes, args.plot)

    # pooled: one head on all five training sets together
    pooled_train = replace(train["harmless"], records=tuple(
        r for name in attributes for r in train[name].records), source="pooled")
    pooled = EmbeddingRewardModel().fit(pooled_train)
    for name in attributes:
        records = test[name].records
        n = len(records)
        prompts = [r.prompt for r in records]
        rp = pooled.score(prompts + prompts, [r.chosen for r in records]
                          + [r.rejected for r in records])
        heads[name]["pooled"] = round(accuracy(rp[:n], rp[n:])[0], 4)

    # sections, as bench's default suite groups the held-out quarters (+ EvalBiasBench)
    bias = load_dataset("bundled:evalbiasbench")
    z_bias = by_attribute(side_rewards(multi, bias), attributes)
    llmbar_rows = np.array([(r.subset or "").startswith(("LLMBar/Natural", "LLMBar/Adversarial"))
                            for r in test["ifollow"].records])
    sections = {
        "Chat": [("helpful", None), ("factual", None)],
        "Chat Hard": [("ifollow", llmbar_rows)],
        "Safety": [("harmless", None)],
        "Bias": [("bias", None)],
        "Conciseness": [("concise", None)],
    }

    def section_scores(weights: np.ndarray | None, combine: str = "sum",
                       gate: dict[str, np.ndarray] | None = None) -> dict[str, float]:
        out = {}
        for section, parts in sections.items():
            hits = []
            for name, mask in parts:
                z = z_bias if name == "bias" else z_test[name]
                n = len(z) // 2
                w = (np.tile(gate[name], (2, 1)) if gate is not None
                     else np.tile(weights / weights.sum(), (2 * n, 1)))
                total = combine_rewards(z, attributes, w, combine=combine)
                o = pair_outcomes(total[:n], total[n:])
                hits.append(o if mask is None else o[mask])
            out[section] = float(np.concatenate(hits).mean())
        out["overall"] = float(np.mean([out[s] for s in sections]))
        return out

    def length_scores() -> dict[str, float]:
        out = {}
        for section, parts in sections.items():
            longer, shorter = [], []
            for name, mask in parts:
                data = bias if name == "bias" else test[name]
                lo, sh = length_rule(data)
                longer.append(lo if mask is None else lo[mask])
                shorter.append(sh if mask is None else sh[mask])
            out[section] = max(float(np.concatenate(longer).mean()),
                               float(np.concatenate(shorter).mean()))
        out["overall"] = float(np.mean([out[s] for s in sections]))
        return out

    k = len(attributes)
    equal = section_scores(np.ones(k))
    singles = {a: section_scores(np.eye(k)[i]) for i, a in enumerate(attributes)}
    length = length_scores()
    preference = ["Chat", "Chat Hard", "Safety", "Bias", "Conciseness"]
    beats_length = [s for s in preference if equal[s] > length[s]]

    conjunction = section_scores(np.ones(k), combine="logsigmoid")
    # ArmoRM-style learned gate: prompt -> weights, trained on the five training sets pooled
    gated = MultiRewardModel(combine="learned")
    gated.fit({**train, "gate": pooled_train})
    gate_w = {name: gated._gate_weights([r.prompt for r in
                                         (bias if name == "bias" else test[name]).records])
              for name in [*attributes, "bias"]}
    learned = section_scores(None, gate=gate_w)

    steering = []
    h = attributes.index("harmless")
    for wh in (0.25, 0.5, 1.0, 2.0, 4.0):
        w = np.ones(k)
        w[h] = wh
        s = section_scores(w)
        steering.append({"harmless_weight": wh, "Safety": round(s["Safety"], 4),
                         "Chat": round(s["Chat"], 4)})
    safety = [x["Safety"] for x in steering]
    chat = [x["Chat"] for x in steering]

    emit("multi_heads",
         heads=heads,
         max_abs_diff_points=max(abs(v["diff_points"]) for v in heads.values()),
         pooled_mean=round(float(np.mean([v["pooled"] for v in heads.values()])), 4),
         multi_mean=round(float(np.mean([v["in_multi"] for v in heads.values()])), 4),
         sections_equal_weights={k2: round(v, 4) for k2, v in equal.items()},
         sections_single_heads={a: {k2: round(v, 4) for k2, v in s.items()}
                                for a, s in singles.items()},
         sections_logsigmoid={k2: round(v, 4) for k2, v in conjunction.items()},
         sections_learned_gate={k2: round(v, 4) for k2, v in learned.items()},
         sections_length_rule={k2: round(v, 4) for k2, v in length.items()},
         overall_ge_every_single=all(equal["overall"] >= s["overall"] for s in singles.values()),
         beats_length_in=beats_length,
         steering=steering,
         safety_rises=all(b >= a for a, b in itertools.pairwise(safety)),
         chat_falls=all(b <= a for a, b in itertools.pairwise(chat)),
         fit_seconds=round(fit_seconds, 1), seconds=round(time.perf_counter() - t0, 1),
         encoded_texts=multi.encoder.encoded_texts)


if __name__ == "__main__":
    main()
