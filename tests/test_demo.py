"""`rewardlab demo`, the main job, end to end on the full bundled HH data."""

from __future__ import annotations

import json

import pytest


@pytest.mark.slow
def test_demo_trains_and_beats_the_length_baselines(run_cli, tmp_path) -> None:
    report = tmp_path / "demo.json"
    result = run_cli("demo", "--json", report)
    assert result.code == 0, result.err
    assert "held-out HH harmless pairs (trained on 1310)" in result.out
    body = json.loads(report.read_text())
    assert body["n"] == 502 and body["n_train"] == 1310
    baselines = body["baselines"]
    assert body["accuracy"] > max(baselines["longer_wins"], baselines["shorter_wins"])
    assert body["accuracy"] > 0.59
