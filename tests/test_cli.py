"""The CLI end to end, in-process through the real entry point, on real data.

Every user mistake exits 2 with one paragraph naming the file, line and field (or the spec),
and no traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _tolerance import fp32_near_ties

GOOD = {"prompt": "Can you help me?", "chosen": "Of course, what do you need?",
        "rejected": "No."}


@pytest.fixture(scope="module")
def saved_model(trained_embed, tmp_path_factory) -> Path:
    return trained_embed.save(tmp_path_factory.mktemp("models") / "rm")


@pytest.fixture
def small_pairs(hh_small, tmp_path) -> Path:
    """24 real HH pairs in TRL explicit-prompt form, ids included."""
    path = tmp_path / "pairs.jsonl"
    rows = [{"id": f"hh-{i}", "prompt": r.prompt[-1].content, "chosen": r.chosen,
             "rejected": r.rejected} for i, r in enumerate(hh_small[1])]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def assert_clean_error(result, *needles: str) -> None:
    assert result.code == 2, (result.out, result.err)
    assert result.err.startswith("error: "), result.err
    assert "Traceback" not in result.err + result.out
    text = " ".join(result.err.split())  # rich wraps long lines; compare as one paragraph
    for needle in needles:
        assert needle in text, (needle, text)


def test_help_lists_the_commands(run_cli) -> None:
    result = run_cli("--help")
    assert result.code == 0
    for command in ("train", "eval", "score", "demo"):
        assert command in result.out


def test_train_eval_score_round_trip(run_cli, hh_small, tmp_path, small_pairs) -> None:
    train_file = tmp_path / "train.jsonl"
    train_file.write_text("".join(
        json.dumps({"chosen": "\n\nHuman: " + r.prompt[-1].content + "\n\nAssistant: " + r.chosen,
                    "rejected": "\n\nHuman: " + r.prompt[-1].content + "\n\nAssistant: "
                    + r.rejected}) + "\n" for r in hh_small[0]))
    out_dir = tmp_path / "rm"
    result = run_cli("train", train_file, "--out", out_dir, "--epochs", "5", "--seed", "3")
    assert result.code == 0, result.err
    assert "trained embed:minilm on 48 pairs" in result.out
    assert json.loads((out_dir / "rewardlab.json").read_text())["config"]["epochs"] == 5

    report = tmp_path / "eval.json"
    result = run_cli("eval", out_dir, small_pairs, "--json", report)
    assert result.code == 0, result.err
    body = json.loads(report.read_text())
    assert body["n"] == 24 and 0.0 <= body["accuracy"] <= 1.0
    assert len(body["ci95"]) == 2 and body["ci95"][0] <= body["accuracy"] <= body["ci95"][1]
    assert body["subsets"] == {} and body["model"] == str(out_dir)
    assert "longer" in result.out and "shorter" in result.out

    scores = tmp_path / "scores.jsonl"
    result = run_cli("score", out_dir, small_pairs, "--out", scores)
    assert result.code == 0, result.err
    rows = [json.loads(line) for line in scores.read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"hh-{i}" for i in range(24)]
    assert all(isinstance(r["reward_chosen"], float) for r in rows)
    chosen, rejected = ([r[k] for r in rows] for k in ("reward_chosen", "reward_rejected"))
    # eval scored in other batches: a pair within float32 round-off may count either way
    near = fp32_near_ties(chosen, rejected)
    wins = sum(c > r and not t for c, r, t in zip(chosen, rejected, near, strict=True))
    assert wins / 24 <= body["accuracy"] <= (wins + near.sum()) / 24


def test_score_pointwise_and_best_of_n(run_cli, saved_model, tmp_path) -> None:
    point = tmp_path / "point.csv"
    point.write_text("prompt,response,score\nHi,Hello there,1\nHi,Go away,0\n")
    out = tmp_path / "p.jsonl"
    assert run_cli("score", saved_model, point, "--out", out).code == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == [0, 1] and all("reward" in r for r in rows)

    bon = tmp_path / "bon.jsonl"
    bon.write_text(json.dumps({"id": "q1", "prompt": "2+2?", "responses": ["4", "5", "22"]}) + "\n")
    out = tmp_path / "b.jsonl"
    assert run_cli("score", saved_model, bon, "--out", out).code == 0
    row = json.loads(out.read_text())
    assert row["id"] == "q1" and len(row["rewards"]) == 3


def test_skip_invalid_scores_the_rest_and_writes_the_skipped_rows(run_cli, saved_model,
                                                                  tmp_path) -> None:
    data = tmp_path / "mixed.jsonl"
    data.write_bytes(
        (json.dumps(GOOD) + "\n").encode()
        + b'{"prompt": "x", "chosen": "caf\xe9", "rejected": "b"}\n'
        + (json.dumps({"prompt": "p", "chosen": "same", "rejected": "same"}) + "\n").encode()
        + (json.dumps({**GOOD, "id": "last"}) + "\n").encode())
    out = tmp_path / "scores.jsonl"
    result = run_cli("score", saved_model, data, "--out", out)
    assert_clean_error(result, f"{data}:2:", "not valid UTF-8")
    assert not out.exists()

    result = run_cli("score", saved_model, data, "--out", out, "--skip-invalid")
    assert result.code == 0, result.err
    assert [json.loads(x)["id"] for x in out.read_text().splitlines()] == [0, "last"]
    skipped = [json.loads(x) for x in (tmp_path / "scores.skipped.jsonl").read_text().splitlines()]
    assert [(s["line"], s["field"]) for s in skipped] == [(2, None), (3, "rejected")]
    assert "identical" in skipped[1]["reason"] and skipped[1]["row"]["chosen"] == "same"
    assert "skipped 2 row(s)" in result.err


BAD_FILES = {
    "empty": (b"", ["the file holds no rows"]),
    "malformed": (b'{"prompt": "p", "chosen": "a", "rejected": "b"}\n{"prompt": oops}\n',
                  [":2:", "malformed JSON"]),
    "missing": (json.dumps({"prompt": "p", "chosen": "a"}).encode(),
                [":1:", "field 'rejected'", "is missing"]),
    "non_string": (json.dumps({"prompt": "p", "chosen": ["a"], "rejected": "b"}).encode(),
                   [":1:", "field 'chosen[0]'", "must be a message object"]),
    "identical": (json.dumps({"prompt": "p", "chosen": "a", "rejected": "a"}).encode(),
                  [":1:", "field 'rejected'", "identical"]),
    "number": (json.dumps({"prompt": "p", "chosen": 5, "rejected": "b"}).encode(),
               [":1:", "field 'chosen'", "must be a string"]),
    "huge": (json.dumps({"prompt": "p", "chosen": "x" * 1_048_576, "rejected": "b"}).encode(),
             [":1:", "field 'chosen'", "1,048,576 characters", "--max-chars"]),
    "not_utf8": (b'{"prompt": "p", "chosen": "\xff\xfe", "rejected": "b"}\n',
                 [":1:", "not valid UTF-8"]),
}


@pytest.mark.parametrize("case", sorted(BAD_FILES))
@pytest.mark.parametrize("command", ["eval", "score", "train"])
def test_bad_data_is_one_clean_error(run_cli, tmp_path, case: str, command: str) -> None:
    content, needles = BAD_FILES[case]
    path = tmp_path / f"{case}.jsonl"
    path.write_bytes(content)
    args = {"eval": ("eval", "embed:minilm", path),
            "score": ("score", "embed:minilm", path, "--out", tmp_path / "o.jsonl"),
            "train": ("train", path, "--out", tmp_path / "rm")}[command]
    assert_clean_error(run_cli(*args), str(path), *needles)
    assert not (tmp_path / "rm").exists() and not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize(("spec", "needles"), [
    ("embd:minilm", ["unknown model kind 'embd' in 'embd:minilm'", "known: embed"]),
    ("embed:minilm?head=deep", ["'head' parameter of EmbedConfig"]),
    ("nothing/here", ["no model directory at nothing/here"]),
])
def test_bad_model_specs(run_cli, spec: str, needles: list[str]) -> None:
    assert_clean_error(run_cli("eval", spec, "bundled:hh_harmless"), *needles)


def test_corrupt_model_directory(run_cli, saved_model, tmp_path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "rewardlab.json").write_text((saved_model / "rewardlab.json").read_text())
    (broken / "model.safetensors").write_bytes(b"\x00" * 10)
    assert_clean_error(run_cli("eval", broken, "bundled:hh_harmless"), "model.safetensors",
                       "is corrupt")
    (broken / "rewardlab.json").write_text("{")
    assert_clean_error(run_cli("eval", broken, "bundled:hh_harmless"), "rewardlab.json is corrupt")


def test_untrained_model_says_how_to_train(run_cli, tmp_path) -> None:
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(GOOD) + "\n")
    assert_clean_error(run_cli("eval", "embed:minilm", path), "is not trained yet",
                       "rewardlab train DATA --model embed:minilm --out DIR")


def test_eval_on_best_of_n_data_reports_best_of_n(run_cli, tmp_path) -> None:
    report = tmp_path / "bon.json"
    result = run_cli("eval", "verify:math", "bundled:gsm8k_examples", "--json", report)
    assert result.code == 0, result.err
    assert "best of 4" in result.out and "oracle" in result.out and "random" in result.out
    body = json.loads(report.read_text())
    assert body["task"] == "best-of-n" and body["n"] == 819
    assert body["best_of_n_accuracy"] == body["oracle"] > body["majority"] > body["random"]
    assert body["pairwise_accuracy"] == 1.0


def test_eval_of_a_trained_model_on_best_of_n_data(run_cli, saved_model, tmp_path) -> None:
    from rewardlab.data import bundled_path

    rows = bundled_path("gsm8k_examples").read_text().splitlines()[:3]
    path = tmp_path / "bon.jsonl"
    path.write_text("\n".join(rows) + "\n")
    result = run_cli("eval", saved_model, path, "--json", tmp_path / "r.json")
    assert result.code == 0, result.err
    body = json.loads((tmp_path / "r.json").read_text())
    assert body["n"] == 3 and 0.0 <= body["best_of_n_accuracy"] <= body["oracle"]


def test_eval_on_pointwise_data_is_explained(run_cli, saved_model, tmp_path) -> None:
    path = tmp_path / "points.jsonl"
    path.write_text(json.dumps({"prompt": "p", "response": "r", "score": 1}) + "\n")
    assert_clean_error(run_cli("eval", saved_model, path), "points.jsonl",
                       "evaluation needs pairwise, best-of-n or steps data", "pointwise")


def test_unwritable_output(run_cli, saved_model, tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(GOOD) + "\n")
    assert_clean_error(run_cli("score", saved_model, path, "--out", blocker / "s.jsonl"),
                       "cannot write")


def test_score_writes_rewards_for_unlabelled_rows(run_cli, saved_model, tmp_path) -> None:
    """Issue 18, defect 0: model output with no label (prompt/response, chat messages,
    best-of-n candidates) is scored; eval says which metric needs which label."""
    rows = {"point.jsonl": {"prompt": "How do I bake bread?", "response": "Mix flour, ..."},
            "chat.jsonl": {"messages": [{"role": "user", "content": "How do I bake bread?"},
                                        {"role": "assistant", "content": "Mix flour, ..."}]},
            "bon.jsonl": {"prompt": "How do I bake bread?",
                          "responses": ["Mix flour, ...", "Buy it."]}}
    rewards = {}
    for name, row in rows.items():
        path = tmp_path / name
        path.write_text(json.dumps(row) + "\n")
        out = tmp_path / f"{name}.scores.jsonl"
        result = run_cli("score", saved_model, path, "--out", out)
        assert result.code == 0, result.err
        (scored,) = [json.loads(line) for line in out.read_text().splitlines()]
        rewards[name] = scored.get("reward", scored.get("rewards", [None])[0])
        assert isinstance(rewards[name], float)
    # the same prompt and reply get the same reward as a pointwise row or a candidate
    assert rewards["point.jsonl"] == pytest.approx(rewards["bon.jsonl"], rel=1e-5, abs=1e-6)
    out = tmp_path / "forced.jsonl"
    assert run_cli("score", saved_model, tmp_path / "point.jsonl", "--format", "pointwise",
                   "--out", out).code == 0
    assert_clean_error(run_cli("eval", saved_model, tmp_path / "point.jsonl"),
                       "point.jsonl", "pairwise accuracy needs 'chosen' and 'rejected'",
                       "best-of-n accuracy needs 'is_correct'")
    assert_clean_error(run_cli("eval", saved_model, tmp_path / "bon.jsonl"),
                       "bon.jsonl:1: field 'is_correct'", "best-of-n accuracy needs 'is_correct'")


def test_score_refuses_a_file_that_is_not_regular(run_cli, saved_model, tmp_path) -> None:
    """Issue 18, defect 1: a symlink to /dev/zero used to grow memory without a message."""
    link = tmp_path / "zero.jsonl"
    link.symlink_to("/dev/zero")
    assert_clean_error(run_cli("score", saved_model, link, "--out", tmp_path / "s.jsonl"),
                       "zero.jsonl: is not a regular file (a device)")
    assert not (tmp_path / "s.jsonl").exists()
