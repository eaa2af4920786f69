"""verify:toolcall: parsing every accepted call shape, BFCL's comparison rules, order-free
parallel matching, partial credit, irrelevance, and bad references."""

from __future__ import annotations

import json

import pytest

from rewardlab import resolve
from rewardlab.errors import ConfigError
from rewardlab.testing import check_reward_model
from rewardlab.verify._toolparse import parse_calls
from rewardlab.verify.toolcall import ToolCallChecker, parse_tool_reference

TOOLS = [{"name": "get_weather", "parameters": {
    "type": "dict", "properties": {"city": {"type": "string"}, "days": {"type": "integer"},
                                   "scale": {"type": "float"}},
    "required": ["city"]}},
    {"name": "get_time", "parameters": {"type": "dict", "properties": {
        "zone": {"type": "string"}}, "required": ["zone"]}}]
GT = [{"get_weather": {"city": ["Paris", "Paris, France"], "days": [3], "scale": ["", 1.5]}}]
REF = {"tools": TOOLS, "ground_truth": GT}


@pytest.mark.parametrize("text", [
    'get_weather(city="Paris", days=3)',
    '[get_weather(city="Paris", days=3)]',
    '{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}',
    '[{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}]',
    '{"name": "get_weather", "parameters": {"city": "Paris", "days": 3}}',
    json.dumps({"tool_calls": [{"id": "c1", "type": "function", "function": {
        "name": "get_weather", "arguments": json.dumps({"city": "Paris", "days": 3})}}]}),
    json.dumps([{"type": "function", "function": {
        "name": "get_weather", "arguments": json.dumps({"city": "Paris", "days": 3})}}]),
    'Sure.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "days": 3}}'
    '\n</tool_call>',
    'Calling it:\n```python\nget_weather(city="Paris", days=3)\n```',
])
def test_every_call_shape_is_read(text: str) -> None:
    verdict = ToolCallChecker().check_one(text, REF)
    assert (verdict.reward, verdict.reason) == (1.0, "ok"), verdict


@pytest.mark.parametrize(("text", "reason"), [
    ('get_weather(city="Rome", days=3)', "wrong_value"),
    ('get_time(zone="CET")', "wrong_function"),
    ("get_weather(days=3)", "missing_argument"),
    ('get_weather(city="Paris", days=3, mood="sunny")', "unknown_argument"),
    ('get_weather(city="Paris", days=3.0)', "wrong_type"),
    ('get_weather(city="Paris", days="3")', "wrong_type"),
    ('get_weather(city="Paris", days=True)', "wrong_type"),
    ('get_weather("Paris", days=3)', "unparsable"),
    ("get_weather(city=paris, days=3)", "unparsable"),
    ('{"name": "get_weather", "arguments": "{bad json"}', "unparsable"),
    ("The weather is fine.", "no_call"),
    ("", "no_call"),
    ('get_weather(city="Paris", days=3)\nget_time(zone="CET")', "extra_call"),
])
def test_failures_score_zero_with_their_reason(text: str, reason: str) -> None:
    verdict = ToolCallChecker().check_one(text, REF)
    assert (verdict.reward, verdict.reason) == (0.0, reason), verdict


def test_bfcl_value_rules() -> None:
    check = ToolCallChecker().check_one
    # strings: case, spaces and , . / - _ * ^ ignored; an int where a float is declared
    assert check('get_weather(city="paris-france", days=3, scale=1.5)', REF).reward == 1.0
    quoted = [{"f": {"q": ["SELECT 'a'"]}}]
    assert check("""f(q='select "a"')""", quoted).reward == 1.0
    ref = {"tools": TOOLS, "ground_truth": [{"get_weather": {"city": ["x"], "scale": [2.0]}}]}
    assert check('get_weather(city="X", scale=2)', ref).reward == 1.0
    # lists element by element, nested objects key by key (with optional keys)
    nested = [{"f": {"xs": [[1, 2]], "opts": [{"a": ["A"], "b": ["", 1]}]}}]
    assert check('f(xs=[1, 2], opts={"a": "a"})', nested).reward == 1.0
    assert check('f(xs=[2, 1], opts={"a": "a"})', nested).reason == "wrong_value"
    assert check('f(xs=[1, 2], opts={"a": "a", "c": 1})', nested).reason == "wrong_value"


def test_parallel_calls_match_in_any_order() -> None:
    gt = [{"get_time": {"zone": ["CET"]}}, {"get_time": {"zone": ["UTC"]}},
          {"get_weather": {"city": ["Paris"]}}]
    ref = {"tools": TOOLS, "ground_truth": gt}
    text = '[get_weather(city="Paris"), get_time(zone="UTC"), get_time(zone="CET")]'
    assert ToolCallChecker().check_one(text, ref).reward == 1.0
    short = ToolCallChecker(partial=True).check_one('[get_time(zone="UTC")]', ref)
    # format + the UTC call (2) pass; CET call (2) and weather call (2) are missing
    assert short.reason == "missing_call" and short.reward == pytest.approx(3 / 7)


