"""The reward-model contract as one function a kind's author runs: ``check_reward_model``.

The same checks ``tests/models/test_contract.py`` runs on every built-in kind (scikit-learn's
``check_estimator`` is the model): what any command may assume of any model. A failed check
raises ``ContractError`` (an ``AssertionError``, so pytest reports it as a failure) naming the
check, the model and what was wrong.

Precision: the same call twice in a row must give bitwise the same scores; anything that
changes how the work is cut (batch composition, row order, a save/load round trip, a cache
warmed by an earlier call) may move a score by fp32 round-off only, ``rtol=1e-5`` plus
``atol=1e-6`` times the largest reward magnitude (at least 1). fp32 kernels differ between
CPUs and thread counts by a few ulps; more than that is a bug (a score that depends on its
neighbours, a weight lost in saving).
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.data import Message, Prompt
from rewardlab.errors import NotFittedError, ScoringError
from rewardlab.models._clone import Composite, clone
from rewardlab.models._saved import MANIFEST
from rewardlab.models.base import ReferenceScorer, RewardModel, Saveable, Trainable, describe
from rewardlab.scoring import route, score_batch

__all__ = ["ATOL", "DEFAULT_INPUTS", "MANIFEST_FIELDS", "RTOL", "ContractError",
           "check_reward_model"]

#: fp32 round-off allowed where the work is cut differently (module docstring).
RTOL = 1e-5
#: ... plus this much times the largest reward magnitude (at least 1).
ATOL = 1e-6
#: Keys every saved model's ``rewardlab.json`` has.
MANIFEST_FIELDS = ("format", "kind", "config", "state", "versions")

_CHAT = (Message("system", "You are a careful assistant."),
         Message("user", "What is 6 times 7?"))
#: Small default inputs: plain and chat prompts, a repeated prompt (a group), an empty
#: response, non-ASCII text. References are for verifiers (``ReferenceScorer``).
DEFAULT_INPUTS: tuple[tuple[Prompt, str, str], ...] = (
    ("What is 6 times 7?", "6 times 7 is 42.\n#### 42", "42"),
    ("What is 6 times 7?", "It is 48.\n#### 48", "42"),
    ("What is 6 times 7?", "", "42"),
    (_CHAT, "The answer is 42.", "42"),
    ("How do I bake bread?", "Mix flour, water, salt and yeast; knead, rise, bake.", "bread"),
    ("How do I bake bread?", "I won't help with that.", "bread"),
    ("Traduis « bonjour » en anglais.", "« Bonjour » se dit « hello ». 👋", "hello"),
)


class ContractError(AssertionError):
    """A model broke the reward-model contract; ``check`` names the check that failed."""

    def __init__(self, check: str, model: str, msg: str) -> None:
        super().__init__(f"check '{check}' failed for model '{model}': {msg}")
        self.check, self.model = check, model


def check_reward_model(
    model_or_factory: RewardModel | Callable[[], RewardModel],
    *,
    data: Any = None,
    prompts: Sequence[Prompt] | None = None,
    responses: Sequence[str] | None = None,
    references: Sequence[str] | None = None,
    directory: str | Path | None = None,
) -> list[str]:
    """Run the reward-model contract on a model (or a factory of unfitted ones).

    Checks, each named in the ``ContractError`` it raises:

    - ``protocol``: the model has ``score`` (``RewardModel``);
    - ``not_fitted`` (a factory of a ``Trainable`` kind): the fresh model's ``score``
      raises ``NotFittedError``; then ``fit(data)`` must return the model itself;
    - ``scores``: ``score`` returns float64 of shape ``(n,)``
      (``rewardlab.scoring.check_rewards``), and ``(0,)`` for no input;
    - ``mismatched_inputs``: prompts and responses of different lengths raise
      ``ValueError`` (``ConfigError`` is one);
    - ``deterministic``: the same call twice in a row gives bitwise the same scores, and
      the same as the first call to fp32 round-off (a first call may warm a cache, as a
      judge's key/value prefix cache does);
    - ``order_invariance`` / ``batch_invariance``: scoring the rows in another order, or
      in small batches, changes nothing beyond fp32 round-off (batches keep a prompt's responses
      together for a ``group_dependent`` kind, whose rewards depend on its group);
    - ``clone``: ``rewardlab.clone`` gives a new model of the same kind and config with no
      learned state (attributes ending in ``_``);
    - ``save_load`` and ``manifest`` (a ``Saveable`` model): ``save`` writes a
      ``rewardlab.json`` with ``MANIFEST_FIELDS`` and the model's kind, and
      ``rewardlab.load_model`` reads back a model with the same scores to fp32 round-off.

    A ``ReferenceScorer`` (a verifier) is scored with ``score_with_references``.

    Args:
        model_or_factory: a ready model, or a zero-argument callable (a class, say) that
            returns an unfitted one.
        data: a small ``Dataset`` that a factory's ``Trainable`` model is fitted on.
        prompts, responses, references: the inputs to score (default: a few built-in rows
            with plain and chat prompts, a repeated prompt and an empty response).
        directory: where the round trip saves (default: a temporary directory).

    Returns:
        The names of the checks that ran (``save_load`` is absent for a model that is not
        ``Saveable``, ``not_fitted`` without a factory).

    Raises:
        ContractError: a check failed; ``.check`` names it.

    Example:
        >>> from rewardlab.models.verify import MathVerifier
        >>> check_reward_model(MathVerifier)  # doctest: +NORMALIZE_WHITESPACE
        ['protocol', 'scores', 'mismatched_inputs', 'deterministic', 'order_invariance',
         'batch_invariance', 'clone', 'save_load', 'manifest']
    """
    if prompts is None and responses is None:
        prompts = [p for p, _, _ in DEFAULT_INPUTS]
        responses = [r for _, r, _ in DEFAULT_INPUTS]
        if references is None:
            references = [ref for _, _, ref in DEFAULT_INPUTS]
    if prompts is None or responses is None or len(prompts) != len(responses):
        raise TypeError("check_reward_model needs prompts and responses of equal length")
    ran: list[str] = []
    _expect(callable(model_or_factory) or isinstance(model_or_factory, RewardModel),
            "protocol", model_or_factory, "it has no score() and is not a factory of models")
    if isinstance(model_or_factory, type) or not isinstance(model_or_factory, RewardModel):
        model = _fitted_from_factory(model_or_factory, data, prompts[:2], responses[:2], ran)
    else:
        model = model_or_factory
        ran.append("protocol")
    checker = _Checker(model, list(prompts), list(responses),
                       None if references is None else list(references))
    checker.run(ran)
    if isinstance(model, Saveable):
        if directory is None:
            with tempfile.TemporaryDirectory(prefix="rewardlab-contract-") as tmp:
                checker.save_load(Path(tmp) / "model", ran)
        else:
            checker.save_load(Path(directory), ran)
    return ran


def _expect(ok: bool, check: str, model: Any, msg: str) -> None:
    if not ok:
        raise ContractError(check, describe(model), msg)


def _fitted_from_factory(factory: Callable[[], Any], data: Any, prompts: Sequence[Prompt],
                         responses: Sequence[str], ran: list[str]) -> Any:
    fresh = factory()
    _expect(isinstance(fresh, RewardModel), "protocol", fresh,
            f"the factory returned {type(fresh).__name__}, which has no score()")
    ran.append("protocol")
    if not isinstance(fresh, Trainable):
        return fresh
    if data is None:
        raise TypeError(f"check_reward_model got a factory of the Trainable "
                        f"{type(fresh).__name__} but no data to fit it on; pass data=")
    try:
        fresh.score(prompts, responses)
    except NotFittedError:
        pass
    except Exception as exc:
        raise ContractError("not_fitted", describe(fresh), f"score() before fit raised "
                            f"{type(exc).__name__}: {exc}; it must raise NotFittedError, "
                            "naming the class and saying to call fit first") from exc
    else:
        raise ContractError("not_fitted", describe(fresh), "score() before fit returned "
                            "scores; it must raise NotFittedError")
    fitted = fresh.fit(data)
    _expect(fitted is fresh, "not_fitted", fresh, f"fit() returned {fitted!r}, not the model "
            "itself")
    ran.append("not_fitted")
    return fresh


class _Checker:
    """The checks that need scores: one model, one set of inputs."""

    def __init__(self, model: Any, prompts: list[Prompt], responses: list[str],
                 references: list[str] | None) -> None:
        self.model, self.prompts, self.responses = model, prompts, responses
        self.references = references
        self.name = describe(model)
        self.uses_references = isinstance(model, ReferenceScorer)
        if self.uses_references and references is None:
            raise TypeError(f"{self.name} is a ReferenceScorer; pass references= to "
                            "check_reward_model")

    def score(self, model: Any, rows: Sequence[int], check: str) -> np.ndarray:
        """Score ``rows`` through the one scoring layer, as every consumer does, so the
        contract checks the routing users get (a verifier gets its references, a
        group-dependent kind its groups) and ``check_rewards`` is the one shape check."""
        prompts = [self.prompts[i] for i in rows]
        responses = [self.responses[i] for i in rows]
        references = (None if self.references is None
                      else [self.references[i] for i in rows])
        try:
            return score_batch(model, prompts, responses, references=references).rewards
        except ScoringError as exc:
            raise ContractError(check, self.name, str(exc)) from None
        except Exception as exc:
            raise ContractError(check, self.name, f"scoring raised {type(exc).__name__}: "
                                f"{exc}") from exc

    def close(self, got: np.ndarray, want: np.ndarray, check: str, what: str) -> None:
        finite = np.abs(want[np.isfinite(want)])
        atol = ATOL * max(1.0, float(finite.max()) if finite.size else 1.0)
        same_nan = np.array_equal(np.isnan(got), np.isnan(want))
        ok = same_nan and bool(np.allclose(got, want, rtol=RTOL, atol=atol, equal_nan=True))
        if not ok:
            worst = int(np.nanargmax(np.abs(got - want))) if same_nan else -1
            detail = (f"row {worst}: {got[worst]!r} vs {want[worst]!r}" if worst >= 0
                      else "NaN in different rows")
            raise ContractError(check, self.name, f"{what} changed the scores beyond fp32 "
                                f"round-off (rtol {RTOL}, atol {atol:.1e}); {detail}")

    def run(self, ran: list[str]) -> None:
        n = len(self.responses)
        rows = list(range(n))
        ref = self.score(self.model, rows, "scores")
        empty = self.score(self.model, [], "scores")
        _expect(empty.shape == (0,), "scores", self.model, "no input must give shape (0,)")
        ran.append("scores")

        self.mismatched(ran)

        # the first call may warm a cache (a judge reuses the key/value prefix of its last
        # prompt), which moves scores by round-off; from the same state, repeats are bitwise
        first = self.score(self.model, rows, "deterministic")
        second = self.score(self.model, rows, "deterministic")
        _expect(np.array_equal(first, second, equal_nan=True), "deterministic", self.model,
                "the same call twice gave different scores (bitwise); scores must not "
                "depend on unseeded randomness")
        self.close(first, ref, "deterministic", "a repeated call (after a warm-up)")
        ran.append("deterministic")

        order = np.random.default_rng(0).permutation(n)
        if n > 1 and (order == np.arange(n)).all():
            order = order[::-1]
        permuted = np.empty(n)
        permuted[order] = self.score(self.model, order.tolist(), "order_invariance")
        self.close(permuted, ref, "order_invariance", "scoring the rows in another order")
        ran.append("order_invariance")

        batched = np.empty(n)
        for chunk in self.chunks():
            batched[chunk] = self.score(self.model, chunk, "batch_invariance")
        self.close(batched, ref, "batch_invariance", "scoring in small batches")
        ran.append("batch_invariance")

        self.check_clone()
        ran.append("clone")
        self.ref = ref

    def mismatched(self, ran: list[str]) -> None:
        if len(self.responses) < 2:
            return
        try:
            if self.uses_references:
                assert self.references is not None
                self.model.score_with_references(self.prompts[:2], self.responses[:1],
                                                 self.references[:1])
            else:
                self.model.score(self.prompts[:2], self.responses[:1])
        except ValueError:
            ran.append("mismatched_inputs")
            return
        except Exception as exc:
            raise ContractError("mismatched_inputs", self.name, f"2 prompts and 1 response "
                                f"raised {type(exc).__name__}: {exc}; it must raise "
                                "ValueError (ConfigError)") from exc
        raise ContractError("mismatched_inputs", self.name, "2 prompts and 1 response were "
                            "scored; they must pair up one to one (raise ConfigError)")

    def chunks(self) -> list[list[int]]:
        """Batches of 1, 2, 3, ... rows; whole prompt groups for a group-dependent kind."""
        n = len(self.responses)
        if route(self.model) == "groups":
            groups: dict[Any, list[int]] = {}
            for i, prompt in enumerate(self.prompts):
                groups.setdefault(prompt, []).append(i)
            return list(groups.values())
        out, at, size = [], 0, 1
        while at < n:
            out.append(list(range(at, min(n, at + size))))
            at, size = at + size, size + 1
        return out

    def check_clone(self) -> None:
        config = getattr(self.model, "config", None)
        _expect(dataclasses.is_dataclass(config) and not isinstance(config, type), "clone",
                self.model, "it declares no config: a frozen dataclass in 'config' whose "
                "fields, with get_config(), rebuild it (what clone, save and load use)")
        try:
            copy = clone(self.model)
        except Exception as exc:
            raise ContractError("clone", self.name, f"clone() raised {type(exc).__name__}: "
                                f"{exc}") from exc
        _expect(copy is not self.model and type(copy) is type(self.model), "clone",
                self.model, "clone() must return a new model of the same class")
        _expect(copy.get_config() == self.model.get_config(), "clone", self.model,
                f"the clone's config {copy.get_config()} differs from {self.model.get_config()}")
        learned = _learned_state(copy)
        _expect(not learned, "clone", self.model, f"the clone kept learned state "
                f"({', '.join(learned)}); clone must give an unfitted model")

    def save_load(self, path: Path, ran: list[str]) -> None:
        from rewardlab.models.registry import load_model

        try:
            saved = Path(self.model.save(path))
        except Exception as exc:
            raise ContractError("save_load", self.name, f"save() raised {type(exc).__name__}: "
                                f"{exc}") from exc
        manifest_file = saved / MANIFEST
        _expect(manifest_file.is_file(), "manifest", self.model, f"save() wrote no {MANIFEST}")
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
        missing = [k for k in MANIFEST_FIELDS if k not in manifest]
        _expect(not missing, "manifest", self.model, f"{MANIFEST} has no {', '.join(missing)}")
        kind = getattr(self.model, "kind", None)
        _expect(manifest["kind"] == kind, "manifest", self.model,
                f"{MANIFEST} names kind {manifest['kind']!r}, the model is {kind!r}")
        try:
            loaded = load_model(saved)
        except Exception as exc:
            raise ContractError("save_load", self.name, f"loading what save() wrote raised "
                                f"{type(exc).__name__}: {exc}") from exc
        rows = list(range(len(self.responses)))
        self.close(self.score(loaded, rows, "save_load"), self.ref, "save_load",
                   "a save/load round trip")
        ran.extend(["save_load", "manifest"])


def _learned_state(model: Any) -> list[str]:
    """Public attributes ending in ``_`` that hold something (the style guide's mark of what
    ``fit`` learned), in ``model`` and the models it holds."""
    found = [k for k, v in vars(model).items()
             if k.endswith("_") and not k.startswith("_") and not _empty(v)]
    if isinstance(model, Composite):
        for sub in model.submodels:
            found += [f"{type(sub).__name__}.{k}" for k in _learned_state(sub)]
    return found


def _empty(value: Any) -> bool:
    if value is None or value is False:
        return True
    try:
        return len(value) == 0
    except TypeError:
        return False
