"""Unlabelled rows (issue 18, defect 0): model output with no label is read and scored; a
label is asked for only where a metric needs it, and the message says which metric."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewardlab.data import Message, load_dataset, require_task
from rewardlab.errors import DataError

BREAD = {"prompt": "How do I bake bread?",
         "response": "Mix flour, water, salt and yeast, knead, let it rise, then bake."}
CHAT = {"messages": [{"role": "system", "content": "Be brief."},
                     {"role": "user", "content": "How do I bake bread?"},
                     {"role": "assistant", "content": "Knead, proof, bake."}]}
CANDIDATES = {"prompt": "2+2?", "responses": ["4", "5", "22"]}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_prompt_response_without_a_label_is_pointwise(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "out.jsonl", [BREAD, {"response": "no prompt at all"}])
    for data in (load_dataset(path), load_dataset(path, format="pointwise")):
        assert data.task == "pointwise" and data.form == "pointwise"
        assert [(r.prompt, r.response, r.score) for r in data] == [
            (BREAD["prompt"], BREAD["response"], None), ("", "no prompt at all", None)]


def test_labelled_pointwise_rows_still_carry_their_label(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "p.jsonl", [{**BREAD, "score": 0.5}, {**BREAD, "label": 0}])
    assert [r.score for r in load_dataset(path)] == [0.5, 0.0]


def test_chat_messages_last_assistant_turn_is_the_response(tmp_path: Path) -> None:
    data = load_dataset(write_jsonl(tmp_path / "chat.jsonl", [CHAT]))
    (r,) = data
    assert data.task == "pointwise" and data.form == "messages"
    assert r.prompt == (Message("system", "Be brief."), Message("user", "How do I bake bread?"))
    assert (r.response, r.score) == ("Knead, proof, bake.", None)


def test_chat_messages_ending_with_the_user_is_named(tmp_path: Path) -> None:
    row = {"messages": CHAT["messages"][:2]}
    with pytest.raises(DataError, match=r"chat\.jsonl:1: field 'messages\[1\]\.role': is "
                                        "'user'; the last message must be the assistant's"):
        load_dataset(write_jsonl(tmp_path / "chat.jsonl", [row]))
    with pytest.raises(DataError, match="field 'messages': must be a non-empty list"):
        load_dataset(write_jsonl(tmp_path / "chat.jsonl", [{"messages": []}]))


def test_best_of_n_candidates_without_labels(tmp_path: Path) -> None:
    (r,) = load_dataset(write_jsonl(tmp_path / "bon.jsonl", [CANDIDATES]))
    assert (r.responses, r.is_correct, r.scores) == (("4", "5", "22"), None, None)


def test_require_task_says_which_metric_needs_which_field(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "out.jsonl", [BREAD])
    data = load_dataset(path)
    with pytest.raises(DataError) as info:
        require_task(data, ("pairwise", "best-of-n", "steps"), purpose="evaluation")
    text = str(info.value)
    assert text.startswith(f"{path}: evaluation needs pairwise, best-of-n or steps data, "
                           "but the file holds pointwise rows")
    for needle in ("pairwise accuracy needs 'chosen' and 'rejected'",
                   "best-of-n accuracy needs 'is_correct'", "first-error F1 needs 'labels'",
                   "rewardlab score"):
        assert needle in text
