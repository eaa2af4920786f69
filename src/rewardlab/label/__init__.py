"""Labelling pipelines (``rewardlab label ...``): step labels by error injection
(``inject``) and by Monte-Carlo rollouts (``rollouts``, with the policies in ``_policy``),
and noisy preference labels injected for experiments and co-filtered before training
(``noise``).

They sit above scoring: a rollout policy is an LLM client (``rewardlab.llm``), co-filtering
fits and scores models. The step primitives they use (splitting, arithmetic) are in
``rewardlab.steps``, below the models.
"""

from rewardlab.label._policy import (
    POLICY_KINDS,
    Continuation,
    LlamaCppPolicy,
    OpenAIPolicy,
    Policy,
    RolloutFailure,
    Sampling,
    load_policy,
)
from rewardlab.label.inject import (
    CORRUPTIONS,
    Corruption,
    InjectionResult,
    Problem,
    inject_error,
    inject_errors,
    read_problems,
)
from rewardlab.label.noise import FilterReport, co_filter, inject_label_noise
from rewardlab.label.rollouts import (
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
    "Continuation",
    "Corruption",
    "FilterReport",
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
    "co_filter",
    "inject_error",
    "inject_errors",
    "inject_label_noise",
    "label_solutions",
    "load_policy",
    "low_confidence",
    "read_problems",
    "read_solutions",
]
