"""Every RL path hands the model the same prompt and response for the same sample.

Regression tests for the mismatches ``tests/conformance`` found: the TRL, verl and OpenRLHF
adapters read an HH prompt (``\\n\\nHuman: ...\\n\\nAssistant:``) as plain text while
``rewardlab serve`` read it as a conversation, and verl's ``solution_str`` kept trailing
end-of-turn tokens that OpenRLHF's queries had stripped. A recording model shows exactly what
each path passes on, with no encoder to run.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from rewardlab.adapters import OpenRLHFRewardFunc, TRLRewardFunction, VerlScorer
from rewardlab.adapters._text import hh_sample, split_query, strip_end_markers
from rewardlab.data import Message
from rewardlab.errors import ConfigError

pytest.importorskip("torch")

HH = "\n\nHuman: Can I freeze bread?\n\nAssistant: Yes.\n\nHuman: For how long?\n\nAssistant:"
CONVERSATION = (Message("user", "Can I freeze bread?"), Message("assistant", "Yes."),
                Message("user", "For how long?"))


class Recorder:
    """Test-only reward: 0.0 for everything; keeps every (prompt, response) it was given."""

    spec = "test:recorder"

    def __init__(self) -> None:
        self.seen: list[tuple[object, str]] = []

    def score(self, prompts: Sequence, responses: Sequence[str]) -> np.ndarray:
        self.seen += list(zip(prompts, responses, strict=True))
        return np.zeros(len(responses))


def test_strip_end_markers_takes_repeats_and_spaces_between() -> None:
    assert strip_end_markers("ok<|im_end|><|endoftext|> <|endoftext|>\n") == "ok"
    assert strip_end_markers("</s>") == ""
    assert strip_end_markers("a </s> b") == "a </s> b"  # only at the end
    assert strip_end_markers("ok</s>", ()) == "ok</s>"


def test_hh_sample_reads_only_hh_text() -> None:
    assert hh_sample(HH, "  About three months. ") == (CONVERSATION, "About three months.")
    chatml = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert hh_sample(chatml, " hi") == (chatml, " hi")
    assert hh_sample(CONVERSATION, " x") == (CONVERSATION, " x")


def test_every_adapter_passes_the_same_sample_on() -> None:
    """One HH sample, as each trainer presents it, reaches the model identically."""
    reply = "About three months, well wrapped."
    seen = {}
    for name, call in {
        "trl": lambda m: TRLRewardFunction(m)(prompts=[HH], completions=[" " + reply]),
        "trl_chat": lambda m: TRLRewardFunction(m)(
            prompts=[[{"role": x.role, "content": x.content} for x in CONVERSATION]],
            completions=[[{"role": "assistant", "content": reply}]]),
        "verl": lambda m: VerlScorer(m)(solution_str=" " + reply + "<|im_end|>",
                                        extra_info={"prompt": HH}),
        "openrlhf": lambda m: OpenRLHFRewardFunc(m)(
            [HH + " " + reply + "</s><pad><pad>"], [HH], [None]),
        "get_reward": lambda m: m.score(*zip(*[split_query(HH + " " + reply + "<|eot_id|>",
                                                           HH, "query[0]")], strict=True)),
    }.items():
        model = Recorder()
        call(model)
        seen[name] = model.seen
    assert all(v == [(CONVERSATION, reply)] for v in seen.values()), seen


def test_verl_strips_end_tokens_and_refuses_non_text() -> None:
    model = Recorder()
    VerlScorer(model)(solution_strs=["a<|endoftext|><|endoftext|>", "b</s>"],
                      ground_truths=[None, None],
                      extra_infos=[{"prompt": "p"}, {"prompt": "q"}])
    assert model.seen == [("p", "a"), ("q", "b")]
    kept = Recorder()
    VerlScorer(kept, end_markers=())(solution_str="a</s>", extra_info={"prompt": "p"})
    assert kept.seen == [("p", "a</s>")]
    with pytest.raises(ConfigError, match=r"solution_strs\[1\] is int, not text"):
        VerlScorer(Recorder())(solution_strs=["a", 3], ground_truths=[None, None],
                               extra_infos=[{"prompt": "p"}] * 2)
