"""Generative judges: prompts and rubrics, verdict scoring from token probabilities, position-bias
control, and the backends a judge runs on (``transformers``, llama.cpp, OpenAI-compatible
servers). The ``judge:`` model kind (``rewardlab.models.judge``) is built from these parts."""

from rewardlab.judge._backend import Backend, ItemFailure
from rewardlab.judge._engine import JudgeEngine, PairJudgment, Verdict, order_consistency
from rewardlab.judge._local import HFBackend, LlamaCppBackend, LocalBackend, check_gguf
from rewardlab.judge._models import default_gguf, dequantised_checkpoint
from rewardlab.judge._openai import OpenAIBackend
from rewardlab.judge._prompts import RUBRICS, load_rubric, load_template, render_question
from rewardlab.judge._tournament import preference_matrix
from rewardlab.judge._verdict import (
    MODES,
    OPTIONS,
    expected_grade,
    pairwise_probability,
    parse_verdict,
    yes_probability,
)

__all__ = [
    "MODES",
    "OPTIONS",
    "RUBRICS",
    "Backend",
    "HFBackend",
    "ItemFailure",
    "JudgeEngine",
    "LlamaCppBackend",
    "LocalBackend",
    "OpenAIBackend",
    "PairJudgment",
    "Verdict",
    "check_gguf",
    "default_gguf",
    "dequantised_checkpoint",
    "expected_grade",
    "load_rubric",
    "load_template",
    "order_consistency",
    "pairwise_probability",
    "parse_verdict",
    "preference_matrix",
    "render_question",
    "yes_probability",
]
