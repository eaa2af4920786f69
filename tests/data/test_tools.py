"""Tool-calling rows: BFCL lines, the generic shape and trajectories are read and checked,
and a bad tool or reference call is one error naming file, line and field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewardlab.data import load_dataset
from rewardlab.errors import DataError

TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]


def _write(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_bfcl_line_and_generic_row_carry_tools_with_the_reference(tmp_path: Path) -> None:
    bfcl = {"id": "simple_0", "question": [[{"role": "user", "content": "Area?"}]],
            "function": [{"name": "area", "parameters": {"type": "dict", "properties": {
                "base": {"type": "integer"}}, "required": ["base"]}}],
            "ground_truth": [{"area": {"base": [10]}}], "response": "area(base=10)"}
    generic = {"prompt": "Weather in Paris?", "tools": TOOLS,
               "reference": [{"get_weather": {"city": ["Paris"]}}],
               "response": [{"name": "get_weather", "arguments": {"city": "Paris"}}]}
    rows = load_dataset(_write(tmp_path, [bfcl, generic]))
    assert rows[0].prompt[0].content == "Area?"
    ref = json.loads(rows[0].reference)
    assert ref["ground_truth"] == bfcl["ground_truth"] and ref["tools"] == bfcl["function"]
    assert json.loads(rows[1].response) == generic["response"]
    assert json.loads(rows[1].reference)["tools"] == TOOLS


def test_trajectory_with_tool_calls_and_results(tmp_path: Path) -> None:
    call = {"id": "c1", "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}}
    row = {"messages": [
        {"role": "user", "content": "Weather in Paris, then Rome?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": {"temp": 21}},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "c2", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}}]}],
        "tools": TOOLS, "ground_truth": [{"get_weather": {"city": ["Rome"]}}]}
    record = load_dataset(_write(tmp_path, [row]))[0]
    assert [m.role for m in record.prompt] == ["user", "assistant", "tool"]
    assert json.loads(record.prompt[2].content) == {"temp": 21}
    assert json.loads(record.response)["tool_calls"][0]["function"]["name"] == "get_weather"


@pytest.mark.parametrize(("change", "message"), [
    ({"tools": [{"name": "f", "parameters": {"type": "dict", "properties": {
        "x": {"type": "integr"}}}}]},
     r"rows\.jsonl:1: field 'tools\[0\]\.parameters'.*not valid JSON Schema"),
    ({"reference": [{"get_time": {"zone": ["UTC"]}}]},
     r"rows\.jsonl:1: field 'reference\[0\]'.*calls 'get_time'.*defined: get_weather"),
    ({"reference": [{"get_weather": {"city": "Paris"}}]},
     r"field 'reference\[0\]\.get_weather'.*acceptable values"),
    ({"tools": None}, r"rows\.jsonl:1: field 'reference': is a list, .*give the row its tool "
                      r"definitions \('tools' or 'function'"),
    ({"messages": [{"role": "user", "content": "hi"},
                   {"role": "tool", "content": "21C"},
                   {"role": "assistant", "content": "ok"}], "response": None},
     r"field 'messages\[1\]\.role'.*no earlier assistant message called a tool"),
    ({"messages": [{"role": "user", "content": "hi"},
                   {"role": "assistant", "content": None, "tool_calls": [
                       {"function": {"name": "get_weather", "arguments": "{oops"}}]}],
      "response": None},
     r"field 'messages\[1\]\.tool_calls\[0\]\.arguments'.*not valid JSON"),
])
def test_bad_tool_rows_name_file_line_and_field(tmp_path: Path, change: dict,
                                                message: str) -> None:
    row = {"prompt": "Weather?", "tools": TOOLS,
           "reference": [{"get_weather": {"city": ["Paris"]}}], "response": "x"}
    row.update(change)
    if row.get("response") is None:
        row.pop("response")
        row.pop("prompt")
    with pytest.raises(DataError, match=message):
        load_dataset(_write(tmp_path, [row]))


def test_a_text_answer_beside_a_tools_column_stays_an_answer(tmp_path: Path) -> None:
    row = {"prompt": "2+2?", "tools": TOOLS, "reference": "4", "response": "#### 4"}
    assert load_dataset(_write(tmp_path, [row]))[0].reference == "4"
    as_text = {**row, "reference": json.dumps([{"get_weather": {"city": ["Paris"]}}])}
    assert json.loads(load_dataset(_write(tmp_path, [as_text]))[0].reference)["tools"] == TOOLS
