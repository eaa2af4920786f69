"""Every pair layout users already have maps onto the same records; bad fields are named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewardlab.data import Message, load_dataset
from rewardlab.errors import DataError


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def one(tmp_path: Path, row: dict, **kw):
    return load_dataset(write_jsonl(tmp_path / "d.jsonl", [row]), **kw)


def test_trl_explicit_prompt(tmp_path: Path) -> None:
    data = one(tmp_path, {"prompt": "The sky is", "chosen": " blue.", "rejected": " green.",
                          "subset": "colour", "margin": 2, "id": "p1"})
    r = data[0]
    assert data.task == "pairwise" and data.form == "explicit"
    assert (r.prompt, r.chosen, r.rejected, r.subset, r.margin, r.id) == (
        "The sky is", " blue.", " green.", "colour", 2.0, "p1")


def test_trl_implicit_prompt_plain_text_splits_like_trl(tmp_path: Path) -> None:
    r = one(tmp_path, {"chosen": "The sky is blue.", "rejected": "The sky is green."})[0]
    assert (r.prompt, r.chosen, r.rejected) == ("The sky is", " blue.", " green.")


def test_hh_dialogue_splits_at_the_last_shared_assistant_turn(tmp_path: Path) -> None:
    shared = "\n\nHuman: Hi there\n\nAssistant: Hello! How can I help?\n\nHuman: Tell me a joke"
    data = one(tmp_path, {"chosen": shared + "\n\nAssistant: Why did the chicken cross?",
                          "rejected": shared + "\n\nAssistant: Why not."})
    r = data[0]
    assert data.form == "hh"
    assert r.prompt == (Message("user", "Hi there"), Message("assistant", "Hello! How can I help?"),
                        Message("user", "Tell me a joke"))
    assert (r.chosen, r.rejected) == ("Why did the chicken cross?", "Why not.")


def test_hh_replies_that_start_alike_stay_whole(tmp_path: Path) -> None:
    # a character-level prefix would cut inside "Sure, ..." — the turn-level split does not
    r = one(tmp_path, {"chosen": "\n\nHuman: q\n\nAssistant: Sure, here it is.",
                       "rejected": "\n\nHuman: q\n\nAssistant: Sure, no."})[0]
    assert (r.chosen, r.rejected) == ("Sure, here it is.", "Sure, no.")


def test_hh_empty_final_reply_is_a_real_empty_reply(tmp_path: Path) -> None:
    r = one(tmp_path, {"chosen": "\n\nHuman: say something bad\n\nAssistant:",
                       "rejected": "\n\nHuman: say something bad\n\nAssistant: Something bad."})[0]
    assert r.chosen == "" and r.rejected == "Something bad."


def test_conversational_implicit_prompt(tmp_path: Path) -> None:
    sys_msg = {"role": "system", "content": "Be kind."}
    user = {"role": "user", "content": "What colour is the sky?"}
    r = one(tmp_path, {
        "chosen": [sys_msg, user, {"role": "assistant", "content": "Blue."}],
        "rejected": [sys_msg, user, {"role": "assistant", "content": "Green."}],
    })[0]
    assert r.prompt == (Message("system", "Be kind."), Message("user", "What colour is the sky?"))
    assert (r.chosen, r.rejected) == ("Blue.", "Green.")


def test_conversational_explicit_prompt(tmp_path: Path) -> None:
    data = one(tmp_path, {
        "prompt": [{"role": "user", "content": "What colour is the sky?"}],
        "chosen": [{"role": "assistant", "content": "Blue."}],
        "rejected": [{"role": "assistant", "content": "Green."}],
    })
    assert data.form == "conversational"
    assert data[0].prompt == (Message("user", "What colour is the sky?"),)
    assert data[0].chosen == "Blue."


def test_csv_cells_with_json_message_lists(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    chosen = json.dumps([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}])
    rejected = json.dumps([{"role": "user", "content": "q"}, {"role": "assistant", "content": "b"}])
    path.write_text("chosen,rejected,margin\n" + ",".join(
        '"' + s.replace('"', '""') + '"' for s in (chosen, rejected, "0.5")) + "\n")
    r = load_dataset(path)[0]
    assert (r.prompt, r.chosen, r.rejected, r.margin) == ((Message("user", "q"),), "a", "b", 0.5)


def test_pointwise(tmp_path: Path) -> None:
    data = one(tmp_path, {"prompt": "p", "response": "r", "label": True})
    assert data.task == "pointwise" and data[0].score == 1.0 and data[0].id == 0


def test_best_of_n_with_candidate_objects(tmp_path: Path) -> None:
    data = one(tmp_path, {"prompt": "2+2?", "answer": "4", "responses": [
        {"text": "4", "is_correct": True}, {"text": "5", "is_correct": False}]})
    r = data[0]
    assert data.task == "best-of-n" and data.form == "responses"
    assert (r.responses, r.is_correct, r.reference) == (("4", "5"), (True, False), "4")


def test_best_of_n_with_parallel_lists(tmp_path: Path) -> None:
    r = one(tmp_path, {"prompt": "p", "responses": ["a", "b", "c"], "scores": [1, 2.5, 0]})[0]
    assert r.scores == (1.0, 2.5, 0.0) and r.is_correct is None


def test_gsm8k_example_solutions_map_onto_best_of_n() -> None:
    data = load_dataset("bundled:gsm8k_examples")
    r = data[0]
    assert data.task == "best-of-n" and data.form == "gsm8k-examples" and len(data) == 819
    assert r.names == ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
    assert len(r.responses) == 4 and r.is_correct == (False, False, False, True)
    assert r.reference.endswith("A: 18") and r.prompt.startswith("Janet")


# --- bad rows: each names file, line and field -------------------------------------------

BAD_ROWS = [
    ({"prompt": "p", "chosen": "a"}, "rejected", "is missing"),
    ({"prompt": "p", "chosen": 5, "rejected": "b"}, "chosen", "must be a string, got int"),
    ({"prompt": "p", "chosen": "a", "rejected": None}, "rejected", "is missing"),
    ({"prompt": {"x": 1}, "chosen": "a", "rejected": "b"}, "prompt", "must be a string"),
    ({"prompt": "p", "chosen": "same", "rejected": "same"}, "rejected", "identical"),
    ({"prompt": "p", "chosen": "a" * 1_048_576, "rejected": "b"}, "chosen",
     "1,048,576 characters"),
    ({"prompt": "p", "chosen": "a", "rejected": "b", "margin": "lots"}, "margin",
     "must be a number"),
    ({"prompt": "p", "chosen": "a", "rejected": "b", "margin": float("nan")}, "margin", "finite"),
    ({"chosen": [{"role": "user"}], "rejected": [{"role": "user", "content": "x"}]},
     "chosen[0].content", "must be a string, got null"),
    ({"chosen": [{"role": "user", "content": "q"}], "rejected": "text"}, "rejected",
     "must be a list of messages"),
    ({"prompt": "p", "chosen": "a", "rejected": "b", "id": [1]}, "id", "string or an integer"),
    ({"prompt": "p", "responses": ["a", "b"], "is_correct": [True]}, "is_correct",
     "1 entries but there are 2 responses"),
    ({"prompt": "p", "responses": []}, "responses", "non-empty list"),
    ({"prompt": "p", "responses": [{"text": "a", "is_correct": True}, {"text": "b"}]},
     "is_correct", "some responses but not all"),
    ({"prompt": "p", "response": "r", "score": "high"}, "score", "must be a number"),
]


@pytest.mark.parametrize(("row", "field", "message"), BAD_ROWS)
def test_bad_row_error_names_file_line_and_field(tmp_path: Path, row: dict, field: str,
                                                 message: str) -> None:
    good = {"prompt": "fine", "chosen": "yes", "rejected": "no"}
    if "responses" in row:
        good = {"prompt": "fine", "responses": ["x", "y"]}
    elif "response" in row:
        good = {"prompt": "fine", "response": "x", "score": 1}
    path = write_jsonl(tmp_path / "bad.jsonl", [good, row])
    with pytest.raises(DataError, match=message) as info:
        load_dataset(path)
    err = info.value
    assert (err.file, err.line, err.field) == (str(path), 2, field)
    assert str(err).startswith(f"{path}:2: field '{field}': ")
    assert "\n" not in str(err)


def test_max_chars_is_configurable(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "p", "chosen": "a" * 50, "rejected": "b"}])
    with pytest.raises(DataError, match="limit is 10"):
        load_dataset(path, max_chars=10)
    assert load_dataset(path, max_chars=50)[0].chosen == "a" * 50


def test_empty_reply_is_a_real_candidate_not_an_error(tmp_path: Path) -> None:
    # PandaLM has 56 pairs whose losing model answered with nothing; they must be scored
    path = write_jsonl(tmp_path / "empty.jsonl", [
        {"prompt": "p", "chosen": "an answer", "rejected": ""},
        {"prompt": "p", "chosen": "   ", "rejected": "b"},
    ])
    data = load_dataset(path)
    assert [r.rejected for r in data.records] == ["", "b"]
    assert data.records[1].chosen == "   "


def test_json_looking_text_is_text_in_jsonl_but_decoded_in_csv(tmp_path: Path) -> None:
    # LLMBar's "divide this list by 10" answer is the string "[0.5, 1.5]", not a message list
    path = write_jsonl(tmp_path / "list.jsonl",
                       [{"prompt": "p", "chosen": "[0.5, 1.5]", "rejected": "[5, 15]"}])
    assert load_dataset(path).records[0].chosen == "[0.5, 1.5]"
    csv_path = tmp_path / "msgs.csv"
    cell = ('"[{""role"": ""user"", ""content"": ""q""}, '
            '{""role"": ""assistant"", ""content"": ""X""}]"')
    csv_path.write_text("chosen,rejected\n" + cell.replace("X", "a") + "," + cell.replace("X", "b")
                        + "\n", encoding="utf-8")
    record = load_dataset(csv_path).records[0]
    assert (record.chosen, record.rejected) == ("a", "b")
