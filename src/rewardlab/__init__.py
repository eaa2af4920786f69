"""rewardlab: train, evaluate, audit, shape and serve reward models.

Everything that assigns a reward is a ``RewardModel`` (``score(prompts, responses)``); a spec
string such as ``embed:minilm`` or a saved model directory resolves to one with ``resolve``.

Example:
    >>> import rewardlab
    >>> data = rewardlab.load_dataset("bundled:hh_harmless", limit=2)
    >>> data.task, len(data)
    ('pairwise', 2)
"""

from rewardlab._version import __version__
from rewardlab.api import (
    DemoResult,
    ScoreResult,
    TrainResult,
    evaluate,
    load_data,
    run_demo,
    score,
    train,
)
from rewardlab.data import (
    BestOfNRecord,
    Dataset,
    Message,
    PairRecord,
    PointRecord,
    SkippedRow,
    StepRecord,
    load_dataset,
    split_by_prompt,
)
from rewardlab.errors import (
    BackendError,
    CapabilityError,
    ConfigError,
    DataError,
    MissingDependencyError,
    ModelFormatError,
    NotFittedError,
    OutputError,
    RewardLabError,
    SpecError,
    TrainingError,
    UnknownKindError,
)
from rewardlab.evaluate import PairwiseResult, evaluate_pairwise, pairwise_accuracy
from rewardlab.models import (
    EmbedConfig,
    EmbeddingRewardModel,
    RewardModel,
    Saveable,
    Trainable,
    clone,
    known_kinds,
    load_model,
    register_kind,
    resolve,
)

__all__ = [
    "BackendError",
    "BestOfNRecord",
    "CapabilityError",
    "ConfigError",
    "DataError",
    "Dataset",
    "DemoResult",
    "EmbedConfig",
    "EmbeddingRewardModel",
    "Message",
    "MissingDependencyError",
    "ModelFormatError",
    "NotFittedError",
    "OutputError",
    "PairRecord",
    "PairwiseResult",
    "PointRecord",
    "RewardLabError",
    "RewardModel",
    "Saveable",
    "ScoreResult",
    "SkippedRow",
    "SpecError",
    "StepRecord",
    "TrainResult",
    "Trainable",
    "TrainingError",
    "UnknownKindError",
    "__version__",
    "clone",
    "evaluate",
    "evaluate_pairwise",
    "known_kinds",
    "load_data",
    "load_dataset",
    "load_model",
    "pairwise_accuracy",
    "register_kind",
    "resolve",
    "run_demo",
    "score",
    "split_by_prompt",
    "train",
]
