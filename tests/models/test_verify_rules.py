"""``verify:rules`` as a reward model: all-pass and partial rewards, reasons in ``score``'s
output, bad constraints named by file/line/field, and the same rewards through the server and
the RL adapters (constraints as a dataset column, a request field, OpenRLHF labels)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from rewardlab import resolve
from rewardlab.adapters import TRLRewardFunction
from rewardlab.adapters.verl import compute_score
from rewardlab.errors import CapabilityError
from rewardlab.models.base import ReferenceScorer, Saveable
from rewardlab.serve import BackgroundServer, ServeConfig, create_app

CONSTRAINTS = [{"type": "starts_with", "value": "Yes"},
               {"type": "max_words", "value": 5},
               {"type": "not_contains", "value": "sorry"}]
ROWS = [  # hand-checked: passes, share passed
    ("Yes, it is Paris.", 3),
    ("Yes, sorry, it is Paris, I think.", 1),   # 7 words, has 'sorry'
    ("No.", 2),
]


def test_all_pass_and_partial() -> None:
    strict, partial = resolve("verify:rules"), resolve("verify:rules?partial=true")
    assert isinstance(strict, ReferenceScorer) and isinstance(strict, Saveable)
    refs = [json.dumps(CONSTRAINTS)] * 3
    responses = [r for r, _ in ROWS]
    assert strict.score_with_references(["q"] * 3, responses, refs).tolist() == [1, 0, 0]
    assert partial.score_with_references(["q"] * 3, responses, refs).tolist() == [
        n / 3 for _, n in ROWS]
    with pytest.raises(CapabilityError, match="'constraints' column"):
        strict.score(["q"], ["x"])


def test_score_writes_reasons(tmp_path: Path, run_cli) -> None:
    data, out = tmp_path / "rows.jsonl", tmp_path / "out.jsonl"
    data.write_text("".join(json.dumps({"prompt": "Is Paris the capital?", "response": r,
                                        "constraints": CONSTRAINTS}) + "\n"
                            for r, _ in ROWS), encoding="utf-8")
    result = run_cli("score", "verify:rules?partial=true", data, "--out", out)
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["passed"] for r in rows] == [3, 1, 2]
    assert rows[1]["failed"] == [
        {"index": 1, "type": "max_words", "reason": "max_words: 7 words, more than 5"},
        {"index": 2, "type": "not_contains", "reason": "not_contains: has 'sorry'"}]
    assert rows[2]["failed"][0]["reason"].startswith("starts_with: starts 'No.'")


def test_bad_constraint_names_file_line_field(tmp_path: Path, run_cli) -> None:
    data = tmp_path / "rows.jsonl"
    rows = [{"prompt": "p", "response": "r", "constraints": CONSTRAINTS},
            {"prompt": "p", "response": "r",
             "constraints": [{"type": "regex", "value": "(oops"}]}]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    result = run_cli("score", "verify:rules", data, "--out", tmp_path / "o.jsonl")
    assert result.code == 2
    err = " ".join(result.err.split())  # the console wraps long lines
    assert f"{data}:2: field 'constraints[0].value': is not a valid regular expression" in err
    assert "Traceback" not in result.err


def test_server_and_adapters_agree() -> None:
    responses = [r for r, _ in ROWS]
    expected = [1.0 / 3 * n for _, n in ROWS]
    spec = "verify:rules?partial=true"
    trl = TRLRewardFunction(spec)(prompts=["q"] * 3, completions=responses,
                                  constraints=[CONSTRAINTS] * 3)
    assert trl == pytest.approx(expected, abs=0)
    verl = [compute_score("d", r, CONSTRAINTS, None, reward_spec=spec)["score"] for r in responses]
    assert verl == expected
    with BackgroundServer(create_app(spec, ServeConfig(max_batch=2, max_wait_ms=2))) as server:
        body = {"items": [{"prompt": "q", "response": r, "reference": CONSTRAINTS}
                          for r in responses]}
        got = httpx.post(server.url + "/v1/score", json=body, timeout=60).json()
        assert [x["reward"] for x in got["results"]] == expected
        got = httpx.post(server.url + "/get_reward", timeout=60, json={
            "query": responses, "prompts": [""] * 3, "labels": [CONSTRAINTS] * 3}).json()
        assert got["rewards"] == expected
