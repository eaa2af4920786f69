"""The scoring layer: ``iter_scored_rows`` asks a generative judge each pair in the same order
however the data is cut (chunks, Ray shards); ``score_batch`` routes by declared capability and
checks every result, so a kind that breaks the contract gets one clear error in every
consumer."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path

import httpx
import numpy as np
import pytest

from rewardlab import resolve
from rewardlab.adapters import AsyncTRLRewardFunction, TRLRewardFunction
from rewardlab.bench import run_bench
from rewardlab.data import Dataset, PairRecord
from rewardlab.errors import CapabilityError, ConfigError, ScoringError, TrainingError
from rewardlab.judge import PairJudgment, Verdict
from rewardlab.models.base import GroupDependent
from rewardlab.scoring import call_model, iter_scored_rows, score_batch, score_solutions
from rewardlab.serve import BackgroundServer, ServeConfig, create_app


class FirstSlotJudge:
    """Always prefers whatever it is shown first: its reward for the chosen reply says which
    order the pair was asked in."""

    compares_pairs = True

    def score(self, prompts, responses):  # the RewardModel protocol; not used here
        return np.zeros(len(responses))

    def compare(self, prompts, a, b, *, swap=False):
        return np.ones(len(a))

    def judge_pairs(self, prompts, a, b, *, swap=None):
        return [PairJudgment(p=1.0, forward=Verdict(value=1.0)) for _ in a]


def _pairs(n: int) -> Dataset[PairRecord]:
    records = tuple(PairRecord(prompt=f"q{i}", chosen=f"good {i}", rejected=f"bad {i}", id=i)
                    for i in range(n))
    return Dataset(task="pairwise", records=records, source="mem", form="")


def test_order_follows_the_position_not_the_chunk() -> None:
    data = _pairs(11)
    whole = [row["chosen_shown_first"] for row in iter_scored_rows(FirstSlotJudge(), data)]
    assert whole == [i % 2 == 0 for i in range(11)]
    chunked = [row["chosen_shown_first"]
               for row in iter_scored_rows(FirstSlotJudge(), data, chunk_size=3)]
    assert chunked == whole
    # a shard starting at row 5 (odd) continues the file's alternation
    shard = Dataset(task="pairwise", records=data.records[5:], source="mem", form="")
    tail = list(iter_scored_rows(FirstSlotJudge(), shard, chunk_size=4, first_index=5))
    assert [row["chosen_shown_first"] for row in tail] == whole[5:]
    assert [row["reward_chosen"] for row in tail] == [float(f) for f in whole[5:]]


# --- bad input: a third-party kind that breaks the contract ---------------------------------
#
# One clear error naming the kind and the check, from the scoring layer, in every consumer:
# the CLI (exit 2, ``error: ...``), the server (502), the RL adapters (ScoringError) and bench
# (the row skipped with the reason). NaN stays each consumer's own policy.


class BrokenKind:
    """A third-party kind: ``test-broken:MODE`` returns the wrong shape (``shape``), one
    reward too few (``short``), a list (``list``), text (``text``), NaN (``nan``), or raises
    (``raise``)."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    @classmethod
    def from_spec(cls, arg: str, options: dict[str, str]) -> BrokenKind:
        return cls(arg)

    @classmethod
    def load(cls, directory, manifest):  # pragma: no cover - never saved
        raise NotImplementedError

    def score(self, prompts, responses):
        n = len(responses)
        if self.mode == "raise":
            raise KeyError("the tokenizer went missing")
        return {"shape": np.zeros((n, 2)), "short": np.zeros(n - 1), "list": [0.5] * n,
                "text": np.array(["high"] * n), "nan": np.full(n, np.nan)}[self.mode]


#: mode -> what the message must say (after "model 'test-broken:MODE' ")
BROKEN = {
    "shape": r"failed the scoring check: score\(\) returned rewards of shape \(4, 2\) for 4 "
             r"responses",
    "short": r"failed the scoring check: score\(\) returned rewards of shape \(3,\) for 4",
    "list": r"failed the scoring check: score\(\) returned list as rewards; it must return a "
            r"numpy array",
    "text": r"failed the scoring check: score\(\) returned rewards of dtype <U4",
    "raise": r"failed in score\(\): KeyError: 'the tokenizer went missing'",
}


@pytest.fixture
def broken(monkeypatch: pytest.MonkeyPatch):
    """``test-broken:`` registered with the public decorator for one test only."""
    from rewardlab.models import registry

    registry.known_kinds()  # load the built-in kinds before the registry is copied
    monkeypatch.setattr(registry, "_KINDS", dict(registry._KINDS))
    registry.register_kind("test-broken")(BrokenKind)
    return lambda mode: registry.resolve(f"test-broken:{mode}")


