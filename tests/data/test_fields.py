"""Field readers: attribute ``weights`` as an object, ``NAME=W`` text or JSON text."""

from __future__ import annotations

import pytest

from rewardlab.data import parse_weights


@pytest.mark.parametrize(("value", "expected"), [
    ({"harmless": 1, "helpful": 0.5}, (("harmless", 1.0), ("helpful", 0.5))),
    ("harmless=1, helpful:0.5", (("harmless", 1.0), ("helpful", 0.5))),
    ('{"harmless": 1}', (("harmless", 1.0),)),  # JSON text, as a CSV cell or JSONL string
    ({"harmless": "2"}, (("harmless", 2.0),)),
])
def test_weights_in_every_accepted_shape(value, expected) -> None:
    assert parse_weights(value) == expected


@pytest.mark.parametrize(("value", "match"), [
    ({"harmless": True}, "must be a number, got true"),
    ("harmless=1,harmless=2", "give 'harmless' twice"),
    ('{"harmless": 1', "look like a JSON object but are not valid JSON"),
    ({"harmless": {"x": 1}}, "must be a number"),
    ("harmless=nan", "must be finite"),
    ({"harmless": float("inf")}, "must be finite"),
    ([1, 2], "must be an object"),
    ("harmless", "cannot read 'harmless'"),
    ({}, "names no attribute"),
])
def test_bad_weights_say_what_is_wrong(value, match) -> None:
    with pytest.raises(ValueError, match=match):
        parse_weights(value)
