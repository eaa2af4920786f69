"""What the 1-vs-N-worker tests share: the tolerance, a small `seq:` spec, a launcher that
runs the real worker on 2 local processes, and the weight comparison."""

from __future__ import annotations

from rewardlab.train.workers import run_local

#: Largest weight difference allowed between 1 and N workers: the sums differ in rounding
#: only (float32 ~1e-7 relative per step, amplified by AdamW where a gradient is ~0).
WEIGHT_TOLERANCE = 1e-5


def seq_spec(path: str, **options) -> str:
    settings = {"max_length": 32, "batch_size": 4, "epochs": 1, "lr": 1e-4,
                "precision": "fp32", **options}
    return f"seq:{path}?" + "&".join(f"{k}={v}" for k, v in settings.items())


def two_workers(target=None, **extra):
    def launch(real_target, payload):
        run_local(target or real_target, {**payload, **extra}, workers=2)
    return launch


def max_weight_diff(a, b) -> float:
    sa, sb = a.network.state_dict(), b.network.state_dict()
    assert sa.keys() == sb.keys()
    return max(float((sa[k] - sb[k]).abs().max()) for k in sa)
