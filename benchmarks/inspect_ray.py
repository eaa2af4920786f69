"""``inspect --ray`` against ``inspect --stream`` on a large synthetic preference file.

The file is the 1,812 HH harmless pairs repeated with edits until it has ``--rows`` rows:
each copy after the first is an exact copy (40%), a whitespace/casing/punctuation edit of
both replies (30%), both replies with a sentence appended (20%), the pair with its labels
swapped (5%) or chosen == rejected (5%). Both passes run as ``rewardlab inspect`` processes
(start, read, checks, JSON written) without a model and without embeddings, so they do the
same checks: their counts and row ids must be equal. Wall time and the peak RSS of the
command's own process (GNU time; Ray's workers are separate processes) are reported.

A second, smaller file (``--embed-rows``) measures what only ``--ray`` does: near
duplicates by MiniLM embeddings, searched exactly (every pair of rows) and by sign-random-
projection LSH candidates, with the flip estimate on a ``--flip-sample`` row sample; the
LSH pass must find the same near-duplicate ids as the exact one.

    nice -n 5 .venv/bin/python benchmarks/inspect_ray.py --rows 200000 --embed-rows 3000
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit

CHECKS = ("exact_duplicates", "near_duplicates", "contradictions", "identical_pairs")


def _edit(text: str, rng: random.Random) -> str:
    kind = rng.choice(("space", "case", "punct"))
    if kind == "space":
        return text.replace(" ", "  ", 2) + " "
    if kind == "case":
        return text.upper() if rng.random() < 0.5 else text.lower()
    return text.replace(".", "!", 1) if "." in text else text + "."


def build(path: Path, rows: int, seed: int = 0) -> None:
    """``rows`` rows from HH harmless, repeated with edits (see the module docstring)."""
    from rewardlab.data import load_dataset, render_prompt

    base = [{"prompt": render_prompt(r.prompt), "chosen": r.chosen, "rejected": r.rejected}
            for r in load_dataset("bundled:hh_harmless").records]
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as fh:
        for i in range(rows):
            row = dict(base[i % len(base)], id=f"r{i}")
            if i >= len(base):
                u = rng.random()
                if u < 0.3:
                    row["chosen"], row["rejected"] = (_edit(row["chosen"], rng),
                                                      _edit(row["rejected"], rng))
                elif u < 0.5:
                    extra = rng.choice(("I hope that helps.", "Let me know.", "Thanks!"))
                    row["chosen"] += f" {extra} ({i})"
                    row["rejected"] += f" {extra} ({i})"
                elif u < 0.55:
                    row["chosen"], row["rejected"] = row["rejected"], row["chosen"]
                elif u < 0.6:
                    row["rejected"] = row["chosen"] + " "
            fh.write(json.dumps(row) + "\n")


def _cli(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS MB of the command's process) of one ``rewardlab`` call."""
    cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "rewardlab.cli", *args]
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    return seconds, (int(rss.group(1)) / 1024 if rss else float("nan"))


def _defects(doc: dict) -> dict:
    return {k: doc[k]["ids"] for k in CHECKS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--embed-rows", type=int, default=3_000)
    parser.add_argument("--flip-sample", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        if args.rows:
            big = tmp / "big.jsonl"
            build(big, args.rows)
            common = ["inspect", str(big), "--model", "none", "--no-embeddings", "--json"]
            t_stream, rss_stream = _cli([*common, str(tmp / "s.json"), "--stream"], env)
            t_ray, rss_ray = _cli([*common, str(tmp / "r.json"), "--ray", "--workers",
                                   str(args.workers)], env)
            s = json.loads((tmp / "s.json").read_text())
            r = json.loads((tmp / "r.json").read_text())
            emit("inspect_ray_large", workers=args.workers,
                 file_mb=big.stat().st_size / 2**20, rows=s["rows"],
                 counts={k: s[k]["count"] for k in CHECKS},
                 same_ids_and_confounds=_defects(s) == _defects(r)
                 and s["confounds"] == r["confounds"],
                 stream_seconds=t_stream, ray_seconds=t_ray,
                 stream_peak_rss_mb=rss_stream, ray_driver_peak_rss_mb=rss_ray,
                 ray_vs_stream_speed=t_stream / t_ray,
                 note="one run; --stream and --ray as rewardlab processes, wall time")
        if args.embed_rows:
            from rewardlab.inspection import InspectConfig, inspect_pairs

            small = tmp / "small.jsonl"
            build(small, args.embed_rows)
            shard_rows = max(100, args.embed_rows // (2 * args.workers))
            runs = {}
            for method in ("exact", "lsh"):
                start = time.perf_counter()
                doc = inspect_pairs(small, InspectConfig(
                    ray=True, workers=args.workers, near_method=method, shard_rows=shard_rows,
                    flip_sample=args.flip_sample,
                    model="embed:minilm" if method == "lsh" else None)).to_json()
                runs[method] = (time.perf_counter() - start, doc)
            exact, lsh = runs["exact"][1], runs["lsh"][1]
            emit("inspect_ray_embeddings", workers=args.workers, rows=exact["rows"],
                 near_duplicates_exact=exact["near_duplicates"]["count"],
                 near_duplicates_lsh=lsh["near_duplicates"]["count"],
                 lsh_same_ids_as_exact=exact["near_duplicates"]["ids"]
                 == lsh["near_duplicates"]["ids"],
                 lsh_note=lsh["near_duplicates"]["note"],
                 exact_seconds_incl_embedding=runs["exact"][0],
                 lsh_seconds_incl_flip_estimate=runs["lsh"][0],
                 flip_rate=lsh["flip_rate"]["estimate"], flip_ci95=lsh["flip_rate"]["ci95"],
                 flip_note=[n for n in lsh["notes"] if "sample" in n],
                 note="one run, in-process API calls; embeddings partly from the cache")


if __name__ == "__main__":
    main()
