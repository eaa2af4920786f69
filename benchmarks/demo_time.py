"""Wall time of `rewardlab demo` with an empty embedding cache and with a warm one.

Targets from the foundation issue: <= 120 s cold, <= 10 s warm, on 2 cores. Each run is a
fresh process (imports and model loading included), against its own temporary cache.

    python benchmarks/demo_time.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit


def run(cache: Path, report: Path) -> float:
    env = {**os.environ, "REWARDLAB_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rewardlab.cli", "--no-progress", "demo", "--json",
                    str(report)], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        cache, report = Path(tmp) / "cache", Path(tmp) / "demo.json"
        cold = run(cache, report)
        warm = run(cache, report)
        body = json.loads(report.read_text())
    emit("demo_time", cold_seconds=round(cold, 1), warm_seconds=round(warm, 1),
         targets={"cold": 120, "warm": 10}, accuracy=round(body["accuracy"], 4),
         ci95=[round(x, 4) for x in body["ci95"]], n_test=body["n"])


if __name__ == "__main__":
    main()
