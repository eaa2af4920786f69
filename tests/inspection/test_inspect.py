"""``inspect``: reading pairs, defect checks, confounds, the flip-rate fit and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rewardlab.data import Dataset, PairRecord, load_dataset
from rewardlab.errors import ConfigError
from rewardlab.inspection import InspectConfig, fit_flip_rate, inspect_pairs, read_pairs
from rewardlab.inspection._pairs import InspectPair
from rewardlab.inspection.confounds import confound_table, feature_values
from rewardlab.inspection.duplicates import find_defects
from rewardlab.inspection.flips import (
    _ridge_strength,
    anchor_flip_rate,
    estimate_flip_rate,
    extrapolated_flip_rate,
    flip_posterior,
    linear_margins,
    mixture_flip_rate,
    profile_flip_rate,
    temperature_at,
)
from rewardlab.inspection.report import _make_model, _worst

HH = Path(__file__).resolve().parents[2] / "src/rewardlab/data/bundled/hh_harmless/pairs.jsonl"


def _rows(n: int = 12) -> list[dict]:
    return [{"id": f"p{i}", "prompt": f"Question number {i} about topic {i * 7}?",
             "chosen": f"A careful, complete answer {i} " + "with detail " * (i % 4 + 1),
             "rejected": f"short reply {i}", "subset": "a" if i % 2 else "b"}
            for i in range(n)]


def _write(path: Path, rows: list[dict], extra: str = "") -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + extra)
    return path


def _planted(tmp_path: Path) -> Path:
    rows = _rows()
    base = rows[:]
    rows.append(dict(base[1], id="exact"))
    rows.append(dict(base[2], id="near", chosen=base[2]["chosen"].upper() + "!!",
                     prompt="  " + base[2]["prompt"]))
    rows.append(dict(base[3], id="contra", chosen=base[3]["rejected"],
                     rejected=base[3]["chosen"]))
    rows.append(dict(base[4], id="same", chosen="Same  text.", rejected="Same text."))
    rows.append(dict(base[5], id="same2", rejected=base[5]["chosen"]))  # the loader refuses it
    return _write(tmp_path / "planted.jsonl", rows, '{"prompt": "x", "chosen": 3}\n')


def test_read_pairs_keeps_bad_rows_with_reasons(tmp_path: Path) -> None:
    read = read_pairs(_planted(tmp_path))
    assert len(read.pairs) == 17 and read.labelled
    assert len(read.skipped) == 1 and read.skipped[0].line == 18
    assert read.skipped[0].field == "rejected"


def test_unlabelled_and_preference_layouts(tmp_path: Path) -> None:
    path = _write(tmp_path / "u.jsonl", [
        {"prompt": "q", "response_a": "a", "response_b": "b"},
        {"prompt": "q2", "output_1": "x", "output_2": "y", "preference": 2}])
    a, b = read_pairs(path).pairs
    assert not a.labelled and b.labelled and b.chosen == "y" and b.chosen_first is False


def test_planted_defects_are_found_and_nothing_else(tmp_path: Path) -> None:
    report = find_defects(read_pairs(_planted(tmp_path)).pairs)
    assert report.exact_duplicates == ["exact"]
    assert report.near_duplicates == ["near"]
    assert report.contradictions == ["contra"]
    assert report.identical_pairs == ["same", "same2"]


def test_confounds_see_a_length_rule() -> None:
    diffs = np.array([feature_values("long answer here", "short") for _ in range(30)])
    table = confound_table(diffs)
    assert table["length"]["share"] == 1.0 and table["length"]["rule_accuracy"] == 1.0
    assert table["length"]["ci95"][0] > 0.8
    assert table["structure"]["rule_accuracy"] == 0.5  # no pair differs: a tie everywhere
    assert table["position"]["share"] is None  # chosen/rejected carry no order


@pytest.mark.parametrize("rate", [0.0, 0.15, 0.35])
def test_flip_rate_fit_recovers_known_rates(rate: float) -> None:
    rng = np.random.default_rng(1)
    d = rng.normal(0, 3, 3000)
    clean = rng.random(3000) < 1 / (1 + np.exp(-3 * d))
    flipped = rng.random(3000) < rate
    observed = np.where(clean ^ flipped, d, -d)
    estimate, _ = fit_flip_rate(observed)
    assert abs(estimate - rate) < 0.04
    mean, (lo, hi), _ = profile_flip_rate(observed)
    assert abs(mean - rate) < 0.04 and lo <= rate <= hi


def test_flip_rate_interval_is_wide_when_margins_say_nothing() -> None:
    d = np.random.default_rng(2).normal(0, 1, 500)  # margins unrelated to the labels
    _, (lo, hi), _ = profile_flip_rate(d * np.sign(np.random.default_rng(3).normal(size=500)))
    assert hi - lo > 0.3


@pytest.mark.parametrize("rate", [0.0, 0.2, 0.4])
def test_flip_mixture_recovers_known_rates_with_known_noise(rate: float) -> None:
    """Margins = (true clearness, mirrored when flipped) + noise of a known spread: the
    mixture finds the flip rate even at 40%."""
    rng = np.random.default_rng(4)
    t = rng.gamma(1.5, 1.0, 3000)
    s = np.where(rng.random(3000) < rate, -1.0, 1.0)
    fit = mixture_flip_rate(s * t + rng.normal(0, 1.0, 3000), np.full(3000, 1.0))
    # the nonparametric fit mirrors a little noise as flips: about a point too high at 0%
    assert abs(fit.estimate - rate) < 0.04 and fit.ci95[0] - 0.03 <= rate <= fit.ci95[1]
    if rate:  # flipped pairs are the ones the fit calls likely flipped
        assert fit.flip_probability[s < 0].mean() > 2 * fit.flip_probability[s > 0].mean()


def test_flip_mixture_interval_is_wide_when_margins_are_only_noise() -> None:
    d = np.random.default_rng(5).normal(0, 1.0, 500)
    fit = mixture_flip_rate(d, 1.0)
    assert fit.ci95[1] - fit.ci95[0] > 0.3


def test_ridge_strength_matches_refitting_without_each_prompt() -> None:
    """The grouped leave-one-out read from one SVD picks the ridge that refitting without
    each prompt group, one at a time, would pick."""
    rng = np.random.default_rng(6)
    x = rng.normal(size=(40, 8)) + 0.3
    group = np.repeat(np.arange(25), [2] * 15 + [1] * 10)   # 15 prompts with two pairs
    y = np.ones(40)
    grid = np.logspace(-2, 3, 11)
    errors = []
    for lam in grid:
        err = 0.0
        for g in np.unique(group):
            out = group == g
            w = np.linalg.solve(x[~out].T @ x[~out] + lam * np.eye(8), x[~out].T @ y[~out])
            err += float(((y[out] - x[out] @ w) ** 2).sum())
        errors.append(err)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    chosen = _ridge_strength(u, s * s, u.T @ y, y, group, grid)
    assert chosen == grid[int(np.argmin(errors))]


def test_linear_margins_see_through_symmetric_flips() -> None:
    """A linear preference with 30% of the labels flipped: the held-out margins still
    side with the clean labels, and the flipped pairs get the negative margins."""
    rng = np.random.default_rng(7)
    clean = rng.normal(size=(1200, 30)) + np.r_[1.5, np.zeros(29)]   # best: 93% right
    flipped = rng.random(1200) < 0.3
    m, sd, ridge = linear_margins(np.where(flipped[:, None], -clean, clean),
                                  np.arange(1200) % 5, np.arange(1200))
    assert ((m > 0) != flipped).mean() > 0.88
    assert np.all(sd > 0) and np.all(ridge > 0)
    est, (lo, hi), _ = profile_flip_rate(m)
    assert lo <= 0.3 <= hi and abs(est - 0.3) < 0.06


def test_anchor_reading_counts_disagreements_among_confident_pairs() -> None:
    rng = np.random.default_rng(8)
    d = np.abs(rng.normal(0, 2, 2000))
    flipped = rng.random(2000) < 0.25
    a = anchor_flip_rate(np.where(flipped, -d, d))
    assert abs(a["estimate"] - 0.25) < 0.06 and a["ci95"][0] <= 0.25 <= a["ci95"][1]
    # the smallest confident set whose interval is at most +-5 points wide
    assert a["ci95"][1] - a["ci95"][0] <= 0.1 and 100 < a["pairs"] < 2000


@pytest.mark.parametrize("eps", [0.1, 0.25, 0.4])
def test_extrapolated_anchor_removes_the_models_own_errors(eps: float) -> None:
    # the model errs more the less sure it is: disagreement eps + (1 - 2 eps) * 0.8 u at
    # confidence rank u, so every confident set holds some of its errors; the line through
    # the confident half reads the intercept, eps
    rng = np.random.default_rng(5)
    n = 20000
    u = (np.arange(n) + 0.5) / n
    disagree = rng.random(n) < eps + (1 - 2 * eps) * 0.8 * u
    d = np.linspace(5, 0.001, n)
    margins = np.where(disagree, -d, d)
    line = extrapolated_flip_rate(margins)
    assert abs(line["estimate"] - eps) < 0.03 and line["ci95"][0] <= eps <= line["ci95"][1]
    assert abs(line["slope"] - 0.8 * (1 - 2 * eps)) < 0.15 and line["pairs"] == n // 2
    # a model with no errors at all: the line is flat at eps
    flat = extrapolated_flip_rate(np.where(rng.random(n) < eps, -d, d))
    assert abs(flat["estimate"] - eps) < 0.03 and abs(flat["slope"]) < 0.1
    with pytest.raises(ConfigError, match="at least 20 pairs; 39 scored pairs give 19"):
        extrapolated_flip_rate(np.r_[d[:39], np.nan])


class _Features:
    """A model whose frozen features are a lookup: the reply's vector."""

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table

    def features(self, prompts: list, responses: list[str]) -> np.ndarray:
        return np.stack([self.table[r] for r in responses])


