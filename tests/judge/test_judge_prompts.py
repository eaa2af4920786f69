"""Templates and rubrics (built in or the user's files), and cutting prompts to the context."""

from __future__ import annotations

from pathlib import Path

import pytest

from rewardlab.data import Message
from rewardlab.errors import ConfigError
from rewardlab.judge import RUBRICS, load_rubric, load_template, render_question
from rewardlab.judge._prompts import CUT_MARK, fit_to_context


def _words(text: str) -> int:
    return len(text.split())


def test_builtin_templates_render_every_mode() -> None:
    fields = {"rubric": "RUBRIC", "question": "QUESTION", "response": "RESP",
              "response_a": "AAA", "response_b": "BBB", "reference": "REF", "reason": False}
    pair = load_template("pairwise", None).render(**fields)
    assert pair.index("RUBRIC") < pair.index("QUESTION") < pair.index("AAA") < pair.index("BBB")
    assert pair.endswith("Answer with a single letter: A or B.")
    assert "1 to 10" in load_template("grade", None).render(**fields)
    assert load_template("yesno", None).render(**fields).endswith("Answer Yes or No.")
    assert "REF" in load_template("reference", None).render(**fields)
    reasoning = load_template("pairwise", None).render(**{**fields, "reason": True})
    assert "single letter" not in reasoning and "few sentences" in reasoning


def test_rubrics_by_name_or_file(tmp_path: Path) -> None:
    assert set(RUBRICS) == {"helpfulness", "harmlessness", "math"}
    for name in RUBRICS:
        assert len(load_rubric(name)) > 40
    own = tmp_path / "rubric.txt"
    own.write_text("Prefer answers in French.\n")
    assert load_rubric(str(own)) == "Prefer answers in French."
    with pytest.raises(ConfigError, match=r"'rubric' parameter .* Got 'kindness'"):
        load_rubric("kindness")


def test_user_templates_jinja_and_format(tmp_path: Path) -> None:
    jinja = tmp_path / "t.jinja"
    jinja.write_text("{{ rubric }} | {{ question }} | {{ response_a }} vs {{ response_b }}")
    fmt = tmp_path / "t.txt"
    fmt.write_text("{rubric} | {question} | {response}")
    fields = {"rubric": "R", "question": "Q", "response": "X", "response_a": "A",
              "response_b": "B", "reference": "", "reason": False}
    assert load_template("pairwise", str(jinja)).render(**fields) == "R | Q | A vs B"
    assert load_template("grade", str(fmt)).render(**fields) == "R | Q | X"


def test_bad_user_templates_fail_at_load(tmp_path: Path) -> None:
    unknown = tmp_path / "t.txt"
    unknown.write_text("{question} {nonsense}")
    with pytest.raises(ConfigError, match="cannot be filled"):
        load_template("grade", str(unknown))
    broken = tmp_path / "t.jinja"
    broken.write_text("{{ question ")
    with pytest.raises(ConfigError, match="Jinja syntax error"):
        load_template("grade", str(broken))
    undefined = tmp_path / "u.jinja"
    undefined.write_text("{{ nonsense }}")
    with pytest.raises(ConfigError, match="cannot be rendered"):
        load_template("grade", str(undefined))
    with pytest.raises(ConfigError, match="no such file"):
        load_template("grade", str(tmp_path / "missing.jinja"))


def test_render_question_of_a_conversation() -> None:
    convo = (Message("user", "hi"), Message("assistant", "hello"), Message("user", "bye?"))
    assert render_question(convo) == "User: hi\n\nAssistant: hello\n\nUser: bye?"
    assert render_question("plain") == "plain"


def _render(fields: dict) -> str:
    return (f"INSTRUCTIONS keep me\n{fields['question']}\nA: {fields['response_a']}\n"
            f"B: {fields['response_b']}\nVERDICT A or B")


def test_fit_cuts_the_conversation_first_and_keeps_its_end() -> None:
    fields = {"question": " ".join(f"q{i}" for i in range(200)),
              "response_a": "a " * 20, "response_b": "b " * 20}
    fitted = fit_to_context(_render, fields, ("response_a", "response_b"), budget=120,
                            count=_words)
    text = _render(fitted.fields)
    assert fitted.truncated and fitted.error is None
    assert _words(text) <= 120
    assert text.startswith("INSTRUCTIONS keep me") and text.endswith("VERDICT A or B")
    assert "q199" in text and "q0 " not in text and CUT_MARK in fitted.fields["question"]
    assert fitted.fields["response_a"] == fields["response_a"]  # responses untouched


def test_fit_cuts_responses_when_they_alone_overflow() -> None:
    fields = {"question": "short question",
              "response_a": " ".join(f"a{i}" for i in range(300)),
              "response_b": " ".join(f"b{i}" for i in range(300))}
    fitted = fit_to_context(_render, fields, ("response_a", "response_b"), budget=200,
                            count=_words)
    text = _render(fitted.fields)
    assert _words(text) <= 200 and text.endswith("VERDICT A or B")
    assert "a0 " in text and "b0 " in text and "a299" not in text  # beginnings kept


def test_fit_leaves_short_prompts_alone_and_reports_impossible_budgets() -> None:
    fields = {"question": "q", "response_a": "a", "response_b": "b"}
    same = fit_to_context(_render, fields, ("response_a", "response_b"), budget=100,
                          count=_words)
    assert not same.truncated and same.fields == fields
    tiny = fit_to_context(_render, {**fields, "question": "q " * 50},
                          ("response_a", "response_b"), budget=12, count=_words)
    assert tiny.error is not None and "instructions alone" in tiny.error
