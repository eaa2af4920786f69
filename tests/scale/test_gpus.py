"""``score --ray --gpus-per-worker``: GPU requests are checked against the cluster before any
shard is submitted, and a worker loads the model on the device it reserved.

This machine has no GPU, so the GPU placement itself cannot run here; the tests cover the
arithmetic of the resource check, the error on a GPU-less cluster, and the G=0 path (a
saved ``seq:`` model scored by CPU workers equals ``rewardlab score`` without Ray).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from rewardlab.errors import ConfigError
from rewardlab.scale._job import _worker_count


def test_worker_count_follows_gpus_and_refuses_what_the_cluster_lacks() -> None:
    assert _worker_count({"CPU": 8.0, "GPU": 2.0}, None, 1.0, 0.5, "x") == 4
    assert _worker_count({"CPU": 8.0, "GPU": 2.0}, None, 1.0, 1.0, "x") == 2
    assert _worker_count({"CPU": 3.0, "GPU": 8.0}, None, 1.0, 1.0, "x") == 3  # CPUs bound
    assert _worker_count({"CPU": 8.0}, 3, 1.0, 0.0, "x") == 3
    with pytest.raises(ConfigError, match=r"2 GPUs, fewer than --workers 3 x --gpus-per-worker"):
        _worker_count({"CPU": 8.0, "GPU": 2.0}, 3, 1.0, 1.0, "x")
    with pytest.raises(ConfigError, match=r"--gpus-per-worker 0.25: the Ray cluster at x has "
                                          r"no GPUs \(ray.cluster_resources\(\) lists 8 CPUs"):
        _worker_count({"CPU": 8.0}, None, 1.0, 0.25, "x")


def test_gpus_on_a_cluster_without_gpus_fail_before_any_shard(ray_session, gsm_clean,
                                                             tmp_path) -> None:
    from rewardlab.scale import score_distributed

    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="--gpus-per-worker 1: the Ray cluster at local has "
                                          "no GPUs"):
        score_distributed("verify:math", gsm_clean, out=out, shard_rows=60,
                          gpus_per_worker=1)
    assert not list(out.glob("part-*")) and not list((out / "_shards").glob("*.json"))


def test_gpus_per_worker_on_the_cli(run_cli, ray_session, gsm_clean, tmp_path) -> None:
    result = run_cli("score", "verify:math", gsm_clean, "--out", tmp_path / "s.jsonl",
                     "--gpus-per-worker", "1")
    assert result.code == 2 and "--gpus-per-worker only applies to Ray scoring" in result.err
    result = run_cli("score", "verify:math", gsm_clean, "--out", tmp_path / "o", "--ray",
                     "--gpus-per-worker", "0.5", "--address", "auto")
    assert result.code == 2, result.err
    assert "error: --gpus-per-worker 0.5: the Ray cluster at auto has no GPUs" in result.err
    assert "Traceback" not in result.err


def test_a_worker_asked_for_a_gpu_without_cuda_says_so(trained_seq) -> None:
    from rewardlab.scale._worker import place

    assert place(trained_seq, "cpu") is trained_seq  # already on the CPU: not reloaded
    with pytest.raises(ConfigError, match="--gpus-per-worker: Ray gave this worker a GPU but "
                                          "its torch sees no CUDA device"):
        place(trained_seq, "auto")


@pytest.mark.slow
def test_zero_gpus_scores_a_saved_seq_model_on_cpu_workers(ray_session, trained_seq, hh_small,
                                                         tmp_path) -> None:
    from rewardlab import api
    from rewardlab.data import render_prompt
    from rewardlab.scale import score_distributed

    data = tmp_path / "pairs.jsonl"
    data.write_text("".join(json.dumps({"prompt": render_prompt(r.prompt), "chosen": r.chosen,
                                        "rejected": r.rejected}) + "\n"
                            for r in hh_small[1].records[:12]), encoding="utf-8")
    saved = trained_seq.save(tmp_path / "rm")
    result = score_distributed(saved, data, out=tmp_path / "out", shard_rows=6,
                               gpus_per_worker=0)
    assert (result.n_rows, result.n_shards) == (12, 2)
    api.score(saved, data, out=tmp_path / "ref.jsonl")
    ref = [json.loads(line) for line in (tmp_path / "ref.jsonl").read_text().splitlines()]
    got = [json.loads(line) for p in sorted((tmp_path / "out").glob("part-*.jsonl"))
           for line in p.read_text().splitlines()]
    assert [r["id"] for r in got] == [r["id"] for r in ref]
    for key in ("reward_chosen", "reward_rejected"):
        np.testing.assert_allclose([r[key] for r in got], [r[key] for r in ref], atol=1e-5)


def test_serve_and_seq_batch_by_tokens_not_rows(trained_seq, monkeypatch) -> None:
    """seq.score cuts its forward passes by padded tokens, so a served batch of short items
    goes through in few forward passes and a batch of long ones in many."""
    from rewardlab.serve._model import ServedModel

    net = trained_seq.network
    calls: list[tuple[int, int]] = []
    forward = net.forward

    def counting(*args, **kwargs):
        calls.append(tuple(kwargs["input_ids"].shape))
        return forward(*args, **kwargs)

    monkeypatch.setattr(net, "forward", counting)
    served = ServedModel(trained_seq)  # what `serve` calls for every micro-batch
    served(["hi"] * 300, ["ok"] * 300, [None] * 300)
    assert len(calls) == 1 and calls[0][0] == 300  # 300 short texts fit one budget
    calls.clear()
    long_text = "word " * 200  # cut to max_length=64 tokens
    served(["q"] * 200, [long_text] * 200, [None] * 200)
    budget = trained_seq.scoring_tokens
    assert all(rows * width <= budget for rows, width in calls)
    assert len(calls) == -(-200 // (budget // 64)) > 1 and calls[0][1] == 64