def test_flip_estimate_uses_a_linear_head_on_the_models_features() -> None:
    rng = np.random.default_rng(9)
    n, dim = 600, 12
    good, bad = rng.normal(size=(n, dim)), rng.normal(size=(n, dim))
    good[:, 0] += 1.5                          # the clean preference: more of feature 0
    flipped = rng.random(n) < 0.2
    table = {f"g{i}": good[i] for i in range(n)} | {f"b{i}": bad[i] for i in range(n)}
    records = tuple(PairRecord(prompt=f"q{i}", id=i,
                               chosen=f"b{i}" if flipped[i] else f"g{i}",
                               rejected=f"g{i}" if flipped[i] else f"b{i}") for i in range(n))
    data = Dataset(task="pairwise", records=records, source="synthetic", form="test")
    flip = estimate_flip_rate(lambda seed: _Features(table), data, folds=5, learner="auto")
    doc = flip.to_json()
    assert doc["learner"] == "linear" and len(doc["ridge"]) == 5
    # from 400 scored pairs the extrapolated anchor is the headline, with the profile
    # likelihood's and the anchor's readings kept beside it
    assert doc["selected"] == "extrapolated"
    assert doc["estimate"] == doc["extrapolated"]["estimate"]
    assert doc["extrapolated"]["pairs"] == 300
    assert abs(doc["profile"]["estimate"] - 0.2) < 0.05
    # its interval on 300 confident pairs is about +-9 points at 20% flips
    assert abs(flip.estimate - 0.2) < 0.08 and flip.ci95[0] <= 0.2 <= flip.ci95[1]
    assert doc["anchor"]["estimate"] >= 0.15 and doc["noise_limited"]["estimate"] > 0.1
    # the least-plausible list reads each pair's flip probability at the headline rate, with
    # the temperature fitted at that rate (not the profile's), so the flipped pairs lead it
    # and the probabilities average to about the rate the report states
    assert flip.temperature == pytest.approx(temperature_at(flip.margins, flip.estimate))
    post = flip_posterior(flip.margins, flip.estimate, flip.temperature)
    assert abs(post.mean() - flip.estimate) < 0.05
    pairs = [InspectPair(prompt=f"q{i}", first="", second="", id=i, labelled=True, line=i + 1)
             for i in range(n)]
    worst = _worst(pairs, flip.margins, flip, 20)
    assert [w["flip_probability"] for w in worst] == pytest.approx(sorted(post)[::-1][:20])
    assert np.mean([flipped[w["id"]] for w in worst]) >= 0.8
    with pytest.raises(ConfigError, match="features"):
        estimate_flip_rate(lambda seed: object(), data, learner="linear")


