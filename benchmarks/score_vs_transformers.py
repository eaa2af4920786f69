"""Scoring throughput of a saved `seq:minilm` model: rewardlab vs plain transformers loops.

One run, the same HH pairs (2 texts each), max length 256, one process:

* `plain`: a transformers loop, batches of 32 in file order, padded to the batch's longest;
* `sorted`: the same loop over texts sorted by length (the ten-line fix);
* rewardlab `score` at `score_precision=fp32` (default), `bf16` and `int8`, each with its
  largest score deviation from fp32 and its pairwise accuracy beside fp32's.

Times include model loading (each configuration loads the saved model itself), not process
start. The model is trained here first (a few steps on other pairs), so scores are not noise.

    nice -n 5 .venv/bin/python benchmarks/score_vs_transformers.py --pairs 500
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit


def _texts(records: list[Any]) -> tuple[list[Any], list[str]]:
    prompts = [r.prompt for r in records] * 2
    return prompts, [r.chosen for r in records] + [r.rejected for r in records]


def _plain(path: Path, model: Any, prompts: list[Any], replies: list[str], *, sort: bool
           ) -> tuple[np.ndarray, float]:
    """A transformers loop over the same token ids rewardlab builds (so only batching
    differs), batch 32."""
    import torch
    from transformers import AutoModelForSequenceClassification

    start = time.perf_counter()
    net = AutoModelForSequenceClassification.from_pretrained(path).eval()
    encoded = model.encode(prompts, replies)
    order = (np.argsort([len(e.input_ids) for e in encoded]) if sort
             else np.arange(len(encoded)))
    out = np.empty(len(encoded))
    pad = model.tokenizer.pad_token_id
    with torch.inference_mode():
        for i in range(0, len(order), 32):
            idx = order[i:i + 32]
            width = max(len(encoded[j].input_ids) for j in idx)
            ids = torch.full((len(idx), width), pad)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            types = torch.zeros((len(idx), width), dtype=torch.long)
            for row, j in enumerate(idx):
                n = len(encoded[j].input_ids)
                ids[row, :n] = torch.tensor(encoded[j].input_ids)
                mask[row, :n] = 1
                types[row, :n] = torch.tensor(encoded[j].token_type_ids)
            out[idx] = net(input_ids=ids, attention_mask=mask,
                           token_type_ids=types).logits[:, 0].double().numpy()
    return out, time.perf_counter() - start


def _ours(path: Path, prompts: list[Any], replies: list[str], precision: str
          ) -> tuple[np.ndarray, float]:
    from rewardlab import resolve

    start = time.perf_counter()
    scores = resolve(f"seq:{path}?score_precision={precision}").score(prompts, replies)
    return scores, time.perf_counter() - start


def _accuracy(scores: np.ndarray) -> float:
    half = len(scores) // 2
    diff = scores[:half] - scores[half:]
    return float(((diff > 0) + 0.5 * (diff == 0)).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    from rewardlab import resolve
    from rewardlab.data import load_dataset

    torch.set_num_threads(args.threads)
    data = load_dataset("bundled:hh_harmless")
    train = data.take(range(32))
    test = list(data.take(range(100, 100 + args.pairs)).records)
    prompts, replies = _texts(test)
    with tempfile.TemporaryDirectory() as tmp:
        model = resolve("seq:minilm?max_length=256&batch_size=16&lr=1e-4&precision=fp32")
        model.fit(train)
        path = model.save(Path(tmp) / "rm")
        plain, t_plain = _plain(path, model, prompts, replies, sort=False)
        _, t_sorted = _plain(path, model, prompts, replies, sort=True)
        results = {}
        exact = None
        for precision in ("fp32", "bf16", "int8"):
            scores, seconds = _ours(path, prompts, replies, precision)
            exact = scores if exact is None else exact
            results[precision] = {
                "texts_per_s": len(replies) / seconds,
                "max_score_deviation_vs_fp32": float(np.abs(scores - exact).max()),
                "accuracy": _accuracy(scores)}
    n = len(replies)
    emit("score_vs_transformers", texts=n, threads=args.threads,
         plain_texts_per_s=n / t_plain, sorted_texts_per_s=n / t_sorted,
         plain_max_deviation_vs_rewardlab=float(np.abs(plain - exact).max()),
         rewardlab=results,
         ratios={"fp32_vs_plain": results["fp32"]["texts_per_s"] * t_plain / n,
                 "fp32_vs_sorted": results["fp32"]["texts_per_s"] * t_sorted / n,
                 "best_vs_plain": max(r["texts_per_s"] for r in results.values()) * t_plain / n},
         note="in-process; model load included, process start not")


if __name__ == "__main__":
    main()
