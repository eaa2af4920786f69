"""Rule-based rewards against a reference: find a solution's final answer and check it.

``extract_answer`` finds the answer (``#### 42``, ``A: 42``, ``\\boxed{42}``, "the answer is
42", optionally the last number); ``MathChecker`` compares it with the reference, exactly for
plain numbers and with math-verify (in a worker process with a per-item time limit) for the
rest. ``verify:math`` (``rewardlab.models.verify``) wraps it as a reward model, and
``rewardlab.verify.rl`` as verl's ``compute_score`` and a TRL reward function.

``CodeChecker`` runs programs against unit tests in a sandbox (``SandboxPool``: a warm pool of
harness processes, a fresh limited runner process per program, verdicts decided outside the
program's process) or on a SandboxFusion server; ``verify:code`` wraps it.

``ToolCallChecker`` (``rewardlab.verify.toolcall``) checks tool calls against reference calls:
the logic of ``verify:toolcall``.
"""

from rewardlab.verify._check import FALLBACKS, REASONS, MathChecker, Verdict, close_worker
from rewardlab.verify._code import CODE_REASONS, CodeChecker, CodeVerdict
from rewardlab.verify._code_tasks import CodeTask, TaskError, extract_code, parse_task
from rewardlab.verify._extract import (
    MARKERS,
    Answer,
    answer_key,
    clean_answer,
    extract_answer,
    parse_number,
    reference_answer,
    vote_key,
)
from rewardlab.verify._sandbox import (
    Limits,
    SandboxPool,
    SandboxResult,
    close_pools,
    shared_pool,
)
from rewardlab.verify._toolparse import ToolCall, parse_calls
from rewardlab.verify.toolcall import (
    TOOL_REASONS,
    ToolCallChecker,
    ToolVerdict,
    parse_tool_reference,
)

__all__ = [
    "CODE_REASONS",
    "FALLBACKS",
    "MARKERS",
    "REASONS",
    "TOOL_REASONS",
    "Answer",
    "CodeChecker",
    "CodeTask",
    "CodeVerdict",
    "Limits",
    "MathChecker",
    "SandboxPool",
    "SandboxResult",
    "TaskError",
    "ToolCall",
    "ToolCallChecker",
    "ToolVerdict",
    "Verdict",
    "answer_key",
    "clean_answer",
    "close_pools",
    "close_worker",
    "extract_answer",
    "extract_code",
    "parse_calls",
    "parse_number",
    "parse_task",
    "parse_tool_reference",
    "reference_answer",
    "shared_pool",
    "vote_key",
]
