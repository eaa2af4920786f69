"""``multi:seq:`` at scale, as ``seq:``: 2 gloo workers reach the weights of one process
(each step's batch of every attribute's pairs split between them, each pair on its own
head, pairs balanced across heads), checkpoints resume under another worker count, and the
``train`` options it does not take are refused by name.

Tiny random BERT (``tests/tiny_models.py``), 9-16 real HH pairs, one torch thread."""

from __future__ import annotations

import json

import numpy as np
import pytest
from _two_workers import WEIGHT_TOLERANCE, max_weight_diff, seq_spec, two_workers

from _pairs_util import flipped
from rewardlab import api, resolve
from rewardlab.errors import CapabilityError, ConfigError, TrainingError


def _spec(tiny: str, **options) -> str:
    return "multi:" + seq_spec(tiny, **options)


def _sets(hh_small, n_harmless: int, n_contrary: int):
    """Two heads with unequal sets (so balance weights differ: 0.75 vs 1.5 for 6 and 3)."""
    train = hh_small[0]
    return {"harmless": train.take(range(n_harmless)),
            "contrary": flipped(train.take(range(n_harmless, n_harmless + n_contrary)))}


def _diff(one, two) -> float:
    return max_weight_diff(one._seq, two._seq)


def test_two_workers_reach_the_weights_of_one(tiny, hh_small, one_thread) -> None:
    # 9 pairs, batch 4: the last batch has one pair, so one worker sits it out; every batch
    # mixes the heads, and each worker's shard holds a different mix of the two weights
    sets = _sets(hh_small, 6, 3)
    one = resolve(_spec(tiny)).fit(sets)
    two = resolve(_spec(tiny)).fit(sets, workers=2, launcher=two_workers())
    assert _diff(one, two) <= WEIGHT_TOLERANCE
    (h1,), (h2,) = one.loop_history_, two.loop_history_
    assert h2["accuracy"] == h1["accuracy"]
    assert h2["loss"] == pytest.approx(h1["loss"], abs=1e-6)
    for name in sets:  # every head's scale, read off the trained network the parent holds
        assert two.scale_[name] == pytest.approx(one.scale_[name], rel=1e-3, abs=1e-6)
    prompts = [r.prompt for r in sets["harmless"].records]
    responses = [r.chosen for r in sets["harmless"].records]
    np.testing.assert_allclose(two._seq.logits(prompts, responses),
                               one._seq.logits(prompts, responses), atol=1e-4)


def test_a_checkpoint_of_two_workers_resumes_on_one(tiny, hh_small, tmp_path, one_thread
                                                    ) -> None:
    from _planted import stop_after_checkpoint

    sets = _sets(hh_small, 10, 6)  # 16 pairs: 4 steps
    spec = _spec(tiny, checkpoint_every=1)
    full = resolve(spec).fit(sets)
    ckpt = tmp_path / "ckpt"
    with pytest.raises(TrainingError, match="planted stop"):
        resolve(spec).fit(sets, checkpoint_dir=ckpt, workers=2,
                          launcher=two_workers(stop_after_checkpoint, stop_at=2))
    resumed = resolve(spec).fit(sets, checkpoint_dir=ckpt, resume=True)  # one process
    assert _diff(full, resumed) <= WEIGHT_TOLERANCE
    assert [h["accuracy"] for h in resumed.loop_history_] == \
        [h["accuracy"] for h in full.loop_history_]
    # other data (or another head order) is another run: refused, not mixed in
    with pytest.raises(TrainingError, match="belongs to a different run"):
        resolve(spec).fit({"contrary": sets["contrary"], "harmless": sets["harmless"]},
                          checkpoint_dir=ckpt, resume=True)


