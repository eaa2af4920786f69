"""Reward models behind one call, for RL trainers: load once, score, check, combine.

Every adapter (TRL, verl, OpenRLHF) turns its trainer's batch into prompts, responses and
(optionally) reference answers, and hands them to a ``CombinedReward``. That class

* resolves each model spec once per process (``rewardlab.resolve``) and shares the loaded
  model between adapters, calls and threads (trainers call reward functions from worker
  threads; each model is scored under its own lock);
* scores through the scoring layer (``rewardlab.scoring.score_batch``), which sends reference
  answers to models that judge against them (``ReferenceScorer``, e.g. ``verify:math``),
  whole groups to ``vote:``, and checks every result (``ScoringError`` for a model that
  returns the wrong shape or type, or raises);
* reports a NaN or infinite reward with the model, sample index and text it came from;
* combines several rewards with weights, either as a plain weighted sum or after normalising
  each reward within its group (GDPO, ``rewardlab.shaping.gdpo_advantages``).

Rewards can be given as a spec string, a saved model directory, a model object, a list or dict
of those, ``RewardTerm`` objects, or JSON text (what the ``REWARDLAB_REWARD_SPEC`` environment
variable of the verl and OpenRLHF files holds)::

    embed:minilm                                                 one spec or saved directory
    [{"spec": "/models/rm", "weight": 1.0, "name": "rm"},
     {"spec": "verify:math", "weight": 0.5}]                     several, weighted
    {"rewards": [...as above...], "normalize": "group"}          with options
"""

from __future__ import annotations

import asyncio
import json
import math
import numbers
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rewardlab._validation import check_option
from rewardlab.data import REFERENCE_KEYS as DATA_REFERENCE_KEYS
from rewardlab.data import Prompt, parse_weights, reference_text, render_prompt
from rewardlab.errors import ConfigError, TrainingError
from rewardlab.models.base import RewardModel, describe
from rewardlab.models.registry import resolve
from rewardlab.scoring import (
    ascore_batch,
    needs_references,
    route,
    score_batch,
    takes_structured_references,
)
from rewardlab.shaping import gdpo_advantages

__all__ = [
    "REFERENCE_KEYS",
    "CombinedReward",
    "RewardTerm",
    "Scores",
    "group_ids",
    "parse_reward_config",
    "reward_terms",
]

#: Dataset columns read as reference answers, in this order, when none is named: the one
#: column vocabulary of ``rewardlab.data`` (``rewardlab.verify.rl`` uses it too).
REFERENCE_KEYS = DATA_REFERENCE_KEYS

Normalize = Literal["none", "group"]
_NORMALIZE = ("none", "group")

_MODELS: dict[str, RewardModel] = {}
_LOAD_LOCK = threading.Lock()
_SCORE_LOCKS: dict[int, threading.Lock] = {}
_SCORE_LOCKS_LOCK = threading.Lock()


@dataclass(frozen=True, kw_only=True, slots=True)
class RewardTerm:
    """One reward of a combination.

    Args:
        model: a spec (``embed:minilm``, ``verify:math``), a saved model directory, or a
            model object.
        weight: its weight in the weighted sum (any finite number; negative penalises).
        name: the key it is logged under; by default derived from the spec.
    """

    model: str | Path | RewardModel
    weight: float = 1.0
    name: str | None = None

    def __post_init__(self) -> None:
        w = self.weight
        if isinstance(w, bool) or not isinstance(w, int | float) or not math.isfinite(w):
            raise ConfigError(f"The 'weight' parameter of RewardTerm must be a finite number. "
                              f"Got {w!r} instead.")
        if self.name is not None and (not isinstance(self.name, str) or not self.name):
            raise ConfigError(f"The 'name' parameter of RewardTerm must be a non-empty string. "
                              f"Got {self.name!r} instead.")


def _default_name(model: str | Path | RewardModel) -> str:
    if isinstance(model, Path):
        base = model.name
    elif isinstance(model, str):
        base = Path(model).name if (":" not in model and "/" in model) else model
    else:
        base = describe(model)
        if "/" in base:
            base = Path(base).name
    return re.sub(r"[^A-Za-z0-9]+", "_", base).strip("_")[:48] or "reward"


