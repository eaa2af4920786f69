"""``eval --html`` and the audit report show what a split reward is made of: each attribute's
reward distribution for a multi: model, accuracy against pairs per user for a personal: one,
and neither for a plain model; a personal model's population fallback is never silent."""

from __future__ import annotations

import json

import pytest

from rewardlab.audit import AuditConfig, run_audit
from rewardlab.audit.report import render_html
from rewardlab.evaluate.pairwise import evaluate_pairwise


def _prompt(r):
    return r.prompt if isinstance(r.prompt, str) else [
        {"role": m.role, "content": m.content} for m in r.prompt]


def _write(path, data):
    rows = [{"prompt": _prompt(r), "chosen": r.chosen, "rejected": r.rejected,
             **({"user": r.user} if r.user else {})} for r in data.records]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def saved(trained_multi, trained_personal, trained_embed, tmp_path_factory):
    root = tmp_path_factory.mktemp("eval_html")
    return {"multi": trained_multi.save(root / "multi"),
            "personal": trained_personal.save(root / "personal"),
            "plain": trained_embed.save(root / "plain")}


def test_eval_html_has_the_attribute_plot_for_a_multi_model(run_cli, saved, hh_small, tmp_path):
    data = _write(tmp_path / "d.jsonl", hh_small[1].take(range(12)))
    res = run_cli("eval", saved["multi"], data, "--html", tmp_path / "e.html", "--json",
                  tmp_path / "e.json")
    assert res.code == 0, res.err
    page = (tmp_path / "e.html").read_text()
    assert 'id="plot-attributes"' in page and "<svg" in page and 'id="plot-users"' not in page
    body = json.loads((tmp_path / "e.json").read_text())
    assert set(body["attributes"]) == {"harmless", "contrary"}
    assert sum(body["attributes"]["harmless"]["chosen_counts"]) == 12


def test_eval_html_has_accuracy_vs_k_for_a_personal_model(run_cli, saved, user_pairs,
                                                          tmp_path):
    data = _write(tmp_path / "u.jsonl", user_pairs)
    res = run_cli("eval", saved["personal"], data, "--html", tmp_path / "e.html", "--json",
                  tmp_path / "e.json")
    assert res.code == 0, res.err
    page = (tmp_path / "e.html").read_text()
    assert 'id="plot-users"' in page and 'id="plot-attributes"' not in page
    assert "adapted from k of their earlier pairs: k=0" in " ".join(res.out.split())
    by_k = json.loads((tmp_path / "e.json").read_text())["accuracy_vs_k"]
    assert [row["k"] for row in by_k["rows"]] == [0, 1, 4, 16]  # 18 pairs before the test 6
    assert all(row["n_users"] == 2 for row in by_k["rows"])
    # the two users disagree on every pair: their own 16 pairs beat the population mixture
    assert by_k["rows"][-1]["per_user_accuracy_mean"] > by_k["rows"][0]["per_user_accuracy_mean"]


def test_eval_html_of_a_plain_model_has_no_such_plot(run_cli, saved, hh_small, tmp_path):
    data = _write(tmp_path / "d.jsonl", hh_small[1].take(range(8)))
    res = run_cli("eval", saved["plain"], data, "--html", tmp_path / "e.html")
    assert res.code == 0, res.err
    page = (tmp_path / "e.html").read_text()
    assert "<h1>Reward model evaluation" in page and "plot-" not in page


def test_api_evaluate_writes_the_page_and_refuses_html_over_the_data(saved, hh_small, tmp_path):
    from rewardlab import api
    from rewardlab.errors import OutputError

    data = _write(tmp_path / "d.jsonl", hh_small[1].take(range(8)))
    api.evaluate(str(saved["multi"]), data, html=tmp_path / "e.html")
    assert 'id="plot-attributes"' in (tmp_path / "e.html").read_text()
    before = data.read_text()
    with pytest.raises(OutputError, match="--html"):
        api.evaluate(str(saved["multi"]), data, html=data)
    assert data.read_text() == before


def test_audit_report_shows_the_model_views(trained_multi, trained_embed, hh_small):
    config = AuditConfig(probes=("calibration",))
    data = hh_small[1].take(range(8))
    multi = run_audit(trained_multi, data, config=config)
    assert set(multi.views) == {"attributes"}
    assert 'id="plot-attributes"' in render_html(multi)
    assert "views" in multi.to_json()
    plain = run_audit(trained_embed, data, config=config)
    assert plain.views == {} and "plot-attributes" not in render_html(plain)


def test_personal_model_without_users_or_weights_says_population(run_cli, saved, hh_small,
                                                                 tmp_path):
    data = _write(tmp_path / "d.jsonl", hh_small[1].take(range(6)))
    res = run_cli("eval", saved["personal"], data)
    assert res.code == 0, res.err
    assert "no 'user' column" in res.err and "6 pair(s)" in res.err
    stranger = tmp_path / "s.jsonl"
    stranger.write_text("".join(json.dumps({"prompt": _prompt(r), "chosen": r.chosen,
                                            "rejected": r.rejected, "user": "zoe"}) + "\n"
                                for r in hh_small[1].take(range(4)).records))
    res = run_cli("eval", saved["personal"], stranger)
    assert res.code == 0, res.err
    assert "1 user(s) have no adaptation data (zoe)" in res.err


def test_population_pairs_counted_in_the_result(trained_personal, user_pairs):
    assert evaluate_pairwise(trained_personal, user_pairs).population_pairs == 0


def test_adapt_refuses_training_options(run_cli, saved, user_pairs, tmp_path):
    data = _write(tmp_path / "u.jsonl", user_pairs.take(range(4)))
    res = run_cli("train", "--model", saved["personal"], "--adapt", data, "--epochs", "3",
                  "--out", tmp_path / "p")
    assert res.code == 2 and "--epochs" in res.err and "do not apply" in res.err
