"""One-command GPU check: train, score and serve a `seq:` reward model on CUDA.

On a CUDA machine it trains `seq:` on a tiny decoder (a 2-layer Llama built here, with
LoRA) and on MiniLM (full fine-tuning), on 1 GPU and on all GPUs (`--workers N`, nccl;
with `--strategy ddp` and with `fsdp`, which shards weights, gradients and optimiser state),
scores held-out pairs, serves one request through the HTTP app, and prints one JSON line:
pairs/s per configuration, the largest weight difference between 1 and N GPUs, and peak GPU
memory. Without CUDA it prints that it skipped and exits 0, so CI can run it anywhere.

    .venv/bin/python benchmarks/gpu_smoke.py [--pairs 256]

Written and run on a CPU-only machine so far: only the skip path has been executed.
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))
from _common import emit


def _fit(spec: str, data: Any, gpus: int, strategy: str = "ddp") -> tuple[Any, float]:
    from rewardlab import resolve
    from rewardlab.train.workers import run_local

    model = resolve(spec)
    start = time.perf_counter()
    if gpus > 1:
        model.fit(data, workers=gpus, strategy=strategy,
                  launcher=functools.partial(run_local, workers=gpus, backend="nccl"))
    else:
        model.fit(data)
    return model, len(data.records) / (time.perf_counter() - start)


def _max_diff(a: Any, b: Any) -> float:
    sa, sb = a.network.state_dict(), b.network.state_dict()
    return max(float((sa[k].float().cpu() - sb[k].float().cpu()).abs().max()) for k in sa)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--pairs", type=int, default=256)
    args = parser.parse_args()

    import torch

    if not torch.cuda.is_available():
        emit("gpu_smoke", skipped=True, reason="no CUDA device (torch.cuda.is_available() is "
             f"False; torch {torch.__version__})")
        return
    from fastapi.testclient import TestClient

    from rewardlab.data import load_dataset
    from rewardlab.serve import create_app
    from tiny_models import tiny_decoder

    gpus = torch.cuda.device_count()
    data = load_dataset("bundled:hh_harmless")
    train, test = data.take(range(args.pairs)), data.take(range(args.pairs, args.pairs + 64))
    prompts = [r.prompt for r in test.records]
    results: dict[str, Any] = {"gpus": gpus, "device_name": torch.cuda.get_device_name(0),
                               "bf16": torch.cuda.is_bf16_supported()}
    with tempfile.TemporaryDirectory() as tmp:
        decoder = tiny_decoder(Path(tmp) / "llama", "llama")
        specs = {"tiny_llama_lora": f"seq:{decoder}?lora=8&max_length=256&device=cuda",
                 "minilm": "seq:minilm?max_length=256&device=cuda"}
        for name, spec in specs.items():
            torch.cuda.reset_peak_memory_stats()
            one, speed_one = _fit(spec, train, 1)
            entry: dict[str, Any] = {"pairs_per_s_1gpu": speed_one,
                                     "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20}
            if gpus > 1:
                many, speed_many = _fit(spec, train, gpus)
                entry.update(pairs_per_s_all_gpus=speed_many,
                             max_weight_diff_1_vs_all=_max_diff(one, many))
                # the workers' own GPU memory is not visible here: peak_gpu_mb is this
                # process's (1 GPU); FSDP's saving shows in a run too large for one GPU
                sharded, speed_sharded = _fit(spec, train, gpus, strategy="fsdp")
                entry.update(pairs_per_s_all_gpus_fsdp=speed_sharded,
                             max_weight_diff_1_vs_all_fsdp=_max_diff(one, sharded))
            start = time.perf_counter()
            chosen = one.score(prompts, [r.chosen for r in test.records])
            rejected = one.score(prompts, [r.rejected for r in test.records])
            entry.update(score_texts_per_s=2 * len(prompts) / (time.perf_counter() - start),
                         accuracy=float((chosen > rejected).mean()),
                         scores_float64=chosen.dtype.name == "float64")
            saved = one.save(Path(tmp) / name)
            with TestClient(create_app(str(saved))) as client:
                reply = client.post("/v1/score", json={"items": [{"prompt": "hi",
                                                                   "response": "hello"}]})
            entry["serve_status"] = reply.status_code
            results[name] = entry
    emit("gpu_smoke", skipped=False, **results)


if __name__ == "__main__":
    main()
