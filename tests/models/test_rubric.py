"""``rubric:``: deterministic, nugget and llm criteria on hand-checked fixtures, the three
aggregations, rubric files validated with file/line/field, and per-criterion output of
``rewardlab score``."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rewardlab import resolve
from rewardlab.errors import CapabilityError, ConfigError, DataError
from rewardlab.models.base import Grader, ReferenceScorer
from rewardlab.models.rubric import FixedRubricModel, RubricModel
from rewardlab.verify.rubric import aggregate, load_rubric_file, parse_rubric

RUBRIC = [
    {"text": "At most 12 words", "kind": "max_words", "value": 12, "hard": True},
    {"text": "Mentions Paris", "kind": "contains", "value": "Paris", "weight": 2},
    {"text": "Ends with a full stop", "kind": "regex", "value": r"\.$"},
]
# hand-checked: (response, criterion scores)
CASES = [
    ("The capital of France is Paris.", [1, 1, 1]),
    ("Paris", [1, 1, 0]),
    ("I believe that the capital city of the French Republic is in fact Paris.", [0, 1, 1]),
    ("Lyon.", [1, 0, 1]),
]


def weighted(scores: list[int]) -> float:
    return (scores[0] + 2 * scores[1] + scores[2]) / 4


@pytest.mark.parametrize("agg", ["mean", "min", "gate"])
def test_aggregations_on_hand_checked_rows(agg: str) -> None:
    model = resolve(f"rubric:?agg={agg}")
    assert isinstance(model, RubricModel) and isinstance(model, ReferenceScorer)
    responses = [r for r, _ in CASES]
    got = model.score_with_references(["q"] * 4, responses, [json.dumps(RUBRIC)] * 4)
    want = {"mean": [weighted(s) for _, s in CASES],
            "min": [min(s) for _, s in CASES],
            "gate": [0.0 if s[0] == 0 else weighted(s) for _, s in CASES]}[agg]
    assert got.tolist() == want


def test_deterministic_rubric_loads_no_model() -> None:
    code = ("import json, sys\nfrom rewardlab import resolve\n"
            f"r = json.dumps({RUBRIC!r})\n"
            "m = resolve('rubric:')\n"
            "print(m.score_with_references(['q'], ['Paris.'], [r]).tolist())\n"
            "print(sorted({'torch', 'transformers', 'llama_cpp'} & set(sys.modules)))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == ["[1.0]", "[]"]


def test_verdict_lists_every_criterion() -> None:
    verdict = RubricModel(agg="gate").grade_with_references(
        ["q"], ["I believe that the capital city of the French Republic is in fact Paris."],
        [RUBRIC])[0]
    data = verdict.to_json()
    assert data["value"] == 0.0
    assert [c["score"] for c in data["criteria"]] == [0.0, 1.0, 1.0]
    assert data["criteria"][0] == {"text": "At most 12 words", "kind": "max_words",
                                   "weight": 1.0, "score": 0.0, "hard": True,
                                   "reason": "max_words: 14 words, more than 12"}


def test_nugget_criteria() -> None:
    """Facts covered by a paraphrase pass at a paraphrase-tolerant threshold (0.7); an
    unrelated answer does not; the default (0.9, chosen on FineGrained QA) wants the fact
    nearly verbatim."""
    rubric = [{"kind": "nugget", "value": "Bloom was released on 31 August 2018."},
              {"kind": "nugget", "value": "Ariana Grande appears as a guest.", "weight": 1}]
    model = resolve("rubric:?nugget_threshold=0.7")
    assert resolve("rubric:").config.nugget_threshold == 0.9
    got = model.grade_with_references(["When was Bloom released?"] * 2, [
        "Troye Sivan released Bloom on August 31, 2018. Ariana Grande is a guest on it.",
        "I do not know much about music. Try a search engine."], [rubric] * 2)
    assert [v.scores for v in got] == [(1.0, 1.0), (0.0, 0.0)]
    assert got[1].reasons[0].startswith("nugget: best sentence similarity")


@pytest.mark.parametrize(("rubric", "field", "message"), [
    ([], "rubric", "has no criteria"),
    ({"name": "x"}, "rubric", "without 'criteria'"),
    ([{"kind": "llm", "text": "a", "weight": -1}], "rubric[0].weight", ">= 0"),
    ([{"kind": "llm", "text": "a", "weight": 0}], "rubric", "sum to zero"),
    ([{"kind": "vibes", "text": "a"}], "rubric[0].kind", "unknown criterion kind"),
    ([{"kind": "regex", "value": "(x"}], "rubric[0].value", "not a valid regular expression"),
    ([{"kind": "json", "value": {"type": 5}}], "rubric[0].value", "not a valid JSON Schema"),
    ([{"kind": "llm"}], "rubric[0].text", "is missing"),
    ([{"kind": "nugget", "threshold": 3, "value": "f"}], "rubric[0].threshold", "cosine"),
    ([{"kind": "max_words", "value": 3, "colour": "red"}], "rubric[0].colour", "not a field"),
])
def test_bad_rubrics(rubric: object, field: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_rubric(rubric)
    assert f"field '{field}'" in str(info.value)


def test_rubric_files_name_file_line_field(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("name: capital\ncriteria:\n  - text: Mentions Paris\n    kind: contains\n"
                    "    value: Paris\n", encoding="utf-8")
    assert load_rubric_file(good).meta == {"name": "capital"}
    bad = tmp_path / "bad.yaml"
    bad.write_text("criteria:\n  - text: Short\n    kind: max_words\n    value: 5\n"
                   "  - text: Yes first\n    kind: regex\n    value: '(Yes'\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.yaml:7: field 'criteria\[1\].value': is not a "
                                        "valid regular expression"):
        load_rubric_file(bad)
    js = tmp_path / "bad.json"
    js.write_text('[\n {"kind": "llm", "text": "ok"},\n {"kind": "llm", "text": "x",\n'
                  '  "weight": -2}\n]\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"bad.json:4: field '\[1\].weight'"):
        load_rubric_file(js)
    broken = tmp_path / "broken.json"
    broken.write_text('[{"kind": "llm",]', encoding="utf-8")
    with pytest.raises(DataError, match=r"broken\.json:1: is not valid JSON"):
        load_rubric_file(broken)


@pytest.mark.parametrize(("name", "text", "message"), [
    ("empty.yaml", "", "empty.yaml: is empty; a rubric is a list of criteria"),
    ("comments.yaml", "# to do\n", "comments.yaml: is empty; a rubric is"),
    ("word.yaml", "Be helpful\n", "word.yaml: holds one str value; a rubric is"),
    ("number.json", "5", "number.json: holds one int value; a rubric is"),
])
def test_a_rubric_file_without_criteria_says_so(tmp_path: Path, name: str, text: str,
                                                message: str) -> None:
    """Not ``field '': must be a list of criteria, got NoneType``."""
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=re.escape(message)):
        load_rubric_file(path)


def test_llm_criteria_need_a_judge(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"rubric:\?judge=SPEC"):
        resolve("rubric:").score_with_references(["q"], ["a"], [[{"text": "Polite?"}]])
    with pytest.raises(CapabilityError, match="'rubric' column"):
        resolve("rubric:").score(["q"], ["a"])


def test_score_cli_per_row_and_file(tmp_path: Path, run_cli) -> None:
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps({"prompt": "Capital of France?", "response": r,
                                        "rubric": RUBRIC}) + "\n" for r, _ in CASES),
                    encoding="utf-8")
    out = tmp_path / "out.jsonl"
    result = run_cli("score", "rubric:?agg=gate", data, "--out", out)
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["reward"] for r in rows] == [1.0, 0.75, 0.0, 0.5]
    assert [c["score"] for c in rows[1]["criteria"]] == [1.0, 1.0, 0.0]
    assert rows[1]["criteria"][2]["reason"] == "regex: no match for '\\\\.$'"

    rubric_file = tmp_path / "rubric.yaml"
    rubric_file.write_text(json.dumps({"criteria": RUBRIC}), encoding="utf-8")
    plain = tmp_path / "plain.jsonl"
    plain.write_text("".join(json.dumps({"prompt": "Capital?", "response": r}) + "\n"
                             for r, _ in CASES), encoding="utf-8")
    result = run_cli("score", "rubric:?agg=gate", plain, "--rubric", rubric_file,
                     "--out", out)
    assert result.code == 0, result.err
    assert [json.loads(x)["reward"] for x in out.read_text().splitlines()] == [
        1.0, 0.75, 0.0, 0.5]
    assert isinstance(resolve(f"rubric:?file={rubric_file}"), Grader)
    assert isinstance(resolve(f"rubric:?file={rubric_file}"), FixedRubricModel)

    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"prompt": "p", "response": "r", "rubric": RUBRIC}) + "\n"
                   + json.dumps({"prompt": "p", "response": "r",
                                 "rubric": [{"kind": "max_words", "value": -3}]}) + "\n",
                   encoding="utf-8")
    result = run_cli("score", "rubric:", bad, "--out", out)
    assert result.code == 2
    assert f"{bad}:2: field 'rubric[0].value'" in " ".join(result.err.split())


def test_aggregate_nan_and_options() -> None:
    rubric = parse_rubric([{"kind": "llm", "text": "a"}])
    assert math.isnan(aggregate(rubric, [math.nan], "mean"))
    with pytest.raises(ConfigError, match="'agg' option of rubric"):
        aggregate(rubric, [1.0], "max")
    with pytest.raises(ConfigError, match="'agg' parameter of RubricConfig"):
        resolve("rubric:?agg=max")


def test_save_and_load(tmp_path: Path) -> None:
    model = resolve("rubric:?agg=min&nugget_threshold=0.5")
    loaded = resolve(model.save(tmp_path / "m"))
    assert isinstance(loaded, RubricModel) and loaded.config == model.config


def test_judge_mode_rubric_is_a_rubric_model() -> None:
    """``judge:SPEC?mode=rubric`` = ``rubric:?judge=(judge:SPEC)``; the rubric's options go to
    the rubric, the rest to the judge, which is not loaded until an llm criterion needs it."""
    model = resolve("judge:gguf:default?mode=rubric&agg=min&n_ctx=1024")
    assert isinstance(model, RubricModel)
    assert model.config.agg == "min"
    assert model.config.judge == "(judge:gguf:default?n_ctx=1024)"
    assert model.score_with_references(["q"], ["Lyon."], [RUBRIC]).tolist() == [0.0]
    assert "_judge_model" not in model.__dict__