def test_inspect_report_json_keys_and_verdicts(tmp_path: Path) -> None:
    report = inspect_pairs(_planted(tmp_path), InspectConfig(model=None, embeddings=False))
    doc = report.to_json()
    for key in ("rows", "skipped", "exact_duplicates", "near_duplicates", "contradictions",
                "identical_pairs", "confounds", "flip_rate"):
        assert key in doc
    assert doc["rows"] == 17 and doc["skipped"]["count"] == 1
    assert doc["verdicts"]["contradictions"]["verdict"] == "warn"
    assert doc["verdict"] == "warn"
    assert {"a", "b"} <= {row["subset"] for row in doc["subsets"]}


def test_streaming_pass_matches_the_full_one(tmp_path: Path) -> None:
    path = _planted(tmp_path)
    full = inspect_pairs(path, InspectConfig(model=None, embeddings=False)).to_json()
    streamed = inspect_pairs(path, InspectConfig(stream=True)).to_json()
    for key in ("exact_duplicates", "contradictions", "identical_pairs", "confounds"):
        assert streamed[key] == full[key]
    assert streamed["near_duplicates"]["ids"] == full["near_duplicates"]["ids"]


def test_cli_inspect_fail_on_warn_and_bad_input(run_cli, tmp_path: Path) -> None:
    path = _planted(tmp_path)
    out = tmp_path / "r.json"
    html = tmp_path / "r.html"
    result = run_cli("inspect", path, "--model", "none", "--no-embeddings", "--json", out,
                     "--html", html, "--fail-on", "warn")
    assert result.code == 1, result.err
    assert json.loads(out.read_text())["contradictions"]["ids"] == ["contra"]
    assert "Preference data inspection" in html.read_text()
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = run_cli("inspect", empty, "--model", "none")
    assert result.code == 2 and "error" in result.err and "empty.jsonl" in result.err
    many = _write(tmp_path / "many.jsonl", _rows(12))
    result = run_cli("inspect", many, "--no-embeddings", "--folds", "2", "--flip-learner", "x")
    assert result.code == 2 and "learner" in result.err and "peers" in result.err