def test_partial_credit_counts_each_item() -> None:
    partial = ToolCallChecker(partial=True).check_one
    # items: format, name, city, days, scale (omitted: fine) -> one wrong value of 5
    assert partial('get_weather(city="Rome", days=3)', REF).reward == pytest.approx(4 / 5)
    # an unknown argument adds a failing item: 5 of 6
    assert partial('get_weather(city="Paris", days=3, x=1)', REF).reward == pytest.approx(5 / 6)
    verdict = partial('get_weather(city="Rome", days=3)', REF)
    failed = [c for c in verdict.checks if not c.passed]
    assert [(c.item, c.reason) for c in failed] == [("call[0].city", "wrong_value")]
    assert "Rome" in failed[0].detail and verdict.to_json()["checks"]


def test_irrelevance_rewards_not_calling() -> None:
    ref = {"tools": TOOLS, "ground_truth": []}
    for checker in (ToolCallChecker(), ToolCallChecker(partial=True)):
        assert checker.check_one("None of these tools can answer that.", ref).reward == 1.0
        assert checker.check_one("[]", ref).reward == 1.0
        called = checker.check_one('get_time(zone="UTC")', ref)
        assert (called.reward, called.reason) == (0.0, "called_irrelevant")


def test_bad_references_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match=r"'ground_truth\[0\]'.*calls 'nope'.*defined: "
                                          "get_weather, get_time"):
        parse_tool_reference({"tools": TOOLS, "ground_truth": [{"nope": {}}]})
    bad_schema = [{"name": "f", "parameters": {"type": "dict", "properties": {
        "x": {"type": "integr"}}}}]
    with pytest.raises(ConfigError, match=r"'tools\[0\]\.parameters'.*not valid JSON Schema"):
        parse_tool_reference({"tools": bad_schema, "ground_truth": []})
    with pytest.raises(ConfigError, match="must be JSON"):
        parse_tool_reference("get_weather(city='Paris')")
    with pytest.raises(ConfigError, match="acceptable values"):
        parse_tool_reference([{"f": {"x": 1}}])


def test_parser_never_evaluates() -> None:
    parsed = parse_calls('f(x=__import__("os").system("echo hi"))')
    assert parsed.calls is None and parsed.reason == "unparsable"


def test_kind_contract_and_spec() -> None:
    ref = json.dumps(REF)
    model = resolve("verify:toolcall?partial=true")
    assert model.config.partial is True
    ran = check_reward_model(model, prompts=["a", "b", "c"], references=[ref] * 3,
                             responses=['get_weather(city="Paris", days=3)',
                                        'get_weather(city="Rome", days=3)', ""])
    assert "save_load" in ran
    assert list(model.score_with_references(["q"] * 2, ['get_weather(city="Paris", days=3)',
                                                        ""], [ref, GT])) == [1.0, 0.0]


def test_a_corrupted_parallel_call_still_pairs_with_its_reference() -> None:
    """Every pairing has failures here; the best one must still be chosen (not none)."""
    gt = [{"get_time": {"zone": ["CET"]}}, {"get_time": {"zone": ["UTC"]}}]
    verdict = ToolCallChecker(partial=True).check_one(
        '[get_time(zone="UTC"), get_time(zone="PST")]', {"tools": TOOLS, "ground_truth": gt})
    assert verdict.reason == "wrong_value" and verdict.reward == pytest.approx(4 / 5)


def test_a_variable_name_compares_as_text_where_bfcl_expects_one() -> None:
    tools = [{"name": "fit", "parameters": {"type": "dict", "properties": {
        "x": {"type": "array", "items": {"type": "float"}}}, "required": ["x"]}}]
    ref = {"tools": tools, "ground_truth": [{"fit": {"x": ["data['sales']"]}}]}
    assert ToolCallChecker().check_one('fit(x="data[\'sales\']")', ref).reward == 1.0
    assert ToolCallChecker().check_one("fit(x=[1.0])", ref).reason == "wrong_type"


def test_bundled_bfcl_rows_agree_with_their_labels() -> None:
    """The 280 bundled BFCL rows read as best-of-n data, tools joined with the reference;
    the verifier agrees with every candidate's label (in strict and partial mode)."""
    from rewardlab.data import load_dataset

    data = load_dataset("bundled:bfcl")
    assert len(data) == 280
    assert {r.subset for r in data} == {"simple", "multiple", "parallel",
                                        "parallel_multiple", "irrelevance"}
    responses = [t for r in data for t in r.responses]
    refs = [r.reference for r in data for _ in r.responses]
    labels = [ok for r in data for ok in r.is_correct]
    strict = [v.reward for v in ToolCallChecker().check(responses, refs)]
    assert strict == [float(ok) for ok in labels]
    partial = ToolCallChecker(partial=True).check(responses, refs)
    assert all((v.reward == 1.0) == ok for v, ok in zip(partial, labels, strict=True))


def test_hostile_responses_get_a_reason_not_a_crash() -> None:
    check = ToolCallChecker().check_one
    deep = check("[" * 50_000 + "]" * 50_000, GT)
    assert (deep.reward, deep.reason) == (0.0, "unparsable")
    many = json.dumps([{"name": "get_weather", "arguments": {"city": "Paris"}}] * 500)
    verdict = check(many, GT)
    assert verdict.reason == "unparsable" and "at most 128" in verdict.checks[0].detail
    assert check('{"name": 5}', GT).reason == "unparsable"
    assert check("null", GT).reason == "no_call"
