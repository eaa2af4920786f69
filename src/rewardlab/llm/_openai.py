"""A judge behind any OpenAI-compatible chat/completions endpoint (vLLM, llama.cpp's server,
``transformers serve``, hosted APIs).

Verdicts come from ``logprobs`` / ``top_logprobs`` of the first reply token where the server
offers them; a server that does not (no ``logprobs`` in its reply, or a 400 that names them) is
asked for text instead, which is parsed. Transient failures (connection resets, timeouts, HTTP
408/409/425/429/5xx) are retried with exponential backoff, honouring ``Retry-After``; a question
that still fails gets a NaN reward with the reason. A server that cannot be reached at all, or
refuses the key (401/403), stops the run with a ``BackendError``: every row would fail the same
way.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

from rewardlab.errors import BackendError, ConfigError
from rewardlab.llm._backend import ItemFailure, Messages
from rewardlab.llm._http import JSONClient, ServerDown, excerpt

__all__ = ["OpenAIBackend", "listed_model", "reply_choices", "split_base", "split_target"]

T = TypeVar("T")
R = TypeVar("R")
#: Characters per token, to estimate lengths where the server's tokenizer is not at hand.
CHARS_PER_TOKEN = 4


def split_target(target: str) -> tuple[str, str | None]:
    """``URL#MODEL`` → the chat/completions URL and the model name (None: the server's only
    model, asked from ``/models``).

    Example:
        >>> split_target("http://127.0.0.1:8080/v1#smollm2")
        ('http://127.0.0.1:8080/v1/chat/completions', 'smollm2')
    """
    base, model = split_base(target, kind="judge")
    return base + "/chat/completions", model


def split_base(target: str, *, kind: str, error: type[Exception] = ConfigError
               ) -> tuple[str, str | None]:
    """``URL#MODEL`` → the server's base URL (an endpoint path the user pasted is dropped)
    and the model name (None: the server's first listed model). ``kind`` (``judge``,
    ``policy``) names the spec in the error, raised as ``error``.

    Example:
        >>> split_base("http://127.0.0.1:8080/v1/completions/", kind="policy")
        ('http://127.0.0.1:8080/v1', None)
    """
    url, _, model = target.partition("#")
    if not url.startswith(("http://", "https://")):
        raise error(f"{kind}:openai: takes URL#MODEL with an http(s) base URL, e.g. "
                    f"{kind}:openai:http://127.0.0.1:8000/v1#my-model. Got {target!r}.")
    base = url.rstrip("/").removesuffix("/chat/completions").removesuffix("/completions")
    return base, model or None


def listed_model(http: JSONClient, base: str, *, kind: str, failure: type[Exception]) -> str:
    """The first model the server at ``base`` lists, for a spec that names none.

    Raises:
        BackendError: the server lists no model (every request would fail).
        failure, ServerDown: as ``JSONClient.request``.
    """
    body = http.request("GET", base + "/models", None, failure=failure)
    try:
        return str(body["data"][0]["id"])
    except (KeyError, IndexError, TypeError):
        raise BackendError(f"{base}/models lists no model; name one: "
                           f"{kind}:openai:URL#MODEL") from None


def reply_choices(body: Any, url: str, *, failure: type[Exception]) -> list[dict[str, Any]]:
    """A completions reply's choices in ``index`` order; ``failure`` when it has none."""
    try:
        choices = sorted(body["choices"], key=lambda c: c.get("index", 0))
    except (KeyError, TypeError, AttributeError):
        choices = []
    if not choices:
        raise failure(f"{url} answered without choices: {excerpt(str(body))}")
    return choices


