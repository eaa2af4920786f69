"""Process reward models' data side: step splitting, and step labels by error injection
and by Monte-Carlo rollouts (``rollouts``, with the policies in ``_policy``).

The ``prm:`` model kind is in ``rewardlab.models.prm`` and first-error evaluation in
``rewardlab.evaluate.process``; this package holds what they share and what makes labels.
"""

from rewardlab.prm._policy import (
    POLICY_KINDS,
    Continuation,
    LlamaCppPolicy,
    OpenAIPolicy,
    Policy,
    RolloutFailure,
    Sampling,
    load_policy,
)
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
from rewardlab.prm.rollouts import (
    DENOISE_MODES,
    RolloutConfig,
    RolloutResult,
    Solution,
    label_solutions,
    low_confidence,
    read_solutions,
)

__all__ = [
    "CORRUPTIONS",
    "DENOISE_MODES",
    "POLICY_KINDS",
    "SPLIT_MODES",
    "Continuation",
    "Corruption",
    "InjectionResult",
    "LlamaCppPolicy",
    "OpenAIPolicy",
    "Policy",
    "Problem",
    "RolloutConfig",
    "RolloutFailure",
    "RolloutResult",
    "Sampling",
    "Solution",
    "evaluate_expression",
    "inject_error",
    "inject_errors",
    "label_solutions",
    "load_policy",
    "low_confidence",
    "read_problems",
    "read_solutions",
    "split_steps",
]
