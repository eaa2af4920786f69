"""Writing outputs: JSON and JSONL written whole or not at all, and skipped-row reports.

Every output goes to a temporary file in the target's directory and is renamed into place, so
an interrupted run never leaves a truncated file that looks complete. The temporary file is
private while it is written; the finished output gets the mode the umask gives any new file
(0644 under the usual 022), so another user (an RL trainer's account) can read it.

Before any work, ``check_outputs`` refuses an output path that is one of the inputs (or
another output): an atomic rename onto the data file would replace the data.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rewardlab.errors import OutputError

if TYPE_CHECKING:
    from rewardlab.data import SkippedRow

__all__ = [
    "check_outputs",
    "current_umask",
    "report_skipped",
    "skipped_path",
    "write_json",
    "write_jsonl",
    "write_skipped",
]


def current_umask() -> int:
    """The process's umask, read without changing it where the OS allows.

    ``os.umask`` can only be read by setting it, which races with threads creating files;
    Linux reports it in ``/proc/self/status``, so that is tried first.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _same(a: Path, b: Path) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)  # hard links, bind mounts
    except OSError:  # one of them does not exist (yet)
        return False


#: Suffixes of formats other than JSON Lines: a JSONL writer refuses them rather than put
#: JSON lines in a file that a spreadsheet or pandas would then misread.
NOT_JSONL_SUFFIXES = frozenset({".csv", ".tsv", ".parquet", ".pq", ".xlsx", ".xls", ".arrow",
                                ".feather", ".html", ".txt"})


def check_outputs(outputs: Mapping[str, str | Path | None], inputs: Mapping[str, Any],
                  *, skipped_files: bool = False, jsonl: bool = False) -> None:
    """Refuse, before any work, an output path that is an input path or another output's.

    Outputs are written to a temporary file and renamed over the target, so ``--out`` naming
    the data file (directly, through a symlink or as a hard link) would replace the data with
    the output. Keys label the paths in the message (``"--out"``, ``"DATA"``); values that
    are not paths (``None`` for an option not given, a loaded ``Dataset``) are ignored.
    ``skipped_files``: the outputs also get a skipped-rows file beside them
    (``skipped_path``), which is checked too (a run that skips nothing removes it).
    ``jsonl``: the outputs are written as JSON Lines, so a name ending in another format's
    suffix (``.csv``, ``.parquet``, ...) is refused.

    Raises:
        OutputError: naming both paths and the option to change, or the suffix.
    """
    given_inputs = [(k, Path(v)) for k, v in inputs.items() if isinstance(v, str | Path)]
    given_outputs = [(k, Path(v), k) for k, v in outputs.items() if v is not None]
    for label, out, _ in given_outputs if jsonl else ():
        if out.suffix.lower() in NOT_JSONL_SUFFIXES:
            raise OutputError(f"{label} {out}: this output is written as JSON Lines (one JSON "
                              f"object per line), not {out.suffix.lstrip('.').upper()}; name it "
                              f"{out.with_suffix('.jsonl').name}")
    if skipped_files:
        given_outputs += [(f"{k}'s skipped-rows file", skipped_path(v), k)
                          for k, v, _ in given_outputs]
    for i, (label, out, option) in enumerate(given_outputs):
        for in_label, inp in given_inputs:
            if _same(out, inp):
                raise OutputError(
                    f"{label} {out} is the input {in_label} {inp}"
                    f"{'' if out == inp else ' (the same file)'}: writing it would replace "
                    f"the input. Choose another {option}.")
        for other_label, other, _ in given_outputs[:i]:
            if _same(out, other):
                raise OutputError(
                    f"{other_label} {other} and {label} {out} are the same file: one would "
                    f"replace the other. Give them different paths.")


def report_skipped(rows: Iterable[SkippedRow], output: str | Path | None) -> Path | None:
    """Write the skipped rows beside ``output`` and return where; with none, remove the
    file an earlier run left there (a stale list would describe rows this run read fine).

    Returns ``None`` when nothing was skipped or there is no output to put the file beside.
    """
    rows = list(rows)
    if output is None:
        return None
    path = skipped_path(output)
    if rows:
        write_skipped(rows, path)
        return path
    if path.is_file() or path.is_symlink():
        try:
            path.unlink()
        except OSError as exc:
            raise OutputError(f"cannot remove the stale {path} of an earlier run: "
                              f"{exc.strerror or exc}") from None
    return None


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _atomic_lines(path: Path, lines: Iterable[str]) -> int:
    path = Path(path)
    count = 0
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as exc:
        blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
        if blocker is not None:  # mkdir's own words would be "File exists"
            raise OutputError(f"cannot write {path}: {blocker} is a file, not a directory"
                              ) from None
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(line)
                count += 1
            os.fchmod(fd, 0o666 & ~current_umask())  # mkstemp's 0600 is for the temporary
        os.replace(tmp, path)
    except OSError as exc:
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return count


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write one JSON object per line; returns the number of rows written."""
    return _atomic_lines(
        Path(path), (json.dumps(_json_safe(r), ensure_ascii=False) + "\n" for r in rows)
    )


def write_json(path: str | Path, obj: Any) -> None:
    _atomic_lines(Path(path), [json.dumps(_json_safe(obj), indent=2, ensure_ascii=False) + "\n"])


def skipped_path(output: str | Path) -> Path:
    """Where the skipped rows of an output go: beside it, ``NAME.skipped.jsonl``.

    For an output directory the file goes inside it.
    """
    output = Path(output)
    if output.is_dir() or not output.suffix:
        return output / "skipped.jsonl"
    return output.with_name(output.name.removesuffix(output.suffix) + ".skipped.jsonl")


def write_skipped(rows: Iterable[SkippedRow], path: str | Path) -> int:
    return write_jsonl(path, (r.to_json() for r in rows))
