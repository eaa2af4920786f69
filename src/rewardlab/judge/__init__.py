"""Generative judges: prompts and rubrics, verdict scoring from token probabilities and
position-bias control. A judge runs on any LLM client of ``rewardlab.llm`` (``transformers``,
llama.cpp, OpenAI-compatible servers); the ``judge:`` model kind (``rewardlab.models.judge``)
is built from these parts."""

from rewardlab.judge._engine import (
    JudgeEngine,
    PairJudgment,
    Sample,
    Verdict,
    order_consistency,
)
from rewardlab.judge._prompts import RUBRICS, load_rubric, load_template, render_question
from rewardlab.judge._verdict import (
    MODES,
    OPTIONS,
    VOTES,
    expected_grade,
    pairwise_probability,
    parse_verdict,
    vote_verdicts,
    yes_probability,
)

__all__ = [
    "MODES",
    "OPTIONS",
    "RUBRICS",
    "VOTES",
    "JudgeEngine",
    "PairJudgment",
    "Sample",
    "Verdict",
    "expected_grade",
    "load_rubric",
    "load_template",
    "order_consistency",
    "pairwise_probability",
    "parse_verdict",
    "render_question",
    "vote_verdicts",
    "yes_probability",
]
