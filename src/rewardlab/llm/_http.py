"""JSON calls to OpenAI-compatible servers with retries: one client for the judge backend
(``judge:openai:``) and the rollout policy (``policy:openai:``).

Transient failures (connection errors, timeouts, HTTP 408/409/425/429/5xx) are retried with
jittered exponential backoff, honouring ``Retry-After``; a refused key stops at once, since
every later call would be refused too. What a caller does with a call that keeps failing is
its own business, so it names the exception to raise.
"""

from __future__ import annotations

import os
import random
import time
from typing import Any

from rewardlab.errors import BackendError

__all__ = ["RETRY_STATUS", "JSONClient", "ServerDown", "excerpt"]

RETRY_STATUS = frozenset({408, 409, 425, 429, 500, 502, 503, 504})
_MAX_WAIT = 60.0  # seconds; a longer Retry-After or backoff is cut to this


class ServerDown(Exception):
    """The server could not be reached on any try: every later call would fail too."""


class JSONClient:
    """An ``httpx`` client that sends JSON and returns the parsed JSON body.

    Args:
        timeout: seconds per request.
        retries: extra attempts after a transient failure.
        backoff: first retry's mean delay in seconds (doubling after each).
        api_key_env: environment variable holding a bearer token (none sent when unset).
        transport: an ``httpx`` transport (tests use ``httpx.MockTransport``).
    """

    def __init__(self, *, timeout: float, retries: int, backoff: float,
                 api_key_env: str | None, transport: Any = None) -> None:
        import httpx

        self._httpx = httpx
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.api_key_env = api_key_env
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(api_key_env) if api_key_env else None
        if key:
            headers["Authorization"] = f"Bearer {key}"
        self.client = httpx.Client(timeout=timeout, headers=headers, transport=transport)
        self.requests_sent = 0  # every attempt, retries included
        self.retried = 0

    def close(self) -> None:
        self.client.close()

    def request(self, method: str, url: str, payload: dict[str, Any] | None, *,
                failure: type[Exception]) -> Any:
        """One call with retries; the parsed JSON body.

        Raises:
            failure: this call failed (an HTTP error, a body that is not JSON, or transient
                failures on every try).
            ServerDown: the server could not be reached on any try.
            BackendError: the server refused the API key (HTTP 401/403).
        """
        httpx = self._httpx
        why, retry_after = "", None
        for attempt in range(self.retries + 1):
            if attempt:
                self.retried += 1
                time.sleep(self._delay(attempt, retry_after))
            retry_after = None
            self.requests_sent += 1
            try:
                response = self.client.request(method, url, json=payload)
            except httpx.ConnectError as exc:
                why = f"cannot connect to {url} ({exc})"
                continue
            except httpx.TimeoutException:
                why = f"no answer from {url} within {self.timeout:g}s"
                continue
            except httpx.TransportError as exc:  # resets, broken chunks, protocol errors
                why = f"{type(exc).__name__} talking to {url}: {exc}"
                continue
            status = response.status_code
            if status in (401, 403):
                raise BackendError(f"{url} refused the request with HTTP {status}: "
                                   f"{excerpt(response.text)}; check the API key in "
                                   f"${self.api_key_env} (option api_key_env)")
            if status in RETRY_STATUS:
                why = f"HTTP {status} from {url}: {excerpt(response.text)}"
                retry_after = _seconds(response.headers.get("retry-after"))
                continue
            if status >= 400:
                raise failure(f"HTTP {status} from {url}: {excerpt(response.text)}")
            try:
                return response.json()
            except ValueError:
                raise failure(f"{url} answered HTTP {status} with a body that is not JSON: "
                              f"{excerpt(response.text)}") from None
        tries = self.retries + 1
        if why.startswith("cannot connect"):
            raise ServerDown(f"{why}, after {tries} tries: is the server up?")
        raise failure(f"{why} (after {tries} tries)")

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is None:
            retry_after = self.backoff * 2 ** (attempt - 1) * (0.5 + random.random())
        return min(retry_after, _MAX_WAIT)


def excerpt(text: str, limit: int = 200) -> str:
    """The start of a server's reply, on one line, for an error message."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
