"""The saved-model directory: a ``rewardlab.json`` manifest beside the weights.

A saved model is data, never code: the manifest names a registered *kind* and that kind's
config, and loading calls the kind's own ``load``. No class path is ever read from a file, and
nothing is pickled. Directories are written to a temporary sibling and moved into place, so a
crash never leaves a half-written model where a good one was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from rewardlab._io import current_umask
from rewardlab.errors import ConfigError, ModelFormatError

__all__ = ["FORMAT_VERSION", "MANIFEST", "atomic_directory", "check_model_target", "read_manifest",
           "write_manifest"]

MANIFEST = "rewardlab.json"
#: Bumped when a saved directory changes in a way older versions cannot read.
FORMAT_VERSION = 1
_VERSIONED = ("rewardlab", "torch", "transformers", "sentence-transformers", "numpy")


def _versions() -> dict[str, str]:
    found = {}
    for name in _VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def write_manifest(directory: Path, *, kind: str, config: dict[str, Any],
                   state: dict[str, Any] | None = None) -> None:
    manifest = {
        "format": FORMAT_VERSION,
        "kind": kind,
        "config": config,
        "state": state or {},
        "versions": _versions(),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (directory / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def read_manifest(directory: str | Path) -> dict[str, Any]:
    """The manifest of a saved model, checked for shape and format version."""
    directory = Path(directory)
    file = directory / MANIFEST
    if not directory.exists():
        raise ModelFormatError(f"no model directory at {directory}")
    if not directory.is_dir():
        raise ModelFormatError(f"{directory} is a file, not a saved model directory")
    if not file.is_file():
        raise ModelFormatError(
            f"{directory} is not a saved rewardlab model: it has no {MANIFEST}. "
            "Train one with `rewardlab train DATA --out DIR`."
        )
    try:
        manifest = json.loads(file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelFormatError(f"{file} is corrupt: {exc}") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("kind"), str):
        raise ModelFormatError(f"{file} is corrupt: it has no 'kind'")
    version = manifest.get("format")
    if not isinstance(version, int):
        raise ModelFormatError(f"{file} is corrupt: 'format' must be an integer")
    if version > FORMAT_VERSION:
        raise ModelFormatError(
            f"{directory} was saved in format {version} by a newer rewardlab "
            f"({manifest.get('versions', {}).get('rewardlab', '?')}); this version reads "
            f"format {FORMAT_VERSION}. Upgrade rewardlab to load it."
        )
    if not isinstance(manifest.get("config"), dict):
        raise ModelFormatError(f"{file} is corrupt: 'config' must be an object")
    saved_by = manifest.get("versions", {}).get("rewardlab")
    current = _versions().get("rewardlab")
    if saved_by and current and _newer(saved_by, current):
        warnings.warn(
            f"{directory} was saved by rewardlab {saved_by}, newer than this {current}",
            UserWarning,
            stacklevel=2,
        )
    return manifest


def _newer(a: str, b: str) -> bool:
    def parts(v: str) -> tuple[int, ...]:
        return tuple(int(p) for p in v.split(".")[:3] if p.isdigit())

    return parts(a) > parts(b)


def _share(root: Path) -> None:
    """Give a finished model the modes a plain ``mkdir`` / ``open`` would: mkdtemp makes the
    directory 0700 and safetensors writes its files 0600 whatever the umask, so without this
    the RL trainer's user could not read a shared model directory."""
    mask = current_umask()
    os.chmod(root, 0o777 & ~mask)
    for folder, dirs, files in os.walk(root):
        for names, mode in ((dirs, 0o777), (files, 0o666)):
            for name in names:
                path = os.path.join(folder, name)
                if not os.path.islink(path):  # a link's target is not ours to change
                    os.chmod(path, mode & ~mask)


@contextmanager
def atomic_directory(target: str | Path) -> Iterator[Path]:
    """Yield a temporary directory that replaces ``target`` only if the block succeeds.

    An existing ``target`` is replaced only when it is itself a saved model (or empty), so a
    typo in ``--out`` cannot wipe a user's folder.
    """
    target = check_model_target(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        yield tmp
        _share(tmp)
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            target.rename(old)
            tmp.rename(target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            tmp.rename(target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def check_model_target(target: str | Path) -> Path:
    """``target`` if a model may be saved there: new, empty, or itself a saved model.

    ``atomic_directory`` applies this rule; ``train`` also applies it before training, so an
    unusable ``--out`` fails in a second, not after the fine-tune.

    Raises:
        ConfigError: ``target`` is a file, or a directory holding anything but a saved model.
    """
    target = Path(target)
    if target.exists():
        if not target.is_dir():
            raise ConfigError(f"cannot write a model to {target}: it is a file")
        if any(target.iterdir()) and not (target / MANIFEST).exists():
            raise ConfigError(
                f"refusing to write a model into {target}: it holds files that are not a "
                "saved rewardlab model. Choose an empty or new directory."
            )
    return target
