"""Training on several workers (``torch.distributed``, gloo, 2 local processes) on a tiny
random BERT: the same weights as one process, on unequal shards too; a checkpoint written by 2
workers resumed by 1; clear errors for what cannot run distributed.

Each distributed fit costs a few seconds here (the worker processes fork from one server
that imported torch once per test session)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
from _two_workers import WEIGHT_TOLERANCE, max_weight_diff, seq_spec, two_workers

from rewardlab import api, resolve
from rewardlab.errors import CapabilityError, ConfigError, TrainingError


@pytest.mark.parametrize("n_pairs", [16, 15])  # equal shards; unequal (odd last batch)
def test_two_workers_reach_the_weights_of_one(tiny, hh_small, one_thread, n_pairs) -> None:
    data = hh_small[0].take(range(n_pairs))
    one = resolve(seq_spec(tiny)).fit(data)
    two = resolve(seq_spec(tiny)).fit(data, workers=2, launcher=two_workers())
    assert max_weight_diff(one, two) <= WEIGHT_TOLERANCE
    for h1, h2 in zip(one.history_, two.history_, strict=True):
        assert h2["accuracy"] == h1["accuracy"]  # metrics of the whole batch, from rank 0
        assert h2["loss"] == pytest.approx(h1["loss"], abs=1e-6)


def test_a_checkpoint_of_two_workers_resumes_on_one(tiny, hh_small, tmp_path, one_thread
                                                    ) -> None:
    from _planted import stop_after_checkpoint

    data = hh_small[0].take(range(15))  # 4 steps
    spec = seq_spec(tiny, checkpoint_every=1)
    full = resolve(spec).fit(data, workers=2, launcher=two_workers())
    ckpt = tmp_path / "ckpt"
    with pytest.raises(TrainingError, match="planted stop"):
        resolve(spec).fit(data, checkpoint_dir=ckpt, workers=2,
                          launcher=two_workers(stop_after_checkpoint, stop_at=2))
    resumed = resolve(spec).fit(data, checkpoint_dir=ckpt, resume=True)  # one process
    assert max_weight_diff(full, resumed) <= WEIGHT_TOLERANCE
    assert [h["accuracy"] for h in resumed.history_] == [h["accuracy"] for h in full.history_]


def test_more_workers_than_pairs_is_refused(tiny, hh_small) -> None:
    with pytest.raises(ConfigError, match=r"--workers 5 is more than the 4 training pairs"):
        resolve(seq_spec(tiny)).fit(hh_small[0].take(range(4)), workers=5,
                                 launcher=two_workers())


def test_kinds_that_cannot_train_distributed_are_named(hh_small, tmp_path) -> None:
    with pytest.raises(CapabilityError, match=r"'embed:minilm' cannot train on --workers 2: "
                                              r"only seq: models"):
        api.train("embed:minilm", hh_small[0], out=tmp_path / "rm", workers=2)
    assert not (tmp_path / "rm").exists()


def test_an_unreachable_ray_address_fails_fast(hh_small, tmp_path) -> None:
    from rewardlab.scale import ClusterError

    with pytest.raises(ClusterError, match=r"127\.0\.0\.1:9"):
        api.train("seq:minilm", hh_small[0], out=tmp_path / "rm", ray=True,
                  address="127.0.0.1:9")
    assert not (tmp_path / "rm").exists()


def test_an_unknown_strategy_is_refused(hh_small, tmp_path) -> None:
    with pytest.raises(ConfigError, match=r"--strategy must be 'ddp' or 'fsdp'. Got 'zero3'"):
        api.train("seq:minilm", hh_small[0], out=tmp_path / "rm", workers=2,
                  strategy="zero3")
    assert not (tmp_path / "rm").exists()


@pytest.mark.slow
def test_ray_train_workers_reach_the_weights_of_one(tiny, hh_small, one_thread) -> None:
    pytest.importorskip("ray.train")
    from rewardlab.scale import run_ray

    data = hh_small[0].take(range(15))
    one = resolve(seq_spec(tiny)).fit(data)
    on_ray = resolve(seq_spec(tiny)).fit(
        data, workers=2, launcher=functools.partial(run_ray, workers=2, threads=1))
    assert max_weight_diff(one, on_ray) <= WEIGHT_TOLERANCE


@pytest.mark.slow
def test_the_cli_trains_on_two_workers(tiny, tmp_path) -> None:
    """End to end: `rewardlab train --workers 2` saves a model that scores."""
    import subprocess
    import sys

    out = tmp_path / "rm"
    proc = subprocess.run(
        [sys.executable, "-m", "rewardlab.cli", "train", "bundled:hh_harmless", "--model",
         seq_spec(tiny, epochs=1), "--limit", "9", "--workers", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "trained" in proc.stdout and np.isfinite(resolve(str(out)).score(["hi"], ["yo"])).all()
