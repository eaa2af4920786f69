"""Reading reward data: pairs, pointwise scores, best-of-n candidates and step-labelled
solutions, in the formats users already have (TRL explicit and implicit prompts, Anthropic HH
dialogues, chat messages, GSM8K problems and example solutions, RewardBench 2, TRL's PRM
format, PRMBench), from JSONL, JSON, CSV/TSV and Parquet.

Every format is read here. Besides ``load_dataset``, the package's row-reading seam is
public, so other packages and new formats read rows the same way: ``read_rows`` (a file's
rows through a parser, stopping or skipping at bad ones), ``RowContext`` (where a row is),
the field readers ``read_text``, ``read_number``, ``read_bool``, ``read_messages``,
``read_prompt``, ``read_id``, ``read_subset``, ``read_reference`` (typed values, or a
``DataError`` naming file, line and field), and one column vocabulary (``PROMPT_KEYS``,
``REFERENCE_KEYS``, ...).
"""

from rewardlab.data._code import (
    CODE_TEST_KEYS,
    CodeRowError,
    code_reference,
    test_code_problem,
)
from rewardlab.data._columns import (
    CANDIDATE_TEXT_KEYS,
    LABEL_FIELDS,
    PROMPT_KEYS,
    QUESTION_KEYS,
    REFERENCE_KEYS,
    SCORE_KEYS,
    SOLUTION_KEYS,
    STRUCTURED_REFERENCE_KEYS,
    TOOL_KEYS,
)
from rewardlab.data._convert import best_of_n_to_pairs
from rewardlab.data._dialogue import is_hh_text, parse_hh, render_hh
from rewardlab.data._fields import (
    DEFAULT_MAX_CHARS,
    RowContext,
    lone_surrogate,
    maybe_json,
    parse_weights,
    read_bool,
    read_id,
    read_messages,
    read_number,
    read_prompt,
    read_reference,
    read_subset,
    read_text,
    read_user,
    read_votes,
    read_weights,
    reference_text,
    user_key,
)
from rewardlab.data._formats import detect_task, is_rewardbench2_row, unknown_layout
from rewardlab.data._loader import load_data, load_dataset, parse_row, require_task
from rewardlab.data._problems import Problem, is_problem_row, parse_problem, read_problems
from rewardlab.data._readers import (
    DEFAULT_MAX_LINE_BYTES,
    RawRow,
    file_type,
    iter_lines,
    iter_raw_rows,
    jsonl_row,
    line_limit,
    too_long_row,
)
from rewardlab.data._records import (
    TASKS,
    BestOfNRecord,
    Conversation,
    Dataset,
    Message,
    PairRecord,
    PointRecord,
    Prompt,
    SkippedRow,
    StepRecord,
    Task,
    last_user_turn,
    render_prompt,
)
from rewardlab.data._rows import RowParser, RowsRead, read_rows
from rewardlab.data._sources import BUNDLED, bundled_path, resolve_source
from rewardlab.data._split import kfold_by_prompt, kfold_ids, prompt_buckets, split_by_prompt
from rewardlab.data._tools import json_text, normalize_schema, tool_functions, tool_reference

__all__ = [
    "BUNDLED",
    "CANDIDATE_TEXT_KEYS",
    "CODE_TEST_KEYS",
    "DEFAULT_MAX_CHARS",
    "DEFAULT_MAX_LINE_BYTES",
    "LABEL_FIELDS",
    "PROMPT_KEYS",
    "QUESTION_KEYS",
    "REFERENCE_KEYS",
    "SCORE_KEYS",
    "SOLUTION_KEYS",
    "STRUCTURED_REFERENCE_KEYS",
    "TASKS",
    "TOOL_KEYS",
    "BestOfNRecord",
    "CodeRowError",
    "Conversation",
    "Dataset",
    "Message",
    "PairRecord",
    "PointRecord",
    "Problem",
    "Prompt",
    "RawRow",
    "RowContext",
    "RowParser",
    "RowsRead",
    "SkippedRow",
    "StepRecord",
    "Task",
    "best_of_n_to_pairs",
    "bundled_path",
    "code_reference",
    "detect_task",
    "file_type",
    "is_hh_text",
    "is_problem_row",
    "is_rewardbench2_row",
    "iter_lines",
    "iter_raw_rows",
    "json_text",
    "jsonl_row",
    "kfold_by_prompt",
    "kfold_ids",
    "last_user_turn",
    "line_limit",
    "load_data",
    "load_dataset",
    "lone_surrogate",
    "maybe_json",
    "normalize_schema",
    "parse_hh",
    "parse_problem",
    "parse_row",
    "parse_weights",
    "prompt_buckets",
    "read_bool",
    "read_id",
    "read_messages",
    "read_number",
    "read_problems",
    "read_prompt",
    "read_reference",
    "read_rows",
    "read_subset",
    "read_text",
    "read_user",
    "read_votes",
    "read_weights",
    "reference_text",
    "render_hh",
    "render_prompt",
    "require_task",
    "resolve_source",
    "split_by_prompt",
    "test_code_problem",
    "too_long_row",
    "tool_functions",
    "tool_reference",
    "unknown_layout",
    "user_key",
]
