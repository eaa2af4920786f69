"""The column vocabulary: which field names mean what, in which order they are tried.

Every reader of rows (the loader's layouts, bench's RewardBench 2 rows, the GSM8K problem
readers, Ray's shard parser, and the formats still to come) takes its names from here, so a
column that is a reference answer in one command is one in every command, and the first name
present wins everywhere in the same order.
"""

from __future__ import annotations

from rewardlab.data._records import Task

__all__ = [
    "CANDIDATE_TEXT_KEYS",
    "LABEL_FIELDS",
    "PROMPT_KEYS",
    "QUESTION_KEYS",
    "REFERENCE_KEYS",
    "SCORE_KEYS",
    "SOLUTION_KEYS",
    "STRUCTURED_REFERENCE_KEYS",
    "TOOL_KEYS",
]

#: The prompt of a pair, a pointwise row or a best-of-n row (a string or chat messages).
PROMPT_KEYS = ("prompt", "question", "instruction")
#: The question of a math problem (GSM8K's ``question``, MATH's ``problem``).
QUESTION_KEYS = ("question", "prompt", "problem")
#: A reference answer that verifiers check replies against, in data files and in the dataset
#: columns an RL trainer passes to a reward function: ``reference`` (named for the purpose),
#: verl's and the GSM8K example solutions' ``ground_truth``, GSM8K's ``answer``, a generic
#: ``solution``. A worked solution ending in ``#### 72`` is a reference too: the verifier
#: reads its final answer.
#: Structured references come first: a row's ``constraints`` (``verify:rules``) or ``rubric``
#: (``rubric:``), a list of objects passed on as its JSON text (``reference_text``).
STRUCTURED_REFERENCE_KEYS = ("constraints", "rubric")
REFERENCE_KEYS = (*STRUCTURED_REFERENCE_KEYS, "reference", "ground_truth", "answer", "solution")
#: A tool-calling row's tool definitions: OpenAI's ``tools``, BFCL's ``function``.
TOOL_KEYS = ("tools", "function", "functions")
#: A correct worked solution (step-labelling reads its steps): raw GSM8K's ``answer``, the
#: example solutions' ``ground_truth``, or a generic ``solution`` / ``reference``.
SOLUTION_KEYS = ("answer", "ground_truth", "solution", "reference")
#: A pointwise label: a rating, or a 0/1 (or true/false) judgement.
SCORE_KEYS = ("score", "label", "rating")
#: The text of a best-of-n candidate given as an object.
CANDIDATE_TEXT_KEYS = ("response", "text", "solution", "completion", "content")

#: What each task's rows must carry for a metric (or training) to use them. Scoring needs
#: none of it: unlabelled rows are scored as they are.
LABEL_FIELDS: dict[Task, str] = {
    "pairwise": "pairwise accuracy needs 'chosen' and 'rejected' (the preferred and the other "
                "reply)",
    "best-of-n": "best-of-n accuracy needs 'is_correct' on every reply in 'responses'",
    "steps": "first-error F1 needs 'labels', one true/false per step in 'completions'",
    "pointwise": "a pointwise metric needs 'score' (or 'label')",
}
