"""Reading reward data: pairs, pointwise scores, best-of-n candidates and step-labelled
solutions, in the formats users already have (TRL explicit and implicit prompts, Anthropic HH
dialogues, chat messages, GSM8K example solutions, TRL's PRM format, PRMBench), from JSONL,
JSON, CSV/TSV and Parquet."""

from rewardlab.data._convert import best_of_n_to_pairs
from rewardlab.data._formats import DEFAULT_MAX_CHARS
from rewardlab.data._loader import BUNDLED, bundled_path, load_dataset, require_task
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
from rewardlab.data._split import kfold_by_prompt, split_by_prompt

__all__ = [
    "BUNDLED",
    "DEFAULT_MAX_CHARS",
    "TASKS",
    "BestOfNRecord",
    "Conversation",
    "Dataset",
    "Message",
    "PairRecord",
    "PointRecord",
    "Prompt",
    "SkippedRow",
    "StepRecord",
    "Task",
    "best_of_n_to_pairs",
    "bundled_path",
    "kfold_by_prompt",
    "last_user_turn",
    "load_dataset",
    "render_prompt",
    "require_task",
    "split_by_prompt",
]
