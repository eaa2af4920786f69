"""Every rewrite keeps the words (the meaning) and changes the surface it claims to."""

from __future__ import annotations

import re

import pytest

from rewardlab.audit.transforms import TRANSFORMS, apply_all

SAMPLES = [
    "Sure! Here is how:\n1. Mix the **flour**.\n2. Bake it... for 20 minutes.\n\nEnjoy!",
    "I can't help with that. Stealing is illegal, and it hurts people.",
    "## Steps\n- open the `door`\n- walk in",
    "Janet has 16 eggs.\nShe eats 3.\n#### 13",
    "We compute 2+2 and get \\boxed{4}",
    "",
]


def words(text: str) -> list[str]:
    # the content a reader keeps: letters, lower case (digits of list numbering aside, and
    # the restated answer's words)
    text = re.sub(r"the answer is|####|\\boxed", " ", text.lower())
    return re.findall(r"[a-z]+", text)


@pytest.mark.parametrize("name", list(TRANSFORMS))
@pytest.mark.parametrize("text", SAMPLES)
def test_rewrites_keep_the_words(name, text):
    assert words(TRANSFORMS[name](text)) == words(text)


def test_rewrites_keep_the_numbers_that_are_not_list_markers():
    out = TRANSFORMS["answer-format"](SAMPLES[3])
    assert re.findall(r"\d+", out) == ["16", "3", "13"]
    assert out.endswith("The answer is 13.")


@pytest.mark.parametrize(("text", "expected"), [
    (SAMPLES[0], {"whitespace", "newlines", "casing", "punctuation", "markdown-strip",
                  "list-renumber"}),
    (SAMPLES[1], {"whitespace", "newlines", "casing", "punctuation", "markdown-add"}),
    (SAMPLES[3], {"newlines", "casing", "markdown-add", "answer-format"}),
    ("", set()),
])
def test_each_rewrite_applies_where_it_has_something_to_change(text, expected):
    assert set(apply_all(text)) == expected
