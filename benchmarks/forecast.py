"""``rewardlab forecast``: how well does the Gao best-of-n fit predict, and are its
intervals honest?

1. **GSM8K best-of-n** (bundled example solutions: 4 real model solutions per problem,
   ``is_correct`` as gold, all 819 problems). The proxy is ``vote:`` (self-consistency: a
   candidate's reward is the share of candidates with its final answer), which needs no
   training; an ``embed:minilm`` ORM would need ~10k cold MiniLM embeddings, more than the
   shared CPU allowed in this session. Fitted on
   k <= 3 it predicts k = 4: the absolute error of that prediction, against the error of
   carrying the k = 3 value forward (the naive forecast). The data has no k > 4, so
   extrapolation further out is measured on synthetic curves.
2. **Synthetic curves** from the Gao form: 200 trials, each 300 problems whose own (alpha,
   beta) scatter around the population's (alpha = 0.3, beta = 0.12: gold peaks near
   n = 12) with point noise, k = 1..64. Targets: the fitted alpha and beta inside their
   95% bootstrap intervals in >= 90% of trials; extrapolation error fitting k <= 16 and
   predicting k = 64.

Prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

from rewardlab.audit.forecast import fit_gao, forecast, gao_curve, kl_bon
from rewardlab.data import load_dataset
from rewardlab.models.registry import resolve

ALPHA, BETA = 0.3, 0.12


def gsm8k() -> dict:
    test = load_dataset("bundled:gsm8k_examples", format="best-of-n")
    proxy = resolve("vote:")
    fc = forecast(proxy, test, fit_max_k=3, n_boot=200)
    full = forecast(proxy, test, n_boot=200)
    j = fc.to_json()
    held = next(p for p in j["points"] if p["held_out"])
    k3 = next(p for p in j["points"] if p["k"] == 3)
    return {"problems": j["n_problems"], "gold_by_k": [round(p["gold"], 4) for p in j["points"]],
            "predicted_k4": round(held["gold_fitted"], 4), "observed_k4": round(held["gold"], 4),
            "abs_error_k4": round(abs(held["gold_fitted"] - held["gold"]), 4),
            "naive_abs_error_k4": round(abs(k3["gold"] - held["gold"]), 4),
            "fit_all_k": full.to_json()["gold_fit"]}


def synthetic(trials: int = 200, problems: int = 300, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    ks = np.arange(1, 65)
    d = np.sqrt(kl_bon(ks))
    cover_a = cover_b = 0
    errors = []
    for t in range(trials):
        a_i = rng.normal(ALPHA, 0.1, problems)[:, None]
        b_i = rng.normal(BETA, 0.04, problems)[:, None]
        values = 0.4 + d * (a_i - b_i * d) + rng.normal(0, 0.2, (problems, len(ks)))
        fit = fit_gao(ks, values, n_boot=200, seed=t)
        cover_a += fit.alpha_ci[0] <= ALPHA <= fit.alpha_ci[1]
        cover_b += fit.beta_ci[0] <= BETA <= fit.beta_ci[1]
        early = fit_gao(ks[:16], values[:, :16], n_boot=0)
        truth64 = 0.4 + float(gao_curve(d[-1], ALPHA, BETA))
        errors.append(abs(float(early.predict(64)) - truth64))
    return {"trials": trials, "problems": problems, "alpha": ALPHA, "beta": BETA,
            "true_peak_n": round(_peak(), 2),
            "alpha_coverage": cover_a / trials, "beta_coverage": cover_b / trials,
            "extrapolation_abs_error_k64_from_k16_median": round(float(np.median(errors)), 4),
            "gold_range_k1_to_peak": round(float(ALPHA ** 2 / (4 * BETA)), 4)}


def _peak() -> float:
    from rewardlab.audit.forecast import n_for_kl

    return n_for_kl((ALPHA / (2 * BETA)) ** 2)


def main() -> None:
    start = time.perf_counter()
    syn = synthetic()
    print(json.dumps(syn), file=sys.stderr, flush=True)
    real = gsm8k()
    print(json.dumps({"benchmark": "forecast", "synthetic": syn, "gsm8k": real,
                      "coverage_target_met": syn["alpha_coverage"] >= 0.9
                      and syn["beta_coverage"] >= 0.9,
                      "seconds": round(time.perf_counter() - start, 1)}))


if __name__ == "__main__":
    main()