@pytest.fixture
def pairs_file(tmp_path: Path) -> Path:
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"q{i}", "chosen": f"good {i}",
                                        "rejected": f"bad {i}"}) + "\n" for i in range(2)),
                    encoding="utf-8")
    return path


@pytest.mark.parametrize("mode", sorted(BROKEN))
def test_score_batch_names_the_kind_and_the_check(broken, mode: str) -> None:
    with pytest.raises(ScoringError, match=f"model 'test-broken:{mode}' {BROKEN[mode]}"):
        score_batch(broken(mode), ["q"] * 4, ["a", "b", "c", "d"])


def test_an_exception_inside_a_model_is_chained(broken) -> None:
    with pytest.raises(ScoringError) as info:
        score_batch(broken("raise"), ["q"], ["a"])
    assert isinstance(info.value.__cause__, KeyError)


def test_nan_passes_the_check_for_each_consumer_to_handle(broken) -> None:
    assert np.isnan(score_batch(broken("nan"), ["q", "q"], ["a", "b"]).rewards).all()


def test_rewardlab_errors_from_a_model_pass_unchanged() -> None:
    with pytest.raises(CapabilityError, match="checks answers against reference answers"):
        call_model(object(), "score", resolve("verify:math").score, ["q"], ["a"])


@pytest.mark.parametrize("mode", sorted(BROKEN))
def test_cli_score_exits_2_naming_the_kind_and_the_check(broken, run_cli, pairs_file: Path,
                                                         tmp_path: Path, mode: str) -> None:
    result = run_cli("score", f"test-broken:{mode}", pairs_file, "--out", tmp_path / "o.jsonl")
    assert result.code == 2, result.err
    assert re.search(f"error: model 'test-broken:{mode}' "
                     + BROKEN[mode].replace("4", "[0-9]"), " ".join(result.err.split()))
    assert "Traceback" not in result.err


def test_cli_score_writes_null_for_nan(broken, run_cli, pairs_file: Path,
                                       tmp_path: Path) -> None:
    out = tmp_path / "o.jsonl"
    assert run_cli("score", "test-broken:nan", pairs_file, "--out", out).code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["reward_chosen"], r["reward_rejected"]) for r in rows] == [(None, None)] * 2


@pytest.mark.parametrize("mode", ["shape", "list", "raise"])
def test_server_answers_502_naming_the_kind(broken, mode: str) -> None:
    app = create_app(broken(mode), ServeConfig(max_batch=8), warm_up=False)
    with BackgroundServer(app) as server:
        v1 = httpx.post(server.url + "/v1/score", timeout=30, json={"items": [
            {"prompt": "p", "response": r} for r in ("a", "b", "c", "d")]})
        rm = httpx.post(server.url + "/get_reward", timeout=30,
                        json={"query": ["a", "b", "c", "d"]})
    for response in (v1, rm):
        assert response.status_code == 502, response.text
        assert re.search(f"model 'test-broken:{mode}' {BROKEN[mode]}",
                         response.json()["detail"])


def test_server_keeps_its_nan_policy(broken) -> None:
    app = create_app(broken("nan"), ServeConfig(max_batch=8), warm_up=False)
    with BackgroundServer(app) as server:
        v1 = httpx.post(server.url + "/v1/score", timeout=30,
                        json={"items": [{"prompt": "p", "response": "a"}]})
        rm = httpx.post(server.url + "/get_reward", timeout=30, json={"query": ["a"]})
    assert v1.status_code == 200
    assert v1.json()["results"][0]["reward"] is None
    assert "test-broken:nan" in v1.json()["results"][0]["error"]
    assert rm.status_code == 502 and "non-finite reward" in rm.json()["detail"]


@pytest.mark.parametrize("mode", sorted(BROKEN))
def test_trl_reward_function_raises_scoring_error(broken, mode: str) -> None:
    reward = TRLRewardFunction(broken(mode))
    with pytest.raises(ScoringError, match=f"model 'test-broken:{mode}' {BROKEN[mode]}"):
        reward(prompts=["q"] * 4, completions=["a", "b", "c", "d"])


def test_trl_async_reward_function_raises_scoring_error(broken) -> None:
    reward = AsyncTRLRewardFunction(broken("list"))
    with pytest.raises(ScoringError, match=f"model 'test-broken:list' {BROKEN['list']}"):
        asyncio.run(reward(prompts=["q"] * 4, completions=["a", "b", "c", "d"]))


