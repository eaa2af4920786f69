"""Judges that sample and vote: what ``samples=4`` costs against one sample, and whether the
same seed gives the same results across runs and batch sizes.

``judge:default`` (SmolLM2-135M-Instruct on ``transformers``, one thread) grades the first
``--limit`` responses of the bundled HH-harmless pairs (chosen and rejected) with a sampled
rationale of at most ``--tokens`` tokens, once with ``samples=1`` and once with ``samples=4``
(same seed). The four samples share the prompt's prefix (run once) and decode as one batch,
so k = 4 should cost well under 4× one sample (target ≤ 3×). Then ``samples=4`` runs again,
one row per call, and must give the same rationales and rewards bit for bit. CPU seconds of
this process are the cost figure (wall seconds are reported too; the machine is shared).

    nice -n 5 python benchmarks/judge_sampling.py --limit 6
"""

from __future__ import annotations

import argparse
import math
import time

from _common import emit
from rewardlab import resolve
from rewardlab.data import load_dataset


def _timed(judge, prompts, responses):
    wall, cpu = time.perf_counter(), time.process_time()
    verdicts = judge.grade(prompts, responses)
    return verdicts, time.perf_counter() - wall, time.process_time() - cpu


def _same(a, b) -> bool:
    if [s.rationale for s in a.samples] != [s.rationale for s in b.samples]:
        return False
    return a.value == b.value or (math.isnan(a.value) and math.isnan(b.value))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=6, help="pairs (two responses each)")
    parser.add_argument("--tokens", type=int, default=64, help="longest rationale")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    pairs = load_dataset("bundled:hh_harmless", limit=args.limit)
    prompts = [p.prompt for p in pairs for _ in (0, 1)]
    responses = [r for p in pairs for r in (p.chosen, p.rejected)]
    spec = (f"judge:default?mode=grade&rubric=harmlessness&threads=1&seed={args.seed}"
            f"&max_reason_tokens={args.tokens}&n_ctx=1024")
    one = resolve(spec + "&samples=1")
    four = resolve(spec + "&samples=4")
    one.grade(prompts[:1], responses[:1])  # load and warm both (same weights)
    four.grade(prompts[:1], responses[:1])
    _, wall1, cpu1 = _timed(one, prompts, responses)
    batch, wall4, cpu4 = _timed(four, prompts, responses)
    single = [four.grade([p], [r])[0] for p, r in zip(prompts, responses, strict=True)]
    rerun = resolve(spec + "&samples=4").grade(prompts, responses)
    identical = all(_same(a, b) for a, b in zip(batch, single, strict=True)) and all(
        _same(a, b) for a, b in zip(batch, rerun, strict=True))
    chosen_wins = sum(batch[2 * i].value > batch[2 * i + 1].value for i in range(len(pairs)))
    emit("judge_sampling", responses=len(responses), max_reason_tokens=args.tokens,
         cpu_s={"samples_1": cpu1, "samples_4": cpu4}, wall_s={"samples_1": wall1,
                                                               "samples_4": wall4},
         cost_ratio_cpu=cpu4 / cpu1, cost_ratio_wall=wall4 / wall1,
         identical_across_batch_and_runs=identical,
         no_verdict=sum(v.no_verdict for v in batch), samples=4 * len(batch),
         chosen_graded_higher=f"{chosen_wins}/{len(pairs)}")


if __name__ == "__main__":
    main()
