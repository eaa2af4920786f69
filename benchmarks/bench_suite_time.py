"""Wall time of `rewardlab bench` on the default suite: cold, warm, and warm without the
score cache; prints the demo model's table figures. The reference is `rewardlab demo` cold
in the same conditions (its quiet-machine figure is known), so the ratio carries over when the
machine is shared. CPU seconds (user + system over all
threads) are reported beside wall time: other work on a shared machine stretches the wall
time, much less the CPU time.

Target from issue 9: <= 300 s cold and <= 20 s warm on 2 cores, for the demo's embedding
model. "Cold" is an empty cache directory (no embeddings, no scores); each run is a fresh
process (imports and model loading included). The model is trained first, as `make demo`
trains it (HH harmless, 75% of the conversations, seed 0), in a cache of its own, so its
embeddings do not warm the measured runs.

    python benchmarks/bench_suite_time.py [--model DIR] [--limit N]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit
from demo_time import run as demo_cold  # the reference: `rewardlab demo`, cold


def train_demo_model(out: Path, cache: Path) -> None:
    """The demo's model: embed:minilm trained on the demo's training conversations."""
    code = ("from rewardlab import resolve\n"
            "from rewardlab.data import load_dataset, split_by_prompt\n"
            "train, _ = split_by_prompt(load_dataset('bundled:hh_harmless'), "
            "test_fraction=0.25, seed=0)\n"
            f"resolve('embed:minilm').fit(train).save({str(out)!r})\n")
    env = {**os.environ, "REWARDLAB_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def run(model: Path, cache: Path, report: Path, *extra: str) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, all threads) of one bench process."""
    env = {**os.environ, "REWARDLAB_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rewardlab.cli", "--no-progress", "bench", str(model),
                    "--json", str(report), *extra], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, help="a saved model (default: train the demo's)")
    parser.add_argument("--limit", type=int, help="rows per table row (a quick trial)")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip the cold `rewardlab demo` reference run")
    args = parser.parse_args()
    extra = ("--limit", str(args.limit)) if args.limit else ()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        model = args.model
        if model is None:
            model = tmp_path / "demo-rm"
            train_demo_model(model, tmp_path / "train-cache")
        cache, report = tmp_path / "cache", tmp_path / "bench.json"
        load_before = os.getloadavg()[0]
        reference = None if args.no_reference else demo_cold(tmp_path / "demo-cache",
                                                               tmp_path / "demo.json")
        cold = run(model, cache, report, *extra)
        warm = run(model, cache, report, *extra)
        no_score_cache = run(model, cache, report, "--no-cache", *extra)
        load_after = os.getloadavg()[0]
        body = json.loads(report.read_text())
    (result,) = body["models"]
    emit("bench_suite_time", cold_seconds=round(cold[0], 1), warm_seconds=round(warm[0], 1),
         warm_embeddings_no_score_cache_seconds=round(no_score_cache[0], 1),
         cpu_seconds={"cold": round(cold[1], 1), "warm": round(warm[1], 1),
                      "no_score_cache": round(no_score_cache[1], 1)},
         cold_over_warm=round(cold[0] / warm[0], 1), targets={"cold": 300, "warm": 20},
         reference_demo_cold_seconds=None if reference is None else round(reference, 1),
         cold_over_demo_cold=None if reference is None else round(cold[0] / reference, 2),
         limit=args.limit, overall=round(result["overall"], 4),
         sections={k: None if v["score"] is None else round(v["score"], 4)
                   for k, v in result["sections"].items()},
         rows={r["key"]: r["n"] for r in result["rows"]},
         load_average={"before": round(load_before, 1), "after": round(load_after, 1)})


if __name__ == "__main__":
    main()
