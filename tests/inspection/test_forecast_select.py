"""``forecast`` (the Gao best-of-n fit) and ``select`` (acquisition and the CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rewardlab.audit.forecast import fit_gao, forecast_best_of_n, gao_curve, kl_bon
from rewardlab.errors import ConfigError
from rewardlab.inspection.selection import acquisition, select_pairs


def test_gao_fit_recovers_parameters_and_peak() -> None:
    rng = np.random.default_rng(0)
    ks = np.arange(1, 33)
    d = np.sqrt(kl_bon(ks))
    values = 0.1 + d * (0.4 - 0.15 * d) + rng.normal(0, 0.05, (200, len(ks)))
    fit = fit_gao(ks, values, n_boot=100)
    assert fit.alpha_ci[0] <= 0.4 <= fit.alpha_ci[1]
    assert fit.beta_ci[0] <= 0.15 <= fit.beta_ci[1]
    assert fit.peak_n is not None and 12 < fit.peak_n < 18  # d* = 4/3: KL 1.78, n ~ 15
    assert abs(float(fit.predict(1)) - 0.1) < 0.02


def test_gao_fit_needs_three_distinct_k() -> None:
    with pytest.raises(ConfigError, match="at least 3 distinct k"):
        fit_gao([1, 2], np.ones((4, 2)))


def test_forecast_from_scores_rising_gold_has_no_peak() -> None:
    rng = np.random.default_rng(1)
    gold = [rng.random(6) for _ in range(50)]
    proxy = [g + rng.normal(0, 0.05, 6) for g in gold]  # a proxy that tracks the gold
    fc = forecast_best_of_n(proxy, gold, n_boot=20)
    assert fc.gold[-1] > fc.gold[0]
    assert fc.to_json()["recommended_n"] >= 6 or fc.gold_fit.peak_n > 6
    assert float(gao_curve(np.array(0.0), 1.0, 1.0)) == 0.0


def _bon(path: Path, n: int, rows: int = 4, reference: bool = False) -> Path:
    lines = []
    for i in range(rows):
        row = {"prompt": f"What is {i} + 1?", "responses": [f"It is {i + j}." for j in
                                                             range(n)],
               "is_correct": [j == 1 for j in range(n)]}
        if reference:
            row["reference"] = str(i + 1)
        lines.append(json.dumps(row))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cli_forecast_bad_input(run_cli, tmp_path: Path) -> None:
    result = run_cli("forecast", "vote:", _bon(tmp_path / "two.jsonl", 2))
    assert result.code == 2 and "at least 3 distinct k" in result.err
    # a gold model that cannot score the rows: a verifier without reference answers
    result = run_cli("forecast", "vote:", _bon(tmp_path / "four.jsonl", 4), "--gold",
                     "verify:math")
    assert result.code == 2 and "four.jsonl" in result.err, result.err


def test_cli_forecast_prints_its_notes(run_cli, tmp_path: Path) -> None:
    path = _bon(tmp_path / "one.jsonl", 4, rows=1)
    result = run_cli("forecast", "vote:", path, "--n-boot", "10")
    assert result.code == 0, result.err
    assert "note: only 1 problem" in " ".join(result.err.split())
    result = run_cli("forecast", "vote:", _bon(tmp_path / "four.jsonl", 4), "--fit-max-k", "9",
                     "--n-boot", "10")
    assert result.code == 0, result.err
    assert "nothing above fit_max_k = 9 is held out" in " ".join(result.err.split())


def test_cli_forecast_writes_fit(run_cli, tmp_path: Path) -> None:
    out = tmp_path / "fc.json"
    html = tmp_path / "fc.html"
    result = run_cli("forecast", "vote:", _bon(tmp_path / "four.jsonl", 4, rows=6),
                     "--json", out, "--html", html, "--n-boot", "20")
    assert result.code == 0, result.err
    doc = json.loads(out.read_text())
    assert [p["k"] for p in doc["points"]] == [1, 2, 3, 4]
    assert "alpha_ci95" in doc["gold_fit"] and "<svg" in html.read_text()


def test_acquisition_orders_what_members_do_not_know() -> None:
    m = np.array([[4.0, 0.0, 4.0, 0.5], [4.0, 0.0, -4.0, -0.5]])
    assert int(np.argmax(acquisition(m, "bald"))) == 2
    assert int(np.argmax(acquisition(m, "disagreement"))) == 2
    assert int(np.argmin(acquisition(m, "entropy"))) == 0
    with pytest.raises(ConfigError, match="at least 2"):
        acquisition(m[:1], "bald")


def test_select_budget_and_diversity() -> None:
    m = np.array([[0.1, 0.2, 0.15, 3.0], [-0.1, -0.2, -0.15, 3.0]])
    with pytest.raises(ConfigError, match="larger than the pool of 4"):
        select_pairs(m, 5)
    emb = np.array([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0], [0.5, 0.5]])
    picked = select_pairs(m, 2, strategy="disagreement", diverse=True, embeddings=emb)
    # pairs 0 and 1 are near copies: a diverse batch takes one of them and pair 2
    assert 2 in picked.indices.tolist() and len(set(picked.indices.tolist()) & {0, 1}) == 1


def test_cli_select_budget_larger_than_pool(run_cli, tmp_path: Path) -> None:
    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps({"prompt": f"q{i}", "response_a": "a",
                                        "response_b": "b"}) + "\n" for i in range(3)))
    result = run_cli("select", pool, "--model", "embed:minilm", "--budget", "5", "--out",
                     tmp_path / "picked.csv")
    assert result.code == 2 and "larger than the pool of 3" in result.err
    assert not (tmp_path / "picked.csv").exists()


def test_cli_select_no_pair_names_the_line_and_field(run_cli, tmp_path: Path) -> None:
    pool = tmp_path / "pool.jsonl"
    pool.write_text('{"prompt": "q", "response_a": 5, "response_b": "b"}\n')
    result = run_cli("select", pool, "--model", "embed:minilm", "--budget", "1", "--out",
                     tmp_path / "picked.csv")
    assert result.code == 2
    assert "pool.jsonl: none of its 1 rows is a pair; the first problem, at line 1, field " \
           "'response_a': must be a string" in " ".join(result.err.split())


def test_cli_select_writes_every_skipped_row_beside_the_output(run_cli, trained_embed,
                                                               tmp_path: Path) -> None:
    trained_embed.save(tmp_path / "m")
    rows = [{"prompt": f"q{i}", "response_a": "yes", "response_b": "no"} for i in range(3)]
    rows[1] = {"prompt": "q1", "response_a": 1, "response_b": "no"}
    rows.append({"prompt": "q3", "response_a": "yes"})
    pool = tmp_path / "pool.jsonl"
    pool.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = run_cli("select", pool, "--model", tmp_path / "m", "--budget", "1", "--strategy",
                     "entropy", "--out", tmp_path / "picked.csv")
    assert result.code == 0, result.err
    skipped = [json.loads(x) for x in
               (tmp_path / "picked.skipped.jsonl").read_text().splitlines()]
    assert [(s["line"], s["field"]) for s in skipped] == [(2, "response_a"), (4, "response_b")]
    assert "picked.skipped.jsonl" in result.err


class _GoldWithHoles:
    """A gold model that cannot score some candidates (NaN), as a judge whose request failed
    does: here, every candidate saying 'It is 2.'."""

    def score(self, prompts, responses):
        return np.array([float("nan") if r == "It is 2." else float(len(r)) for r in responses])


def test_forecast_skips_and_reports_problems_the_gold_cannot_score(tmp_path: Path) -> None:
    from rewardlab.audit.forecast import forecast
    from rewardlab.data import load_dataset
    from rewardlab.errors import DataError
    from rewardlab.models import resolve

    data = load_dataset(_bon(tmp_path / "bon.jsonl", 4, rows=6), format="best-of-n")
    result = forecast(resolve("vote:"), data, gold=_GoldWithHoles(), n_boot=10)
    # 'It is 2.' is among rows 0..2's candidates: those three are skipped, by line
    assert result.n_problems == 3
    assert any("3 of 6 problems skipped" in n and "line 1 (gold)" in n and "line 3 (gold)" in n
               for n in result.notes), result.notes
    one = load_dataset(_bon(tmp_path / "one.jsonl", 4, rows=2), format="best-of-n")
    with pytest.raises(DataError, match=r"no row can be forecast.*line 1.*gold model"):
        forecast(resolve("vote:"), one, gold=_GoldWithHoles(), n_boot=10)


def test_diverse_selection_meets_the_budget_when_pairs_repeat() -> None:
    import warnings

    m = np.array([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [-0.1, -0.2, -0.3, -0.4, -0.5, -0.6]])
    emb = np.array([[1.0, 0.0], [0.0, 1.0]] * 3)  # three copies of two pairs
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # sklearn's ConvergenceWarning is not the user's
        picked = select_pairs(m, 3, strategy="disagreement", diverse=True, embeddings=emb)
    assert len(picked.indices) == 3 and len(set(picked.indices.tolist())) == 3
    assert "filled in" in picked.reason(2) and "best of cluster" in picked.reason(0)


def test_recommended_n_is_a_whole_number_of_samples() -> None:
    from rewardlab.audit.forecast import Forecast

    ks = np.arange(1, 33)
    truth = 0.2 + gao_curve(np.sqrt(kl_bon(ks)), 0.5, 0.2)
    fit = fit_gao(ks, np.tile(truth, (5, 1)), n_boot=10)
    fc = Forecast(ks=ks, gold=truth, proxy=truth, gold_fit=fit, proxy_fit=fit, n_problems=5,
                  fit_max_k=32, gold_source="synthetic")
    n = fc.to_json()["recommended_n"]
    assert n == int(n) and abs(n - fit.peak_n) < 1  # the peak itself is a fraction
    other = np.floor(fit.peak_n) if n > fit.peak_n else np.ceil(fit.peak_n)
    assert fit.predict(n) >= fit.predict(other)
