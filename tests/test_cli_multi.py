"""The CLI of attribute (``multi:``) and personalised (``personal:``) models: training from
named sets, steering weights, users, simulated users, and the bad input the issue lists."""

from __future__ import annotations

import json

import pytest

from rewardlab.data import load_dataset


def _rows(data, **extra):
    out = []
    for r in data.records:
        prompt = r.prompt if isinstance(r.prompt, str) else [
            {"role": m.role, "content": m.content} for m in r.prompt]
        out.append({"prompt": prompt, "chosen": r.chosen, "rejected": r.rejected,
                    **({"user": r.user} if r.user else {}), **extra})
    return out


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def multi_dir(trained_multi, tmp_path_factory):
    return trained_multi.save(tmp_path_factory.mktemp("multi") / "m")


def test_train_from_named_sets_then_score_with_weights(run_cli, attribute_sets, tmp_path):
    a = _write(tmp_path / "a.jsonl", _rows(attribute_sets["harmless"].take(range(8))))
    b = _write(tmp_path / "b.jsonl", _rows(attribute_sets["contrary"].take(range(8))))
    res = run_cli("train", "--model", "multi:embed:minilm?epochs=2", "--data", f"harmless={a}",
                  "--data", f"contrary={b}", "--out", tmp_path / "m")
    assert res.code == 0, res.err
    assert "harmless (8 pairs)" in res.out
    points = _write(tmp_path / "p.jsonl", [
        {"prompt": "hi", "response": "hello"},
        {"prompt": "hi", "response": "hello", "weights": {"contrary": 1}}])
    res = run_cli("score", tmp_path / "m", points, "--weights", "harmless=1",
                  "--out", tmp_path / "s.jsonl")
    assert res.code == 0, res.err
    rows = [json.loads(x) for x in (tmp_path / "s.jsonl").read_text().splitlines()]
    for row in rows:
        assert set(row["rewards_by_attribute"]) == {"harmless", "contrary"}
    # --weights applies to the row without its own column; the column wins on the other
    assert rows[0]["reward"] == pytest.approx(rows[0]["rewards_by_attribute"]["harmless"])
    assert rows[1]["reward"] == pytest.approx(rows[1]["rewards_by_attribute"]["contrary"])


def test_bad_weights_name_the_file_line_and_field(run_cli, multi_dir, tmp_path):
    points = _write(tmp_path / "p.jsonl", [{"prompt": "hi", "response": "a"},
                                           {"prompt": "hi", "response": "b",
                                            "weights": "helpful=1"}])
    res = run_cli("score", multi_dir, points, "--out", tmp_path / "s.jsonl")
    assert res.code == 2
    assert "p.jsonl:2" in res.err and "weights" in res.err and "helpful" in res.err
    assert not (tmp_path / "s.jsonl").exists()
    res = run_cli("score", multi_dir, tmp_path / "p.jsonl", "--weights", "harmless=-1,contrary=1",
                  "--out", tmp_path / "s.jsonl")
    assert res.code == 2 and "zero or more" in res.err
    pairs = _write(tmp_path / "pairs.jsonl", [
        {"prompt": "hi", "chosen": "a", "rejected": "b"},
        {"prompt": "hi", "chosen": "a", "rejected": "b", "weights": {"harmless": 0}}])
    res = run_cli("eval", multi_dir, pairs)
    assert res.code == 2 and "pairs.jsonl:2" in res.err and "sum to 0" in res.err


