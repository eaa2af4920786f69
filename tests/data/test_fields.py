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


def _votes(tmp_path, name: str, text: str):
    from rewardlab.data import load_dataset

    path = tmp_path / name
    path.write_text(text)
    return load_dataset(path).records[0].votes


def test_votes_in_a_csv_meta_cell_are_read(tmp_path) -> None:
    text = 'prompt,chosen,rejected,meta\nq,a,b,"{""votes"": [1, 1, 2]}"\n'
    assert _votes(tmp_path, "v.csv", text) == (1, 1, 2)


def test_votes_given_twice_must_agree(tmp_path) -> None:
    from rewardlab.errors import DataError

    row = '{"prompt": "q", "chosen": "a", "rejected": "b", "votes": [1, 1, 2], "meta": %s}\n'
    assert _votes(tmp_path, "same.jsonl", row % '{"votes": [1, 1, 2]}') == (1, 1, 2)
    with pytest.raises(DataError, match=r"1: field 'votes': and 'meta.votes' disagree"):
        _votes(tmp_path, "differ.jsonl", row % '{"votes": [2, 2, 2]}')