def test_cli_inspect_one_pair_and_unlabelled(run_cli, tmp_path: Path) -> None:
    one = _write(tmp_path / "one.jsonl", _rows(1))
    result = run_cli("inspect", one, "--no-embeddings")
    assert result.code == 0, result.err
    assert "needs at least" in result.err  # the flip estimate is skipped with a reason
    unl = _write(tmp_path / "u.jsonl", [{"prompt": "q", "id": i, "response_a": "a",
                                         "response_b": "a" if i == 0 else "b"}
                                        for i in range(4)])
    out = tmp_path / "u.json"
    result = run_cli("inspect", unl, "--no-embeddings", "--json", out)
    assert result.code == 0, result.err
    doc = json.loads(out.read_text())
    assert "needs labelled pairs" in doc["flip_rate"]["skipped"]
    assert doc["identical_pairs"]["count"] == 1 and doc["exact_duplicates"]["count"] == 2


def test_a_reversed_confound_warns_too(tmp_path: Path) -> None:
    rows = [{"prompt": f"q{i}", "chosen": "no", "rejected": "a much longer reply " * 3}
            for i in range(20)]
    doc = inspect_pairs(_write(tmp_path / "short.jsonl", rows),
                        InspectConfig(model=None, embeddings=False)).to_json()
    assert doc["confounds"]["length"]["rule_accuracy"] == 0.0
    assert doc["verdicts"]["confound:length"]["verdict"] == "warn"


