"""rewardlab rewards as TRL ``GRPOTrainer`` reward functions.

TRL calls every custom reward function as ``f(prompts=..., completions=...,
completion_ids=..., **columns)`` (``GRPOTrainer._calculate_rewards``): prompts and completions
are strings, or lists of ``{"role", "content"}`` messages for conversational data; every other
dataset column arrives as a keyword list, next to ``trainer_state``, ``log_extra`` and
``log_metric``. It expects one ``float`` (or ``None``: "not applicable", left out of the sum)
per completion, reads the function's ``__name__`` for its metrics, awaits it when its
``__call__`` is a coroutine function, and pickles it for spawned rollout workers.

    from trl import GRPOConfig, GRPOTrainer
    from rewardlab.adapters import TRLRewardFunction

    reward = TRLRewardFunction("my-saved-rm")               # any spec or saved directory
    trainer = GRPOTrainer(model=..., reward_funcs=[reward], args=GRPOConfig(...), ...)

An HH text prompt (``\\n\\nHuman: ...\\n\\nAssistant:``) is read as its conversation, with the
completion stripped, as the verl and OpenRLHF adapters and ``rewardlab serve`` read it.

A verifier takes its reference answers from a dataset column (``ground_truth``, ``answer``,
``reference`` or ``solution``, or the one named by ``reference_key``). For several rewards on
more than one GPU, prefer ``trl_reward_funcs``: one function per reward plus
``GRPOConfig(reward_weights=..., multi_objective_aggregation="normalize_then_sum")``, so TRL
applies GDPO's per-reward normalisation after gathering every process's completions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from rewardlab._validation import check_option
from rewardlab.adapters._core import REFERENCE_KEYS, CombinedReward, Normalize, Scores
from rewardlab.adapters._text import completion_text, hh_sample, prompt_from_messages
from rewardlab.data import (
    CODE_TEST_KEYS,
    TOOL_KEYS,
    CodeRowError,
    Prompt,
    code_reference,
    tool_reference,
)
from rewardlab.errors import ConfigError

__all__ = ["AsyncTRLRewardFunction", "TRLRewardFunction", "trl_reward_funcs"]

#: Keyword arguments TRL adds to the dataset columns; never read as reference answers.
_TRAINER_KWARGS = frozenset({"trainer_state", "log_extra", "log_metric", "environments"})


class TRLRewardFunction:
    """A rewardlab reward (one model, or several combined) as a TRL reward function.

    Args:
        rewards: a spec, saved model directory, model object, or several (a list, a dict by
            name, or JSON text), as ``CombinedReward`` takes them.
        weights: one weight per reward, for several.
        normalize: ``"none"`` (weighted sum) or ``"group"`` (each reward normalised within the
            completions of one prompt first, GDPO). ``"group"`` needs every group whole in
            one call: true on one process; on several, use ``trl_reward_funcs``.
        reference_key: the dataset column holding reference answers; by default the first of
            ``ground_truth``, ``answer``, ``reference``, ``solution`` present.
        nan_policy: ``"raise"``: a NaN reward stops training with the model and sample named.
            ``"none"``: a sample with no valid reward gets ``None``, which TRL leaves out of
            the sum and warns about when every reward function does so.
        name: the ``__name__`` TRL logs the reward under (``rewards/NAME/mean``); by default
            ``rewardlab_`` plus the reward names.

    Example:
        >>> reward = TRLRewardFunction("verify:math")
        >>> reward(prompts=["2+2?", "2+2?"], completions=["#### 4", "#### 5"], answer=["4", "4"])
        [1.0, 0.0]
    """

    def __init__(self, rewards: Any, *, weights: Any = None, normalize: Normalize = "none",
                 reference_key: str | None = None,
                 nan_policy: Literal["raise", "none"] = "raise", name: str | None = None) -> None:
        check_option(type(self).__name__, "nan_policy", nan_policy, ("raise", "none"))
        self.reward = CombinedReward(rewards, weights=weights, normalize=normalize,
                                     nan_policy="raise" if nan_policy == "raise" else "omit")
        self.reference_key, self.nan_policy = reference_key, nan_policy
        self.__name__ = name or "rewardlab_" + "+".join(self.reward.names)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.__name__!r}, {self.reward!r})"

    # --- the batch TRL passes, as rewardlab inputs -----------------------------------------

    def _inputs(self, prompts: Sequence[Any], completions: Sequence[Any],
                kwargs: dict[str, Any]) -> tuple[list[Prompt], list[str], list[Any] | None]:
        if len(prompts) != len(completions):
            raise ConfigError(f"reward function '{self.__name__}' got {len(prompts)} prompts "
                              f"but {len(completions)} completions")
        # an HH text prompt is read as its conversation, as the other paths read it
        pairs = [hh_sample(prompt_from_messages(p, f"prompts[{i}]"),
                           completion_text(c, f"completions[{i}]"))
                 for i, (p, c) in enumerate(zip(prompts, completions, strict=True))]
        ps, rs = [p for p, _ in pairs], [r for _, r in pairs]
        refs = (self._references(kwargs, len(rs), prompts) if self.reward.needs_references()
                else None)
        return ps, rs, refs

    def _references(self, kwargs: dict[str, Any], n: int, prompts: Sequence[Any] = ()
                    ) -> list[Any]:
        columns = sorted(k for k in kwargs if k not in _TRAINER_KWARGS)
        if self.reference_key is not None:
            if self.reference_key not in kwargs:
                raise ConfigError(f"reward function '{self.__name__}' reads reference answers "
                                  f"from the dataset column '{self.reference_key}', which is "
                                  f"not in this batch; columns: {columns or 'none'}")
            key = self.reference_key
        else:
            key = next((k for k in REFERENCE_KEYS if k in kwargs), None)
            if key is None and any(k in kwargs for k in CODE_TEST_KEYS):
                return self._code_references(kwargs, n, prompts)
            if key is None:
                raise ConfigError(
                    f"reward function '{self.__name__}' needs reference answers, but the batch "
                    f"has none of the columns {', '.join(REFERENCE_KEYS)}; columns: "
                    f"{columns or 'none'}. Add one to the dataset or pass reference_key=...")
        values = list(kwargs[key])
        if len(values) != n:
            raise ConfigError(f"column '{key}' has {len(values)} values for {n} completions")
        tools = next((k for k in TOOL_KEYS if kwargs.get(k) is not None), None)
        if tools is not None and self.reward.takes_structured_references():
            # a tool-calling data set: each row's tools travel with its reference calls, as
            # rewardlab.data builds them from a file's rows
            defs = list(kwargs[tools])
            values = [tool_reference(
                d, v, lambda f, m, i=i: ConfigError(f"sample {i}, column '{f}': {m}"),
                tools_field=tools, calls_field=key) for i, (d, v) in enumerate(
                    zip(defs, values, strict=True))]
        return values

    def _code_references(self, kwargs: dict[str, Any], n: int, prompts: Sequence[Any]
                         ) -> list[Any]:
        """Unit-test columns (HumanEval ``test``/``entry_point``, MBPP ``test_list``, generic
        ``tests``) gathered per sample into the JSON reference ``verify:code`` reads; a text
        prompt is the one a HumanEval completion continues."""
        columns = [k for k in CODE_TEST_KEYS if k in kwargs]
        for k in columns:
            if len(kwargs[k]) != n:
                raise ConfigError(f"column '{k}' has {len(kwargs[k])} values for {n} completions")
        refs = []
        for i in range(n):
            try:
                prompt = prompts[i] if i < len(prompts) else None
                refs.append(code_reference({**{k: kwargs[k][i] for k in columns},
                                            "prompt": prompt}))
            except CodeRowError as exc:
                raise ConfigError(f"sample {i}: column '{exc.field}' {exc}") from None
        return refs

    def _output(self, scores: Scores, kwargs: dict[str, Any]) -> list[float | None]:
        log_metric = kwargs.get("log_metric")
        if callable(log_metric) and len(scores.components) > 1:
            for name, values in scores.components.items():
                finite = values[np.isfinite(values)]
                if finite.size:
                    log_metric(f"{self.__name__}/{name}", float(finite.mean()))
        return [None if math.isnan(v) else float(v) for v in scores.total.tolist()]

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any],
                 completion_ids: Sequence[Sequence[int]] | None = None,
                 **kwargs: Any) -> list[float | None]:
        """One reward per completion, as TRL's ``_calculate_rewards`` expects."""
        ps, rs, refs = self._inputs(prompts, completions, kwargs)
        return self._output(self.reward.score(ps, rs, refs, **_conditions(kwargs, len(rs))),
                            kwargs)


