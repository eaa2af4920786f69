"""``personal:embed:minilm`` on simulated users built from real data, beside a global
Bradley–Terry model trained on the same pairs.

Users (PersonalLLM's recipe, ``rewardlab.label.simulate_users``): the five attribute heads of
``benchmarks/multi_heads.py`` (``--heads DIR``, saved there with ``--save``) are the preference
directions; every user is a Dirichlet(alpha) mixture over them and labels real pairs (all five
sets' pairs, their own labels ignored) by its mixture. Three disjoint groups: basis users
(seed 0, ``--pairs-per-user`` training pairs plus ``--select-pairs`` held back), held-out
users (seed 1, numbered from 100000; ``k_max`` adaptation pairs and ``n_test`` test pairs
each), and nothing else. The basis is trained on the basis users' training pairs only.

Model selection (rank, basis ridge μ, prior λ) uses the basis users alone: each basis user's
weights are refitted from 16 of their own training pairs with the basis frozen and scored on
their held-back pairs. The held-out users are touched once, by the chosen model (every
candidate's held-out figure is printed too, for transparency, but never used to choose).

Per-user accuracy on a user's test pairs is averaged over users, for k = 0, 1, 4, 16, 64
adaptation pairs, with 95% bootstrap intervals over users; the global model (``embed:minilm``,
its defaults) is trained on the basis users' training pairs pooled (the same pairs, no user).

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
from rewardlab._threads import one_blas_thread
from rewardlab.data import Dataset, load_dataset, split_by_prompt
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
    rank = record["rank"] if "rank" in record else record["chosen"]["rank"]
    ax.plot(x, mean, marker="o", label=f"personal (rank {rank}), mean over users")
    ax.plot(x, p10, marker=".", ls=":", label="personal, 10th percentile")
    ax.axhline(record["global_bt_accuracy"], color="grey", ls="--", label="global BT")
    ax.set_xticks(x, [str(k) for k in ks])
    ax.set_xlabel("pairs from the user (k)")
    ax.set_ylabel("held-out accuracy")
    ax.legend(fontsize=8)
    fig.savefig(path, format="svg", metadata={"Date": None})


def per_user_accuracy(model, data, adapt_n: int, ks, *, global_bt=None):
    """Per user: the first ``adapt_n`` pairs adapt, the rest test. Accuracy per k (and the
    global model's), and the seconds each user's fit took."""
    by_user: dict[str, list] = {}
    for r in data.records:
        by_user.setdefault(r.user, []).append(r)
    results = {k: [] for k in ks}
    global_acc = []
    fit_times = {k: [] for k in ks}
    for records in by_user.values():
        adapt, test = records[:adapt_n], records[adapt_n:]
        prompts = [r.prompt for r in test]
        responses = [r.chosen for r in test] + [r.rejected for r in test]
        n = len(test)
        if global_bt is not None:
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


def split_selection(data: Dataset, train_n: int) -> tuple[Dataset, Dataset]:
    """Each basis user's first ``train_n`` pairs (training) and the rest (held back for
    choosing the settings), as two Datasets; the held-back set lists a user's first 16
    training pairs before their held-back pairs, so ``per_user_accuracy(adapt_n=16)`` refits
    from training pairs and tests on held-back ones."""
    by_user: dict[str, list] = {}
    for r in data.records:
        by_user.setdefault(r.user, []).append(r)
    train = [r for rs in by_user.values() for r in rs[:train_n]]
    select = [r for rs in by_user.values() for r in rs[:16] + rs[train_n:]]
    return (replace(data, records=tuple(train), source=data.source + " (training pairs)"),
            replace(data, records=tuple(select), source=data.source + " (held back)"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--heads")
    parser.add_argument("--plot", help="also draw accuracy vs k into this SVG file")
    parser.add_argument("--plot-from", help="draw --plot from this saved JSON line only")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--pairs-per-user", type=int, default=64)
    parser.add_argument("--select-pairs", type=int, default=16,
                        help="pairs per basis user held back to choose the settings")
    parser.add_argument("--test-users", type=int, default=100)
    parser.add_argument("--n-test", type=int, default=48)
    parser.add_argument("--alpha", type=float, default=0.3)
    parser.add_argument("--disjoint-pairs", action="store_true",
                        help="basis users label pairs from 75%% of the pool's prompts, held-out "
                             "users from the other 25%% (default: both draw from the whole "
                             "pool, so a held-out user's test pair may have been labelled by "
                             "basis users, by their own mixtures)")
    parser.add_argument("--ranks", default="8,16")
    parser.add_argument("--l2s", default="10,100,1000", help="basis ridge μ values to try")
    parser.add_argument("--priors", default="0.1,1,10")
    parser.add_argument("--compare", default="random,heads",
                        help="also report these inits at the chosen rank (random: the old "
                             "joint AdamW fit; heads: start from --heads, an upper bound "
                             "here since the same heads made the users)")
    parser.add_argument("--residual", default="128",
                        help="also fit head=residual (linear fit + an MLP trunk of this many "
                             "hidden units; empty: skip) at the chosen settings, on the basis "
                             "users' training + held-back pairs (the held-back ones stop it)")
    parser.add_argument("--trunk-lr", type=float, default=1e-4)
    parser.add_argument("--trunk-steps", type=int, default=200)
    parser.add_argument("--trunk-decay", type=float, default=0.1)
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
    basis_pool = held_pool = pool
    if args.disjoint_pairs:
        basis_pool, held_pool = split_by_prompt(pool, test_fraction=0.25, seed=1)
    basis_sim = simulate_users(heads, basis_pool, users=args.users,
                               pairs_per_user=args.pairs_per_user + args.select_pairs,
                               seed=0, alpha=args.alpha)
    k_max = max(KS)
    held_sim = simulate_users(heads, held_pool, users=args.test_users,
                              pairs_per_user=k_max + args.n_test, seed=1, alpha=args.alpha,
                              first_user=100000)
    basis_all = as_dataset(basis_sim.rows, "simulated basis users")
    train, select = split_selection(basis_all, args.pairs_per_user)
    held = as_dataset(held_sim.rows, "simulated held-out users")
    assert not {r.user for r in train.records} & {r.user for r in held.records}

    t_fit = time.perf_counter()
    global_bt = EmbeddingRewardModel().fit(replace(train, records=tuple(
        replace(r, user=None) for r in train.records)))
    global_seconds = time.perf_counter() - t_fit

    candidates = []
    for rank in (int(x) for x in args.ranks.split(",")):
        for l2 in (float(x) for x in args.l2s.split(",")):
            t_fit = time.perf_counter()
            model = PersonalRewardModel(rank=rank, basis_l2=l2).fit(train)
            seconds = time.perf_counter() - t_fit
            for prior in (float(x) for x in args.priors.split(",")):
                m = model.with_options({"prior": str(prior)})
                res, _, _ = per_user_accuracy(m, select, 16, (0, 16))
                candidates.append({
                    "rank": rank, "basis_l2": l2, "prior": prior,
                    "select_k16": round(float(np.mean(res[16])), 4),
                    "select_k0": round(float(np.mean(res[0])), 4),
                    "rounds": len(model.history_), "converged": model.converged_,
                    "fit_seconds": round(seconds, 1), "_model": m})
    best = max(candidates, key=lambda c: c["select_k16"])
    personal = best["_model"]
    results, global_acc, fit_times = per_user_accuracy(personal, held, k_max, KS,
                                                       global_bt=global_bt)
    g_mean = float(np.mean(global_acc))
    for c in candidates:  # every candidate on the held-out users: reported, never chosen on
        res, _, _ = per_user_accuracy(c.pop("_model"), held, k_max, (0, 16))
        c["held_out_k0"] = round(float(np.mean(res[0])), 4)
        c["held_out_k16"] = round(float(np.mean(res[16])), 4)

    compare = {}
    for init in (x for x in args.compare.split(",") if x):
        t_fit = time.perf_counter()
        other = PersonalRewardModel(rank=best["rank"], basis_l2=best["basis_l2"],
                                    prior=best["prior"],
                                    init=args.heads if init == "heads" else init).fit(train)
        seconds = time.perf_counter() - t_fit
        res, _, _ = per_user_accuracy(other, held, k_max, KS)
        compare[init] = {str(k): round(float(np.mean(res[k])), 4) for k in KS}
        compare[init]["fit_seconds"] = round(seconds, 1)

    residual = {}
    if args.residual:
        # the trunk is stopped on each basis user's last select_pairs pairs (its own
        # val_fraction split of their training + held-back pairs): the same held-back pairs
        # and the same criterion (refit from 16 training pairs) the candidates were chosen on
        t_fit = time.perf_counter()
        res_model = PersonalRewardModel(
            rank=best["rank"], basis_l2=best["basis_l2"], prior=best["prior"],
            head="residual", hidden=int(args.residual), trunk_lr=args.trunk_lr,
            trunk_steps=args.trunk_steps, weight_decay=args.trunk_decay,
            val_fraction=args.select_pairs / (args.pairs_per_user + args.select_pairs),
        ).fit(basis_all)
        seconds = time.perf_counter() - t_fit
        sel, _, _ = per_user_accuracy(res_model, select, 16, (0, 16))
        res, _, res_times = per_user_accuracy(res_model, held, k_max, KS)
        residual = {
            "hidden": int(args.residual), "trunk_lr": args.trunk_lr,
            "trunk_steps": args.trunk_steps, "trunk_decay": args.trunk_decay,
            "best_step": res_model.trunk_best_step_,
            "validation_by_step": res_model.trunk_validation_,
            "select_k16": round(float(np.mean(sel[16])), 4),
            "select_k0": round(float(np.mean(sel[0])), 4),
            "linear_select_k16": best["select_k16"],
            "wins_on_basis_users_validation": bool(np.mean(sel[16]) > best["select_k16"]),
            "fit_seconds": round(seconds, 1),
            "by_k": {str(k): {"per_user_accuracy_mean": round(float(np.mean(res[k])), 4),
                              "ci95": [round(x, 4) for x in bootstrap_ci(np.array(res[k]))],
                              "minus_global_points": round(
                                  100 * (float(np.mean(res[k])) - g_mean), 2),
                              "minus_linear_paired_ci95": [round(100 * x, 2) for x in
                                                           bootstrap_ci(np.array(res[k])
                                                                        - np.array(results[k]))],
                              "fit_seconds_per_user_max": round(float(np.max(res_times[k])),
                                                                4)}
                      for k in KS},
            "k16_minus_global_paired_ci95": [round(100 * x, 2) for x in bootstrap_ci(
                np.array(res[16]) - np.array(global_acc))]}

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
    per_k = {}
    for k in KS:
        acc = np.array(results[k])
        per_k[str(k)] = {"per_user_accuracy_mean": round(float(acc.mean()), 4),
                         "per_user_accuracy_p10": round(float(np.percentile(acc, 10)), 4),
                         "ci95": [round(x, 4) for x in bootstrap_ci(acc)],
                         "minus_global_points": round(100 * (float(acc.mean()) - g_mean), 2),
                         "fit_seconds_per_user_mean": round(float(np.mean(fit_times[k])), 4),
                         "fit_seconds_per_user_max": round(float(np.max(fit_times[k])), 4)}
    paired = {k: np.array(results[k]) - np.array(global_acc) for k in (0, 16)}
    record = dict(
         users=args.users, pairs_per_user=args.pairs_per_user, test_users=args.test_users,
         rank=best["rank"], by_k=per_k, global_bt_accuracy=round(g_mean, 4))
    if args.plot:
        plot_accuracy_vs_k(record, args.plot)
    emit("personal",
         users=args.users, pairs_per_user=args.pairs_per_user,
         select_pairs_per_user=args.select_pairs, test_users=args.test_users,
         test_pairs_per_user=args.n_test, alpha=args.alpha,
         pool_pairs=len(pool), disjoint_pairs=args.disjoint_pairs,
         basis_pool_pairs=len(basis_pool), held_out_pool_pairs=len(held_pool),
         basis_pairs=len(train),
         chosen={k: best[k] for k in ("rank", "basis_l2", "prior")},
         candidates=candidates,
         global_bt_accuracy=round(g_mean, 4),
         global_bt_fit_seconds=round(global_seconds, 1),
         global_bt_ci95=[round(x, 4) for x in bootstrap_ci(np.array(global_acc))],
         by_k=per_k,
         k16_minus_global_points=per_k["16"]["minus_global_points"],
         k16_minus_global_paired_ci95=[round(100 * x, 2) for x in bootstrap_ci(paired[16])],
         k0_minus_global_points=per_k["0"]["minus_global_points"],
         k0_minus_global_paired_ci95=[round(100 * x, 2) for x in bootstrap_ci(paired[0])],
         other_inits_at_chosen_settings=compare,
         residual_basis=residual,
         k16_with_true_directions_as_basis=round(float(np.mean(oracle)), 4),
         seconds=round(time.perf_counter() - t0, 1))


if __name__ == "__main__":
    with one_blas_thread():  # thousands of tiny products: a BLAS pool only adds barriers
        main()
