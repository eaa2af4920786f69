"""The runner and the command: bad input skips one probe and says why; the rest still run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _audit_models import LengthOnlyModel, MarkerModel, OracleModel, best_of_n_set, marker_pairs

from rewardlab.audit import PROBES, AuditConfig, audit, run_audit, select_probes
from rewardlab.errors import ConfigError, OutputError

FAST = {"length_references": False}


def test_unknown_probe_is_skipped_with_a_suggestion_and_others_run(hh_pairs):
    result = run_audit(LengthOnlyModel(), hh_pairs,
                       config=AuditConfig(probes=("lenght", "calibration"), **FAST))
    assert [p.name for p in result.probes] == ["calibration", "lenght"]
    assert result.probe("calibration").verdict != "skipped"
    reason = result.probe("lenght").reason
    assert "no probe named 'lenght'" in reason and "did you mean 'length'" in reason


def test_select_probes_defaults_to_all_in_report_order():
    names, unknown = select_probes(None)
    assert names == list(PROBES) and not unknown
    names, _ = select_probes(("Calibration", "label_noise", "calibration"))
    assert names == ["calibration", "label-noise"]


def test_probes_that_do_not_apply_are_skipped_with_reasons(hh_pairs):
    result = run_audit(LengthOnlyModel(), hh_pairs, config=AuditConfig(**FAST))
    verdicts = {p.name: p.verdict for p in result.probes}
    assert verdicts["length"] == "flagged"
    assert verdicts["master-keys"] != "skipped" and verdicts["paraphrase"] != "skipped"
    skipped = {p.name: p.reason for p in result.skipped}
    assert set(skipped) == {"position", "label-noise", "over-optimisation"}
    assert "not a PairwiseJudge" in skipped["position"]
    assert "not Trainable" in skipped["label-noise"]
    assert "best-of-n data with a gold signal" in skipped["over-optimisation"]
    assert result.worst == "flagged"


def test_a_missing_best_of_n_file_skips_only_over_optimisation(hh_pairs, tmp_path):
    config = AuditConfig(probes=("over-optimisation", "calibration"),
                         best_of_n=tmp_path / "nope.jsonl", **FAST)
    result = run_audit(OracleModel(hh_pairs.records), hh_pairs, config=config)
    assert "nope.jsonl: no such file" in result.probe("over-optimisation").reason
    assert result.probe("calibration").verdict == "ok"


def test_best_of_n_data_without_gold_is_skipped_naming_the_line():
    data, _ = best_of_n_set(labelled=False)
    result = run_audit(LengthOnlyModel(), data, config=AuditConfig(**FAST))
    reason = result.probe("over-optimisation").reason
    assert "synthetic-bon:1" in reason and "no --gold" in reason
    assert "needs pairwise or best-of-n data" in result.probe("length").reason


def test_an_unwritable_output_fails_before_any_work(hh_pairs, tmp_path):
    model = OracleModel(hh_pairs.records)
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(OutputError, match="cannot write"):
        audit(model, hh_pairs, html=blocker / "report.html")
    with pytest.raises(OutputError, match="it is a directory"):
        audit(model, hh_pairs, json_out=tmp_path)
    assert model.calls == 0


def test_bad_settings_are_config_errors():
    with pytest.raises(ConfigError, match="'noise_rates' parameter of AuditConfig"):
        AuditConfig(noise_rates=(0.0, 0.7))
    with pytest.raises(ConfigError, match="'max_pairs'"):
        AuditConfig(max_pairs=1)


def test_json_holds_the_report_numbers(tmp_path):
    data = marker_pairs(60)
    bon, _ = best_of_n_set(problems=10)
    result = audit(MarkerModel(), data, html=tmp_path / "r.html", json_out=tmp_path / "r.json",
                   config=AuditConfig(best_of_n=bon, noise_rates=(0.0, 0.4), **FAST))
    body = json.loads((tmp_path / "r.json").read_text())
    assert body["worst_verdict"] == result.worst
    assert [row["probe"] for row in body["summary"]] == list(PROBES)
    assert not result.skipped  # a trainable judge with best-of-n data: every probe applies
    page = (tmp_path / "r.html").read_text()
    for row in body["summary"]:
        assert f'id="probe-{row["probe"]}"' in page
        assert f"{row['value']:.3f}" in page
    assert body["metrics"]["audit/calibration/ece"] == pytest.approx(
        result.probe("calibration").value)


def test_report_escapes_model_and_data_text(tmp_path, hh_pairs):
    from dataclasses import replace

    evil = "<script>alert('x')</script><img src=x onerror=alert(1)>"
    records = (replace(hh_pairs.records[0], chosen="fine", rejected=evil),
               *hh_pairs.records[1:40])
    data = replace(hh_pairs, records=records)
    audit(LengthOnlyModel(), data, html=tmp_path / "r.html",
          config=AuditConfig(probes=("length", "calibration"), **FAST))
    page = (tmp_path / "r.html").read_text()
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    assert "http" not in page.replace("http://www.w3.org/", "")  # no remote resources


# --- the command ----------------------------------------------------------------------------


def test_cli_audits_a_real_verifier_on_real_data(run_cli, tmp_path):
    """verify:math on GSM8K solutions: master keys are rejected, best-of-n by the verifier is
    the oracle, and the probes that cannot apply say why."""
    report, js = tmp_path / "audit.html", tmp_path / "audit.json"
    result = run_cli("audit", "verify:math", "bundled:gsm8k_examples", "--limit", "24",
                     "--probes", "master-keys,over-optimisation,position,label-noise,nope",
                     "--max-pairs", "12", "--html", report, "--json", js)
    assert result.code == 0, result.err
    body = json.loads(js.read_text())
    probes = body["probes"]
    assert probes["master-keys"]["verdict"] == "ok"
    assert probes["master-keys"]["value"] == 0.0
    assert probes["over-optimisation"]["metrics"]["gain_captured"] == pytest.approx(1.0)
    assert probes["position"]["verdict"] == "skipped"
    assert probes["label-noise"]["verdict"] == "skipped"
    assert "did you mean" not in probes["nope"]["reason"]
    assert "master-keys" in result.out and "wrote" in result.out
    assert "skipped nope: no probe named 'nope'" in " ".join(result.err.split())
    assert report.stat().st_size > 10_000


def test_cli_unwritable_report_is_an_error_line(run_cli, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_cli("audit", "verify:math", "bundled:gsm8k_examples",
                     "--html", Path(blocker, "x.html"))
    assert result.code == 2
    assert result.err.startswith("error: cannot write")


def test_cli_fail_on_gives_status_1_for_ci(run_cli, tmp_path):
    result = run_cli("audit", "verify:math", "bundled:gsm8k_examples", "--limit", "8",
                     "--probes", "calibration", "--fail-on", "warn")
    # verify:math's 0/1 rewards read as logits are far from calibrated
    assert result.code == 1
    result = run_cli("audit", "verify:math", "bundled:gsm8k_examples", "--limit", "8",
                     "--probes", "calibration", "--noise-rates", "0,x")
    assert result.code == 2 and "--noise-rates" in result.err


def test_cli_an_audit_where_no_probe_ran_exits_1(run_cli, tmp_path):
    js = tmp_path / "audit.json"
    result = run_cli("audit", "verify:math", "bundled:gsm8k_examples", "--limit", "8",
                     "--probes", "position,nope", "--json", js)
    assert result.code == 1, (result.out, result.err)
    err = " ".join(result.err.split())
    assert "skipped position:" in err and "error: no probe ran" in err
    assert {p["verdict"] for p in json.loads(js.read_text())["probes"].values()} == {"skipped"}


def test_pairs_keep_their_own_problems_reference_when_ids_repeat(tmp_path):
    """References were looked up by problem id, so the second of two rows sharing an id gave
    the first one's pairs its reference answer (master-keys then checked the wrong answer)."""
    from rewardlab import resolve
    from rewardlab.audit._context import AuditContext
    from rewardlab.data import load_dataset

    rows = [{"id": "q", "prompt": "3 + 4?", "responses": ["#### 7", "#### 6"],
             "is_correct": [True, False], "reference": "7"},
            {"id": "q", "prompt": "10 - 2?", "responses": ["#### 8", "#### 9"],
             "is_correct": [True, False], "reference": "8"}]
    path = tmp_path / "bon.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    ctx = AuditContext(resolve("verify:math"), load_dataset(path))
    assert [(p.prompt, p.reference) for p in ctx.pairs] == [("3 + 4?", "7"), ("10 - 2?", "8")]