def test_skip_invalid_skips_rows_whose_weights_the_model_refuses(run_cli, multi_dir,
                                                               tmp_path):
    """A weights column naming an attribute the model lacks is the row's mistake: with
    --skip-invalid that row goes to the skipped file with its line and field, the rest are
    scored (without it, the run stops on the line)."""
    rows = _write(tmp_path / "w.jsonl", [
        {"prompt": "hi", "response": "a"},
        {"prompt": "hi", "response": "b", "weights": {"helpful": 1}},
        {"prompt": "hi", "response": "c", "weights": {"harmless": 1}}])
    out = tmp_path / "s.jsonl"
    res = run_cli("score", multi_dir, rows, "--out", out)
    assert res.code == 2 and "w.jsonl:2" in res.err
    res = run_cli("score", multi_dir, rows, "--out", out, "--skip-invalid")
    assert res.code == 0, res.err
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == [0, 2]
    (skipped,) = [json.loads(x) for x in (tmp_path / "s.skipped.jsonl").open()]
    assert (skipped["line"], skipped["field"]) == (2, "weights")
    assert "unknown attribute 'helpful'" in skipped["reason"]


@pytest.mark.parametrize(("weights", "match"), [
    ("helpful=1", "--weights: unknown attribute 'helpful'"),
    ("harmless=-1", "--weights: the weight of 'harmless' is -1"),
    ("harmless=0", "--weights: the attribute weights sum to 0"),
])
def test_bad_weights_option_is_named_as_the_option(run_cli, multi_dir, tmp_path, weights,
                                                   match):
    points = _write(tmp_path / "p.jsonl", [{"prompt": "hi", "response": "a"}])
    res = run_cli("score", multi_dir, points, "--weights", weights, "--out", tmp_path / "s.jsonl")
    err = " ".join(res.err.split())
    # the option is wrong, not line 1's (absent) weights column
    assert res.code == 2 and match in err and "p.jsonl:1" not in err, err


