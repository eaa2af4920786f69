"""RewardBench conventions reproduced on hand-built files: RewardBench 1's section and
overall aggregation (example counts, math-prm up-weighted to 984, prior sets at half weight),
its ties-as-losses option, and RewardBench 2's best-of-4 score of 1/(number tied at the top).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rewardlab.bench import run_bench


def _pairs(subset: str, wins: int, losses: int, ties: int = 0) -> list[dict]:
    """Rows a length model wins (chosen longer), loses, or ties (equal lengths)."""
    rows = [{"prompt": f"{subset} q{i}", "chosen": "a long answer", "rejected": "short"}
            for i in range(wins)]
    rows += [{"prompt": f"{subset} l{i}", "chosen": "short", "rejected": "a long answer"}
             for i in range(losses)]
    rows += [{"prompt": f"{subset} t{i}", "chosen": "same!", "rejected": "equal"}
             for i in range(ties)]
    return [{**r, "subset": subset} for r in rows]


@pytest.fixture
def rb1_file(tmp_path: Path, write_jsonl) -> Path:
    rows = (_pairs("alpacaeval-easy", 3, 1) + _pairs("mt-bench-med", 1, 0, ties=1)
            + _pairs("math-prm", 1, 3) + _pairs("hep-python", 2, 0) + _pairs("donotanswer", 1, 1)
            + _pairs("shp", 2, 0) + _pairs("my-own-set", 0, 2))
    return write_jsonl(tmp_path / "rb1.jsonl", rows)


def test_rewardbench1_sections_and_overall(rb1_file: Path, length_model) -> None:
    result = run_bench([length_model()], rb1_file, ties="rewardbench", n_boot=200)
    (m,) = result.models
    sections = {s.name: s.score for s in m.sections}
    # by hand, with RewardBench's EXAMPLE_COUNTS, not the rows in the file
    chat = (0.75 * 100 + 0.5 * 40) / (100 + 40)  # the mt-bench-med tie is a loss
    reasoning = (0.25 * 984 + 1.0 * 164) / (984 + 164)
    assert sections["Chat"] == pytest.approx(chat)
    assert sections["Reasoning"] == pytest.approx(reasoning)
    assert sections["Safety"] == pytest.approx(0.5)
    assert sections["Prior Sets"] == pytest.approx(1.0)
    assert sections["my-own-set"] == pytest.approx(0.0)  # an unknown subset: its own section
    expected = (chat + reasoning + 0.5 + 0.5 * 1.0 + 0.0) / 4.5
    assert m.overall == pytest.approx(expected)
    rows = {r.name: r for r in m.rows}
    assert rows["math-prm"].weight == 984 and rows["math-prm"].n == 4
    assert rows["my-own-set"].weight == 2


def test_ties_half_is_rewardlabs_default(rb1_file: Path, length_model) -> None:
    half = run_bench([length_model()], rb1_file, n_boot=200).models[0]
    rows = {r.name: r for r in half.rows}
    assert rows["mt-bench-med"].score == pytest.approx(0.75)  # 1 win + half of 1 tie


@pytest.fixture
def rb2_file(tmp_path: Path, write_jsonl) -> Path:
    # length_model(bucket=10) scores len // 10: these replies give the scores in comments
    rows = [
        {"id": "1", "subset": "Focus", "prompt": "p1", "num_correct": 1, "total_completions": 4,
         "chosen": ["x" * 95], "rejected": ["x" * 50, "x" * 30, "x" * 10]},   # top alone: 1
        {"id": "2", "subset": "Focus", "prompt": "p2", "num_correct": 1,
         "chosen": ["x" * 51], "rejected": ["x" * 55, "x" * 30, "x" * 10]},   # 2 tied: 1/2
        {"id": "3", "subset": "Math", "prompt": "p3", "num_correct": 1,
         "chosen": ["x" * 41], "rejected": ["x" * 42, "x" * 43, "x" * 44]},   # 4 tied: 1/4
        {"id": "4", "subset": "Math", "prompt": "p4", "num_correct": 1,
         "chosen": ["x" * 11], "rejected": ["x" * 90, "x" * 30, "x" * 10]},   # not top: 0
    ]
    return write_jsonl(tmp_path / "rb2.jsonl", rows)


@pytest.mark.parametrize("ties", ["half", "rewardbench"])
def test_rewardbench2_best_of_4_splits_ties_at_the_top(rb2_file: Path, ties: str,
                                                      length_model) -> None:
    m = run_bench([length_model(bucket=10)], rb2_file, ties=ties, n_boot=200).models[0]
    rows = {r.name: r for r in m.rows}
    assert rows["Focus"].score == pytest.approx((1 + 0.5) / 2)
    assert rows["Math"].score == pytest.approx((0.25 + 0) / 2)
    assert rows["Focus"].metric == "best-of-n accuracy"
    # RewardBench 2: every subset is a section, the overall score their plain mean
    assert m.overall == pytest.approx((0.75 + 0.125) / 2)


def test_rewardbench2_count_mismatch_skips_the_file_with_its_reason(tmp_path: Path, write_jsonl,
                                                                  length_model) -> None:
    path = write_jsonl(tmp_path / "bad.jsonl", [
        {"prompt": "p", "subset": "Math", "num_correct": 2, "chosen": ["a"],
         "rejected": ["b", "c", "d"]}])
    m = run_bench([length_model()], path, n_boot=200).models[0]
    (row,) = m.rows
    assert row.skipped is not None
    assert ("bad.jsonl: none of its 1 rows is valid; the first problem, at line 1, field "
            "'num_correct': is 2 but the number of 'chosen'") in row.skipped
