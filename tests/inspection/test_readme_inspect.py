"""The README's inspect / forecast examples run as written."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()
TITLE = "### Know the data before training: inspect, select, forecast"


def test_inspect_and_forecast_examples_run(run_cli, tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    body = README.split(TITLE + "\n", 1)[1]
    block = re.findall(r"```bash\n(.*?)```", body, flags=re.S)[0]
    commands = [line for line in block.splitlines() if line.startswith("rewardlab ")]
    assert len(commands) == 2
    for command in commands:
        result = run_cli(*shlex.split(command)[1:])
        assert result.code == 0, (command, result.err)
    doc = json.loads((tmp_path / "inspect.json").read_text())
    assert doc["rows"] == 300 and doc["flip_rate"]["estimate"] is None
    assert json.loads((tmp_path / "forecast.json").read_text())["n_problems"] == 20