def test_a_run_cut_short_on_one_process_resumes_on_two_workers(tiny, hh_small, tmp_path,
                                                               one_thread, monkeypatch
                                                               ) -> None:
    from rewardlab.train import distributed

    sets = _sets(hh_small, 10, 6)
    spec = _spec(tiny, checkpoint_every=1)
    full = resolve(spec).fit(sets)
    real = distributed.World.on_rank0

    def on_rank0(self, fn, *args):
        real(self, fn, *args)
        if args[4] == 2:
            raise TrainingError("planted stop after step 2")

    monkeypatch.setattr(distributed.World, "on_rank0", on_rank0)
    ckpt = tmp_path / "ckpt"
    with pytest.raises(TrainingError, match="planted stop"):
        resolve(spec).fit(sets, checkpoint_dir=ckpt)
    monkeypatch.setattr(distributed.World, "on_rank0", real)
    resumed = resolve(spec).fit(sets, checkpoint_dir=ckpt, resume=True, workers=2,
                                launcher=two_workers())
    assert _diff(full, resumed) <= WEIGHT_TOLERANCE


def test_options_it_cannot_use_are_refused_by_name(tiny, hh_small, tmp_path) -> None:
    sets = _sets(hh_small, 6, 3)
    out = tmp_path / "rm"
    with pytest.raises(ConfigError, match=r"--workers 10 is more than the 9 training pairs"):
        resolve(_spec(tiny)).fit(sets, workers=10, launcher=two_workers())
    with pytest.raises(CapabilityError, match=r"'multi:embed:minilm' cannot train on --workers "
                                              r"2: only seq: models"):
        api.train_attributes("multi:embed:minilm", sets, out=out, workers=2)
    with pytest.raises(CapabilityError, match=r"cannot --resume"):
        api.train_attributes("multi:embed:minilm", sets, out=out, resume=True)
    with pytest.raises(ConfigError, match=r"--strategy must be 'ddp' or 'fsdp'"):
        api.train_attributes(_spec(tiny), sets, out=out, workers=2, strategy="zero3")
    assert not out.exists()


def _write_sets(sets, tmp_path) -> list[str]:
    args = []
    for name, data in sets.items():
        file = tmp_path / f"{name}.jsonl"
        file.write_text("".join(json.dumps({
            "prompt": r.prompt if isinstance(r.prompt, str) else
            [{"role": m.role, "content": m.content} for m in r.prompt],
            "chosen": r.chosen, "rejected": r.rejected}) + "\n" for r in data.records))
        args += ["--data", f"{name}={file}"]
    return args


@pytest.mark.parametrize("flags, named", [
    (["--ensemble", "2"], "--ensemble"),
    (["--inject-noise", "0.1"], "--inject-noise"),
    (["--noise-robust"], "--noise-robust"),
])
def test_cli_refuses_run_options_named_sets_do_not_take(run_cli, tiny, hh_small, tmp_path,
                                                        flags, named) -> None:
    data = _write_sets(_sets(hh_small, 6, 3), tmp_path)
    out = tmp_path / "rm"
    result = run_cli("train", "--model", _spec(tiny), *data, *flags, "--out", out)
    assert result.code == 2
    assert named in result.err and "named sets" in result.err
    assert not out.exists()


def test_cli_hands_every_option_on_or_refuses_it(run_cli, tiny, hh_small, tmp_path) -> None:
    data = _write_sets(_sets(hh_small, 6, 3), tmp_path)
    out = tmp_path / "rm"
    # a seq: loop option reaches multi:seq: ... and is refused by multi:embed:, not dropped
    result = run_cli("train", "--model", "multi:embed:minilm", *data, "--grad-accum", "2",
                     "--out", out)
    assert result.code == 2 and "grad_accum" in result.err
    result = run_cli("train", "--model", "multi:embed:minilm", *data, "--workers", "2",
                     "--out", out)
    assert result.code == 2 and "cannot train on --workers 2" in result.err
    result = run_cli("train", "--model", "personal:embed:minilm", "--adapt", str(tmp_path),
                     "--workers", "2", "--out", out)
    assert result.code == 2 and "--workers" in result.err
    assert not out.exists()
    eval_file = tmp_path / "harmless.jsonl"
    result = run_cli("train", "--model", _spec(tiny), *data, "--grad-accum", "2",
                     "--checkpoint-every", "1", "--eval-data", eval_file, "--out", out)
    assert result.code == 0, result.err
    assert "held-out accuracy" in result.out
    saved = json.loads((out / "rewardlab.json").read_text())["config"]
    assert saved["grad_accum"] == 2 and saved["checkpoint_every"] == 1
    assert not api.checkpoint_dir_for(out).exists()  # removed once the model is saved


