"""``personal:embed:minilm`` on simulated users built from real data, beside a global
Bradley–Terry model trained on the same pairs.

Users (PersonalLLM's recipe, ``rewardlab.label.simulate_users``): the five attribute heads of
``benchmarks/multi_heads.py`` (``--heads DIR``, saved there with ``--save``) are the preference
directions; every user is a Dirichlet(alpha) mixture over them and labels real pairs (all five
sets' pairs, their own labels ignored) by its mixture. Basis users (seed 0) and held-out users
(seed 1, numbered from 100000) are disjoint; each held-out user labels ``k_max`` adaptation
pairs and ``n_test`` test pairs of their own. Per-user accuracy on a user's test pairs is
averaged over users, for k = 0, 1, 4, 16, 64 adaptation pairs; the global model is trained on
the basis users' pairs pooled (the same pairs, no user).

Run: ``nice -n 5 python benchmarks/personal.py --heads DIR`` — prints one JSON line.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import numpy as np

from _common import emit
from multi_heads import load_sets
from rewardlab import resolve
from rewardlab.data import Dataset, load_dataset
from rewardlab.evaluate.metrics import bootstrap_ci, pair_outcomes
from rewardlab.label.simulate import pool_from, simulate_users
from rewardlab.models.embedding import EmbeddingRewardModel
from rewardlab.models.personal import PersonalRewardModel, fit_user_weights

KS = (0, 1, 4, 16, 64)


def as_dataset(rows, source: str) -> Dataset:
    """Simulated rows as a pairwise Dataset (through the real reader, via a temp file)."""
    import json
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        for row in rows:
            fh.write(json.dumps(row) + "\n")
    return replace(load_dataset(fh.name), source=source)


def plot_accuracy_vs_k(record: dict, path: str) -> None:
    """Per-user accuracy against k (the personal model, its 10th percentile) beside the
    global Bradley–Terry model, as an SVG."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    ks = [int(k) for k in record["by_k"]]
    mean = [record["by_k"][str(k)]["per_user_accuracy_mean"] for k in ks]
    p10 = [record["by_k"][str(k)]["per_user_accuracy_p10"] for k in ks]
    fig = Figure(figsize=(6, 3.2), layout="constrained")
    ax = fig.subplots()
    x = list(range(len(ks)))
    ax.plot(x, mean, marker="o", label=f"personal (rank {record['rank']}), mean over users")
    ax.plot(x, p10, marker=".", ls=":", label="personal, 10th percentile")
    ax.axhline(record["global_bt_accuracy"], color="grey", ls="--", label="global BT")
    ax.set_xticks(x, [str(k) for k in ks])
    ax.set_xlabel("pairs from the user (k)")
    ax.set_ylabel("held-out accuracy")
    ax.legend(fontsize=8)
    fig.savefig(path, format="svg", metadata={"Date": None})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--heads")
    parser.add_argument("--plot", help="also draw accuracy vs k into this SVG file")
    parser.add_argument("--plot-from", help="draw --plot from this saved JSON line only")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--pairs-per-user", type=int, default=64)
    parser.add_argument("--test-users", type=int, default=100)
    parser.add_argument("--n-test", type=int, default=48)
    parser.add_argument("--alpha", type=float, default=0.3)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--head", default="linear")
    args = parser.parse_args()
    if args.plot_from:
        import json

        with open(args.plot_from, encoding="utf-8") as fh:
            plot_accuracy_vs_k(json.loads(fh.read()), args.plot)
        return
    if not args.heads:
        parser.error("--heads DIR is required (a multi: model, from multi_heads.py --save)")
    t0 = time.perf_counter()
    heads = resolve(args.heads)
    sets = load_sets()
    pool = pool_from([d for split in sets.values() for d in split])
    basis_sim = simulate_users(heads, pool, users=args.users, pairs_per_user=args.pairs_per_user,
                               seed=0, alpha=args.alpha)
    k_max = max(KS)
    held_sim = simulate_users(heads, pool, users=args.test_users,
                              pairs_per_user=k_max + args.n_test, seed=1, alpha=args.alpha,
                              first_user=100000)
    train = as_dataset(basis_sim.rows, "simulated basis users")
    held = as_dataset(held_sim.rows, "simulated held-out users")
    assert not {r.user for r in train.records} & {r.user for r in held.records}

    t_fit = time.perf_counter()
    personal = PersonalRewardModel(rank=args.rank, epochs=args.epochs, head=args.head).fit(train)
    basis_seconds = time.perf_counter() - t_fit
    global_bt = EmbeddingRewardModel().fit(replace(train, records=tuple(
        replace(r, user=None) for r in train.records)))

    def per_user(model, data, ks=KS):
        by_user: dict[str, list] = {}
        for r in data.records:
            by_user.setdefault(r.user, []).append(r)
        results = {k: [] for k in ks}
        global_acc = []
        fit_times = {k: [] for k in ks}
        for records in by_user.values():
            adapt, test = records[:k_max], records[k_max:]
            prompts = [r.prompt for r in test]
            responses = [r.chosen for r in test] + [r.rejected for r in test]
            n = len(test)
            g = global_bt.score(prompts + prompts, responses)
            global_acc.append(pair_outcomes(g[:n], g[n:]).mean())
            basis = model.basis_rewards(prompts + prompts, responses)
            for k in ks:
                start = time.perf_counter()
                w = model.fit_user(adapt[:k]) if k else model.population_
                fit_times[k].append(time.perf_counter() - start)
                r = basis @ w
                results[k].append(pair_outcomes(r[:n], r[n:]).mean())
        return results, global_acc, fit_times

    # the prior strength is chosen on validation users (a third disjoint group), never on
    # the held-out users the figures are reported on
    val_sim = simulate_users(heads, pool, users=50, pairs_per_user=k_max + args.n_test,
                             seed=2, alpha=args.alpha, first_user=200000)
    val = as_dataset(val_sim.rows, "simulated validation users")
    prior_scores = {}
    for prior in (0.03, 0.1, 0.3, 1.0):
        res, _, _ = per_user(personal.with_options({"prior": str(prior)}), val, ks=(16,))
        prior_scores[prior] = float(np.mean(res[16]))
    best_prior = max(prior_scores, key=prior_scores.get)
    personal = personal.with_options({"prior": str(best_prior)})
    results, global_acc, fit_times = per_user(personal, held)
    # diagnostic: the same adaptation over the true preference directions (the heads), so
    # the gap to the figures above is the learned basis's, not the per-user fit's
    oracle = []
    for records in {u: [r for r in held.records if r.user == u]
                    for u in dict.fromkeys(r.user for r in held.records)}.values():
        adapt, test = records[:16], records[k_max:]
        zs = []
        for part in (adapt, test):
            ps = [r.prompt for r in part]
            _, z = heads.score_attributes(ps + ps, [r.chosen for r in part]
                                          + [r.rejected for r in part])
            zs.append(np.stack([z[a] for a in heads.attributes], axis=1))
        k, n = len(adapt), len(test)
        w = fit_user_weights(zs[0][:k] - zs[0][k:], np.full(zs[0].shape[1], 0.2),
                             personal.config.prior)
        r = zs[1] @ w
        oracle.append(pair_outcomes(r[:n], r[n:]).mean())
    g_mean = float(np.mean(global_acc))
    per_k = {}
    for k in KS:
        acc = np.array(results[k])
        per_k[str(k)] = {"per_user_accuracy_mean": round(float(acc.mean()), 4),
                         "per_user_accuracy_p10": round(float(np.percentile(acc, 10)), 4),
                         "ci95": [round(x, 4) for x in bootstrap_ci(acc)],
                         "fit_seconds_per_user_mean": round(float(np.mean(fit_times[k])), 4),
                         "fit_seconds_per_user_max": round(float(np.max(fit_times[k])), 4)}
    record = dict(
         users=args.users, pairs_per_user=args.pairs_per_user, test_users=args.test_users,
         rank=args.rank, by_k=per_k, global_bt_accuracy=round(g_mean, 4))
    if args.plot:
        plot_accuracy_vs_k(record, args.plot)
    emit("personal",
         users=args.users, pairs_per_user=args.pairs_per_user, test_users=args.test_users,
         test_pairs_per_user=args.n_test, alpha=args.alpha, rank=args.rank,
         pool_pairs=len(pool), basis_pairs=len(train),
         prior_on_validation_users={str(k): round(v, 4) for k, v in prior_scores.items()},
         prior=best_prior,
         global_bt_accuracy=round(g_mean, 4),
         global_bt_ci95=[round(x, 4) for x in bootstrap_ci(np.array(global_acc))],
         by_k=per_k,
         k16_minus_global_points=round(100 * (per_k["16"]["per_user_accuracy_mean"] - g_mean), 2),
         k0_minus_global_points=round(100 * (per_k["0"]["per_user_accuracy_mean"] - g_mean), 2),
         k16_with_true_directions_as_basis=round(float(np.mean(oracle)), 4),
         basis_fit_seconds=round(basis_seconds, 1),
         seconds=round(time.perf_counter() - t0, 1))


if __name__ == "__main__":
    main()