def _term_from_json(item: Any, where: str) -> RewardTerm:
    if isinstance(item, str):
        return RewardTerm(model=item)
    if isinstance(item, Mapping) and isinstance(item.get("spec"), str):
        unknown = set(item) - {"spec", "weight", "name"}
        if unknown:
            raise ConfigError(f"{where} has unknown keys {sorted(unknown)}; a reward is "
                              '{"spec": ..., "weight": ..., "name": ...}')
        return RewardTerm(model=item["spec"], weight=item.get("weight", 1.0),
                          name=item.get("name"))
    raise ConfigError(f'{where} must be a spec string or {{"spec": ..., "weight": ..., '
                      f'"name": ...}}; got {item!r}')


def parse_reward_config(text: str) -> tuple[tuple[RewardTerm, ...], dict[str, Any]]:
    """Reward terms and options from a spec string or JSON text (see the module docstring).

    Example:
        >>> terms, options = parse_reward_config(
        ...     '{"rewards": [{"spec": "verify:math", "weight": 2}], "normalize": "none"}')
        >>> terms[0].model, terms[0].weight, options
        ('verify:math', 2, {'normalize': 'none'})
    """
    stripped = text.strip()
    if not stripped:
        raise ConfigError("the reward spec is empty; give a model spec such as embed:minilm, "
                          "a saved model directory, or a JSON list of rewards")
    if stripped[0] not in "[{":
        return (RewardTerm(model=stripped),), {}
    try:
        value = json.loads(stripped)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"cannot read the reward spec as JSON ({exc.msg} at character "
                          f"{exc.pos}): {stripped[:200]!r}") from None
    options: dict[str, Any] = {}
    if isinstance(value, Mapping):
        items = value.get("rewards")
        options = {k: v for k, v in value.items() if k != "rewards"}
        if items is None:
            raise ConfigError('a JSON reward spec object needs a "rewards" list, e.g. '
                              '{"rewards": [{"spec": "verify:math", "weight": 1}]}')
    else:
        items = value
    if not isinstance(items, list) or not items:
        raise ConfigError(f"the rewards of a JSON reward spec must be a non-empty list; got "
                          f"{items!r}")
    return tuple(_term_from_json(item, f"reward {i}") for i, item in enumerate(items)), options


def reward_terms(rewards: Any, weights: Any = None) -> tuple[RewardTerm, ...]:
    """Normalise every accepted way of naming rewards to named ``RewardTerm`` objects.

    ``weights`` (a sequence, or a dict by name) overrides the terms' own weights. Names are
    made unique by appending ``_2``, ``_3``, ...
    """
    if isinstance(rewards, str) and rewards.strip()[:1] in ("[", "{"):
        parsed, options = parse_reward_config(rewards)
        if options:  # read by the verl / OpenRLHF files; here they would be dropped silently
            raise ConfigError(f"the JSON reward spec has options {sorted(options)}, which only "
                              "the verl and OpenRLHF reward files read from "
                              "REWARDLAB_REWARD_SPEC; in Python give the rewards alone and the "
                              "options as arguments, e.g. CombinedReward(rewards, "
                              "normalize='group')")
        terms = list(parsed)
    elif isinstance(rewards, RewardTerm | str | Path | RewardModel):
        terms = [rewards if isinstance(rewards, RewardTerm) else RewardTerm(model=rewards)]
    elif isinstance(rewards, Mapping):
        terms = [RewardTerm(model=t.model, weight=t.weight, name=str(k))
                 if isinstance(t, RewardTerm) else RewardTerm(model=t, name=str(k))
                 for k, t in rewards.items()]
    elif isinstance(rewards, Sequence):
        terms = [t if isinstance(t, RewardTerm) else RewardTerm(model=t) for t in rewards]
    else:
        raise ConfigError(f"cannot use {type(rewards).__name__} as rewards; give a spec "
                          "string, a saved model directory, a RewardModel, or a list or dict "
                          "of them")
    if not terms:
        raise ConfigError("no rewards given; name at least one model spec")
    names: list[str] = []
    for t in terms:
        base = t.name or _default_name(t.model)
        name, k = base, 2
        while name in names:
            name, k = f"{base}_{k}", k + 1
        names.append(name)
    out = [RewardTerm(model=t.model, weight=t.weight, name=n)
           for t, n in zip(terms, names, strict=True)]
    if weights is not None:
        if isinstance(weights, Mapping):
            if set(weights) != set(names):
                raise ConfigError(f"weights name {sorted(weights)}, but the rewards are "
                                  f"{names}; give one weight per reward name")
            values = [weights[n] for n in names]
        else:
            values = list(weights)
            if len(values) != len(out):
                raise ConfigError(f"got {len(values)} weights for {len(out)} rewards "
                                  f"({names}); give one weight per reward")
        out = [RewardTerm(model=t.model, weight=w, name=t.name)
               for t, w in zip(out, values, strict=True)]
    return tuple(out)


