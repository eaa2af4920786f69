"""The checkpoint directory's swap, run records and start checks, on plain files (no torch)."""

from __future__ import annotations

import json
import os

import pytest

from rewardlab.errors import ModelFormatError, OutputError, TrainingError
from rewardlab.train.checkpoint import (
    STATE_FILE,
    check_same_run,
    check_start,
    find_checkpoint,
    read_state,
    remove_checkpoints,
    write_checkpoint,
)


def _writer(step: int):
    def write(tmp):
        (tmp / "weights.bin").write_text(f"weights of step {step}")
        (tmp / STATE_FILE).write_text(json.dumps({"step": step}))
    return write


def _step(checkpoint) -> int:
    step = read_state(checkpoint)["step"]
    assert (checkpoint / "weights.bin").read_text() == f"weights of step {step}"  # complete
    return step


@pytest.mark.parametrize("kill_at", [0, 1])
def test_a_kill_at_either_rename_of_a_swap_leaves_a_complete_checkpoint(tmp_path, monkeypatch,
                                                                        kill_at) -> None:
    directory = tmp_path / "ckpt"
    write_checkpoint(directory, _writer(1))
    real_replace, calls = os.replace, []

    def replace(src, dst):
        if len(calls) == kill_at:
            raise KeyboardInterrupt
        calls.append((src, dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        write_checkpoint(directory, _writer(2))
    monkeypatch.setattr(os, "replace", real_replace)
    found = find_checkpoint(directory)
    assert found == (directory if kill_at == 0 else tmp_path / "ckpt.old")
    assert _step(found) == 1
    # the next swap after the kill keeps a complete checkpoint at every point, then cleans up
    write_checkpoint(directory, _writer(3))
    assert find_checkpoint(directory) == directory and _step(directory) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt"]


def test_a_writer_that_fails_leaves_the_previous_checkpoint(tmp_path) -> None:
    directory = tmp_path / "ckpt"
    write_checkpoint(directory, _writer(1))

    def broken(tmp):
        (tmp / "weights.bin").write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_checkpoint(directory, broken)
    assert _step(find_checkpoint(directory)) == 1
    remove_checkpoints(directory)
    assert list(tmp_path.iterdir()) == []


def test_start_refuses_an_earlier_checkpoint_without_resume_and_none_with_it(tmp_path) -> None:
    directory = tmp_path / "rm.checkpoints"
    assert check_start(directory, resume=False) is None
    with pytest.raises(TrainingError, match="--resume found no checkpoint"):
        check_start(directory, resume=True)
    write_checkpoint(directory, _writer(1))
    directory.rename(tmp_path / "rm.checkpoints.old")  # as a kill between the renames leaves it
    with pytest.raises(OutputError, match="holds a checkpoint of an earlier run: pass --resume"):
        check_start(directory, resume=False)
    assert check_start(directory, resume=True) == tmp_path / "rm.checkpoints.old"
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputError, match="it is a file"):
        check_start(tmp_path / "file", resume=False)


def test_same_run_check_names_each_difference(tmp_path) -> None:
    run = {"lr": 1e-4, "seed": 0, "data": "8 pairs, sha256 00"}
    check_same_run(tmp_path, dict(run), run)
    with pytest.raises(TrainingError) as info:
        check_same_run(tmp_path, run, {**run, "lr": 2e-4, "data": "9 pairs, sha256 11"})
    assert ("data: was '8 pairs, sha256 00', now '9 pairs, sha256 11'; "
            "lr: was 0.0001, now 0.0002") in str(info.value)
    assert "seed" not in str(info.value)
    with pytest.raises(TrainingError, match="no record of the run"):
        check_same_run(tmp_path, None, run)


def test_an_unreadable_state_file_names_it(tmp_path) -> None:
    (tmp_path / STATE_FILE).write_text('{"step": 1')
    with pytest.raises(ModelFormatError, match=rf"{tmp_path / STATE_FILE} is unreadable"):
        read_state(tmp_path)
    (tmp_path / STATE_FILE).write_text("[1]")
    with pytest.raises(ModelFormatError, match="not a JSON object"):
        read_state(tmp_path)
