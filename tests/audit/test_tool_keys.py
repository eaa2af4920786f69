"""Tool-call master keys: built from each row's tools, they catch a naive call matcher and
verify:toolcall resists them."""

from __future__ import annotations

import json

import numpy as np

from rewardlab.audit import AuditConfig
from rewardlab.audit._tool_keys import row_keys
from rewardlab.audit.runner import audit
from rewardlab.data import load_dataset
from rewardlab.models.base import ReferenceScorer
from rewardlab.verify import parse_calls, parse_tool_reference


class NameMatcher(ReferenceScorer):
    """A reward people write first: 1 when every expected function is among the calls
    (extra calls and arguments forgiven), 1 for no call where none is expected."""

    def score(self, prompts, responses):  # pragma: no cover - never asked without refs
        raise NotImplementedError

    def score_with_references(self, prompts, responses, references):
        out = []
        for response, reference in zip(responses, references, strict=True):
            expected = {c.name for c in parse_tool_reference(reference).calls}
            called = {c.name for c in parse_calls(response).calls or ()}
            out.append(float(expected <= called if expected else not called))
        return np.array(out)


def test_keys_are_built_from_each_rows_tools() -> None:
    data = load_dataset("bundled:bfcl", limit=100)
    refs = [r.reference for r in data]
    keys = row_keys(refs)
    assert [k for k, _, _ in keys] == ["<empty call>", "<every argument>", "<every tool>"]
    assert all(json.loads(t)[0]["arguments"] == {} for t in keys[0][2])
    first_tool = json.loads(refs[0])["tools"][0]
    assert set(json.loads(keys[1][2][0])[0]["arguments"]) == set(
        first_tool["parameters"]["properties"])
    every_tool = [json.loads(t) for t in keys[2][2]]
    n_tools = [len(json.loads(r)["tools"]) for r in refs]
    assert [len(calls) for calls in every_tool] == n_tools
    assert row_keys(["72", None]) == []


def test_every_tool_key_catches_a_name_matcher_and_not_verify_toolcall(tmp_path) -> None:
    config = AuditConfig(probes=("master-keys",), max_pairs=80)
    naive = audit(NameMatcher(), "bundled:bfcl", config=config).probes[0]
    strict = audit("verify:toolcall", "bundled:bfcl", config=config).probes[0]
    rate = {r["key"]: r["false_positive_rate"]
            for r in naive.tables["false-positive rate per key"]}
    assert rate["'<every tool>'"] > 0.5 and rate["'<empty call>'"] > 0.5
    strict_rate = {r["key"]: r["false_positive_rate"]
                   for r in strict.tables["false-positive rate per key"]}
    assert all(strict_rate[k] == 0 for k in ("'<empty call>'", "'<every argument>'",
                                             "'<every tool>'"))
