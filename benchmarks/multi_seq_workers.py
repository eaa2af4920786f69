"""`multi:seq:minilm` (one backbone, a head per attribute) on 1 process vs 2 workers.

Real pairs of two attributes with sets of unequal size (HH harmless and PandaLM), so every
global batch mixes the heads and the balance weights differ between them (each head counts
the same). The same seed and global batch everywhere. Reported (max abs weight difference
of the whole network against one process):

* 2 DDP workers (gloo, 1 thread each), and 2 FSDP workers;
* a checkpoint written at step ``--stop-at`` by 2 workers, resumed by 1 process;
* with ``--ray``: 2 Ray Train CPU workers.

Plus the wall seconds of each fit (process start and model loading included: a correctness
run, not a speed benchmark; ``train_workers.py`` times the loop of ``seq:``).

Run from the repository root:
    nice -n 5 .venv/bin/python benchmarks/multi_seq_workers.py --harmless 40 --helpful 24 \
        --max-length 64 [--ray]
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
from _common import emit
from train_workers import _stop_at


def _spec(args: argparse.Namespace, **extra: Any) -> str:
    options = {"max_length": args.max_length, "batch_size": 16, "epochs": 1, "seed": 0,
               "precision": "fp32", "threads": 1, **extra}
    return "multi:seq:minilm?" + "&".join(f"{k}={v}" for k, v in options.items())


def _sets(args: argparse.Namespace) -> dict[str, Any]:
    from rewardlab.data import load_dataset

    return {"harmless": load_dataset("bundled:hh_harmless").take(range(args.harmless)),
            "helpful": load_dataset("bundled:pandalm").take(range(args.helpful))}


def _fit(args: argparse.Namespace, launcher: Any = None, **kwargs: Any) -> tuple[Any, float]:
    from rewardlab import resolve

    extra = kwargs.pop("spec", {})
    start = time.perf_counter()
    model = resolve(_spec(args, **extra)).fit(_sets(args), launcher=launcher,
                                              workers=2 if launcher else 1, **kwargs)
    return model, time.perf_counter() - start


def _local(target: Any = None, **extra: Any) -> Any:
    from rewardlab.train.workers import run_local

    def launch(real: Any, payload: dict[str, Any]) -> None:
        run_local(target or real, {**payload, **extra}, workers=2, threads=1)
    return launch


def _max_diff(a: Any, b: Any) -> float:
    sa, sb = a._seq.network.state_dict(), b._seq.network.state_dict()
    return max(float((sa[k] - sb[k]).abs().max()) for k in sa)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--harmless", type=int, default=40)
    parser.add_argument("--helpful", type=int, default=24)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--stop-at", type=int, default=2)
    parser.add_argument("--ray", action="store_true")
    args = parser.parse_args()

    import torch

    from rewardlab.errors import TrainingError

    torch.set_num_threads(1)
    out: dict[str, Any] = {"pairs": {"harmless": args.harmless, "helpful": args.helpful},
                           "max_length": args.max_length, "global_batch": 16}
    one, out["seconds_1_process"] = _fit(args)
    ddp, out["seconds_2_ddp"] = _fit(args, _local())
    out["max_diff_2_ddp"] = _max_diff(one, ddp)
    fsdp, out["seconds_2_fsdp"] = _fit(args, _local(), strategy="fsdp")
    out["max_diff_2_fsdp"] = _max_diff(one, fsdp)
    out["head_scale_rel_diff_2_ddp"] = max(
        abs(ddp.scale_[a][1] - one.scale_[a][1]) / one.scale_[a][1] for a in one.scale_)
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp, "ckpt")
        every = {"checkpoint_every": 1}
        try:
            _fit(args, _local(_stop_at, stop_at=args.stop_at), checkpoint_dir=ckpt, spec=every)
        except TrainingError as exc:
            assert "planted stop" in str(exc), exc
        resumed, _ = _fit(args, checkpoint_dir=ckpt, resume=True, spec=every)
        out[f"max_diff_2_stopped_at_{args.stop_at}_resumed_on_1"] = _max_diff(one, resumed)
    if args.ray:
        from rewardlab.scale import run_ray

        ray_model, out["seconds_2_ray"] = _fit(
            args, functools.partial(run_ray, workers=2, threads=1, max_failures=0))
        out["max_diff_2_ray"] = _max_diff(one, ray_model)
    emit("multi_seq_workers", **out)


if __name__ == "__main__":
    main()