def test_best_of_n_rows_take_weights_and_users(run_cli, multi_dir, trained_personal,
                                               tmp_path):
    bon = {"prompt": "hi", "responses": ["hello", "go away"], "is_correct": [True, False]}
    rows = _write(tmp_path / "b.jsonl", [bon, dict(bon, weights={"contrary": 1})])
    res = run_cli("score", multi_dir, rows, "--weights", "harmless=1", "--out",
                  tmp_path / "s.jsonl")
    assert res.code == 0, res.err
    out = [json.loads(x) for x in (tmp_path / "s.jsonl").read_text().splitlines()]
    # each candidate is steered: the option on row 1, the row's own column on row 2
    for row, name in zip(out, ("harmless", "contrary"), strict=True):
        assert row["rewards"] == pytest.approx([a[name] for a in row["rewards_by_attribute"]])
    trained_personal.save(tmp_path / "p")
    rows = _write(tmp_path / "u.jsonl", [dict(bon, user="u1"), dict(bon, user="ghost")])
    res = run_cli("score", tmp_path / "p", rows, "--out", tmp_path / "s.jsonl")
    assert res.code == 0, res.err
    out = [json.loads(x) for x in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert [(r["user"], r["user_fit"]) for r in out] == [("u1", "adapted"),
                                                          ("ghost", "population")]
    assert out[0]["rewards"] != out[1]["rewards"]
    assert "ghost" in res.err and "population mixture" in res.err


def test_weights_and_user_options_that_cannot_apply(run_cli, multi_dir, trained_personal,
                                                     tmp_path):
    steps = _write(tmp_path / "st.jsonl", [{"prompt": "p", "completions": ["a", "b"],
                                            "labels": [True, False]}])
    res = run_cli("score", multi_dir, steps, "--weights", "harmless=1", "--out",
                  tmp_path / "s.jsonl")
    assert res.code == 2 and "holds steps rows" in " ".join(res.err.split())
    trained_personal.save(tmp_path / "p")
    points = _write(tmp_path / "p.jsonl", [{"prompt": "hi", "response": "a"}])
    res = run_cli("score", tmp_path / "p", points, "--user", " ", "--out", tmp_path / "s.jsonl")
    assert res.code == 2 and "--user names no user" in res.err


def test_weights_and_adapt_on_the_wrong_kind_exit_2(run_cli, trained_embed, tmp_path):
    trained_embed.save(tmp_path / "e")
    points = _write(tmp_path / "p.jsonl", [{"prompt": "hi", "response": "a"}])
    res = run_cli("score", tmp_path / "e", points, "--weights", "harmless=1",
                  "--out", tmp_path / "s.jsonl")
    assert res.code == 2 and "no attribute heads" in res.err and "--weights" in res.err
    assert "p.jsonl:1" not in res.err
    res = run_cli("train", "--model", tmp_path / "e", "--adapt", points, "--out",
                  tmp_path / "e2")
    assert res.code == 2 and "not personal" in res.err
    # a user column on a model that is not personal is scored, and the user is told it
    # changed nothing
    users = _write(tmp_path / "u.jsonl", [{"prompt": "hi", "response": "a", "user": "u1"},
                                          {"prompt": "hi", "response": "b"}])
    res = run_cli("score", tmp_path / "e", users, "--out", tmp_path / "s.jsonl")
    assert res.code == 0, res.err
    assert len((tmp_path / "s.jsonl").read_text().splitlines()) == 2
    assert "1 row(s) name a user" in " ".join(res.err.split())
    assert "not personalised" in " ".join(res.err.split())


def test_personal_adapt_score_and_population_fallback(run_cli, trained_personal, hh_small,
                                                      tmp_path):
    from _pairs_util import flipped, with_user

    trained_personal.save(tmp_path / "p")
    users = _write(tmp_path / "u.jsonl", _rows(with_user(flipped(hh_small[1].take(range(6))),
                                                         "carol")))
    res = run_cli("train", "--model", tmp_path / "p", "--adapt", users, "--out", tmp_path / "p")
    assert res.code == 0, res.err
    assert "adapted 1 user(s) from 6 pairs" in res.out
    points = _write(tmp_path / "pts.jsonl", [{"prompt": "hi", "response": "a", "user": "carol"},
                                             {"prompt": "hi", "response": "a", "user": "dave"}])
    res = run_cli("score", tmp_path / "p", points, "--out", tmp_path / "s.jsonl")
    assert res.code == 0, res.err
    assert "dave" in res.err and "population mixture" in res.err
    rows = [json.loads(x) for x in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert [r["user_fit"] for r in rows] == ["adapted", "population"]
    trained = run_cli("train", users, "--model", "personal:embed:minilm?rank=2&epochs=2",
                      "--out", tmp_path / "p2")
    assert trained.code == 0, trained.err
    assert "train accuracy" in trained.out
    res = run_cli("eval", tmp_path / "p", users, "--json", tmp_path / "e.json")
    assert res.code == 0, res.err
    report = json.loads((tmp_path / "e.json").read_text())
    assert {"per_user_accuracy_mean", "per_user_accuracy_p10"} <= set(report)


def test_adapt_takes_the_model_where_the_issue_writes_it(run_cli, trained_personal,
                                                         hh_small, tmp_path):
    from _pairs_util import with_user

    trained_personal.save(tmp_path / "p")
    users = _write(tmp_path / "u.jsonl", _rows(with_user(hh_small[1].take(range(3)), "erin")))
    # `rewardlab train personal:DIR --adapt USERS` (issue 22's form), --model left alone
    res = run_cli("train", f"personal:{tmp_path / 'p'}", "--adapt", users, "--out",
                  tmp_path / "p2")
    assert res.code == 0, res.err
    assert "adapted 1 user(s) from 3 pairs" in res.out
    assert "already in the model" not in res.err
    # adapting a user again replaces their weights: said, not done silently
    res = run_cli("train", "--model", tmp_path / "p2", "--adapt", users, "--out",
                  tmp_path / "p2")
    assert res.code == 0, res.err
    assert "1 user(s) were already in the model" in " ".join(res.err.split())
    assert "erin" in res.err
    res = run_cli("train", users, "--adapt", users, "--out", tmp_path / "p3")
    assert res.code == 2 and "give the model as --model DIR" in " ".join(res.err.split())


def test_an_unknown_default_user_falls_back_and_says_so(run_cli, trained_personal, tmp_path):
    trained_personal.save(tmp_path / "p")
    points = _write(tmp_path / "pts.jsonl", [{"prompt": "hi", "response": "a"}])
    res = run_cli("score", f"{tmp_path / 'p'}?user=ghost", points, "--out", tmp_path / "s.jsonl")
    assert res.code == 0, res.err
    assert "ghost" in res.err and "population mixture" in res.err
    row = json.loads((tmp_path / "s.jsonl").read_text())
    assert (row["user"], row["user_fit"]) == ("ghost", "population")


def test_simulate_users_is_reproducible_and_disjoint(run_cli, multi_dir, hh_small, tmp_path):
    pool = _write(tmp_path / "pool.jsonl", _rows(hh_small[1]))
    args = ["label", "simulate-users", "--heads", multi_dir, "--data", pool, "--users", "5",
            "--pairs-per-user", "4", "--seed", "3"]
    assert run_cli(*args, "--out", tmp_path / "a.jsonl").code == 0
    assert run_cli(*args, "--out", tmp_path / "b.jsonl").code == 0
    assert (tmp_path / "a.jsonl").read_text() == (tmp_path / "b.jsonl").read_text()
    data = load_dataset(tmp_path / "a.jsonl")
    assert len(data) == 20 and len({r.user for r in data.records}) == 5
    recipe = json.loads((tmp_path / "a.jsonl.recipe.json").read_text())
    assert recipe["attributes"] == ["harmless", "contrary"] and len(recipe["mixtures"]) == 5
    res = run_cli(*args, "--first-user", "5", "--out", tmp_path / "c.jsonl")
    held_out = {r.user for r in load_dataset(tmp_path / "c.jsonl").records}
    assert res.code == 0 and not held_out & {r.user for r in data.records}


def test_simulate_users_refuses_to_overwrite_or_repeat_a_pool_file(run_cli, multi_dir,
                                                                    hh_small, tmp_path):
    a = _write(tmp_path / "a.jsonl", _rows(hh_small[1].take(range(4))))
    b = _write(tmp_path / "b.jsonl", _rows(hh_small[1].take(range(4, 8))))
    args = ["label", "simulate-users", "--heads", multi_dir, "--users", "2",
            "--pairs-per-user", "2"]
    res = run_cli(*args, "--data", a, "--data", b, "--out", b)
    assert res.code == 2 and "is the input --data #2" in " ".join(res.err.split())
    assert len(b.read_text().splitlines()) == 4  # the second pool file is untouched
    res = run_cli(*args, "--data", a, "--data", a, "--out", tmp_path / "s.jsonl")
    assert res.code == 2 and "twice" in res.err


def test_soft_labels_need_votes_of_one_length(run_cli, tmp_path):
    rows = [{"prompt": "p", "chosen": "a", "rejected": "b", "votes": [1, 1, 2]},
            {"prompt": "q", "chosen": "c", "rejected": "d", "votes": [1, 1]}]
    res = run_cli("train", _write(tmp_path / "v.jsonl", rows), "--soft-labels", "--out",
                  tmp_path / "m")
    assert res.code == 2 and "v.jsonl:2" in res.err and "2 votes" in res.err
    rows[1]["votes"] = [1, 3, 1]
    res = run_cli("train", _write(tmp_path / "v.jsonl", rows), "--soft-labels", "--out",
                  tmp_path / "m")
    assert res.code == 2 and "votes[1]" in res.err


@pytest.mark.slow
def test_readme_attributes_and_users_examples_run(run_cli, tmp_path, monkeypatch):
    from test_readme import run_all, section_commands

    monkeypatch.chdir(tmp_path)
    commands = section_commands("### Attributes and users")
    assert len(commands) == 6
    run_all(run_cli, commands)
    rows = [json.loads(x) for x in (tmp_path / "steered.jsonl").read_text().splitlines()]
    assert set(rows[0]["rewards_by_attribute_chosen"]) == {"harmless", "helpful"}
    assert "per_user_accuracy_p10" in json.loads((tmp_path / "per-user.json").read_text())
