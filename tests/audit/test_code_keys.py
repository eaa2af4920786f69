"""Master keys for code: a naive exit-status verifier is fooled, verify:code is not."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from rewardlab import resolve
from rewardlab.audit import AuditConfig, run_audit
from rewardlab.audit._code_keys import CODE_KEYS, code_keys, entry_point_of
from rewardlab.data import load_dataset
from rewardlab.verify import parse_task


class ExitStatusVerifier:
    """The weak harness the keys target: program + tests in one file, pass = exit status 0."""

    def score(self, prompts: Sequence[Any], responses: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def score_with_references(self, prompts: Sequence[Any], responses: Sequence[str],
                              references: Sequence[str]) -> np.ndarray:
        out = []
        for response, ref in zip(responses, references, strict=True):
            task = parse_task(ref)
            source = task.program(response) + "\n" + task.tests[0] + (
                f"\ncheck({task.entry_point})\n")
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "p.py"
                path.write_text(source)
                done = subprocess.run([sys.executable, str(path)], capture_output=True,
                                      timeout=20, check=False)
            out.append(float(done.returncode == 0))
        return np.array(out)


def test_keys_are_built_around_the_function_the_tests_call() -> None:
    refs = ['{"tests": ["assert add(1, 2) == 3"]}',
            '{"entry_point": "f", "test": "def check(c):\\n    assert c() == 1"}']
    assert [entry_point_of(r) for r in refs] == ["add", "f"]
    keys = code_keys(refs)
    assert len(keys) == len(CODE_KEYS) >= 10
    always_equal = next(programs for label, _, programs in keys if "always-equal" in label)
    assert "def add(" in always_equal[0] and "def f(" in always_equal[1]
    assert code_keys(["42", None]) == []  # not code references: no code keys


def test_master_keys_pass_verify_code() -> None:
    data = load_dataset("bundled:humaneval", limit=2)
    config = AuditConfig(probes=("master-keys",), max_pairs=2)
    ours = run_audit(resolve("verify:code?timeout=5&workers=2"), data, config=config).probes[0]
    assert ours.verdict == "ok" and ours.value == 0.0
    assert ours.metrics["n_keys"] >= len(CODE_KEYS) + 10


@pytest.mark.slow  # ~150 plain interpreter runs
def test_master_keys_flag_a_naive_exit_status_verifier() -> None:
    data = load_dataset("bundled:humaneval", limit=2)
    config = AuditConfig(probes=("master-keys",), max_pairs=2)
    naive = run_audit(ExitStatusVerifier(), data, config=config).probes[0]
    rates = {r["family"]: r["false_positive_rate"]
             for r in naive.tables["false-positive rate per key"]}
    assert rates["code: sys.exit(0) before the tests"] == 1.0
    assert rates["code: always-equal object"] == 1.0
    assert naive.verdict == "flagged"
