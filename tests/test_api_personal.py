"""``_api_personal``: reading the named training sets of a ``multi:`` model (``--data
NAME=FILE`` or one TOML file) and refusing what cannot name a set."""

from __future__ import annotations

from pathlib import Path

import pytest

from rewardlab._api_personal import parse_named_data
from rewardlab.errors import ConfigError, DataError


def test_a_toml_file_names_the_sets_relative_to_itself(tmp_path: Path) -> None:
    toml = tmp_path / "sets.toml"
    # a byte-order mark (Windows editors) is not a TOML error
    toml.write_bytes(b'\xef\xbb\xbf[data]\nharmless = "a.jsonl"\nhelpful = "bundled:pandalm"\n')
    assert parse_named_data([str(toml)]) == {"harmless": str(tmp_path / "a.jsonl"),
                                             "helpful": "bundled:pandalm"}


@pytest.mark.parametrize(("body", "error", "match"), [
    (b'[data]\nhelpful = 5\n', DataError, r"sets.toml: field 'data.helpful': .* got int"),
    (b'[data]\nhelpful = ["b.jsonl"]\n', DataError, r"field 'data.helpful': .* got list"),
    (b'[data]\n[data.helpful]\nfile = "b.jsonl"\n', DataError, r"'data.helpful': .* got dict"),
    (b'[data]\nhelpful = ""\n', DataError, r"'data.helpful': .* got an empty one"),
    (b'[data]\nhelpful = "b\xff.jsonl"\n', ConfigError, r"cannot read .* decode byte 0xff"),
    (b'[data]\nhelpful = "b.jsonl\n', ConfigError, r"cannot read .* line 2"),
    (b'', ConfigError, r"has no \[data\] table"),
])
def test_bad_toml_sets_name_the_file_and_key(tmp_path: Path, body: bytes, error: type,
                                             match: str) -> None:
    toml = tmp_path / "sets.toml"
    toml.write_bytes(body)
    with pytest.raises(error, match=match):
        parse_named_data([str(toml)])


@pytest.mark.parametrize(("items", "match"), [
    (["a.jsonl"], "NAME=FILE"),
    (["=a.jsonl"], "NAME=FILE"),
    (["h=a.jsonl", "h=b.jsonl"], "'h' twice"),
    (["sets.toml", "h=a.jsonl"], r"\.toml file .* only --data"),
])
def test_bad_named_data_items(items: list[str], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        parse_named_data(items)
