"""Helpers shared by the benchmarks: one JSON line per result, and machine facts."""

from __future__ import annotations

import json
import os
import platform
import sys
from typing import Any


def emit(name: str, **fields: Any) -> None:
    """Print the benchmark's one-line JSON result (the line benchmarks/README.md quotes)."""
    record = {"benchmark": name, **fields, "machine": {
        "cpus": os.cpu_count(), "python": platform.python_version()}}
    print(json.dumps(record, default=float))
    sys.stdout.flush()
