"""Scoring throughput of a saved `seq:minilm` model, end to end: `rewardlab score` against
plain transformers loops, each in its own process.

One run, the same HH pairs (2 texts each, prompts as text), max length 256, 1 thread each
(`OMP_NUM_THREADS=1`). Every configuration is a fresh Python process timed from start to
exit, so process start, imports, model load, reading the file, tokenising and writing the
scores are all counted:

* `plain`: a transformers loop (`AutoTokenizer` + `AutoModelForSequenceClassification`),
  batches of 32 in file order, padded to the batch's longest;
* `sorted`: the same loop over texts sorted by token length (the ten-line fix);
* `rewardlab score DIR DATA --out F` (fp32, the default) and the opt-ins
  `seq:DIR?score_precision=bf16|int8`, each with its largest score deviation from fp32 and
  its pairwise accuracy beside fp32's.

Both loops tokenise as rewardlab does for an encoder (prompt and reply as a BERT pair, the
prompt cut from the left to fit 256 tokens), so their scores match rewardlab's and only
speed differs. The model is trained here first (a few steps on other pairs), so scores are
not noise.

    nice -n 5 .venv/bin/python benchmarks/score_vs_transformers.py --pairs 500
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import emit

#: The loop a user writes without rewardlab (run in its own process by ``--loop``).
_LOOP = '''
import json, sys, numpy as np, torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer
model, data, out, mode = sys.argv[1:5]
tok = AutoTokenizer.from_pretrained(model)
tok.truncation_side = "left"
net = AutoModelForSequenceClassification.from_pretrained(model).eval()
rows = [json.loads(line) for line in open(data, encoding="utf-8")]
prompts = [r["prompt"] for r in rows] * 2
replies = [r["chosen"] for r in rows] + [r["rejected"] for r in rows]
enc = tok(prompts, replies, truncation=True, max_length=256)
order = (np.argsort([len(x) for x in enc["input_ids"]], kind="stable") if mode == "sorted"
         else np.arange(len(replies)))
scores = np.empty(len(replies))
with torch.inference_mode():
    for i in range(0, len(order), 32):
        idx = order[i:i + 32]
        batch = tok.pad({k: [enc[k][j] for j in idx] for k in enc}, return_tensors="pt")
        scores[idx] = net(**batch).logits[:, 0].double().numpy()
np.save(out, scores)
'''


def _timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    return seconds


def _rewardlab_scores(path: Path) -> np.ndarray:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return np.array([r["reward_chosen"] for r in rows] + [r["reward_rejected"] for r in rows])


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
    from rewardlab.data import load_dataset, render_prompt

    torch.set_num_threads(args.threads)
    data = load_dataset("bundled:hh_harmless")
    train = data.take(range(32))
    test = data.take(range(100, 100 + args.pairs)).records
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "TOKENIZERS_PARALLELISM":
           "false", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        model = resolve("seq:minilm?max_length=256&batch_size=16&lr=1e-4&precision=fp32")
        model.fit(train)
        path = model.save(tmp / "rm")
        pairs = tmp / "pairs.jsonl"
        pairs.write_text("".join(json.dumps({"prompt": render_prompt(r.prompt),
                                             "chosen": r.chosen, "rejected": r.rejected})
                                 + "\n" for r in test), encoding="utf-8")
        (tmp / "loop.py").write_text(_LOOP, encoding="utf-8")
        seconds, scores = {}, {}
        for mode in ("plain", "sorted"):
            out = tmp / f"{mode}.npy"
            seconds[mode] = _timed([sys.executable, str(tmp / "loop.py"), str(path),
                                    str(pairs), str(out), mode], env)
            scores[mode] = np.load(out)
        for precision in ("fp32", "bf16", "int8"):
            spec = str(path) if precision == "fp32" else \
                f"seq:{path}?score_precision={precision}"
            out = tmp / f"{precision}.jsonl"
            seconds[precision] = _timed([sys.executable, "-m", "rewardlab.cli", "score", spec,
                                         str(pairs), "--out", str(out)], env)
            scores[precision] = _rewardlab_scores(out)
        start = time.perf_counter()
        _timed([sys.executable, "-c", "import torch, transformers"], env)
        imports = time.perf_counter() - start
    n = 2 * len(test)
    exact = scores["fp32"]
    rewardlab = {p: {"texts_per_s": n / seconds[p], "seconds": seconds[p],
                     "max_score_deviation_vs_fp32": float(np.abs(scores[p] - exact).max()),
                     "accuracy": _accuracy(scores[p])} for p in ("fp32", "bf16", "int8")}
    emit("score_vs_transformers", texts=n, threads=args.threads,
         plain_texts_per_s=n / seconds["plain"], sorted_texts_per_s=n / seconds["sorted"],
         plain_seconds=seconds["plain"], sorted_seconds=seconds["sorted"],
         torch_transformers_import_seconds=imports,
         plain_max_deviation_vs_rewardlab=float(np.abs(scores["plain"] - exact).max()),
         rewardlab=rewardlab,
         ratios={"fp32_vs_plain": seconds["plain"] / seconds["fp32"],
                 "fp32_vs_sorted": seconds["sorted"] / seconds["fp32"],
                 "bf16_vs_plain": seconds["plain"] / seconds["bf16"],
                 "best_vs_plain": seconds["plain"] / min(seconds[p] for p in rewardlab)},
         note="end to end: each configuration a fresh process (start, imports, model load, "
              "read, tokenise, score, write)")


if __name__ == "__main__":
    main()