@pytest.mark.slow  # ~35 s: MiniLM embeds 12 pairs into the session's empty cache
def test_flip_estimate_cross_fits_a_real_model() -> None:
    report = inspect_pairs("bundled:hh_harmless", InspectConfig(
        model="embed:minilm", folds=2, embeddings=False, worst=5), limit=12)
    flip = report.to_json()["flip_rate"]
    assert 0.0 <= flip["ci95"][0] <= flip["estimate"] <= flip["ci95"][1] <= 0.5
    assert flip["folds"] == 2 and np.isfinite(report.flip.margins).all()
    # 12 pairs are too few for the anchor reading's +-5-point interval, so the headline
    # falls back to the profile estimate on two peers' margins per fold; the noise-limited
    # and anchor readings are listed beside it
    assert not flip["anchor"]["reached_half_width"] and flip["anchor"]["pairs"] == 12
    assert flip["selected"] == "profile" and flip["learner"] == "peers"
    assert "extrapolated" not in flip                 # a line through 6 pairs says nothing
    assert round(flip["estimate"], 4) == flip["profile"]["estimate"]
    lo, hi = flip["noise_limited"]["ci95"]
    assert 0.0 <= lo <= flip["noise_limited"]["estimate"] <= hi <= 0.5
    worst = report.to_json()["least_plausible"]
    assert len(worst) == 5
    assert worst[0]["flip_probability"] >= worst[-1]["flip_probability"]
    from rewardlab.inspection._html import inspect_html

    assert "Anchor reading" in inspect_html(report.to_json())
    # the linear head on MiniLM's own features, the cheaper learner
    data = load_dataset("bundled:hh_harmless", limit=12)
    linear = estimate_flip_rate(_make_model("embed:minilm"), data, folds=2, learner="linear")
    assert linear.learner == "linear" and 0.0 <= linear.estimate <= 0.5
    assert np.isfinite(linear.margins).all() and len(linear.to_json()["ridge"]) == 2


def test_subset_flip_estimates_are_read_as_the_headline_is() -> None:
    from rewardlab.inspection.duplicates import DefectReport
    from rewardlab.inspection.report import _subset_table

    rng = np.random.default_rng(4)
    d = rng.normal(0, 3, 700)
    flipped = rng.random(700) < 0.3
    margins = np.where(flipped, -np.abs(d), np.abs(d))
    subsets = ["big"] * 500 + ["small"] * 120 + ["tiny"] * 80
    subsets[600:620] = ["one-off"] * 20
    rows = {r["subset"]: r for r in _subset_table(subsets, list(range(700)), DefectReport(),
                                                   None, margins)}
    # 500 pairs: the extrapolated anchor, as for the whole set; 100 and 80: the profile;
    # 20: too few to say anything
    assert rows["big"]["flip_reading"] == "extrapolated"
    assert abs(rows["big"]["flip_estimate"] - flipped[:500].mean()) < 0.1
    assert rows["small"]["flip_reading"] == rows["tiny"]["flip_reading"] == "profile"
    assert rows["one-off"]["flip_estimate"] is None and rows["one-off"]["flip_reading"] is None


@pytest.mark.parametrize(("line", "field", "reason"), [
    ('{"prompt": "p", "chosen": 5, "rejected": "b"}', "'chosen'", "must be a string"),
    ('{"prompt": "p", "chosen": ["a"], "rejected": "b"}', "'chosen[0]'", "message object"),
    ('{"prompt": "p", "chosen": null, "rejected": "b"}', "'chosen'", "is missing"),
    ('{"prompt": "p", "response_a": "a"}', "'response_b'", "is missing"),
])
@pytest.mark.parametrize("stream", [False, True])
def test_cli_inspect_no_pair_names_the_line_and_field(run_cli, tmp_path: Path, line: str,
                                                      field: str, reason: str,
                                                      stream: bool) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text(line + "\n")
    result = run_cli("inspect", bad, "--model", "none", "--no-embeddings",
                     *(["--stream"] if stream else []))
    assert result.code == 2 and "Traceback" not in result.err
    err = " ".join(result.err.split())  # the console wraps long lines
    assert f"bad.jsonl: none of its 1 rows is a pair; the first problem, at line 1, field " \
           f"{field}: " in err and reason in err


