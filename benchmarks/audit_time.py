"""Wall time of `rewardlab audit` on the demo's embedding model and the bundled HH data.

Targets from the audit issue, on 2 cores: the full audit (label-noise probe included) within
3 minutes on cached embeddings, and within 30 s without the noise probe.

What "cached" means here: the demo has run, so every HH text is in the embedding cache; the
texts the audit itself makes (master keys, rewrites, the bundled AlpacaEval and
EvalBiasBench answers) are not, on a first audit, and are on a repeat. Both are measured,
each in a fresh process (imports and model loading included) against its own copy of the
cache. The reference run is `rewardlab eval` of the same model on the same data, in the same
state, so the ratios say what an audit costs next to an evaluation whatever the machine's load. CPU
seconds (user + system of the child process) are reported beside wall seconds: on a machine
shared with other jobs the wall time measures the queue as much as the audit.

    python benchmarks/audit_time.py [--workdir DIR]

``--workdir`` keeps the demo's model and embedding cache between runs (training it cold is
the demo's ~80 s, and much more on a loaded machine); each run still audits fresh copies.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import emit

ALL_BUT_NOISE = "length,master-keys,paraphrase,position,over-optimisation,calibration"


def cli(cache: Path, *args: str) -> tuple[float, float]:
    """Wall and CPU seconds of one `rewardlab` command in a fresh process."""
    env = {**os.environ, "REWARDLAB_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1"}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "rewardlab.cli", "--no-progress", *args], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def train_demo_model(cache: Path, out: Path) -> None:
    """The demo's model (embed:minilm on the demo's training split), saved; every HH text
    embedded, as after `rewardlab demo`."""
    code = (
        "from rewardlab import api, load_dataset, split_by_prompt\n"
        "train, test = split_by_prompt(load_dataset('bundled:hh_harmless'), "
        "test_fraction=0.25, seed=0)\n"
        f"api.train(api.DEMO_SPEC, train, out={str(out)!r})\n"
        f"api.evaluate({str(out)!r}, 'bundled:hh_harmless')\n")
    env = {**os.environ, "REWARDLAB_CACHE_DIR": str(cache), "HF_HUB_OFFLINE": "1"}
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        keep = args.workdir or root
        demo_cache, model = keep / "demo-cache", keep / "demo-rm"
        if not (model / "rewardlab.json").exists():
            train_demo_model(demo_cache, model)
        caches = {name: root / name for name in ("full", "no-noise")}
        for path in caches.values():
            shutil.copytree(demo_cache, path)
        runs: dict[str, tuple[float, float]] = {}
        runs["eval_reference"] = cli(caches["full"], "eval", str(model), "bundled:hh_harmless")
        report = root / "audit.json"
        audit = ["audit", str(model), "bundled:hh_harmless", "--json", str(report)]
        runs["no_noise_first"] = cli(caches["no-noise"], *audit, "--probes", ALL_BUT_NOISE)
        runs["no_noise_repeat"] = cli(caches["no-noise"], *audit, "--probes", ALL_BUT_NOISE)
        runs["full_first"] = cli(caches["full"], *audit)
        body = json.loads(report.read_text())
        runs["full_repeat"] = cli(caches["full"], *audit)
    probes = {name: {"verdict": p["verdict"], "value": p["value"],
                     "seconds": round(p["seconds"], 1)} for name, p in body["probes"].items()}
    eval_wall, eval_cpu = runs["eval_reference"]
    emit("audit_time",
         wall_seconds={k: round(v[0], 1) for k, v in runs.items()},
         cpu_seconds={k: round(v[1], 1) for k, v in runs.items()},
         cpu_ratio_to_eval={k: round(v[1] / eval_cpu, 1) for k, v in runs.items()
                            if k != "eval_reference"},
         wall_ratio_to_eval={k: round(v[0] / eval_wall, 1) for k, v in runs.items()
                             if k != "eval_reference"},
         targets={"full": 180, "no_noise": 30}, probes=probes,
         responses_scored=body["settings"]["responses_scored"],
         max_pairs=body["settings"]["max_pairs"],
         load_average={"before": [round(x, 1) for x in load_before],
                       "after": [round(x, 1) for x in os.getloadavg()]})


if __name__ == "__main__":
    main()