def test_one_file_with_subsets_trains_through_api_train(tiny, hh_small, tmp_path, one_thread
                                                        ) -> None:
    from dataclasses import replace

    sets = _sets(hh_small, 6, 3)
    records = [replace(r, subset=name) for name, d in sets.items() for r in d.records]
    data = replace(sets["harmless"], records=tuple(records))
    result = api.train(_spec(tiny, checkpoint_every=1), data, out=tmp_path / "rm")
    assert result.model.attributes == ("harmless", "contrary")
    assert {"loss", "accuracy", "margin"} <= set(result.history[-1])  # what train prints
    with pytest.raises(TrainingError, match="found no checkpoint"):  # a new run: none
        api.train(_spec(tiny, checkpoint_every=1), data, out=tmp_path / "rm2", resume=True)


def test_soft_labels_reach_the_workers(tiny, one_thread) -> None:
    """Vote shares as targets (``soft_labels``, where ``seq:`` has it) train the same on 2
    workers as on one: the targets travel with each pair to its worker."""
    from dataclasses import replace

    from rewardlab.data import load_dataset

    pandalm = load_dataset("bundled:pandalm", limit=140)
    split = [r for r in pandalm.records if len(set(r.votes or ())) > 1][:4]
    rest = [r for r in pandalm.records if r not in split][:5]
    assert len(split) == 4  # some pairs the annotators split on

    sets = {"split": replace(pandalm, records=tuple(split)),
            "rest": replace(pandalm, records=tuple(rest))}
    spec = _spec(tiny, soft_labels="true")
    one = resolve(spec).fit(sets)
    two = resolve(spec).fit(sets, workers=2, launcher=two_workers())
    assert _diff(one, two) <= WEIGHT_TOLERANCE
    hard = resolve(_spec(tiny)).fit(sets)
    assert _diff(one, hard) > 10 * WEIGHT_TOLERANCE  # the targets did reach the loop


def test_cli_resumes_a_run_cut_short(run_cli, tiny, hh_small, tmp_path, monkeypatch,
                                     one_thread) -> None:
    """``train --data ... --out OUT`` keeps checkpoints in OUT.checkpoints: a run cut short
    is refused a fresh start over them, continued with --resume, equal to an uncut run."""
    from rewardlab.train import distributed

    sets = _sets(hh_small, 10, 6)
    data = _write_sets(sets, tmp_path)
    spec = _spec(tiny, checkpoint_every=1)
    real = distributed.World.on_rank0

    def on_rank0(self, fn, *args):
        real(self, fn, *args)
        if args[4] == 2:
            raise TrainingError("planted stop after step 2")

    out = tmp_path / "rm"
    monkeypatch.setattr(distributed.World, "on_rank0", on_rank0)
    result = run_cli("train", "--model", spec, *data, "--out", out)
    monkeypatch.setattr(distributed.World, "on_rank0", real)
    assert result.code == 2 and "planted stop" in result.err and not out.exists()
    assert api.checkpoint_dir_for(out).is_dir()
    result = run_cli("train", "--model", spec, *data, "--out", out)
    assert result.code == 2 and "--resume" in result.err  # never overwritten
    result = run_cli("train", "--model", spec, *data, "--out", out, "--resume")
    assert result.code == 0, result.err
    assert not api.checkpoint_dir_for(out).exists()
    uncut = api.train_attributes(spec, _sets(hh_small, 10, 6)).model
    assert _diff(resolve(str(out)), uncut) <= WEIGHT_TOLERANCE
