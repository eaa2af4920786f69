"""Writing outputs: JSON and JSONL written whole or not at all, and skipped-row reports.

Every output goes to a temporary file in the target's directory and is renamed into place, so
an interrupted run never leaves a truncated file that looks complete.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rewardlab.data import SkippedRow
from rewardlab.errors import OutputError

__all__ = ["skipped_path", "write_json", "write_jsonl", "write_skipped"]


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
        raise OutputError(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            for line in lines:
                fh.write(line)
                count += 1
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
