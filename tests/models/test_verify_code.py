"""verify:code as a kind: spec, contract, save/load, and the errors it documents."""

from __future__ import annotations

import json

import pytest

from rewardlab import CapabilityError, ConfigError, SpecError, load_model, resolve
from rewardlab.models.verify_code import CodeVerifier
from rewardlab.testing import check_reward_model

REF = '{"tests": ["assert inc(1) == 2", "assert inc(-1) == 0"]}'
RESPONSES = ["def inc(x):\n    return x + 1", "def inc(x):\n    return x", "",
             "```python\ndef inc(x):\n    return 1 + x\n```", "def inc(x):\n    return x + 1"]


def test_verify_code_passes_the_reward_model_contract(tmp_path) -> None:
    ran = check_reward_model(resolve("verify:code?timeout=5&workers=1"), prompts=["q"] * 5,
                             responses=RESPONSES, references=[REF] * 5, directory=tmp_path)
    assert "save_load" in ran and "deterministic" in ran


def test_spec_options_partial_rewards_and_round_trip(tmp_path) -> None:
    model = resolve("verify:code?partial=true&timeout=5&workers=1")
    assert isinstance(model, CodeVerifier) and model.config.partial
    half = "def inc(x):\n    return abs(x) + 1"  # right for 1, wrong for -1
    assert model.score_with_references(["q"] * 2, [RESPONSES[0], half], [REF] * 2).tolist() == [
        1.0, 0.5]
    loaded = load_model(model.save(tmp_path / "code"))
    assert isinstance(loaded, CodeVerifier) and loaded.config == model.config


def test_documented_errors() -> None:
    with pytest.raises(SpecError, match="unknown option 'timeot'"):
        resolve("verify:code?timeot=3")
    with pytest.raises(ConfigError, match="'url' parameter"):
        resolve("verify:code?backend=sandbox-fusion")
    with pytest.raises(CapabilityError, match="unit tests"):
        resolve("verify:code").score(["q"], ["x"])
    with pytest.raises(ConfigError, match=r"references\[0\].*names no tests"):
        resolve("verify:code").score_with_references(["q"], ["x"], ['{"answer": "4"}'])


@pytest.mark.parametrize(("spec", "reference", "says"), [
    ("verify:code", "Paris", "has no assert statement"),
    ("verify:code", '{"answer": "4"}', "names no tests"),
    ("verify:toolcall", "Paris", "must be JSON"),
    ("verify:toolcall", '{"calls": []}', "needs 'ground_truth'"),
])
def test_a_bad_reference_in_a_data_file_is_named_by_file_line_and_field(
        tmp_path, spec: str, reference: str, says: str) -> None:
    """Checked per row before scoring (``check_reference``), not reported as
    ``references[i]`` of whichever batch the row landed in."""
    from rewardlab import api
    from rewardlab.errors import DataError

    data = tmp_path / "rows.jsonl"
    good = '{"prompt": "q", "response": "x", "reference": "[]"}' if spec.endswith("call") \
        else '{"prompt": "q", "response": "x", "reference": "assert 1"}'
    data.write_text(good + "\n" + json.dumps({"prompt": "q", "response": "x",
                                              "reference": reference}) + "\n")
    with pytest.raises(DataError, match=f"rows.jsonl:2: field 'reference': .*{says}"):
        api.score(spec, data, out=tmp_path / "out.jsonl")
