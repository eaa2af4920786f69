"""``rubric:`` figures: deterministic-rubric throughput, and ``nugget`` criteria on the 500
FineGrained QA bench pairs beside the length-only baseline and ``embed:minilm``.

1. Throughput: 5,000 rows, each with its own rubric of six constraint criteria (word limits,
   keywords, regex, JSON, bullets, case), scored through ``rewardlab.scoring.score_batch``
   (parsing each row's rubric included), beside ``verify:rules`` on the same constraints.
   Target: >= 1,000 rows/s.
2. Nuggets: for each pair, the facts are the sentences of the pair's retrieved passages
   (``meta.passages``; lines under 4 words, i.e. titles, dropped). Each fact is one ``nugget``
   criterion (weight 1); a response's reward is the share of facts some sentence of it covers
   (best MiniLM cosine >= the threshold). The threshold is chosen on data: the value of a grid
   (0.30..0.90, step 0.05) with the best pairwise accuracy on the first 250 pairs; accuracy is
   then reported on the other 250 (held out) and on all 500, with 95% bootstrap CIs, beside
   length-only (longer wins) and ``embed:minilm`` trained as ``rewardlab demo`` trains it
   (HH harmless, split_by_prompt 25%, seed 0) on the same pairs. Ties count half. The
   similarities are computed once with the same sentence splitter and encoder the criterion
   uses; 40 pairs are re-scored through ``rubric:`` itself to check the two agree exactly.

    nice -n 5 python benchmarks/rubric.py [--rows 5000] [--skip-nugget]
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from _common import emit
from rewardlab import resolve
from rewardlab.data import bundled_path, load_dataset, split_by_prompt
from rewardlab.evaluate.metrics import bootstrap_ci
from rewardlab.scoring import score_batch
from rewardlab.verify.rules import count_words, split_sentences

RUBRIC = [
    {"text": "At most 60 words", "kind": "max_words", "value": 60, "hard": True},
    {"text": "At least 5 words", "kind": "min_words", "value": 5},
    {"text": "Mentions the city", "kind": "contains", "value": ["Paris"]},
    {"text": "No apology", "kind": "not_contains", "value": ["sorry", "apologise"]},
    {"text": "Starts with Yes or No", "kind": "regex", "value": "^(Yes|No)\\b"},
    {"text": "Two to four bullets", "kind": "bullet_count", "value": {"min": 2, "max": 4}},
]
RESPONSES = [
    "Yes. The capital is Paris.\n- big\n- old\n- pretty",
    "I'm sorry, I do not know.",
    "No, it is not Lyon; it is Paris, which has been the capital for centuries.\n- one\n- two",
    "PARIS",
]
GRID = np.round(np.arange(0.30, 0.9001, 0.05), 2)


def throughput(n: int) -> dict[str, float]:
    model, rules = resolve("rubric:?agg=gate"), resolve("verify:rules?partial=true")
    responses = [RESPONSES[i % len(RESPONSES)] + f" ({i})" for i in range(n)]
    # every row its own rubric text (a different word limit), so parsing is measured too
    rubrics = [json.dumps([{**RUBRIC[0], "value": 60 + i % 50}, *RUBRIC[1:]]) for i in range(n)]
    constraints = [json.dumps([{"type": c["kind"], "value": c["value"]} for c in RUBRIC])] * n
    start = time.perf_counter()
    batch = score_batch(model, ["q"] * n, responses, references=rubrics)
    rubric_s = time.perf_counter() - start
    start = time.perf_counter()
    score_batch(rules, ["q"] * n, responses, references=constraints)
    rules_s = time.perf_counter() - start
    assert batch.details is not None and len(batch.details[0]["criteria"]) == len(RUBRIC)
    return {"rows": n, "rubric_rows_per_s": round(n / rubric_s),
            "verify_rules_rows_per_s": round(n / rules_s),
            "rubric_over_rules": round(rules_s / rubric_s, 3)}


def outcomes(chosen: np.ndarray, rejected: np.ndarray) -> np.ndarray:
    return np.where(chosen > rejected, 1.0, np.where(chosen == rejected, 0.5, 0.0))


def summary(o: np.ndarray) -> dict[str, object]:
    lo, hi = bootstrap_ci(o)
    return {"accuracy": round(float(o.mean()), 4), "ci95": [round(lo, 4), round(hi, 4)],
            "n": int(o.size)}


def nuggets() -> dict[str, object]:
    rows = [json.loads(line) for line in bundled_path("finegrained_qa").read_text(
        encoding="utf-8").splitlines()]
    facts = [[s for s in split_sentences(r["meta"]["passages"]) if count_words(s) >= 4]
             for r in rows]
    sides = [(r["chosen"], r["rejected"]) for r in rows]
    model = resolve("rubric:")
    encoder = model._encoder()
    texts = list(dict.fromkeys([f for fs in facts for f in fs]
                               + [s for pair in sides for t in pair for s in split_sentences(t)]))
    start = time.perf_counter()
    vectors = encoder.embed(texts).astype(np.float64)
    embed_s = time.perf_counter() - start
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    where = {t: k for k, t in enumerate(texts)}
    best = []  # per pair, per side: each fact's best sentence similarity
    for fs, pair in zip(facts, sides, strict=True):
        f = vectors[[where[x] for x in fs]]
        per_side = []
        for text in pair:
            sents = split_sentences(text)
            per_side.append((f @ vectors[[where[s] for s in sents]].T).max(axis=1)
                            if sents else np.full(len(fs), -1.0))
        best.append(per_side)

    def accuracy_at(t: float, idx: range) -> np.ndarray:
        c = np.array([(best[i][0] >= t).mean() for i in idx])
        r = np.array([(best[i][1] >= t).mean() for i in idx])
        return outcomes(c, r)

    tune, held = range(0, 250), range(250, len(rows))
    tuned = {float(t): float(accuracy_at(t, tune).mean()) for t in GRID}
    threshold = max(tuned, key=lambda t: (tuned[t], -abs(t - 0.7)))

    # the criterion itself on 40 pairs: the same rewards as the vectorised computation
    check = range(250, 290)
    rubric_refs = [[{"kind": "nugget", "value": f, "threshold": threshold} for f in facts[i]]
                   for i in check]
    got = model.score_with_references(["q"] * 80, [sides[i][0] for i in check]
                                      + [sides[i][1] for i in check], rubric_refs * 2)
    want = [float((best[i][0] >= threshold).mean()) for i in check] + [
        float((best[i][1] >= threshold).mean()) for i in check]
    agree = bool(np.allclose(got, want, atol=1e-9))

    length = outcomes(np.array([len(c) for c, _ in sides], float),
                      np.array([len(r) for _, r in sides], float))
    hh = load_dataset("bundled:hh_harmless")
    train, _ = split_by_prompt(hh, test_fraction=0.25, seed=0)
    embed = resolve("embed:minilm").fit(train)
    pairs = load_dataset("bundled:finegrained_qa")
    prompts = [r.prompt for r in pairs.records]
    e_c = embed.score(prompts, [r.chosen for r in pairs.records])
    e_r = embed.score(prompts, [r.rejected for r in pairs.records])
    embed_o = outcomes(e_c, e_r)
    nugget_all = accuracy_at(threshold, range(len(rows)))
    return {
        "pairs": len(rows), "facts_per_pair": round(float(np.mean([len(f) for f in facts])), 1),
        "threshold": threshold, "tuning_accuracy_by_threshold": tuned,
        "nugget_heldout": summary(accuracy_at(threshold, held)),
        "length_heldout": summary(length[250:]), "embed_minilm_heldout": summary(embed_o[250:]),
        "nugget_all": summary(nugget_all), "length_all": summary(length),
        "embed_minilm_all": summary(embed_o),
        "criterion_matches_vectorised": agree, "embed_seconds": round(embed_s, 1),
        "sentences_embedded": len(texts),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--skip-nugget", action="store_true")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    fields: dict[str, object] = {"throughput": throughput(args.rows)}
    if not args.skip_nugget:
        fields["nugget"] = nuggets()
    emit("rubric", **fields, load_average={"before": round(load, 1),
                                           "after": round(os.getloadavg()[0], 1)})


if __name__ == "__main__":
    main()