class OpenAIBackend:
    """Questions sent to an OpenAI-compatible server, ``concurrency`` at a time.

    Args:
        target: ``URL#MODEL`` (the base URL, e.g. ``http://host:8000/v1``).
        api_key_env: environment variable holding the API key (unset: no key is sent).
        timeout: seconds per request.
        retries: extra attempts after a transient failure.
        concurrency: requests in flight at once.
        n_ctx: the model's context in tokens, to cut over-long prompts (estimated at 4
            characters a token); ``None`` leaves that to the server.
        logprobs: read verdicts from log-probabilities when the server offers them.
        transport: an ``httpx`` transport (tests use ``httpx.MockTransport``).
    """

    name = "openai"

    def __init__(self, target: str, *, api_key_env: str = "OPENAI_API_KEY",
                 timeout: float = 60.0, retries: int = 4, concurrency: int = 4,
                 n_ctx: int | None = None, logprobs: bool = True,
                 transport: Any = None, backoff: float = 0.5) -> None:
        self.url, self.model = split_target(target)
        self.base = self.url.removesuffix("/chat/completions")
        self.n_ctx = n_ctx
        self.concurrency = concurrency
        self.use_logprobs = logprobs
        self.http = JSONClient(timeout=timeout, retries=retries, backoff=backoff,
                               api_key_env=api_key_env, transport=transport)
        self._model_lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def count_tokens(self, text: str) -> int:
        return math.ceil(len(text) / CHARS_PER_TOKEN)

    def count_chat_overhead(self) -> int:
        return 16

    # --- HTTP ---------------------------------------------------------------------------
    def _model_name(self) -> str:
        with self._model_lock:
            if self.model is None:
                try:
                    self.model = listed_model(self.http, self.base, kind="judge",
                                              failure=ItemFailure)
                except ServerDown as exc:
                    raise BackendError(str(exc)) from None
            return self.model

    def _request(self, method: str, url: str, payload: dict[str, Any] | None) -> Any:
        """One call with retries; the parsed JSON body. Raises ``ItemFailure`` (this question
        fails) or ``BackendError`` (every question would)."""
        try:
            return self.http.request(method, url, payload, failure=ItemFailure)
        except ServerDown as exc:
            raise BackendError(str(exc)) from None

    def _chat(self, messages: Messages, max_tokens: int, top_logprobs: int | None) -> Any:
        payload: dict[str, Any] = {"model": self._model_name(), "messages": messages,
                                   "max_tokens": max_tokens, "temperature": 0.0, "seed": 0}
        if top_logprobs:
            payload |= {"logprobs": True, "top_logprobs": top_logprobs}
        body = self._request("POST", self.url, payload)
        return reply_choices(body, self.url, failure=ItemFailure)[0]

    # --- Backend ------------------------------------------------------------------------
    def option_probs(self, messages: Messages, options: Sequence[str]
                     ) -> dict[str, float] | None:
        if not self.use_logprobs:
            return None
        try:
            choice = self._chat(messages, 1, 20)
        except ItemFailure as exc:
            if "logprob" in str(exc).lower():  # the server does not do log-probabilities
                self.use_logprobs = False
                return None
            raise
        content = ((choice.get("logprobs") or {}).get("content") or [None])[0]
        if not content or not content.get("top_logprobs"):
            self.use_logprobs = False  # the server ignores the request: parse text from now on
            return None
        out = dict.fromkeys(options, 0.0)
        wanted = {o.lower(): o for o in options}
        for entry in content["top_logprobs"]:
            token = str(entry.get("token", "")).strip().lower()
            if token in wanted:
                out[wanted[token]] += math.exp(float(entry["logprob"]))
        return out

    def generate(self, messages: Messages, max_tokens: int) -> str:
        choice = self._chat(messages, max_tokens, None)
        text = (choice.get("message") or {}).get("content")
        if not isinstance(text, str):
            raise ItemFailure(f"{self.url} answered without message text")
        return text.strip()

    def sample_chat(self, messages: Messages, k: int, *, max_tokens: int,
                    temperature: float, top_p: float, seed: int) -> list[str]:
        """``k`` sampled replies in one request with ``n=k`` (the server decodes them as a
        batch over the shared prompt); a server that returns fewer choices (llama.cpp's
        ignores ``n``) is asked again, one request per missing sample, with seed
        ``seed + i``."""
        payload: dict[str, Any] = {"model": self._model_name(), "messages": messages,
                                   "max_tokens": max_tokens, "temperature": temperature,
                                   "top_p": top_p, "seed": seed, "n": k}
        choices = reply_choices(self._request("POST", self.url, payload), self.url,
                                failure=ItemFailure)[:k]
        for i in range(len(choices), k):
            body = self._request("POST", self.url, payload | {"n": 1, "seed": seed + i})
            choices.append(reply_choices(body, self.url, failure=ItemFailure)[0])
        texts = [(c.get("message") or {}).get("content") for c in choices]
        if not all(isinstance(t, str) for t in texts):
            raise ItemFailure(f"{self.url} answered without message text")
        return [str(t).strip() for t in texts]

    def continuation_logprobs(self, context: str, target: str) -> np.ndarray:
        """log p of each token of ``target`` after ``context``, read from the server's
        log-probabilities of the prompt itself: ``/completions`` with ``echo`` and
        ``logprobs`` (vLLM; llama.cpp's Python server started with ``--logits_all true``).
        Tokens that start inside ``target`` count; one that straddles the boundary does
        not (start ``target`` with its separating space).

        Raises:
            BackendError: the server returns no prompt log-probabilities (every row would fail).
            ItemFailure: this request failed, or no token starts inside ``target``.
        """
        url = self.base + "/completions"
        payload = {"model": self._model_name(), "prompt": context + target, "max_tokens": 1,
                   "echo": True, "logprobs": 1, "temperature": 0.0}
        body = self._request("POST", url, payload)
        choice = reply_choices(body, url, failure=ItemFailure)[0]
        logprobs = choice.get("logprobs") or {}
        values, offsets = logprobs.get("token_logprobs"), logprobs.get("text_offset")
        if not isinstance(values, list) or not isinstance(offsets, list):
            raise BackendError(
                f"{url} returned no log-probabilities of the prompt (asked with echo=true, "
                "logprobs=1): likelihood: needs a server that gives them, e.g. vLLM, or "
                "llama.cpp's Python server started with --logits_all true")
        start, end = len(context), len(context) + len(target)
        picked = [v for v, o in zip(values, offsets, strict=False)
                  if isinstance(o, int) and start <= o < end and v is not None]
        if not picked:
            raise ItemFailure(f"{url} returned no token inside the scored text")
        return np.array(picked, dtype=np.float64)

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        if self.concurrency <= 1 or len(items) <= 1:
            return [fn(item) for item in items]
        with ThreadPoolExecutor(self.concurrency) as pool:
            return list(pool.map(fn, items))  # results in input order
