"""``judge:`` through the commands every kind goes through: ``eval`` (with ``--swap``),
``score`` (with the judgment and rationale in each row) and ``serve``."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest

SPEC = "judge:default?n_ctx=512"
ROWS = [
    {"id": "p0", "prompt": "What is the capital of France?", "chosen": "Paris.",
     "rejected": "Berlin."},
    {"id": "p1", "prompt": "What is 2 + 3?", "chosen": "5", "rejected": "6"},
    {"id": "p2", "prompt": "Say hello politely.", "chosen": "Hello, nice to meet you!",
     "rejected": "Go away."},
]


@pytest.fixture
def pairs(tmp_path: Path) -> Path:
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    return path


def test_eval_with_swap_reports_order_consistency(run_cli, pairs: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    result = run_cli("eval", SPEC, pairs, "--swap", "--json", out)
    assert result.code == 0, result.err
    text = " ".join(result.out.split())
    assert "order consistency" in text and "first-shown response wins" in text
    body = json.loads(out.read_text())
    assert body["judge"]["swap"] == 1.0
    assert 0 <= body["judge"]["order_consistency"] <= 1
    assert body["metrics"]["judge/order_consistency"] == body["judge"]["order_consistency"]
    assert body["n"] == 3


def test_eval_without_swap_balances_the_order(run_cli, pairs: Path, tmp_path: Path) -> None:
    out = tmp_path / "result.json"
    assert run_cli("eval", SPEC, pairs, "--json", out).code == 0
    body = json.loads(out.read_text())
    assert body["judge"]["swap"] == 0.0 and "order_consistency" not in body["judge"]


def test_swap_is_refused_for_other_kinds(run_cli, pairs: Path) -> None:
    result = run_cli("eval", "verify:math", pairs, "--swap")
    assert result.code == 2 and "apply to judge: models" in " ".join(result.err.split())


def test_score_pairs_keeps_rows_in_order_with_judgments(run_cli, pairs: Path,
                                                       tmp_path: Path) -> None:
    out = tmp_path / "scores.jsonl"
    result = run_cli("score", SPEC, pairs, "--out", out, "--swap")
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["p0", "p1", "p2"]
    assert [r["chosen_shown_first"] for r in rows] == [True, False, True]
    for r in rows:
        assert r["reward_chosen"] + r["reward_rejected"] == pytest.approx(1.0)
        assert "backward" in r["judgment"] and isinstance(r["judgment"]["consistent"], bool)


def test_score_pointwise_rows_carry_the_rationale(run_cli, tmp_path: Path) -> None:
    data = tmp_path / "points.jsonl"
    data.write_text("".join(json.dumps({"id": i, "prompt": "2+2?", "response": r,
                                        "score": 1.0}) + "\n"
                            for i, r in enumerate(["4", "5"])))
    out = tmp_path / "scores.jsonl"
    spec = "judge:default?n_ctx=512&max_reason_tokens=12"
    assert run_cli("score", spec, data, "--out", out, "--reason").code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [0, 1]
    assert all(1 <= r["reward"] <= 10 and isinstance(r["rationale"], str) for r in rows)


def test_serve_a_judge() -> None:
    from rewardlab.serve import BackgroundServer, ServeConfig, create_app

    app = create_app(SPEC, ServeConfig(max_batch=8))
    with BackgroundServer(app) as server:
        items = [{"prompt": r["prompt"], "response": r["chosen"]} for r in ROWS]
        body = httpx.post(server.url + "/v1/score", json={"items": items}, timeout=300).json()
    rewards = np.array([r["reward"] for r in body["results"]], dtype=float)
    assert rewards.shape == (3,) and np.all((rewards >= 1) & (rewards <= 10))
