"""Instruction constraints: each type on hand-checked texts, and bad constraints rejected up
front with the field named."""

from __future__ import annotations

import pytest

from rewardlab.errors import ConfigError
from rewardlab.verify.rules import (
    CONSTRAINT_TYPES,
    check_all,
    count_bullets,
    count_sentences,
    count_words,
    parse_constraint,
    parse_constraints,
    split_sentences,
)


def passes(kind: str, value: object, text: str, **extra: object) -> bool:
    return parse_constraint({"type": kind, "value": value, **extra}).check(text).passed


def test_counting_rules() -> None:
    assert count_words("Hello, world - it's an e-mail!") == 5  # the lone '-' is no word
    assert count_words("") == 0
    assert split_sentences("Hi there. How are you?! Fine...\nA heading\n\nlast one") == [
        "Hi there.", "How are you?!", "Fine...", "A heading", "last one"]
    assert count_sentences("Pi is 3.14 today. Yes.") == 2  # no split inside a number
    assert count_bullets("Intro\n- a\n* b\n  + c\n1. d\n2) e\n-not\n- ") == 5


@pytest.mark.parametrize(("kind", "value", "text", "expected"), [
    ("max_words", 3, "one two three", True),
    ("max_words", 3, "one two three four", False),
    ("min_words", 2, "one", False),
    ("min_words", 0, "", True),
    ("max_sentences", 1, "One. Two.", False),
    ("max_sentences", 2, "One. Two.", True),
    ("contains", "Paris", "I live in paris.", True),
    ("contains", ["Paris", "France"], "I live in Paris.", False),
    ("not_contains", ["sorry", "apolog"], "I apologise.", False),
    ("not_contains", "sorry", "Here you go.", True),
    ("regex", "^Yes", "Yes, it is.", True),
    ("regex", "^Yes", "Well, yes.", False),
    ("json", True, '{"a": 1}', True),
    ("json", True, "```json\n[1, 2]\n```", True),
    ("json", True, "{'a': 1}", False),
    ("json", {"type": "object", "required": ["name"]}, '{"name": "x"}', True),
    ("json", {"type": "object", "required": ["name"]}, '{"age": 3}', False),
    ("bullet_count", 2, "- a\n- b", True),
    ("bullet_count", 2, "- a\n- b\n- c", False),
    ("bullet_count", {"min": 2}, "- a\n- b\n- c", True),
    ("bullet_count", {"max": 1}, "- a\n- b", False),
    ("case", "upper", "HELLO, WORLD 42", True),
    ("case", "upper", "HELLO, World", False),
    ("case", "lower", "hello world", True),
    ("case", "title", "Hello World", True),
    ("case", "title", "Hello world", False),
    ("starts_with", "Dear Sir", "  Dear Sir, hello", True),
    ("ends_with", "Is there anything else?", "Done. Is there anything else?\n", True),
    ("ends_with", "P.S.", "Done.", False),
    ("language", "en", "The weather is lovely today and we are going to the park.", True),
    ("language", "fr", "The weather is lovely today and we are going to the park.", False),
    ("language", "fr", "Il fait très beau aujourd'hui et nous allons au parc.", True),
])
def test_each_type(kind: str, value: object, text: str, expected: bool) -> None:
    assert passes(kind, value, text) is expected


def test_reasons_name_what_failed() -> None:
    constraints = parse_constraints([
        {"type": "max_words", "value": 2},
        {"type": "contains", "value": ["cat", "dog"]},
        {"type": "json", "value": {"type": "object", "properties": {"n": {"type": "integer"}}}},
        {"type": "regex", "value": "yes", "flags": "i"},
    ])
    checks = check_all(constraints, '{"n": "cat"} YES')
    assert [c.passed for c in checks] == [False, False, False, True]
    assert checks[0].reason == "max_words: 3 words, more than 2"
    assert checks[1].reason == "contains: missing 'dog'"
    assert checks[2].reason.startswith("json: not valid JSON")
    assert check_all(constraints[2:3], '{"n": "x"}')[0].reason == (
        "json: does not match the schema: 'x' is not of type 'integer' (at n)")


def test_case_sensitive_keywords() -> None:
    assert not passes("contains", "Paris", "paris", case_sensitive=True)


def test_language_is_deterministic() -> None:
    text = "Ciao, come stai oggi? Bene grazie."
    assert len({parse_constraint({"type": "language", "value": "it"}).check(text)
                for _ in range(5)}) == 1


@pytest.mark.parametrize(("item", "field", "message"), [
    ({"type": "max_wordz", "value": 3}, "constraints[0].type", "unknown constraint type"),
    ({"type": "max_words"}, "constraints[0].value", "is missing"),
    ({"type": "max_words", "value": -1}, "constraints[0].value", "a whole number >= 0"),
    ({"type": "max_words", "value": True}, "constraints[0].value", "a whole number"),
    ({"type": "regex", "value": "(unclosed"}, "constraints[0].value",
     "not a valid regular expression"),
    ({"type": "json", "value": {"type": "objekt"}}, "constraints[0].value",
     "not a valid JSON Schema"),
    ({"type": "case", "value": "camel"}, "constraints[0].value", "'upper', 'lower'"),
    ({"type": "language", "value": "xx"}, "constraints[0].value", "langdetect"),
    ({"type": "bullet_count", "value": {"min": 3, "max": 1}}, "constraints[0].value",
     "'min' and/or 'max'"),
    ({"type": "contains", "value": []}, "constraints[0].value", "keyword"),
    ({"type": "contains", "value": "a", "colour": 1}, "constraints[0].colour", "not a field"),
])
def test_bad_constraints_name_the_field(item: dict, field: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        parse_constraints([item])
    assert f"field '{field}'" in str(info.value)


def test_list_shapes() -> None:
    assert len(parse_constraints('[{"type": "case", "value": "lower"}]')) == 1
    for bad in ([], "not json", 3):
        with pytest.raises(ConfigError, match="constraints"):
            parse_constraints(bad)
    assert set(CONSTRAINT_TYPES) >= {"max_words", "json", "language"}


def test_round_trip_to_json() -> None:
    items = [{"type": "bullet_count", "value": {"min": 2}},
             {"type": "contains", "value": ["a", "b"], "case_sensitive": True}]
    assert [c.to_json() for c in parse_constraints(items)] == items
