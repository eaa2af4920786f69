"""A real ``embed:minilm`` model audited end to end on real HH pairs (small, shared)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import pytest

from rewardlab.audit import AuditConfig, audit

pytestmark = pytest.mark.slow


def _probe_texts(hh_small):
    test = hh_small[1].records[:4]
    return [r.prompt for r in test], [r.chosen for r in test]


@pytest.fixture(scope="module")
def embed_audit(trained_embed, hh_small, tmp_path_factory):
    train, test = hh_small
    data = replace(train, records=train.records[:24] + test.records)
    out = tmp_path_factory.mktemp("embed-audit")
    before = trained_embed.score(*_probe_texts(hh_small))
    config = AuditConfig(max_pairs=4, length_references=False, noise_rates=(0.0, 0.4))
    result = audit(trained_embed, data, config=config, html=out / "report.html",
                   json_out=out / "report.json")
    for p in result.probes:
        print(f"{p.name}: {p.verdict} {p.value:.3f} in {p.seconds:.1f}s")
    return result, out, before


def test_every_applicable_probe_runs_on_a_real_embedding_model(embed_audit):
    result, out, _ = embed_audit
    ran = {p.name for p in result.ran}
    assert ran == {"length", "master-keys", "paraphrase", "label-noise", "calibration"}
    assert {p.name for p in result.skipped} == {"position", "over-optimisation"}
    for probe in result.ran:
        assert math.isfinite(probe.value), probe.name
        assert probe.verdict in ("ok", "warn", "flagged")
    noise = result.probe("label-noise").tables["held-out accuracy per noise rate"]
    assert [row["noise_rate"] for row in noise] == [0.0, 0.4]
    assert noise[1]["flipped"] == round(0.4 * result.probe("label-noise").metrics["n_train"])
    assert result.settings["responses_scored"] > 0
    body = json.loads((out / "report.json").read_text())
    assert body["probes"]["master-keys"]["metrics"]["n_prompts"] == 4
    assert "plot-calibration" in (out / "report.html").read_text()


def test_the_audit_leaves_the_audited_model_untouched(embed_audit, trained_embed, hh_small):
    # label-noise trains fresh copies; the model under audit keeps its own head
    _, _, before = embed_audit
    assert trained_embed.n_train_pairs_ == len(hh_small[0])
    assert trained_embed.score(*_probe_texts(hh_small)).tolist() == before.tolist()
