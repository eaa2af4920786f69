"""The math verifier in the shapes RL trainers call: verl's ``compute_score`` and a TRL
reward function.

Both check answers exactly as ``verify:math`` does (same extraction, same exact-number path,
same math-verify worker with its per-item time limit), so a reward seen in training is the
reward seen in ``rewardlab eval``.

verl (``custom_reward_function.path`` pointing at this file, ``name: compute_score``)::

    reward = compute_score("openai/gsm8k", "... #### 72", "72")        # 1.0

TRL (``GRPOTrainer(reward_funcs=[math_reward], ...)``, the reference in a dataset column
named ``ground_truth``, ``answer``, ``reference`` or ``solution``)::

    math_reward(prompts=["q"], completions=["#### 72"], answer=["72"])  # [1.0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rewardlab.data import REFERENCE_KEYS, STRUCTURED_REFERENCE_KEYS
from rewardlab.errors import ConfigError
from rewardlab.verify._check import MathChecker

__all__ = ["REFERENCE_KWARGS", "compute_score", "make_math_reward", "math_reward"]

#: Dataset columns a TRL reward function reads the reference from, in this order: the one
#: column vocabulary of ``rewardlab.data``, less the structured references (``constraints``,
#: ``rubric``), which are never a math answer.
REFERENCE_KWARGS = tuple(k for k in REFERENCE_KEYS if k not in STRUCTURED_REFERENCE_KEYS)

_DEFAULT = MathChecker()


def compute_score(data_source: str, solution_str: str, ground_truth: str,
                  extra_info: dict[str, Any] | None = None) -> float:
    """verl's reward-function signature: 1.0 when ``solution_str``'s final answer equals
    ``ground_truth``, else 0.0.

    ``data_source`` and ``extra_info`` are accepted for verl's signature and not used: any
    math data source works, since the answer is read from its marker (``####``, ``A:``,
    ``\\boxed{}``, "the answer is"). A ``ground_truth`` that is a worked solution is reduced
    to its final answer too. Bad input (no answer, unparsable LaTeX, an expression that
    takes too long) scores 0.0; the reason is in ``MathChecker.check``'s verdicts.

    Example:
        >>> compute_score("openai/gsm8k", "9 * 2 = 18 dollars.\\n#### 18", "18")
        1.0
        >>> compute_score("openai/gsm8k", "I am not sure.", "18")
        0.0
    """
    if ground_truth is None:
        raise ConfigError("compute_score got ground_truth=None; every item needs its "
                          "reference answer (reward_model.ground_truth in verl's data)")
    return _DEFAULT.check([solution_str], [str(ground_truth)])[0].reward


def _text(completion: Any) -> str:
    """TRL passes plain strings, or (conversational data) lists of message dicts."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list | tuple) and completion:
        last = completion[-1]
        if isinstance(last, dict):
            return str(last.get("content", ""))
    raise ConfigError(f"a completion must be a string or a list of messages; got "
                      f"{type(completion).__name__}")


def make_math_reward(*, format_score: float = 0.0, fallback: str = "none",
                     timeout: float = 2.0) -> Callable[..., list[float]]:
    """A TRL reward function ``(prompts, completions, **columns) -> list[float]``.

    Args are those of ``MathChecker``. The reference of each completion comes from the first
    of the dataset columns ``REFERENCE_KWARGS`` that TRL passes through.

    Example:
        >>> reward = make_math_reward(format_score=0.1)
        >>> reward(prompts=["q", "q"], completions=["#### 7", "#### 8"], answer=["7", "7"])
        [1.0, 0.1]
    """
    checker = MathChecker(format_score=format_score, fallback=fallback, timeout=timeout)

    def math_reward(prompts: Sequence[Any] | None = None,
                    completions: Sequence[Any] | None = None, **kwargs: Any) -> list[float]:
        if completions is None:
            raise ConfigError("math_reward needs `completions`")
        key = next((k for k in REFERENCE_KWARGS if kwargs.get(k) is not None), None)
        if key is None:
            raise ConfigError(
                "math_reward needs the reference answers: give the dataset a column named "
                f"{', '.join(repr(k) for k in REFERENCE_KWARGS)}; got columns "
                f"{', '.join(sorted(kwargs)) or 'none'}")
        references = kwargs[key]
        if isinstance(references, str):
            references = [references] * len(completions)
        if len(references) != len(completions):
            raise ConfigError(f"`{key}` has {len(references)} entries but there are "
                              f"{len(completions)} completions")
        texts = [_text(c) for c in completions]
        verdicts = checker.check(texts, ["" if r is None else str(r) for r in references])
        return [v.reward for v in verdicts]

    return math_reward


math_reward = make_math_reward()
math_reward.__doc__ = """TRL reward function: 1.0 per completion whose final answer equals the
reference column (``ground_truth``, ``answer``, ``reference`` or ``solution``), else 0.0.

Example:
    >>> math_reward(prompts=["q"], completions=[[{"role": "assistant", "content": "#### 72"}]],
    ...             ground_truth=["72"])
    [1.0]
"""