def _with_ties(tmp_path: Path) -> Path:
    """Twelve pairs with a preference, two ties (AlpacaEval's 1.5): labelled checks must
    still run on the twelve."""
    rows = [{"id": r["id"], "prompt": r["prompt"], "response_a": r["chosen"],
             "response_b": r["rejected"], "preference": 1, "subset": r["subset"]}
            for r in _rows(12)]
    rows += [{"id": f"tie{i}", "prompt": f"tie question {i}?", "response_a": "a long tie " * 9,
              "response_b": "b", "preference": 1.5} for i in range(2)]
    return _write(tmp_path / "ties.jsonl", rows)


@pytest.mark.parametrize("stream", [False, True])
def test_a_few_ties_do_not_switch_off_the_label_checks(tmp_path: Path, stream: bool) -> None:
    report = inspect_pairs(_with_ties(tmp_path), InspectConfig(model=None, embeddings=False,
                                                               stream=stream))
    doc = report.to_json()
    assert doc["rows"] == 14 and doc["confounds"] is not None
    # every labelled pair's chosen reply is the longer one; the ties are not counted
    assert doc["confounds"]["length"]["share"] == 1.0
    assert any("2 of 14 pairs carry no preference" in n for n in doc["notes"])


@pytest.mark.slow  # ~12 s: MiniLM embeds 14 new pairs
def test_flip_estimate_runs_on_the_labelled_pairs_beside_ties(tmp_path: Path) -> None:
    report = inspect_pairs(_with_ties(tmp_path), InspectConfig(model="embed:minilm?epochs=3",
                                                               embeddings=False, folds=2))
    assert report.flip is not None and len(report.flip.margins) == 12
    assert not {w["id"] for w in report.worst} & {"tie0", "tie1"}


def test_cli_inspect_names_a_skipped_row_without_json(run_cli, tmp_path: Path) -> None:
    result = run_cli("inspect", _planted(tmp_path), "--model", "none", "--no-embeddings")
    assert result.code == 0, result.err
    err = " ".join(result.err.split())
    assert "skipped 1 row(s):" in err and "line 18 field 'rejected': is missing" in err


@pytest.mark.parametrize("stream", [False, True])
def test_contradictions_are_found_among_the_labelled_pairs_beside_ties(tmp_path: Path,
                                                                       stream: bool) -> None:
    path = _with_ties(tmp_path)
    rows = [json.loads(x) for x in path.read_text().splitlines()]
    flip = dict(rows[3], id="flip3", response_a=rows[3]["response_b"],
                response_b=rows[3]["response_a"])  # the same pair, the other reply preferred
    tie = dict(rows[-1], id="tie-swapped", response_a=rows[-1]["response_b"],
               response_b=rows[-1]["response_a"])  # a tie's swapped copy: a near duplicate
    _write(path, [*rows, flip, tie])
    doc = inspect_pairs(path, InspectConfig(model=None, embeddings=False,
                                            stream=stream)).to_json()
    assert doc["contradictions"]["ids"] == ["flip3"]
    assert "tie-swapped" in doc["near_duplicates"]["ids"]


def test_a_profile_reading_below_the_interval_is_reported_as_a_weak_model():
    from rewardlab.inspection.flips import FlipEstimate
    from rewardlab.inspection.report import weak_model_note

    def flip(profile: float, selected: str = "extrapolated") -> FlipEstimate:
        return FlipEstimate(estimate=0.42, ci95=(0.39, 0.45), method="", temperature=1.0,
                            margins=np.zeros(3), agreement=0.58, folds=5, model="m",
                            profile={"estimate": profile}, selected=selected)

    said = weak_model_note(flip(0.25))
    assert said is not None and "(0.250) is below" in said and "0.580 of the labels" in said
    assert weak_model_note(flip(0.40)) is None             # inside the interval: no gap
    assert weak_model_note(flip(0.25, "profile")) is None  # the profile is the headline
