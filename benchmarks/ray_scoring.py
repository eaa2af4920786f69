"""Ray batch scoring (`rewardlab score --ray`) against plain `rewardlab score`, same input.

Figure (issue 8): rows/s with 1 and 2 Ray workers on 200k HH-style pairs with an
`embed:minilm` head, the ratio to non-Ray `rewardlab score` on the same file in the same run,
and peak memory as the input grows 10x (20k -> 200k rows).

Input: the 1,812 bundled HH harmless pairs repeated, each copy with a distinct `id`. 200k
distinct texts would take hours to encode on 2 cores; with repeats, the on-disk embedding
cache (warmed by training the head) serves every text after its first sight, so the warm
runs measure rewardlab's per-row work (JSON and HH parsing, cache lookups, the head,
writing) and Ray's overhead, not MiniLM. A separate cold slice (distinct pairs, a fresh
empty cache per run) reports encoder-bound rows/s, so cache hits are not mistaken for
encoder throughput.

Every configuration runs the real command in a subprocess (`python -m rewardlab.cli score
...`); memory is the resident set summed over that process and all its descendants (the
driver, and for Ray the local raylet, GCS and worker processes), sampled every 0.2 s. The
Ray output is checked against the non-Ray output row by row (ids and rewards). Ray runs its
workers at niceness 15 by default; the benchmark sets `RAY_worker_niceness=0` so that, on a
machine shared with other jobs, Ray and plain `score` compete for the CPU on equal terms.

    python benchmarks/ray_scoring.py [--rows 200000] [--small-rows 20000] [--cold-rows 96]
        [--workdir /tmp/rl_ray_bench] [--model DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from _common import emit
from rewardlab.data import bundled_path

ROOT = Path(__file__).resolve().parents[1]


def build_input(path: Path, rows: int) -> Path:
    """``rows`` HH pairs: the bundled file repeated, every row with a distinct id."""
    if path.exists():
        return path
    source = [json.loads(line) for line in bundled_path("hh_harmless").read_text().splitlines()]
    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for i in range(rows):
            row = source[i % len(source)]
            fh.write(json.dumps({"id": f"hh-{i}", "chosen": row["chosen"],
                                 "rejected": row["rejected"]}) + "\n")
    tmp.replace(path)
    return path


class TreeMemory:
    """Peak RSS of a process plus all its descendants, sampled in a thread."""

    def __init__(self, pid: int, every: float = 0.2) -> None:
        self.root = psutil.Process(pid)
        self.every = every
        self.peak_total = self.peak_driver = self.peak_worker = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                break
            total = 0
            for p in procs:
                try:
                    rss = p.memory_info().rss
                except psutil.Error:
                    continue
                total += rss
                if p.pid == self.root.pid:
                    self.peak_driver = max(self.peak_driver, rss)
                elif "ray::" in " ".join(_cmdline(p)):
                    self.peak_worker = max(self.peak_worker, rss)
            self.peak_total = max(self.peak_total, total)
            self._stop.wait(self.every)

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        mib = 1024 * 1024
        return {"peak_total_mib": round(self.peak_total / mib, 1),
                "peak_driver_mib": round(self.peak_driver / mib, 1),
                "peak_worker_mib": round(self.peak_worker / mib, 1)}


def _cmdline(p: psutil.Process) -> list[str]:
    try:
        return p.cmdline()
    except psutil.Error:
        return []


def run_cli(args: list[str], env: dict[str, str]) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "rewardlab.cli", "--no-progress", "score", *args]
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    memory = TreeMemory(proc.pid)
    stdout, stderr = proc.communicate()
    seconds = time.perf_counter() - start
    mem = memory.stop()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{stderr[-3000:]}")
    print(stdout.strip(), file=sys.stderr, flush=True)
    return {"seconds": round(seconds, 2), **mem}


def shard_span(out: Path) -> float:
    """Seconds from the first shard's start to the last shard's end (no Ray start-up)."""
    markers = [json.loads(p.read_text()) for p in (out / "_shards").glob("*[0-9].json")]
    return max(m["finished"] for m in markers) - min(m["started"] for m in markers)


def read_rows(paths: list[Path]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for path in paths:
        with path.open(encoding="utf-8") as fh:
            rows += [json.loads(line) for line in fh]
    return rows


def compare(ray_out: Path, plain: Path) -> dict[str, Any]:
    ours = read_rows(sorted(ray_out.glob("part-*.jsonl")))
    theirs = read_rows([plain])
    same_ids = [r["id"] for r in ours] == [r["id"] for r in theirs]
    diff = max(max(abs(a["reward_chosen"] - b["reward_chosen"]),
                   abs(a["reward_rejected"] - b["reward_rejected"]))
               for a, b in zip(ours, theirs, strict=True))
    return {"rows": len(ours), "same_ids_in_order": same_ids, "max_abs_reward_diff": diff}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--small-rows", type=int, default=20_000)
    parser.add_argument("--cold-rows", type=int, default=96)
    parser.add_argument("--shard-rows", type=int, default=5_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/rl_ray_bench"))
    parser.add_argument("--model", type=Path, default=None,
                        help="a trained embed:minilm head (trained here when omitted)")
    args = parser.parse_args()
    work = args.workdir
    work.mkdir(parents=True, exist_ok=True)
    # Ray starts its workers at niceness 15 (RAY_worker_niceness): on a machine shared with
    # other jobs they would yield the CPU that plain `score` (niceness 0) keeps; level it
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
           "REWARDLAB_CACHE_DIR": str(work / "cache"), "RAY_worker_niceness": "0"}
    model = args.model or work / "rm"
    if not (model / "rewardlab.json").exists():  # also warms the cache with every HH text
        subprocess.run([sys.executable, "-m", "rewardlab.cli", "--no-progress", "train",
                        "bundled:hh_harmless", "--model", "embed:minilm", "--out", str(model)],
                       env=env, check=True)

    results: dict[str, Any] = {"warm": {}, "cold": {}}
    load_before = os.getloadavg()
    for n in (args.small_rows, args.rows):
        data = build_input(work / f"hh_{n}.jsonl", n)
        plain = work / f"plain_{n}.jsonl"
        runs: dict[str, Any] = {"plain": run_cli([str(model), str(data), "--out", str(plain)],
                                                 env)}
        for workers in (1, 2):
            out = work / f"ray_{n}_w{workers}"
            shutil.rmtree(out, ignore_errors=True)
            run = run_cli([str(model), str(data), "--out", str(out), "--ray", "--workers",
                           str(workers), "--shard-rows", str(args.shard_rows)], env)
            run["shard_span_s"] = round(shard_span(out), 2)
            if workers == 2:
                run["check_vs_plain"] = compare(out, plain)
            runs[f"ray_w{workers}"] = run
        for run in runs.values():
            run["rows_per_s"] = round(n / run["seconds"], 1)
            if "shard_span_s" in run:
                run["rows_per_s_excl_startup"] = round(n / run["shard_span_s"], 1)
        for key in ("ray_w1", "ray_w2"):
            runs[key]["vs_plain"] = round(runs[key]["rows_per_s"] / runs["plain"]["rows_per_s"],
                                          3)
        runs["w2_vs_w1"] = round(runs["ray_w2"]["rows_per_s"] / runs["ray_w1"]["rows_per_s"], 3)
        results["warm"][str(n)] = runs
        print(json.dumps({n: runs}), file=sys.stderr, flush=True)

    small, big = results["warm"][str(args.small_rows)], results["warm"][str(args.rows)]
    results["memory_growth_10x"] = {
        key: round(big[key]["peak_total_mib"] / small[key]["peak_total_mib"], 3)
        for key in ("plain", "ray_w1", "ray_w2")}
    results["driver_memory_growth_10x"] = {
        key: round(big[key]["peak_driver_mib"] / small[key]["peak_driver_mib"], 3)
        for key in ("plain", "ray_w1", "ray_w2")}

    # cold slice: distinct pairs, an empty cache for every run, so MiniLM encodes each text
    cold_data = work / f"hh_cold_{args.cold_rows}.jsonl"
    lines = bundled_path("hh_harmless").read_text().splitlines()[: args.cold_rows]
    cold_data.write_text("\n".join(lines) + "\n")
    for name, extra in (("plain", []), ("ray_w1", ["--ray", "--workers", "1"]),
                        ("ray_w2", ["--ray", "--workers", "2"])):
        cache = work / f"cold_cache_{name}"
        shutil.rmtree(cache, ignore_errors=True)
        out = work / f"cold_{name}" if extra else work / "cold_plain.jsonl"
        if extra:
            shutil.rmtree(out, ignore_errors=True)
            extra = [*extra, "--shard-rows", str(max(1, args.cold_rows // 4))]
        run = run_cli([str(model), str(cold_data), "--out", str(out), *extra],
                      {**env, "REWARDLAB_CACHE_DIR": str(cache)})
        run["rows_per_s"] = round(args.cold_rows / run["seconds"], 2)
        if extra:
            run["shard_span_s"] = round(shard_span(out), 2)
            run["rows_per_s_excl_startup"] = round(args.cold_rows / run["shard_span_s"], 2)
        results["cold"][name] = run
    results["cold"]["rows"] = args.cold_rows

    emit("ray_scoring", rows=args.rows, small_rows=args.small_rows,
         distinct_pairs=len(bundled_path("hh_harmless").read_text().splitlines()),
         shard_rows=args.shard_rows, load_average={"start": load_before, "end": os.getloadavg()},
         **results)


if __name__ == "__main__":
    main()