def test_adapters_keep_their_nan_policy(broken) -> None:
    with pytest.raises(TrainingError, match="returned nan for sample 0"):
        TRLRewardFunction(broken("nan"))(prompts=["q"], completions=["a"])
    lenient = TRLRewardFunction(broken("nan"), nan_policy="none")
    assert lenient(prompts=["q"], completions=["a"]) == [None]


@pytest.mark.parametrize("mode", ["short", "raise"])
def test_bench_shows_the_row_as_skipped_with_the_reason(broken, pairs_file: Path,
                                                        mode: str) -> None:
    result = run_bench([broken(mode)], str(pairs_file), n_boot=100)
    (row,) = result.models[0].rows
    assert row.skipped is not None
    assert re.search(f"model 'test-broken:{mode}' " + BROKEN[mode].replace("4", "[0-9]"),
                     row.skipped)


# --- routing by declared capability ---------------------------------------------------------


class Grouped:
    """GroupDependent: each reward is the size of its group in the call."""

    def score(self, prompts, responses):
        return self.score_groups(prompts, responses)

    def score_groups(self, prompts, responses, groups=None):
        ids = list(prompts if groups is None else groups)
        return np.array([float(ids.count(g)) for g in ids])


class Spread:
    """UncertainScorer whose uncertainty comes back in the wrong shape."""

    def score(self, prompts, responses):
        return np.zeros(len(responses))

    def score_with_uncertainty(self, prompts, responses):
        return np.zeros(len(responses)), np.zeros(len(responses) + 1)


def test_group_dependent_models_get_whole_groups() -> None:
    assert isinstance(Grouped(), GroupDependent)
    assert score_batch(Grouped(), ["a", "a", "b"], ["x", "y", "z"]).rewards.tolist() == [
        2.0, 2.0, 1.0]
    by_id = score_batch(Grouped(), ["a", "a", "b"], ["x", "y", "z"], groups=[0, 1, 1])
    assert by_id.rewards.tolist() == [1.0, 2.0, 2.0]


def test_uncertainty_is_checked_too() -> None:
    with pytest.raises(ScoringError, match=r"'Spread' failed the scoring check: "
                                           r"score_with_uncertainty\(\) returned uncertainty "
                                           r"of shape \(3,\) for 2"):
        score_batch(Spread(), ["q", "q"], ["a", "b"])


def test_a_missing_reference_names_the_item_and_the_model() -> None:
    verifier = resolve("verify:math")
    with pytest.raises(ConfigError, match="item 1 has no reference answer, which model "
                                          "'verify:math'"):
        score_batch(verifier, ["q", "q"], ["#### 4", "#### 4"], references=["4", None])
    with pytest.raises(CapabilityError, match="'verify:math' checks each response against a "
                                              "reference answer, and this batch has none"):
        score_batch(verifier, ["q"], ["#### 4"])
    assert score_batch(verifier, ["q"], ["#### 4"], references=["4"]).rewards.tolist() == [1.0]


def test_step_scores_are_checked() -> None:
    class Steps:
        def score(self, prompts, responses):
            return np.zeros(len(responses))

        def score_steps(self, prompts, step_lists):
            return [np.zeros(1) for _ in step_lists]  # one score, whatever the steps

        def first_error(self, prompts, step_lists, *, threshold=None):
            return [None] * len(step_lists)

    with pytest.raises(ScoringError, match=r"'Steps' failed the scoring check: score_steps\(\) "
                                           r"returned step scores of solution 0 of shape \(1,\) "
                                           r"for 2 responses"):
        score_solutions(Steps(), ["q"], [["step 1", "step 2"]])


def test_unlabelled_pointwise_rows_reach_a_verifier_with_their_reference(tmp_path: Path) -> None:
    """Model output with a reference answer and no label (the first thing a user scores with
    a verifier): each row is checked against its own reference; a row without one is a
    DataError naming its line, not an error about a batch position."""
    from rewardlab.data import load_dataset
    from rewardlab.errors import DataError

    rows = [{"prompt": "What is 2+2?", "response": "2+2 = 4. The answer is 4.",
             "reference": "4"},
            {"prompt": "What is 3+3?", "response": "The answer is 7.", "answer": 6}]
    path = tmp_path / "out.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    scored = list(iter_scored_rows(resolve("verify:math"), load_dataset(path)))
    assert [r["reward"] for r in scored] == [1.0, 0.0]
    unreferenced = [rows[0], {"prompt": "x", "response": "y"}]
    path.write_text("".join(json.dumps(r) + "\n" for r in unreferenced))
    with pytest.raises(DataError, match=r"out\.jsonl:2: field 'reference'"):
        list(iter_scored_rows(resolve("verify:math"), load_dataset(path)))


