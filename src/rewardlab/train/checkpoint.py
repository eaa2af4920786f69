"""A training run's checkpoint directory: swapped in crash-safely, and tied to its run.

Layout beside the run's ``--out`` (``OUT.checkpoints`` for the CLI)::

    DIR/        the newest complete checkpoint; its state file is written last
    DIR.old/    the one before it, present only while a new one is being swapped in
    DIR.tmp/    a checkpoint being written

A new checkpoint is written to ``DIR.tmp``, then ``DIR`` is renamed to ``DIR.old``, ``DIR.tmp``
to ``DIR``, and ``DIR.old`` is deleted. A kill at any moment leaves ``DIR`` or ``DIR.old``
complete, and ``find_checkpoint`` returns whichever is (an older checkpoint only costs replayed
steps: batch order is a pure function of the seed, so the resumed run ends the same).

The state file also records the *run*: the settings that shape the training trajectory and
digests of the data. ``--resume`` under any other run would silently mix two runs, so
``check_same_run`` refuses it and names what changed (``score --ray`` does the same for its
shards).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rewardlab.errors import ModelFormatError, OutputError, TrainingError

__all__ = [
    "STATE_FILE",
    "check_same_run",
    "check_start",
    "find_checkpoint",
    "read_state",
    "remove_checkpoints",
    "run_differences",
    "write_checkpoint",
]

STATE_FILE = "trainer_state.json"


def _sibling(directory: Path, suffix: str) -> Path:
    return directory.with_name(directory.name + suffix)


def _complete(directory: Path) -> bool:
    return (directory / STATE_FILE).is_file()


def find_checkpoint(directory: Path) -> Path | None:
    """The newest complete checkpoint of ``directory``: itself, or ``DIR.old`` after a kill
    between the two renames of a swap; None when there is none."""
    for candidate in (directory, _sibling(directory, ".old")):
        if _complete(candidate):
            return candidate
    return None


def check_start(directory: Path, *, resume: bool) -> Path | None:
    """The checkpoint to resume from, checked before any training starts.

    Raises:
        TrainingError: ``resume`` was asked but there is no checkpoint.
        OutputError: a checkpoint of an earlier run is there and ``resume`` was not asked
            (starting over would silently overwrite it), or ``directory`` is a file.
    """
    if directory.exists() and not directory.is_dir():
        raise OutputError(f"cannot keep checkpoints in {directory}: it is a file; move it away")
    found = find_checkpoint(directory)
    if resume and found is None:
        raise TrainingError(
            f"--resume found no checkpoint in {directory}; start without --resume")
    if not resume and found is not None:
        raise OutputError(
            f"{directory} holds a checkpoint of an earlier run: pass --resume to continue it, "
            "or delete it to start over")
    return found


def write_checkpoint(directory: Path, write: Callable[[Path], None]) -> None:
    """Swap in a new checkpoint that ``write(tmp)`` fills; ``write`` must write
    ``STATE_FILE`` last, so a directory holding it is complete."""
    tmp, old = _sibling(directory, ".tmp"), _sibling(directory, ".old")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    write(tmp)
    if not _complete(tmp):
        raise RuntimeError(f"a checkpoint writer left no {STATE_FILE} in {tmp}")
    if _complete(directory):
        shutil.rmtree(old, ignore_errors=True)
        os.replace(directory, old)
    else:  # a leftover that never became complete; DIR.old (if any) is the good one
        shutil.rmtree(directory, ignore_errors=True)
    os.replace(tmp, directory)
    shutil.rmtree(old, ignore_errors=True)


def remove_checkpoints(directory: Path) -> None:
    """Delete a finished run's checkpoint and any leftovers of an interrupted swap."""
    for path in (directory, _sibling(directory, ".old"), _sibling(directory, ".tmp")):
        shutil.rmtree(path, ignore_errors=True)


def read_state(checkpoint: Path) -> dict[str, Any]:
    """The state file of a complete checkpoint.

    Raises:
        ModelFormatError: the file is unreadable or not a JSON object; names the file.
    """
    file = checkpoint / STATE_FILE
    try:
        state = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelFormatError(f"the checkpoint file {file} is unreadable ({exc}); delete "
                               f"{checkpoint} and start without --resume") from None
    if not isinstance(state, dict):
        raise ModelFormatError(f"the checkpoint file {file} is corrupt: not a JSON object; "
                               f"delete {checkpoint} and start without --resume")
    return state


def run_differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """What differs between two run records, as ``field: was X, now Y`` for a message."""
    return [f"{key}: was {saved.get(key)!r}, now {current.get(key)!r}"
            for key in sorted(set(saved) | set(current)) if saved.get(key) != current.get(key)]


def check_same_run(checkpoint: Path, saved: Any, current: dict[str, Any]) -> None:
    """Refuse to resume a checkpoint written by a run with other settings or data.

    Raises:
        TrainingError: the run records differ (naming each field), or the checkpoint has none
            (written by an older rewardlab), so it cannot be told apart from another run's.
    """
    if not isinstance(saved, dict):
        raise TrainingError(
            f"the checkpoint in {checkpoint} has no record of the run that wrote it (an older "
            "rewardlab wrote it), so --resume cannot check that it belongs to this run; "
            f"delete {checkpoint} to start over")
    differences = run_differences(saved, current)
    if differences:
        raise TrainingError(
            f"the checkpoint in {checkpoint} belongs to a different run, and resuming it would "
            f"mix the two ({'; '.join(differences)}). Resume with that run's settings and "
            f"data, or delete {checkpoint} to start over")
