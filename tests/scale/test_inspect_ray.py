"""``inspect --ray``: the same counts and row ids as the inspection without Ray, with defects
planted across shards, near duplicates by embedding found exactly and by LSH candidates, and
the flip estimate on a sample said in the report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewardlab.errors import ConfigError
from rewardlab.inspection import InspectConfig, inspect_pairs

_CHECKS = ("exact_duplicates", "near_duplicates", "contradictions", "identical_pairs")


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 HH pairs with defects planted in later shards (40 rows each) than their originals:
    2 exact duplicates, 1 near duplicate by casing, 2 near duplicates by a one-word edit
    (embeddings), 1 contradiction, 1 identical pair, and one bad row."""
    from rewardlab.data import load_dataset, render_prompt

    hh = load_dataset("bundled:hh_harmless").records[:120]
    rows = [{"id": f"hh{i}", "prompt": render_prompt(r.prompt), "chosen": r.chosen,
             "rejected": r.rejected} for i, r in enumerate(hh)]
    edit = dict(rows[7], id="edit7", chosen=rows[7]["chosen"].replace(" the ", " a ", 1),
                rejected=rows[7]["rejected"] + " Okay.")
    edit2 = dict(rows[30], id="edit30", chosen=rows[30]["rejected"].replace(".", ". ", 1),
                 rejected=rows[30]["chosen"] + " Thanks.")  # swapped sides, edited
    rows[45:45] = [dict(rows[3], id="dup3")]
    rows[70:70] = [dict(rows[5], id="case5", chosen=rows[5]["chosen"].upper()), edit,
                   dict(rows[9], id="flip9", chosen=rows[9]["rejected"],
                        rejected=rows[9]["chosen"])]
    rows[100:100] = [dict(rows[11], id="same11", rejected=rows[11]["chosen"] + " "), edit2,
                     dict(rows[60], id="dup60")]
    path = tmp_path_factory.mktemp("inspect") / "planted.jsonl"
    lines = [json.dumps(r) for r in rows]
    lines.insert(90, '{"chosen": "only one side"}')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def without_ray(planted: Path) -> dict:
    return inspect_pairs(planted, InspectConfig(model=None)).to_json()


def _same(a: dict, b: dict) -> None:
    assert a["rows"] == b["rows"]
    assert a["skipped"] == b["skipped"]
    for check in _CHECKS:
        assert a[check]["count"] == b[check]["count"], check
        assert a[check]["ids"] == b[check]["ids"], check
    assert a["confounds"] == b["confounds"]
    assert a["subsets"] == b["subsets"]


@pytest.mark.parametrize("method", ["exact", "lsh"])
def test_ray_finds_what_the_single_process_finds(ray_session, planted, without_ray,
                                                 method) -> None:
    assert without_ray["exact_duplicates"]["ids"] == ["dup3", "dup60"]
    assert without_ray["contradictions"]["ids"] == ["flip9"]
    assert without_ray["identical_pairs"]["ids"] == ["same11"]
    assert set(without_ray["near_duplicates"]["ids"]) == {"case5", "edit7", "edit30"}
    got = inspect_pairs(planted, InspectConfig(model=None, ray=True, shard_rows=40,
                                               near_method=method, workers=2)).to_json()
    _same(got, without_ray)
    assert ("LSH" in got["near_duplicates"]["note"]) == (method == "lsh")
    assert any("4 shard(s) of 40 rows, 2 worker(s)" in n for n in got["notes"])


@pytest.mark.slow
def test_flip_estimate_runs_on_a_sample_and_says_so(ray_session, planted) -> None:
    got = inspect_pairs(planted, InspectConfig(model="embed:minilm", ray=True, shard_rows=40,
                                               embeddings=False, flip_sample=60, folds=3,
                                               n_boot=50)).to_json()
    flip = got["flip_rate"]
    assert flip["estimate"] is not None and 0 <= flip["estimate"] <= 0.5
    # 60 rows drawn from the 128 raw rows; the one bad row among them drops out
    assert any("random sample of 59 of 127 pairs" in n for n in got["notes"]), got["notes"]
    assert len(got["least_plausible"]) == 20
    # the weak-model note follows the same rule as without Ray
    weak = flip["selected"] == "extrapolated" and flip["profile"]["estimate"] < flip["ci95"][0]
    assert any("profile reading of the flip rate" in n for n in got["notes"]) == weak


def test_cli_inspect_ray(run_cli, ray_session, planted, tmp_path) -> None:
    result = run_cli("inspect", str(planted), "--ray", "--model", "none", "--no-embeddings",
                     "--json", tmp_path / "r.json")
    assert result.code == 0, result.err
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["exact_duplicates"]["ids"] == ["dup3", "dup60"]
    assert doc["near_duplicates"]["ids"] == ["case5"]  # edits only without embeddings
    result = run_cli("inspect", str(planted), "--workers", "2")
    assert result.code == 2 and "--address and --workers only apply to --ray" in result.err
    result = run_cli("inspect", str(planted), "--ray", "--stream")
    assert result.code == 2 and "--stream and --ray" in result.err


def test_ray_runs_the_label_checks_beside_ties_as_the_single_process_does(
        ray_session, tmp_path) -> None:
    rows = [{"id": f"p{i}", "prompt": f"question {i}?", "response_a": "a long answer " * (i + 2),
             "response_b": "no", "preference": 1.5 if i in (3, 50) else 1} for i in range(60)]
    path = tmp_path / "ties.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = {"model": None, "embeddings": False}
    got = inspect_pairs(path, InspectConfig(**config, ray=True, shard_rows=20)).to_json()
    alone = inspect_pairs(path, InspectConfig(**config)).to_json()
    assert got["confounds"] is not None and got["confounds"] == alone["confounds"]
    assert got["subsets"] == alone["subsets"]
    assert any("2 of 60 pairs carry no preference" in n for n in got["notes"])


def test_bad_options(planted) -> None:
    with pytest.raises(ConfigError, match="near_method"):
        inspect_pairs(planted, InspectConfig(ray=True, near_method="fast"))
    with pytest.raises(ConfigError, match="--limit does not apply to --ray"):
        inspect_pairs(planted, InspectConfig(ray=True, model=None), limit=5)