ROWS_WITH_A_GAP = [
    {"prompt": "2+2?", "response": "#### 4", "reference": "4"},
    {"prompt": "2+3?", "response": "#### 5"},                       # no reference
    {"prompt": "2+4?", "response": "#### 7", "reference": "6"},
    {"prompt": "q", "chosen": "not a pointwise row"},                 # no response
]


def test_skip_invalid_skips_rows_a_verifier_cannot_check(run_cli, tmp_path: Path) -> None:
    """--skip-invalid also covers a row without the reference the model needs: it is written
    to the skipped file with its line and reason, the other rows are scored."""
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in ROWS_WITH_A_GAP))
    out = tmp_path / "scores.jsonl"
    stopped = run_cli("score", "verify:math", data, "--out", out)
    assert stopped.code == 2 and "rows.jsonl:4: field" in stopped.err
    result = run_cli("score", "verify:math", data, "--out", out, "--skip-invalid")
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["id"], r["reward"], r["reason"]) for r in rows] == [
        (0, 1.0, "correct"), (2, 0.0, "wrong-answer")]
    skipped = [json.loads(line) for line in (tmp_path / "scores.skipped.jsonl").open()]
    assert [(s["line"], s["field"]) for s in skipped] == [(2, "reference"), (4, "response")]
    assert "has no reference answer" in skipped[0]["reason"]
    assert "skipped 2 row(s)" in " ".join(result.out.split() + result.err.split())


def test_skip_invalid_with_no_checkable_row_left_is_an_error(tmp_path: Path) -> None:
    from rewardlab import api
    from rewardlab.errors import DataError

    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps(ROWS_WITH_A_GAP[1]) + "\n")
    with pytest.raises(DataError, match=r"rows\.jsonl: none of its 1 valid rows can be scored "
                                        r"by model 'verify:math'; the first problem, at line 1, "
                                        r"field 'reference': has no reference answer"):
        api.score("verify:math", data, out=tmp_path / "o.jsonl", skip_invalid=True)


def test_a_parquet_row_without_a_reference_is_named_by_row(tmp_path: Path) -> None:
    """Parquet rows are counted as rows ("f.parquet: row 2"), not lines ("f.parquet:2"); a
    pandas-written NaN in the reference column is no reference."""
    pq = pytest.importorskip("pyarrow.parquet")
    import pyarrow as pa

    from rewardlab import api
    from rewardlab.errors import DataError

    path = tmp_path / "f.parquet"
    pq.write_table(pa.table({"prompt": ["q", "q"], "response": ["#### 4", "#### 4"],
                             "reference": [4.0, float("nan")]}), path)
    with pytest.raises(DataError, match=r"f\.parquet: row 2: field 'reference': has no "):
        api.score("verify:math", path, out=tmp_path / "o.jsonl")
    # with --skip-invalid and no row left, the first problem is named by row too
    pq.write_table(pa.table({"prompt": ["q"], "response": ["#### 4"],
                             "reference": [float("nan")]}), path)
    with pytest.raises(DataError, match=r"the first problem, at row 1, field 'reference'"):
        api.score("verify:math", path, out=tmp_path / "o.jsonl", skip_invalid=True)


def test_verifier_rows_say_why_and_an_unreadable_reference_is_called_out(run_cli,
                                                                         tmp_path: Path):
    """A 0 reads the same for a wrong answer, an unmarked one and a reference nobody can read:
    each row carries the verifier's reason, and score tallies them and warns about the
    references."""
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in [
        {"prompt": "2+2?", "response": "#### 4", "reference": "4"},
        {"prompt": "2+2?", "response": "#### 4", "reference": "banana"},
        {"prompt": "2+2?", "response": "four, I think", "reference": "4"}]))
    out = tmp_path / "scores.jsonl"
    result = run_cli("score", "verify:math", data, "--out", out)
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["reward"], r["reason"]) for r in rows] == [
        (1.0, "correct"), (0.0, "reference-unparsable"), (0.0, "no-answer")]
    said = " ".join((result.out + result.err).split())
    assert "reference-unparsable 1" in said and "no-answer 1" in said
    assert "1 response scored 0 because the reference answer could not be read" in said