def _cache_key(model: str | Path) -> str:
    text = str(model)
    path = Path(text)
    return str(path.resolve()) if isinstance(model, Path) or path.is_dir() else text


def load_once(model: str | Path | RewardModel) -> RewardModel:
    """The model a spec names, resolved once per process and shared by every adapter."""
    if not isinstance(model, str | Path):
        return model
    key = _cache_key(model)
    with _LOAD_LOCK:
        if key not in _MODELS:
            _MODELS[key] = resolve(model)
        return _MODELS[key]


def _score_lock(model: RewardModel) -> threading.Lock:
    with _SCORE_LOCKS_LOCK:
        return _SCORE_LOCKS.setdefault(id(model), threading.Lock())


def group_ids(prompts: Sequence[Prompt]) -> np.ndarray:
    """One integer per response: equal prompts (the responses of one group) share it."""
    codes: dict[Prompt, int] = {}
    return np.array([codes.setdefault(p, len(codes)) for p in prompts], dtype=np.intp)


def _group_list(groups: Any) -> list[Any] | None:
    """Group ids as plain Python values (a tensor's elements do not hash by value)."""
    return None if groups is None else np.asarray(groups).tolist()


@dataclass(frozen=True)
class Scores:
    """What one call produced: the combined reward and each term's raw reward (float64)."""

    total: np.ndarray
    components: dict[str, np.ndarray]


def _snippet(text: Any, limit: int = 80) -> str:
    s = render_prompt(text) if not isinstance(text, str) else text
    s = " ".join(s.split())
    return repr(s if len(s) <= limit else s[: limit - 1] + "…")


