"""Monte-Carlo rollout step labels (Math-Shepherd) with the default policy, SmolLM2-135M.

Data: the first ``--problems`` GSM8K test problems of the bundled example solutions; each
reference solution error-injected (``rewardlab.label.inject_errors``, seed 0), so every problem
gives a corrupted solution whose first wrong step is known and the correct one. Both are
labelled by rollouts (``--k`` per step prefix, temperature 0.7, ``--max-tokens``, seed 0,
``denoise=mark``), and the MC hard labels (``mc_value > 0``) are compared with the injection
labels, on the steps that were rolled out (the last step of a solution that states its answer
is checked directly, and agrees by construction).

Reference run in the same process: the first ``--server-problems`` problems again through
llama-cpp-python's OpenAI-compatible server (the same GGUF, one thread, ``policy:openai``),
for the in-process / server time ratio.

    python benchmarks/mc_rollouts.py --problems 20 --k 4
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from typing import Any

import httpx

from _common import emit
from rewardlab.label import (
    RolloutConfig,
    RolloutResult,
    Solution,
    inject_errors,
    label_solutions,
    load_policy,
    read_problems,
)
from rewardlab.llm import default_gguf


def solutions(n: int) -> list[Solution]:
    problems, _ = read_problems("bundled:gsm8k_examples", limit=n)
    by_id = {p.id: p for p in problems}
    injected = inject_errors(problems, seed=0)
    out = []
    for r in injected.records:
        problem = by_id[int(str(r.id).split(":")[0])]
        out.append(Solution(id=r.id, question=problem.question, steps=r.steps,
                            reference=problem.solution, subset=r.subset,
                            source={"labels": list(r.labels or ())}))
    return out


def agreement(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """MC hard labels against injection labels, on rolled-out steps only."""
    pairs = [(mc, inj) for r in rows
             for mc, inj, n in zip(r["labels"], r["source"]["labels"], r["mc_rollouts"],
                                   strict=True) if n]
    pos = [mc for mc, inj in pairs if inj]
    neg = [mc for mc, inj in pairs if not inj]
    confident = [(mc, inj) for r in rows
                 for mc, inj, n, ok in zip(r["labels"], r["source"]["labels"], r["mc_rollouts"],
                                           r["confident"], strict=True) if n and ok]
    return {
        "rolled_out_steps": len(pairs),
        "agreement": sum(mc == inj for mc, inj in pairs) / max(len(pairs), 1),
        "mc_positive_given_correct_step": sum(pos) / max(len(pos), 1),
        "mc_positive_given_wrong_step": sum(neg) / max(len(neg), 1),
        "correct_steps": len(pos), "wrong_steps": len(neg),
        "confident_steps": len(confident),
        "agreement_confident": (sum(mc == inj for mc, inj in confident) / len(confident)
                                if confident else None),
    }


def server_run(sols: list[Solution], config: RolloutConfig) -> RolloutResult:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(default_gguf()),
         "--model_alias", "smollm2", "--host", "127.0.0.1", "--port", str(port),
         "--n_threads", "1", "--n_threads_batch", "1", "--interrupt_requests", "False",
         "--verbose", "False"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ})
    base = f"http://127.0.0.1:{port}/v1"
    try:
        while True:
            try:
                if httpx.get(base + "/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        policy = load_policy(f"policy:openai:{base}#smollm2?template=default&concurrency=1")
        return label_solutions(sols, policy, config)
    finally:
        proc.terminate()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--problems", type=int, default=20)
    parser.add_argument("--k", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--server-problems", type=int, default=2)
    args = parser.parse_args()
    config = RolloutConfig(k=args.k, max_tokens=args.max_tokens, denoise="mark")
    sols = solutions(args.problems)
    load = os.getloadavg()[0]
    policy = load_policy("policy:default")
    done = [0]

    def tick(row: Any) -> None:
        done[0] += 1
        print(f"{done[0]}/{len(sols)}", file=sys.stderr, flush=True)

    result = label_solutions(sols, policy, config, on_row=tick)
    stats = result.stats
    rows = list(result.rows)
    n_sub = sum(1 for s in sols if int(str(s.id).split(":")[0]) < args.server_problems)
    subset = sols[:n_sub]
    t0 = time.perf_counter()
    local_sub = label_solutions(subset, policy, config)
    local_seconds = time.perf_counter() - t0
    server = server_run(subset, config)
    server_seconds = server.stats["seconds"]
    rolled = sum(n > 0 for r in rows for n in r["mc_rollouts"])
    emit(
        "mc_rollouts",
        policy="policy:default (SmolLM2-135M-Instruct Q4_1, llama.cpp, 1 thread)",
        config={"k": args.k, "max_tokens": args.max_tokens, "temperature": 0.7, "seed": 0,
                "threshold": 0.0, "denoise": "mark", "alpha": 0.1},
        data={"problems": args.problems, "solutions": len(sols),
              "corrupted": sum(s.subset != "correct" for s in sols)},
        labelled=len(rows), skipped=len(result.skipped),
        steps=stats["steps"], rolled_out_steps=rolled,
        rollouts=stats["rollouts"], shared_prefixes=stats["shared_prefixes"],
        seconds=stats["seconds"],
        labels_per_s=stats["steps"] / stats["seconds"],
        rollouts_per_s=stats["rollouts"] / stats["seconds"],
        positive_share=stats["positive"] / max(stats["steps"], 1),
        positive_share_rolled_out=(sum(lab for r in rows for lab, n in zip(
            r["labels"], r["mc_rollouts"], strict=True) if n) / max(rolled, 1)),
        self_confidence_mean=sum(r["self_confidence"] for r in rows) / max(len(rows), 1),
        low_confidence_steps=stats["low_confidence"],
        rows_denoise_drop_would_remove=sum(not all(r["confident"]) for r in rows),
        vs_injection=agreement(rows),
        server_reference={"solutions": len(subset), "in_process_s": local_seconds,
                          "server_s": server_seconds,
                          "server_over_in_process": server_seconds / local_seconds,
                          "rollouts": server.stats["rollouts"],
                          "same_label_share": _same(local_sub.rows, server.rows)},
        load_average_1m=load,
    )


def _same(local: Any, served: Any) -> float:
    """Share of step labels that are the same in-process and through the server: both sample
    the same prompts with the same seeds, but the server reuses llama.cpp's cache across
    requests, which changes logits in the last bits and can change a sampled token."""
    theirs = {r["id"]: r["labels"] for r in served}
    pairs = [(a, b) for r in local for a, b in zip(r["labels"], theirs.get(r["id"], []),
                                                   strict=False)]
    return sum(a == b for a, b in pairs) / max(len(pairs), 1)


if __name__ == "__main__":
    main()