class AsyncTRLRewardFunction(TRLRewardFunction):
    """``TRLRewardFunction`` whose ``__call__`` is a coroutine, for remote or slow models.

    TRL runs async reward functions concurrently with each other (``asyncio.gather`` on its
    own event loop) instead of one after another. Local models are scored in a worker thread
    so the loop never blocks; a model with ``async def ascore(prompts, responses)`` (a remote
    judge) is awaited directly.

    Example:
        >>> import asyncio
        >>> reward = AsyncTRLRewardFunction("verify:math")
        >>> asyncio.run(reward(prompts=["q"], completions=["#### 4"], answer=["4"]))
        [1.0]
    """

    async def __call__(self, prompts: Sequence[Any], completions: Sequence[Any],  # type: ignore[override]
                       completion_ids: Sequence[Sequence[int]] | None = None,
                       **kwargs: Any) -> list[float | None]:
        ps, rs, refs = self._inputs(prompts, completions, kwargs)
        return self._output(await self.reward.ascore(ps, rs, refs, **_conditions(kwargs, len(rs))),
                            kwargs)


def trl_reward_funcs(rewards: Any, *, weights: Any = None, asynchronous: bool = False,
                     **options: Any) -> tuple[list[TRLRewardFunction], list[float]]:
    """One TRL reward function per reward, and their weights, for TRL to combine.

    Pass them as ``GRPOTrainer(reward_funcs=funcs, args=GRPOConfig(reward_weights=weights,
    multi_objective_aggregation="normalize_then_sum"))`` to have TRL normalise each reward
    within its group before the weighted sum (GDPO), after gathering every process's
    completions, which a single combined function cannot see.

    Args:
        rewards: several rewards, in any form ``CombinedReward`` takes.
        weights: one weight per reward (overrides the terms' own weights).
        asynchronous: return ``AsyncTRLRewardFunction`` objects.
        **options: ``reference_key``, ``nan_policy`` for every function.

    Example:
        >>> funcs, weights = trl_reward_funcs({"acc": "verify:math",
        ...                                   "fmt": "verify:math?format_score=0.2"},
        ...                                  weights={"acc": 1.0, "fmt": 0.25})
        >>> [f.__name__ for f in funcs], weights
        (['acc', 'fmt'], [1.0, 0.25])
    """
    cls = AsyncTRLRewardFunction if asynchronous else TRLRewardFunction
    terms = CombinedReward(rewards, weights=weights).terms
    funcs = [cls(t.model, name=t.name, **options) for t in terms]
    return funcs, [float(t.weight) for t in terms]


def _conditions(kwargs: dict[str, Any], n: int) -> dict[str, Any]:
    """A batch's ``weights`` and ``user`` dataset columns, per completion, for ``multi:`` and
    ``personal:`` terms (TRL passes every dataset column as a keyword)."""
    out: dict[str, Any] = {}
    for column, key in (("weights", "attribute_weights"), ("user", "users")):
        values = kwargs.get(column)
        if values is not None:
            values = list(values)
            if len(values) != n:
                raise ConfigError(f"column '{column}' has {len(values)} values for {n} "
                                  "completions")
            out[key] = values
    return out