class CombinedReward:
    """One or several reward models scored on the same responses and combined.

    Args:
        rewards: a spec, saved directory, model, ``RewardTerm``, a list or dict of them, or
            JSON text (see the module docstring).
        weights: one weight per reward (a sequence, or a dict by name); overrides the terms'.
        normalize: ``"none"``: the weighted sum of raw rewards. ``"group"``: each reward is
            first normalised within its group (the responses to one prompt; GDPO,
            ``rewardlab.shaping.gdpo_advantages`` without its batch step). Every group must
            then be whole within one call.
        nan_policy: ``"raise"``: a NaN or infinite reward stops the call, naming the model,
            the sample and its text. ``"omit"``: it is left out of the weighted sum (the
            total is NaN only when every reward of a sample is missing).

    Example:
        >>> combo = CombinedReward(["verify:math", "verify:math?format_score=0.1"],
        ...                        weights=[1.0, 0.5])
        >>> combo.names
        ['verify_math', 'verify_math_format_score_0_1']
        >>> combo.score(["q", "q"], ["#### 4", "#### 5"], references=["4", "4"]).total
        array([1.5 , 0.05])
    """

    def __init__(self, rewards: Any, *, weights: Any = None, normalize: Normalize = "none",
                 nan_policy: Literal["raise", "omit"] = "raise",
                 attribute_weights: Mapping[str, float] | None = None,
                 user: str | None = None) -> None:
        check_option("CombinedReward", "normalize", normalize, _NORMALIZE)
        check_option("CombinedReward", "nan_policy", nan_policy, ("raise", "omit"))
        self.rewards, self.weights = rewards, weights
        self.normalize, self.nan_policy = normalize, nan_policy
        self.terms = reward_terms(rewards, weights)
        #: steer the multi: terms (attribute -> weight) and pick the personal: terms' user,
        #: for every call that does not give its own per sample
        self.attribute_weights, self.user = attribute_weights, user

    def __repr__(self) -> str:
        parts = ", ".join(f"{t.name}={t.weight:g}" for t in self.terms)
        return f"CombinedReward({parts}, normalize={self.normalize!r})"

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.terms]  # type: ignore[misc]

    def models(self) -> list[RewardModel]:
        """The loaded models, in term order (loaded on first use, once per process)."""
        return [load_once(t.model) for t in self.terms]

    def needs_references(self) -> bool:
        """Whether any model judges responses against reference answers."""
        return any(needs_references(m) for m in self.models())

    def takes_structured_references(self) -> bool:
        """Whether every model that needs references takes them as JSON structures."""
        judges = [m for m in self.models() if needs_references(m)]
        return bool(judges) and all(takes_structured_references(m) for m in judges)

    def all_need_references(self) -> bool:
        """Whether every model is a reference judge (so prompts do not matter to any)."""
        return all(needs_references(m) for m in self.models())

    # --- scoring ---------------------------------------------------------------------------

    def _check_inputs(self, prompts: Sequence[Prompt], responses: Sequence[str],
                      references: Sequence[Any] | None) -> list[str] | None:
        if len(prompts) != len(responses):
            raise ConfigError(f"got {len(prompts)} prompts but {len(responses)} responses; "
                              "they must pair up one to one")
        bad = next((i for i, r in enumerate(responses) if not isinstance(r, str)), None)
        if bad is not None:
            raise ConfigError(f"responses[{bad}] is {type(responses[bad]).__name__}, not text")
        if references is None or not self.needs_references():
            return None
        if len(references) != len(responses):
            raise ConfigError(f"got {len(references)} reference answers for {len(responses)} "
                              "responses; they must pair up one to one")
        # "" is missing too (OpenRLHF sends it without --label_key), as on the server's
        # /get_reward: scored, it would be a silent 0 for every sample
        missing = next((i for i, r in enumerate(references) if r is None or r == ""), None)
        if missing is not None:
            raise ConfigError(f"sample {missing} has no reference answer"
                              f"{' (it is empty)' if references[missing] == '' else ''}, which "
                              f"{self._reference_models()} needs to judge its response")
        # a list or object (reference tool calls) goes on as its JSON text to models that
        # take structured references (verify:toolcall), as data files and the server do
        if self.takes_structured_references():
            references = [reference_text(r) for r in references]
        # text or a number (numpy's too), as /get_reward and data files take them; str() of a
        # list or dict would be judged as an answer and score a silent 0
        kinds = (str, numbers.Real)
        bad = next((i for i, r in enumerate(references) if isinstance(r, bool)
                    or not isinstance(r, kinds)), None)
        if bad is not None:
            raise ConfigError(f"sample {bad}'s reference answer is a "
                              f"{type(references[bad]).__name__}; "
                              f"{self._reference_models()} takes one answer as text or a "
                              "number (or a list / object such as a row's constraints)")
        return [r if isinstance(r, str) else reference_text(r) if isinstance(r, list | dict)
                else str(r) for r in references]

    def _reference_models(self) -> str:
        return ", ".join(f"'{describe(m)}'" for m in self.models() if needs_references(m))

    def _require_references(self, term: RewardTerm, model: RewardModel,
                            references: list[str] | None) -> None:
        if references is None and needs_references(model):
            raise ConfigError(
                f"model '{describe(model)}' (reward '{term.name}') judges responses "
                "against reference answers, and none were given: put them in a "
                f"dataset column ({', '.join(REFERENCE_KEYS)}), verl's ground_truth "
                "or OpenRLHF's --label_key")

    def check_conditions(self, n: int, attribute_weights: Sequence[Any] | None,
                         users: Sequence[Any] | None, *,
                         weights_field: str = "attribute weights", user_field: str = "user"
                         ) -> tuple[list[Any] | None, list[str | None] | None]:
        """Per-sample attribute weights and users, checked against every ``multi:`` and
        ``personal:`` term before any model runs, and returned normalised (weights as
        ``{attribute: weight}``, users as text).

        A ``ConfigError`` names the sample and ``weights_field`` / ``user_field`` (an adapter
        names its own: ``extra_info['weights']``, column ``weights``) for text that is not
        ``NAME=WEIGHT`` pairs, a weight that is not a finite number, an unknown attribute, a
        negative weight, weights that sum to 0, or a user that is not text or an integer.
        Conditions no term reads (weights without a ``multi:`` term) are left alone, as a
        data set column of that name may mean something else.
        """
        models = self.models()
        steered = [m for m in models if route(m) == "attributes"]
        personal = any(route(m) == "users" for m in models)
        for what, values in ((weights_field, attribute_weights), (user_field, users)):
            if values is not None and len(values) != n:
                raise ConfigError(f"got {len(values)} {what} values for {n} responses; give "
                                  "one per response (None for the default)")
        weights_out = None
        if attribute_weights is not None and steered:
            weights_out = []
            for i, w in enumerate(attribute_weights):
                if isinstance(w, Mapping):
                    # a struct column (Parquet, HF datasets) has every key on every row, None
                    # where a row gave none: those are left out, and a row of Nones is unset
                    w = {k: v for k, v in w.items() if v is not None} or None
                if w is None:
                    weights_out.append(None)
                    continue
                try:
                    parsed = dict(parse_weights(w, "the weights"))
                    for model in steered:
                        model.check_weights(parsed)  # type: ignore[attr-defined]
                except (ConfigError, ValueError, TypeError) as exc:
                    raise ConfigError(f"sample {i}, {weights_field}: {exc}") from None
                weights_out.append(parsed)
        users_out = None
        if users is not None and personal:
            users_out = []
            for i, u in enumerate(users):
                if u is not None and (isinstance(u, bool) or not isinstance(u, str | int)):
                    raise ConfigError(f"sample {i}, {user_field}: a user is named by text or "
                                      f"an integer, got {type(u).__name__} {u!r}")
                users_out.append(None if u is None else str(u))
        return weights_out, users_out

    def _conditions(self, model: RewardModel, n: int, attribute_weights: Any, users: Any
                    ) -> dict[str, Any]:
        """The per-sample weights (``multi:`` terms) and users (``personal:`` terms) for
        ``model``: the call's own, else the adapter's defaults; other models get neither."""
        how = route(model)
        if how == "attributes":
            given = attribute_weights if attribute_weights is not None else (
                None if self.attribute_weights is None else [self.attribute_weights] * n)
            return {"weights": given}
        if how == "users":
            given = users if users is not None else (
                None if self.user is None else [self.user] * n)
            return {"users": given}
        return {}

    def _score_term(self, term: RewardTerm, model: RewardModel, prompts: Sequence[Prompt],
                    responses: Sequence[str], references: list[str] | None,
                    groups: Any = None, attribute_weights: Any = None,
                    users: Any = None) -> np.ndarray:
        self._require_references(term, model, references)
        extra = self._conditions(model, len(responses), attribute_weights, users)
        with _score_lock(model):
            out = score_batch(model, prompts, responses, references=references,
                              groups=groups, **extra).rewards
        return self._check_output(term, model, out, prompts, responses)

    def _check_output(self, term: RewardTerm, model: RewardModel, out: np.ndarray,
                      prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """The adapter's NaN policy; the scoring layer has already checked the shape."""
        bad = np.flatnonzero(~np.isfinite(out))
        if bad.size and self.nan_policy == "raise":
            i = int(bad[0])
            more = f" (and {bad.size - 1} more)" if bad.size > 1 else ""
            raise TrainingError(
                f"model '{describe(model)}' (reward '{term.name}') returned {out[i]} for "
                f"sample {i}{more}: prompt {_snippet(prompts[i])}, response "
                f"{_snippet(responses[i])}. A NaN reward would poison the advantages; fix the "
                "model or its input, or use nan_policy='omit' to leave such rewards out")
        return out

    def _combine(self, components: dict[str, np.ndarray], prompts: Sequence[Prompt],
                 groups: Any) -> np.ndarray:
        weights = np.array([t.weight for t in self.terms], dtype=np.float64)
        stacked = np.stack(list(components.values()), axis=-1) if components else None
        if stacked is None or stacked.shape[0] == 0:
            return np.zeros(0)
        if self.normalize == "none":
            present = np.isfinite(stacked)
            total = np.where(present, stacked, 0.0) @ weights
            return np.where(present.any(axis=1), total, np.nan)
        ids = group_ids(prompts) if groups is None else np.asarray(groups)
        _, first, counts = np.unique(ids, return_index=True, return_counts=True)
        if (counts < 2).any():
            lone = int(first[np.flatnonzero(counts < 2)[0]])
            raise ConfigError(
                f"normalize='group' needs every group (the responses to one prompt) whole in "
                f"one call, but sample {lone} has no other response to its prompt in this "
                "batch. Trainers that call the reward one sample at a time (verl's naive "
                "manager, OpenRLHF) cannot group: use normalize='none' and let the trainer's "
                "advantage estimator (GRPO, GDPO) normalise")
        total = gdpo_advantages(stacked, ids, weights=weights, batch_normalize=False,
                                nan_policy=self.nan_policy)
        missing = ~np.isfinite(stacked).any(axis=1)
        return np.where(missing, np.nan, total)

    def score(self, prompts: Sequence[Prompt], responses: Sequence[str],
              references: Sequence[Any] | None = None, groups: Any = None, *,
              attribute_weights: Sequence[Any] | None = None,
              users: Sequence[str | None] | None = None) -> Scores:
        """Score every term and combine.

        Args:
            prompts: a prompt (text or ``Message`` tuple) per response.
            responses: the responses.
            references: a reference answer per response, for models that judge against one.
            groups: group id per response for ``normalize="group"``; default: equal prompts.
            attribute_weights: per response, attribute weights for the ``multi:`` terms
                (default: the adapter's ``attribute_weights``, else each model's own).
            users: per response, the user for the ``personal:`` terms (default: ``user``).

        Raises:
            ConfigError: inputs do not pair up, a reference is missing, or a group is split.
            TrainingError: a model returned NaN/inf (``nan_policy="raise"``).
            ScoringError: a model returned the wrong shape or type, or raised.
        """
        refs = self._check_inputs(prompts, responses, references)
        attribute_weights, users = self.check_conditions(len(responses), attribute_weights,
                                                         users)
        ids = _group_list(groups)
        components = {t.name: self._score_term(t, m, prompts, responses, refs, ids,
                                               attribute_weights, users)
                      for t, m in zip(self.terms, self.models(), strict=True)}
        return Scores(self._combine(components, prompts, groups), components)  # type: ignore[arg-type]

    async def ascore(self, prompts: Sequence[Prompt], responses: Sequence[str],
                     references: Sequence[Any] | None = None, groups: Any = None, *,
                     attribute_weights: Sequence[Any] | None = None,
                     users: Sequence[str | None] | None = None) -> Scores:
        """``score`` without blocking the event loop.

        Terms are scored concurrently: a model with an ``async def ascore(prompts, responses)``
        method (a remote judge) is awaited; the others run in worker threads.
        """
        refs = self._check_inputs(prompts, responses, references)
        attribute_weights, users = await asyncio.to_thread(
            self.check_conditions, len(responses), attribute_weights, users)

        async def one(term: RewardTerm, model: RewardModel) -> np.ndarray:
            self._require_references(term, model, refs)
            extra = self._conditions(model, len(responses), attribute_weights, users)
            out = await ascore_batch(model, prompts, responses, references=refs,
                                     groups=_group_list(groups), lock=_score_lock(model),
                                     **extra)
            return self._check_output(term, model, out.rewards, prompts, responses)

        models = await asyncio.to_thread(self.models)
        results = await asyncio.gather(*(one(t, m) for t, m in
                                          zip(self.terms, models, strict=True)))
        components = {t.name: r for t, r in zip(self.terms, results, strict=True)}
        return Scores(self._combine(components, prompts, groups), components)  # type: ignore[arg-type]
