"""TRL dataset columns for tool calling: a ``tools`` column travels with the reference
calls, and a bad one is an error naming the sample and the column."""

from __future__ import annotations

import json

import pytest

from rewardlab.adapters import TRLRewardFunction
from rewardlab.errors import ConfigError

TOOLS = [{"type": "function", "function": {"name": "get_time", "parameters": {
    "type": "object", "properties": {"zone": {"type": "string"}}, "required": ["zone"]}}}]
GT = [{"get_time": {"zone": ["CET"]}}]


def test_tools_column_and_json_text_column() -> None:
    reward = TRLRewardFunction("verify:toolcall?partial=true")
    got = reward(prompts=["q", "q"], completions=['get_time(zone="CET")', "get_time(zone=1)"],
                 ground_truth=[GT, json.dumps(GT)], tools=[TOOLS, TOOLS])
    # the schema says zone is a string: 1 is the wrong type (format, name pass; zone fails)
    assert got == [1.0, pytest.approx(2 / 3)]
    # without tools the types are read from the acceptable values
    assert TRLRewardFunction("verify:toolcall")(
        prompts=["q"], completions=['[{"name": "get_time", "arguments": {"zone": "cet"}}]'],
        reference=[GT]) == [1.0]


def test_a_bad_tools_column_names_the_sample_and_column() -> None:
    bad = [{"name": "get_time", "parameters": {"type": "object", "properties": {
        "zone": {"type": "strnig"}}}}]
    reward = TRLRewardFunction("verify:toolcall")
    with pytest.raises(ConfigError, match=r"sample 1, column 'tools\[0\]\.parameters'.*JSON "
                                          "Schema"):
        reward(prompts=["q", "q"], completions=["x", "y"], ground_truth=[GT, GT],
               tools=[TOOLS, bad])
    with pytest.raises(ConfigError, match=r"sample 0, column 'ground_truth\[0\]'.*calls "
                                          "'get_weather'"):
        reward(prompts=["q"], completions=["x"], ground_truth=[[{"get_weather": {}}]],
               tools=[TOOLS])


def test_verl_extra_info_tools_join_the_ground_truth(monkeypatch) -> None:
    from rewardlab.adapters import verl

    monkeypatch.setenv(verl.SPEC_ENV, "verify:toolcall")
    got = verl.compute_score(data_sources=["bfcl"] * 2,
                             solution_strs=['get_time(zone="CET")', "get_time(zone=1)"],
                             ground_truths=[GT, json.dumps(GT)],
                             extra_infos=[{"tools": TOOLS}, {"tools": TOOLS}])
    assert [g["score"] for g in got] == [1.0, 0.0]
    with pytest.raises(ConfigError, match=r"sample 0, extra_info field 'ground_truth\[0\]'"):
        verl.compute_score(data_source="bfcl", solution_str="x",
                           ground_truth=[{"get_weather": {}}], extra_info={"tools": TOOLS})
