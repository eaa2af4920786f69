"""Embedding throughput: rewardlab's encoder path vs ``SentenceTransformer.encode``.

Same model (all-MiniLM-L6-v2 from PyPI), same texts (HH harmless prompts and replies, unique),
same max length (256), no cache. The two are timed alternately, several rounds, so load on
this shared machine hits both alike; the result is the ratio of their median times.

    python benchmarks/encode_vs_sentence_transformers.py [--pairs 600] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from _common import emit
from rewardlab.data import load_dataset, render_prompt
from rewardlab.models._encoder import SentenceEncoder, resolve_encoder_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=600)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from sentence_transformers import SentenceTransformer

    data = load_dataset("bundled:hh_harmless", limit=args.pairs)
    texts = list(dict.fromkeys(
        t for r in data for t in (render_prompt(r.prompt), r.chosen, r.rejected)))
    reference = SentenceTransformer(str(resolve_encoder_path("minilm")), device="cpu")
    reference.max_seq_length = 256
    ours = SentenceEncoder("minilm", max_length=256, cache=None)
    ours.embed(texts[:8])  # load the model before timing, as ST's constructor does

    times: dict[str, list[float]] = {"sentence_transformers": [], "rewardlab": []}
    for _ in range(args.rounds):
        start = time.perf_counter()
        expected = reference.encode(texts, batch_size=32, convert_to_numpy=True)
        times["sentence_transformers"].append(time.perf_counter() - start)
        start = time.perf_counter()
        got = ours.embed(texts)  # cache=None: every text goes through the model
        times["rewardlab"].append(time.perf_counter() - start)

    st, rl = (statistics.median(times[k]) for k in ("sentence_transformers", "rewardlab"))
    emit(
        "encode_vs_sentence_transformers",
        texts=len(texts),
        max_length=256,
        rounds=args.rounds,
        seconds={"sentence_transformers": round(st, 2), "rewardlab": round(rl, 2)},
        texts_per_second={"sentence_transformers": round(len(texts) / st, 1),
                          "rewardlab": round(len(texts) / rl, 1)},
        ratio=round(st / rl, 3),
        max_abs_diff=float(np.abs(expected - got).max()),
    )


if __name__ == "__main__":
    main()
