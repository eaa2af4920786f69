"""Process reward models' data side: step splitting and step labels by error injection.

The ``prm:`` model kind is in ``rewardlab.models.prm`` and first-error evaluation in
``rewardlab.evaluate.process``; this package holds what they share and what makes labels.
Monte-Carlo rollout labels (Math-Shepherd style) are not built yet.
"""

from rewardlab.prm._split import SPLIT_MODES, split_steps
from rewardlab.prm.inject import (
    CORRUPTIONS,
    Corruption,
    InjectionResult,
    Problem,
    evaluate_expression,
    inject_error,
    inject_errors,
    read_problems,
)

__all__ = [
    "CORRUPTIONS",
    "SPLIT_MODES",
    "Corruption",
    "InjectionResult",
    "Problem",
    "evaluate_expression",
    "inject_error",
    "inject_errors",
    "read_problems",
    "split_steps",
]
