"""Rubric generation and induction end to end with the shipped SmolLM2-135M judge (on
llama.cpp, in-process and behind llama-cpp-python's OpenAI-compatible server) on a few PandaLM
pairs. The 135M model cannot judge quality: these tests check the pipeline (rubrics written,
cached, recorded, valid, scored), not the criteria's sense."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from rewardlab.data import load_dataset
from rewardlab.errors import CapabilityError, DataError
from rewardlab.label.rubrics import generate_rubrics, induce_rubric, parse_criteria
from rewardlab.verify.rubric import load_rubric_file, parse_rubric

pytest.importorskip("llama_cpp")
JUDGE = "judge:gguf:default?n_ctx=1536"


@pytest.fixture(scope="module")
def pandalm_pairs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six short PandaLM pairs with six different prompts (short: the judge reads each one
    several times on a shared 2-core machine)."""
    data = load_dataset("bundled:pandalm")
    seen, rows = set(), []
    for r in data.records:
        if r.prompt not in seen and len(r.prompt) + len(r.chosen) + len(r.rejected) < 400:
            seen.add(r.prompt)
            rows.append({"id": r.id, "prompt": r.prompt, "chosen": r.chosen,
                         "rejected": r.rejected})
        if len(rows) == 6:
            break
    path = tmp_path_factory.mktemp("pandalm") / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_parse_criteria() -> None:
    reply = ("Here is a rubric:\n1. Names the capital of France.\n- Is one sentence\n"
             "* ok\n- names the capital of france!\nCriterion 3: Mentions Paris by name.")
    assert parse_criteria(reply, 7) == ["Names the capital of France.", "Is one sentence",
                                        "Mentions Paris by name."]
    assert parse_criteria(reply, 1) == ["Names the capital of France."]


@pytest.mark.slow
def test_generate_rubrics_cached_and_scored(pandalm_pairs: Path, tmp_path: Path, run_cli
                                            ) -> None:
    out, cache = tmp_path / "rubrics.jsonl", tmp_path / "cache"
    first = generate_rubrics(pandalm_pairs, judge=JUDGE, out=out, cache_dir=cache, limit=2,
                             max_tokens=48)
    assert (first.n_rows, first.n_prompts, first.asked, first.cached) == (2, 2, 2, 0)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    for row in rows:
        assert 3 <= len(row["rubric"]) <= 7
        parse_rubric(row["rubric"])
        p = row["rubric_provenance"]
        assert p["judge"] == JUDGE and len(p["prompt_sha256"]) == 64
        assert p["generated"] + p["generic"] == len(row["rubric"]) and "reply" in p
        assert {"prompt", "chosen", "rejected"} <= set(row)
    again = generate_rubrics(pandalm_pairs, judge=JUDGE, out=tmp_path / "again.jsonl",
                             cache_dir=cache, limit=2, max_tokens=48)
    assert (again.asked, again.cached) == (0, 2)
    assert [json.loads(x)["rubric"] for x in (tmp_path / "again.jsonl").read_text()
            .splitlines()] == [r["rubric"] for r in rows]

    # the written rows are scored by rubric: with the judge answering each criterion
    scores = tmp_path / "scores.jsonl"
    result = run_cli("score", f"rubric:?judge=({JUDGE})", out, "--out", scores, "--limit", "1")
    assert result.code == 0, result.err
    for row in map(json.loads, scores.read_text().splitlines()):
        for side in ("reward_chosen", "reward_rejected"):
            assert row[side] is None or 0.0 <= row[side] <= 1.0


def test_bad_input(pandalm_pairs: Path, tmp_path: Path) -> None:
    with pytest.raises(CapabilityError, match="not a generative judge"):
        generate_rubrics(pandalm_pairs, judge="verify:math", out=tmp_path / "x.jsonl")
    points = tmp_path / "points.jsonl"
    points.write_text('{"prompt": "p", "response": "r"}\n', encoding="utf-8")
    with pytest.raises(DataError, match="needs preference pairs"):
        induce_rubric(points, judge=JUDGE, out=tmp_path / "r.json")


def _check_induced(path: Path, result) -> None:
    rubric = load_rubric_file(path)
    data = json.loads(path.read_text()) if path.suffix == ".json" else None
    meta = rubric.meta
    assert 1 <= len(rubric.criteria) == result.n_kept <= result.n_candidates
    assert meta["validation"]["pairs"] == result.n_validation
    assert 0.0 <= meta["validation"]["accuracy"] <= 1.0
    kept = [c for c in meta["candidates"] if c["kept"]]
    assert [c["text"] for c in kept] == sorted((c.text for c in rubric.criteria),
                                               key=[c["text"] for c in kept].index)
    if data is not None:
        assert all(math.isfinite(c["validation_accuracy"]) for c in data["criteria"])


@pytest.mark.slow
def test_induce_rubric_local_judge(pandalm_pairs: Path, tmp_path: Path) -> None:
    out = tmp_path / "induced.json"
    result = induce_rubric(pandalm_pairs, judge=JUDGE, out=out, propose_pairs=1,
                           max_candidates=2, max_tokens=48, limit=4)
    _check_induced(out, result)
    assert json.loads(out.read_text())["provenance"]["judge"] == JUDGE


@pytest.mark.slow
def test_induce_rubric_against_a_served_judge(pandalm_pairs: Path, tmp_path: Path,
                                              llama_server: str, run_cli) -> None:
    """The same pipeline with the judge behind a real OpenAI-compatible server."""
    out = tmp_path / "induced.yaml"
    result = run_cli("label", "induce-rubric", pandalm_pairs, "--judge",
                     f"judge:openai:{llama_server}#smollm2", "--out", out,
                     "--propose-pairs", "1", "--max-candidates", "1", "--max-tokens", "48",
                     "--limit", "3")
    assert result.code == 0, result.err
    assert "validation accuracy" in result.out
    rubric = load_rubric_file(out)
    assert rubric.meta["provenance"]["judge"].startswith("judge:openai:")
    assert all(0 <= c["validation_accuracy"] <= 1 for c in rubric.meta["candidates"])


def test_induction_benchmark_output_format() -> None:
    """benchmarks/rubric_induction.py's figures from per-pair outcomes (its number is a
    user's to measure with a capable judge; the format is fixed here)."""
    import numpy as np

    from _benchmarks import load_benchmark

    module = load_benchmark("rubric_induction")
    outcomes = module.pair_outcomes(np.array([0.9, 0.2, np.nan, 0.5]),
                                    np.array([0.1, 0.8, 0.3, 0.5]))
    assert outcomes.tolist() == [1.0, 0.0, 0.5, 0.5]
    induced = np.array([1.0] * 30 + [0.0] * 10)
    fixed = np.array([1.0] * 20 + [0.0] * 20)
    got = module.report(induced, fixed, n_boot=500)
    assert set(got) == {"heldout_pairs", "induced", "fixed_helpfulness", "difference",
                        "paired_p_value"}
    assert got["heldout_pairs"] == 40 and got["difference"] == 0.25
    assert got["induced"]["accuracy"] == 0.75 and got["fixed_helpfulness"]["accuracy"] == 0.5
    lo, hi = got["induced"]["ci95"]
    assert lo < 0.75 < hi
    assert 0 < got["paired_p_value"] < 0.05  # 10 pairs flipped one way, none the other
    assert module.report(fixed, fixed, n_boot=200)["paired_p_value"] == 1.0
    with pytest.raises(ValueError, match="one outcome per held-out pair"):
        module.report(induced, fixed[:3])
